package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
)

func TestPixelBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.mustTenant("alpha")
	tok := e.token(RoleAdmin, a.ID)
	r := e.do("POST", "/api/v1/tracking/pixels", tok, googlePixel)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	existing := decode[PixelView](t, r)

	big := `{"platform":"meta","pixel_id":"123456789012345","test_event_code":"` + strings.Repeat("A", 5000) + `"}`
	cases := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		code, msg                string
	}{
		{"malformed JSON", "POST", "", `{"platform":"meta",`, nil, 400, "bad_request", "malformed JSON: unexpected end of body"},
		{"syntax error", "POST", "", `{"platform" "meta"}`, nil, 400, "bad_request", "malformed JSON at byte 13"},
		{"unknown field", "POST", "", `{"platform":"meta","pixel_id":"123456","base_url":"http://169.254.169.254"}`, nil, 400, "bad_request", `unknown field "base_url"`},
		{"wrong type", "POST", "", `{"platform":"meta","pixel_id":123456}`, nil, 400, "bad_request", "pixel_id: wrong type, want string"},
		{"wrong type bool", "POST", "", `{"platform":"meta","pixel_id":"123456","is_active":"yes"}`, nil, 400, "bad_request", "is_active: wrong type, want bool"},
		{"array body", "POST", "", `[]`, nil, 400, "bad_request", "request body must be a JSON object"},
		{"trailing data", "POST", "", metaPixel + `{}`, nil, 400, "bad_request", "request body must hold a single JSON object"},
		{"empty body", "POST", "", ``, []string{"Content-Type", "application/json"}, 400, "bad_request", "request body is empty"},
		{"oversized body", "POST", "", big, nil, 413, "request_too_large", "request body exceeds 4096 bytes"},
		{"no content type", "POST", "", metaPixel, []string{"Content-Type", ""}, 415, "unsupported_media_type", "Content-Type must be application/json"},
		{"form content type", "POST", "", metaPixel, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", "Content-Type must be application/json"},
		{"invalid platform", "POST", "", `{"platform":"myspace","pixel_id":"1"}`, nil, 422, "validation_failed", "platform: must be one of meta, google, linkedin, tiktok, twitter"},
		{"missing platform", "POST", "", `{"pixel_id":"1"}`, nil, 422, "validation_failed", "platform: required (one of meta, google, linkedin, tiktok, twitter)"},
		{"duplicate pixel", "POST", "", googlePixel, nil, 409, "conflict", `a google pixel with pixel_id "G-ABC123XYZ" already exists`},
		{"patch invalid uuid", "PATCH", "/not-a-uuid", `{"is_active":false}`, nil, 404, "not_found", "pixel not found"},
		{"patch unknown field", "PATCH", "/" + existing.UUID, `{"uuid":"x"}`, nil, 400, "bad_request", `unknown field "uuid"`},
		{"patch change platform", "PATCH", "/" + existing.UUID, `{"platform":"meta"}`, nil, 422, "validation_failed", "platform: cannot be changed; create a new pixel"},
		{"patch bad pixel id", "PATCH", "/" + existing.UUID, `{"pixel_id":"UA-1234-1"}`, nil, 422, "validation_failed", "pixel_id: must be a GA4 measurement id like G-ABC123XYZ"},
		{"patch remove required secret", "PATCH", "/" + existing.UUID, `{"credentials":{"api_secret":null}}`, nil, 422, "validation_failed", "credentials.api_secret: required"},
		{"patch bad domain", "PATCH", "/" + existing.UUID, `{"domains":["https://x.com"]}`, nil, 422, "validation_failed", "domains[0]: must be a lowercase hostname like www.example.com (no scheme, port or path)"},
		{"delete invalid uuid", "DELETE", "/123", "", nil, 404, "not_found", "pixel not found"},
		{"get invalid uuid", "GET", "/" + strings.ToUpper(existing.UUID) + "x", "", nil, 404, "not_found", "pixel not found"},
	}
	before := e.snapshot()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, "/api/v1/tracking/pixels"+tc.path, tok, tc.body, tc.headers...)
			require.Equal(t, tc.status, r.status, r.body)
			code, msg := errorOf(t, r)
			require.Equal(t, tc.code, code)
			require.Equal(t, tc.msg, msg)
			require.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
		})
	}
	require.Equal(t, before, e.snapshot(), "a refused request wrote something")
}

func TestPixelPlatformValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.mustTenant("alpha")
	tok := e.token(RoleAdmin, a.ID)

	// mut changes one field of a valid body.
	mut := func(body string, f func(m map[string]any)) string {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &m))
		f(m)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return string(b)
	}
	bad := []struct {
		name, body, msg string
	}{
		{"meta id letters", mut(metaPixel, func(m map[string]any) { m["pixel_id"] = "abc" }), "pixel_id: must be a Meta pixel / dataset id (5-20 digits)"},
		{"meta no id", mut(metaPixel, func(m map[string]any) { delete(m, "pixel_id") }), "pixel_id: required (a Meta pixel / dataset id (5-20 digits))"},
		{"meta no token", mut(metaPixel, func(m map[string]any) { m["credentials"] = map[string]any{} }), "credentials.access_token: required"},
		{"meta unknown credential", mut(metaPixel, func(m map[string]any) { m["credentials"].(map[string]any)["api_secret"] = "x" }), "credentials.api_secret: not a credential of this platform (allowed: access_token, app_secret)"},
		{"meta extras", mut(metaPixel, func(m map[string]any) { m["extras"] = map[string]any{"base_url": "http://127.0.0.1"} }), "extras.base_url: not an extra of platform meta"},
		{"meta bad event name", mut(metaPixel, func(m map[string]any) { m["event_map"] = map[string]any{"purchase": "Purchase!"} }), `event_map.purchase: must be an event name like Purchase, or "" to not send it`},
		{"meta bad event key", mut(metaPixel, func(m map[string]any) { m["event_map"] = map[string]any{"Purchase": "Purchase"} }), `event_map: event "Purchase" must match [a-z][a-z0-9_]{0,39}`},
		{"meta domain with port", mut(metaPixel, func(m map[string]any) { m["domains"] = []string{"www.example.com:443"} }), "domains[0]: must be a lowercase hostname like www.example.com (no scheme, port or path)"},
		{"meta duplicate domain", mut(metaPixel, func(m map[string]any) { m["domains"] = []string{"a.example.com", "a.example.com"} }), `domains[1]: duplicate hostname "a.example.com"`},
		{"meta bad test code", mut(metaPixel, func(m map[string]any) { m["test_event_code"] = "TEST 1" }), "test_event_code: must be 1-64 of [A-Za-z0-9_-]"},
		{"google UA id", mut(googlePixel, func(m map[string]any) { m["pixel_id"] = "UA-12345-1" }), "pixel_id: must be a GA4 measurement id like G-ABC123XYZ"},
		{"google no secret", mut(googlePixel, func(m map[string]any) { delete(m, "credentials") }), "credentials.api_secret: required"},
		{"google client and server side", mut(googlePixel, func(m map[string]any) { m["client_side_enabled"] = true }), "client_side_enabled: a google pixel is client-side or server-side, never both: GA4 does not deduplicate the browser copy against the server one (set client_side_enabled or server_side_enabled to false)"},
		{"google reserved event", mut(googlePixel, func(m map[string]any) { m["event_map"] = map[string]any{"page_view": "session_start"} }), `event_map.page_view: "session_start" is a reserved GA4 event name`},
		{"linkedin no event map", mut(linkedinPixel, func(m map[string]any) { delete(m, "event_map") }), "event_map: required for linkedin: map each event to a conversion rule URN like urn:lla:llaPartnerConversion:123456"},
		{"linkedin only skipped events", mut(linkedinPixel, func(m map[string]any) { m["event_map"] = map[string]any{"purchase": ""} }), "event_map: required for linkedin: map each event to a conversion rule URN like urn:lla:llaPartnerConversion:123456"},
		{"linkedin bad urn", mut(linkedinPixel, func(m map[string]any) { m["event_map"] = map[string]any{"purchase": "Conversion"} }), `event_map.purchase: must be a conversion rule URN like urn:lla:llaPartnerConversion:123456, or "" to not send it`},
		{"linkedin bad ad account", mut(linkedinPixel, func(m map[string]any) { m["extras"] = map[string]any{"ad_account_id": "urn:li:x"} }), "extras.ad_account_id: invalid format"},
		{"tiktok lowercase code", mut(tiktokPixel, func(m map[string]any) { m["pixel_id"] = "c4abcdefghij1234567k" }), "pixel_id: must be a TikTok pixel code (15-30 uppercase letters and digits)"},
		{"tiktok no token", mut(tiktokPixel, func(m map[string]any) { m["credentials"] = map[string]any{"access_token": ""} }), "credentials.access_token: required"},
		{"x missing secret", mut(xPixel, func(m map[string]any) { delete(m["credentials"].(map[string]any), "access_token_secret") }), "credentials.access_token_secret: required (or give pixel_token instead of the OAuth 1.0a keys)"},
		{"x both auths", mut(xPixel, func(m map[string]any) { m["credentials"].(map[string]any)["pixel_token"] = "pt-value-0000000" }), "credentials.consumer_key: give either pixel_token or the OAuth 1.0a keys, not both"},
		{"x no event map", mut(xPixel, func(m map[string]any) { delete(m, "event_map") }), "event_map: required for twitter: map each event to an X event tag id like o87ne or tw-o8z6j-o87ne"},
		{"x event name instead of tag", mut(xPixel, func(m map[string]any) { m["event_map"] = map[string]any{"purchase": "Purchase"} }), `event_map.purchase: must be an X event tag id like o87ne or tw-o8z6j-o87ne, or "" to not send it`},
		{"x uppercase pixel id", mut(xPixel, func(m map[string]any) { m["pixel_id"] = "O8Z6J" }), "pixel_id: must be an X pixel (base tag) id like o8z6j"},
	}
	before := e.snapshot()
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/api/v1/tracking/pixels", tok, tc.body)
			require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
			code, msg := errorOf(t, r)
			require.Equal(t, "validation_failed", code)
			require.Equal(t, tc.msg, msg)
		})
	}
	require.Equal(t, before, e.snapshot())

	// Every platform's valid body is accepted, with defaults applied.
	for _, body := range []string{metaPixel, googlePixel, linkedinPixel, tiktokPixel, xPixel,
		mut(xPixel, func(m map[string]any) {
			m["pixel_id"] = "abcd1"
			m["credentials"] = map[string]any{"pixel_token": "pt-value-0000000"}
		}),
	} {
		r := e.do("POST", "/api/v1/tracking/pixels", tok, body)
		require.Equal(t, http.StatusCreated, r.status, r.body)
		v := decode[PixelView](t, r)
		require.True(t, v.IsActive)
		require.True(t, v.ServerSideEnabled)
		require.Equal(t, v.Platform != "google", v.ClientSideEnabled, "client-side by default, except google (GA4 does not deduplicate)")
		require.Equal(t, "unknown", v.Status)
		require.Equal(t, "/api/v1/tracking/pixels/"+v.UUID, r.header.Get("Location"))
	}
}

func TestPixelLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.mustTenant("alpha")
	tok := e.token(RoleAdmin, a.ID)

	r := e.do("POST", "/api/v1/tracking/pixels", tok, `{"platform":"meta","pixel_id":"123456789012345","credentials":{"access_token":"EAAB-long-token-WXYZ","app_secret":"short"},"event_map":{"signup":"CompleteRegistration","page_view":""},"is_active":false,"server_side_enabled":true,"client_side_enabled":false,"test_event_code":"TEST42","domains":["www.example.com","shop.example.com"]}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	v := decode[PixelView](t, r)
	require.Equal(t, map[string]string{"access_token": "…WXYZ", "app_secret": "…"}, v.CredentialHints)
	require.Equal(t, map[string]string{"signup": "CompleteRegistration", "page_view": ""}, v.EventMap)
	require.False(t, v.IsActive)
	require.False(t, v.ClientSideEnabled)
	require.Equal(t, []string{"www.example.com", "shop.example.com"}, v.Domains)
	require.NotContains(t, r.body, "EAAB-long-token-WXYZ")
	require.NotContains(t, r.body, "access_token\":\"EAAB")

	// The stored credentials are sealed and open to the plaintext.
	stored, err := e.st.GetPixel(context.Background(), a.ID, v.UUID)
	require.NoError(t, err)
	require.Equal(t, "m1", stored.Credentials.KeyID)
	require.NotContains(t, string(stored.Credentials.Ciphertext), "EAAB")
	pt, err := e.keyring.Open(stored.Credentials)
	require.NoError(t, err)
	require.JSONEq(t, `{"access_token":"EAAB-long-token-WXYZ","app_secret":"short"}`, string(pt))

	// GET and list show the same view.
	g := e.do("GET", "/api/v1/tracking/pixels/"+v.UUID, tok, "")
	require.Equal(t, http.StatusOK, g.status)
	require.Equal(t, v, decode[PixelView](t, g))
	l := e.do("GET", "/api/v1/tracking/pixels", tok, "")
	require.Equal(t, []PixelView{v}, decode[map[string][]PixelView](t, l)["pixels"])

	// PATCH merges credentials by field, replaces maps, keeps the rest.
	p := e.do("PATCH", "/api/v1/tracking/pixels/"+v.UUID, tok, `{"credentials":{"app_secret":null,"access_token":"EAAB-rotated-token-9876"},"is_active":true,"event_map":{"purchase":"Purchase"}}`)
	require.Equal(t, http.StatusOK, p.status, p.body)
	pv := decode[PixelView](t, p)
	require.Equal(t, map[string]string{"access_token": "…9876"}, pv.CredentialHints)
	require.Equal(t, map[string]string{"purchase": "Purchase"}, pv.EventMap)
	require.True(t, pv.IsActive)
	require.False(t, pv.ClientSideEnabled)
	require.Equal(t, "TEST42", pv.TestEventCode)
	require.Equal(t, v.Domains, pv.Domains)
	stored, err = e.st.GetPixel(context.Background(), a.ID, v.UUID)
	require.NoError(t, err)
	pt, err = e.keyring.Open(stored.Credentials)
	require.NoError(t, err)
	require.JSONEq(t, `{"access_token":"EAAB-rotated-token-9876"}`, string(pt))

	// PATCH to another pixel's platform+pixel_id is a conflict, unchanged.
	r = e.do("POST", "/api/v1/tracking/pixels", tok, `{"platform":"meta","pixel_id":"99999","credentials":{"access_token":"t"}}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	before := e.snapshot()
	c := e.do("PATCH", "/api/v1/tracking/pixels/"+v.UUID, tok, `{"pixel_id":"99999"}`)
	require.Equal(t, http.StatusConflict, c.status, c.body)
	require.Equal(t, before, e.snapshot())

	// DELETE, then it is gone.
	d := e.do("DELETE", "/api/v1/tracking/pixels/"+v.UUID, tok, "")
	require.Equal(t, http.StatusNoContent, d.status, d.body)
	require.Empty(t, d.body)
	g = e.do("GET", "/api/v1/tracking/pixels/"+v.UUID, tok, "")
	require.Equal(t, http.StatusNotFound, g.status)
	d = e.do("DELETE", "/api/v1/tracking/pixels/"+v.UUID, tok, "")
	require.Equal(t, http.StatusNotFound, d.status)
}

func TestCreatePixelServiceMethod(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.mustTenant("alpha")
	ctx := context.Background()
	v, err := e.api.CreatePixel(ctx, a.ID, PixelInput{Platform: store.PlatformGoogle, PixelID: "G-DEMO1234", Credentials: map[string]string{"api_secret": "demo-secret-abcd"}})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"api_secret": "…abcd"}, v.CredentialHints)

	_, err = e.api.CreatePixel(ctx, a.ID, PixelInput{Platform: store.PlatformGoogle, PixelID: "G-DEMO1234", Credentials: map[string]string{"api_secret": "x"}})
	require.ErrorIs(t, err, store.ErrConflict)
	_, err = e.api.CreatePixel(ctx, a.ID, PixelInput{Platform: "bing", PixelID: "1"})
	require.ErrorIs(t, err, ErrValidation)
	_, err = e.api.CreatePixel(ctx, randomUUID(), PixelInput{Platform: store.PlatformGoogle, PixelID: "G-DEMO9999", Credentials: map[string]string{"api_secret": "x"}})
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestPixelConfirmBrowserConversions: off by default, set on create and by
// PATCH (other fields untouched), a wrong type is a 400 that writes nothing.
func TestPixelConfirmBrowserConversions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.mustTenant("confirm")
	tok := e.token(RoleAdmin, a.ID)

	r := e.do("POST", "/api/v1/tracking/pixels", tok, `{"platform":"meta","pixel_id":"1234567890","credentials":{"access_token":"EAAB-token-0001"}}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	v := decode[PixelView](t, r)
	require.False(t, v.ConfirmBrowserConversions, "off by default")
	require.Contains(t, r.body, `"confirm_browser_conversions":false`)

	r = e.do("POST", "/api/v1/tracking/pixels", tok, `{"platform":"tiktok","pixel_id":"C4ABCDEFGHIJKLMNOPQR","credentials":{"access_token":"tt-token-0001"},"confirm_browser_conversions":true}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	tv := decode[PixelView](t, r)
	require.True(t, tv.ConfirmBrowserConversions)
	stored, err := e.st.GetPixel(context.Background(), a.ID, tv.UUID)
	require.NoError(t, err)
	require.True(t, stored.ConfirmBrowserConversions)

	p := e.do("PATCH", "/api/v1/tracking/pixels/"+v.UUID, tok, `{"confirm_browser_conversions":true}`)
	require.Equal(t, http.StatusOK, p.status, p.body)
	pv := decode[PixelView](t, p)
	require.True(t, pv.ConfirmBrowserConversions)
	require.Equal(t, v.CredentialHints, pv.CredentialHints)
	p = e.do("PATCH", "/api/v1/tracking/pixels/"+v.UUID, tok, `{"is_active":false}`)
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.True(t, decode[PixelView](t, p).ConfirmBrowserConversions, "a patch without it keeps it")

	before := e.snapshot()
	for _, bad := range []string{`{"confirm_browser_conversions":"yes"}`, `{"confirm_browser_conversions":1}`} {
		r := e.do("PATCH", "/api/v1/tracking/pixels/"+v.UUID, tok, bad)
		require.Equal(t, http.StatusBadRequest, r.status, r.body)
		r = e.do("POST", "/api/v1/tracking/pixels", tok, `{"platform":"meta","pixel_id":"555555","credentials":{"access_token":"t"},`+bad[1:])
		require.Equal(t, http.StatusBadRequest, r.status, r.body)
	}
	require.Equal(t, before, e.snapshot())
}

// TestGooglePixelClientOrServerSide: GA4 does not deduplicate, so a google
// pixel is client-side or server-side, never both: a create or a patch
// that would make it both is a 422 that writes nothing; either side alone
// is fine, and the other platforms may have both.
func TestGooglePixelClientOrServerSide(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.mustTenant("ga4sides")
	tok := e.token(RoleAdmin, a.ID)
	const msg = "client_side_enabled: a google pixel is client-side or server-side, never both: GA4 does not deduplicate the browser copy against the server one (set client_side_enabled or server_side_enabled to false)"

	r := e.do("POST", "/api/v1/tracking/pixels", tok, googlePixel)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	v := decode[PixelView](t, r)
	require.True(t, v.ServerSideEnabled)
	require.False(t, v.ClientSideEnabled, "left out: false for google")

	before := e.snapshot()
	p := e.do("PATCH", "/api/v1/tracking/pixels/"+v.UUID, tok, `{"client_side_enabled":true}`)
	require.Equal(t, http.StatusUnprocessableEntity, p.status, p.body)
	code, m := errorOf(t, p)
	require.Equal(t, "validation_failed", code)
	require.Equal(t, msg, m)
	r = e.do("POST", "/api/v1/tracking/pixels", tok, `{"platform":"google","pixel_id":"G-BOTH1234","credentials":{"api_secret":"s-0001"},"client_side_enabled":true,"server_side_enabled":true}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
	require.Equal(t, before, e.snapshot())

	// switching sides in one patch is fine
	p = e.do("PATCH", "/api/v1/tracking/pixels/"+v.UUID, tok, `{"client_side_enabled":true,"server_side_enabled":false}`)
	require.Equal(t, http.StatusOK, p.status, p.body)
	pv := decode[PixelView](t, p)
	require.True(t, pv.ClientSideEnabled)
	require.False(t, pv.ServerSideEnabled)
	p = e.do("PATCH", "/api/v1/tracking/pixels/"+v.UUID, tok, `{"server_side_enabled":true}`)
	require.Equal(t, http.StatusUnprocessableEntity, p.status, p.body)

	r = e.do("POST", "/api/v1/tracking/pixels", tok, `{"platform":"google","pixel_id":"G-CLIENT123","credentials":{"api_secret":"s-0002"},"client_side_enabled":true,"server_side_enabled":false}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	r = e.do("POST", "/api/v1/tracking/pixels", tok, `{"platform":"meta","pixel_id":"1234567890","credentials":{"access_token":"EAAB-token-0001"},"client_side_enabled":true,"server_side_enabled":true}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	require.True(t, decode[PixelView](t, r).ClientSideEnabled)
}
