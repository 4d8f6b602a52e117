package admin

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
)

func TestOperatorTenantLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	op := e.token(RoleOperator, "")
	ctx := context.Background()

	r := e.do("POST", "/api/v1/tenants", op, `{"slug":"acme","name":"Acme","settings":{"default_language":"es","languages":["es","en"],"privacy_url":"https://acme.example/privacy","banner_colors":{"primary":"#112233"},"collect_path":"/k7/c","sites":["https://www.acme.example"]}}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	tv := decode[TenantView](t, r)
	require.Equal(t, "acme", tv.Slug)
	require.Equal(t, "es", tv.Settings.DefaultLanguage)
	require.Equal(t, "/api/v1/tenants/"+tv.ID, r.header.Get("Location"))

	// The first cookie key exists, sealed, 32 bytes; never shown.
	keys, err := e.st.ListCookieKeys(ctx, tv.ID)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.True(t, keys[0].Active)
	raw, err := e.keyring.Open(keys[0].Secret)
	require.NoError(t, err)
	require.Len(t, raw, 32)

	// Duplicate slug → 409, nothing written.
	before := e.snapshot()
	r = e.do("POST", "/api/v1/tenants", op, `{"slug":"acme","name":"Other"}`)
	require.Equal(t, http.StatusConflict, r.status, r.body)
	require.Equal(t, before, e.snapshot())

	bad := []struct{ body, msg string }{
		{`{"slug":"A","name":"x"}`, "slug: must match [a-z0-9][a-z0-9-]{1,62}"},
		{`{"slug":"-ab","name":"x"}`, "slug: must match [a-z0-9][a-z0-9-]{1,62}"},
		{`{"slug":"ok-slug","name":""}`, "name: required"},
		{`{"slug":"ok-slug","name":"x","settings":{"default_language":"fr"}}`, "settings.default_language: must be one of es, en, pt"},
		{`{"slug":"ok-slug","name":"x","settings":{"privacy_url":"javascript:alert(1)"}}`, "settings.privacy_url: must be an absolute http(s) URL"},
		{`{"slug":"ok-slug","name":"x","settings":{"banner_colors":{"primary":"red"}}}`, "settings.banner_colors.primary: must be a hex colour like #1a2b3c"},
		{`{"slug":"ok-slug","name":"x","settings":{"loader_path":"/a","collect_path":"/a"}}`, "settings.collect_path: same path as settings.loader_path"},
		{`{"slug":"ok-slug","name":"x","settings":{"sites":["https://x.example/path"]}}`, "settings.sites[0]: must be an origin like https://www.example.com"},
	}
	for _, b := range bad {
		r := e.do("POST", "/api/v1/tenants", op, b.body)
		require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
		_, msg := errorOf(t, r)
		require.Equal(t, b.msg, msg)
	}
	r = e.do("POST", "/api/v1/tenants", op, `{"slug":"ok-slug","name":"x","settings":{"colour":"red"}}`)
	require.Equal(t, http.StatusBadRequest, r.status, r.body)
	require.Equal(t, before, e.snapshot())

	// List and get.
	r = e.do("GET", "/api/v1/tenants", op, "")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, []TenantView{tv}, decode[map[string][]TenantView](t, r)["tenants"])
	r = e.do("GET", "/api/v1/tenants/"+tv.ID, op, "")
	require.Equal(t, tv, decode[TenantView](t, r))

	// PATCH settings: fields present replace, null clears, others stay.
	r = e.do("PATCH", "/api/v1/tenants/"+tv.ID, op, `{"name":"Acme Corp","settings":{"languages":["es","en","pt"],"privacy_url":null}}`)
	require.Equal(t, http.StatusOK, r.status, r.body)
	pv := decode[TenantView](t, r)
	require.Equal(t, "Acme Corp", pv.Name)
	require.Equal(t, []string{"es", "en", "pt"}, pv.Settings.Languages)
	require.Empty(t, pv.Settings.PrivacyURL)
	require.Equal(t, "/k7/c", pv.Settings.CollectPath)
	before = e.snapshot()
	r = e.do("PATCH", "/api/v1/tenants/"+tv.ID, op, `{"settings":{"languages":"es"}}`)
	require.Equal(t, http.StatusBadRequest, r.status, r.body)
	r = e.do("PATCH", "/api/v1/tenants/"+tv.ID, op, `{"settings":{"languages":["de"]}}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
	require.Equal(t, before, e.snapshot())

	// Domains.
	r = e.do("POST", "/api/v1/tenants/"+tv.ID+"/domains", op, `{"hostname":"T.Acme.Example"}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	dv := decode[DomainView](t, r)
	require.Equal(t, "t.acme.example", dv.Hostname)
	require.Equal(t, "acme.example", dv.CookieDomain)
	require.Equal(t, store.VerificationPending, dv.Verification)
	require.True(t, strings.HasPrefix(dv.VerifyToken, "pixelgw-verify="))
	before = e.snapshot()
	for body, status := range map[string]int{
		`{"hostname":"t.acme.example"}`:                                 http.StatusConflict,
		`{"hostname":"127.0.0.1"}`:                                      http.StatusUnprocessableEntity,
		`{"hostname":"localhost"}`:                                      http.StatusUnprocessableEntity,
		`{"hostname":"x.acme.example:8080"}`:                            http.StatusUnprocessableEntity,
		`{"hostname":"x.acme.example","cookie_domain":"other.example"}`: http.StatusUnprocessableEntity,
		`{"hostname":"x.acme.example","verification":"verified"}`:       http.StatusBadRequest,
	} {
		r := e.do("POST", "/api/v1/tenants/"+tv.ID+"/domains", op, body)
		require.Equal(t, status, r.status, "%s: %s", body, r.body)
	}
	require.Equal(t, before, e.snapshot())
	r = e.do("GET", "/api/v1/tenants/"+tv.ID+"/domains", op, "")
	require.Equal(t, []DomainView{dv}, decode[map[string][]DomainView](t, r)["domains"])
	r = e.do("DELETE", "/api/v1/tenants/"+tv.ID+"/domains/t.acme.example", op, "")
	require.Equal(t, http.StatusNoContent, r.status, r.body)
	r = e.do("DELETE", "/api/v1/tenants/"+tv.ID+"/domains/t.acme.example", op, "")
	require.Equal(t, http.StatusNotFound, r.status, r.body)

	// Cookie-key rotation: new active key; the previous one still
	// verifies; older ones are retired. No secret in the answer.
	var views []CookieKeyView
	for range 3 {
		r = e.do("POST", "/api/v1/tenants/"+tv.ID+"/cookie-keys/rotate", op, "")
		require.Equal(t, http.StatusOK, r.status, r.body)
		views = decode[map[string][]CookieKeyView](t, r)["cookie_keys"]
		require.NotContains(t, r.body, "secret")
	}
	require.Len(t, views, 4)
	require.True(t, views[0].Active)
	require.True(t, views[1].Active)
	require.False(t, views[2].Active)
	require.False(t, views[3].Active)
	stored, err := e.st.ListCookieKeys(ctx, tv.ID)
	require.NoError(t, err)
	for i, k := range stored {
		require.Equal(t, views[i].KeyID, k.KeyID)
		require.Equal(t, views[i].Active, k.Active)
	}

	// Invalid and unknown ids are 404s, identical.
	absent := e.do("GET", "/api/v1/tenants/"+randomUUID(), op, "")
	invalid := e.do("GET", "/api/v1/tenants/acme", op, "")
	require.Equal(t, http.StatusNotFound, absent.status)
	require.Equal(t, absent.body, invalid.body)

	// Delete.
	r = e.do("DELETE", "/api/v1/tenants/"+tv.ID, op, "")
	require.Equal(t, http.StatusNoContent, r.status, r.body)
	r = e.do("GET", "/api/v1/tenants/"+tv.ID, op, "")
	require.Equal(t, http.StatusNotFound, r.status, r.body)
}

func TestServiceMethodsForSeeding(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	tn, err := e.api.CreateTenant(ctx, TenantInput{Slug: "demo", Name: "Demo"})
	require.NoError(t, err)
	_, err = e.api.CreateTenant(ctx, TenantInput{Slug: "demo", Name: "Demo"})
	require.ErrorIs(t, err, store.ErrConflict)
	_, err = e.api.CreateTenant(ctx, TenantInput{Slug: "D", Name: "Demo"})
	require.ErrorIs(t, err, ErrValidation)

	d, err := e.api.AddDomain(ctx, tn.ID, DomainInput{Hostname: "localhost.demo.test"})
	require.NoError(t, err)
	require.Equal(t, "demo.test", d.CookieDomain)
	_, err = e.api.AddDomain(ctx, randomUUID(), DomainInput{Hostname: "other.demo.test"})
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = e.api.AddDomain(ctx, tn.ID, DomainInput{Hostname: "localhost.demo.test"})
	require.ErrorIs(t, err, store.ErrConflict)
}

func TestOwnTenantAndAPIKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.mustTenant("alpha")
	tok := e.token(RoleAdmin, a.ID)
	ctx := context.Background()

	r := e.do("PATCH", "/api/v1/tenant", tok, `{"settings":{"policy_version":"2026-11"}}`)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, "2026-11", decode[TenantView](t, r).Settings.PolicyVersion)
	r = e.do("GET", "/api/v1/tenant", tok, "")
	require.Equal(t, "2026-11", decode[TenantView](t, r).Settings.PolicyVersion)

	r = e.do("POST", "/api/v1/cookie-keys/rotate", tok, "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Len(t, decode[map[string][]CookieKeyView](t, r)["cookie_keys"], 2)

	// API key: shown once, stored as a hash with its prefix.
	r = e.do("POST", "/api/v1/api-keys", tok, `{"name":"backend"}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	k := decode[APIKeyView](t, r)
	prefix, ok := APIKeyPrefix(k.Key)
	require.True(t, ok, k.Key)
	require.Equal(t, k.Prefix, prefix)
	require.Equal(t, []string{ScopeEventsWrite}, k.Scopes)
	stored, err := e.st.APIKeyByPrefix(ctx, prefix)
	require.NoError(t, err)
	require.Equal(t, 1, subtle.ConstantTimeCompare(HashAPIKey(k.Key), stored.Hash))
	require.Equal(t, a.ID, stored.TenantID)

	r = e.do("GET", "/api/v1/api-keys", tok, "")
	require.Equal(t, http.StatusOK, r.status)
	require.NotContains(t, r.body, k.Key)
	list := decode[map[string][]APIKeyView](t, r)["api_keys"]
	require.Len(t, list, 1)
	require.Empty(t, list[0].Key)
	require.Nil(t, list[0].RevokedAt)

	before := e.snapshot()
	for body, status := range map[string]int{
		`{"name":""}`:                             http.StatusUnprocessableEntity,
		`{"name":"x","scopes":["admin"]}`:         http.StatusUnprocessableEntity,
		`{"name":"x","scopes":[]}`:                http.StatusUnprocessableEntity,
		`{"name":"x","key":"pgw_chosen"}`:         http.StatusBadRequest,
		`{"name":"x","tenant_id":"` + a.ID + `"}`: http.StatusBadRequest,
	} {
		r := e.do("POST", "/api/v1/api-keys", tok, body)
		require.Equal(t, status, r.status, "%s: %s", body, r.body)
	}
	require.Equal(t, before, e.snapshot())

	r = e.do("DELETE", "/api/v1/api-keys/"+k.ID, tok, "")
	require.Equal(t, http.StatusNoContent, r.status, r.body)
	stored, err = e.st.APIKeyByPrefix(ctx, prefix)
	require.NoError(t, err)
	require.NotNil(t, stored.RevokedAt)
	r = e.do("DELETE", "/api/v1/api-keys/not-a-uuid", tok, "")
	require.Equal(t, http.StatusNotFound, r.status, r.body)
}

func TestTenantEdgeSettingsValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	op := e.token(RoleOperator, "")
	ctx := context.Background()
	tn := e.mustTenant("edge")
	before := e.snapshot()

	bad := []struct{ settings, msg string }{
		// forwarded_host_cidrs
		{`{"forwarded_host_cidrs":["banana"]}`, "settings.forwarded_host_cidrs[0]: not a CIDR like 203.0.113.0/24"},
		{`{"forwarded_host_cidrs":["203.0.113.0/24","10.0.0.1/8"]}`, "settings.forwarded_host_cidrs[1]: host bits set (did you mean 10.0.0.0/8?)"},
		{`{"forwarded_host_cidrs":["0.0.0.0/0"]}`, "settings.forwarded_host_cidrs[0]: /0 would trust every peer"},
		{`{"forwarded_host_cidrs":["fe80::1%eth0"]}`, "settings.forwarded_host_cidrs[0]: not a CIDR like 203.0.113.0/24"},
		{`{"forwarded_host_cidrs":[` + strings.Repeat(`"10.0.0.0/8",`, 32) + `"10.0.0.0/8"]}`, "settings.forwarded_host_cidrs: at most 32 CIDRs"},
		// same_origin_prefix
		{`{"same_origin_prefix":"m"}`, "settings.same_origin_prefix: must be / followed by 1-32 of [a-z0-9-]"},
		{`{"same_origin_prefix":"/M"}`, "settings.same_origin_prefix: must be / followed by 1-32 of [a-z0-9-]"},
		{`{"same_origin_prefix":"/a/b"}`, "settings.same_origin_prefix: must be / followed by 1-32 of [a-z0-9-]"},
		{`{"same_origin_prefix":"/` + strings.Repeat("a", 33) + `"}`, "settings.same_origin_prefix: must be / followed by 1-32 of [a-z0-9-]"},
		{`{"same_origin_prefix":"/gtm"}`, `settings.same_origin_prefix: contains "gtm", a vendor fingerprint ad blockers match`},
		// edge paths
		{`{"loader_path":"gtm.js"}`, "settings.loader_path: must start with / and name something"},
		{`{"loader_path":"/gtm.js"}`, `settings.loader_path: contains "gtm", a vendor fingerprint ad blockers match`},
		{`{"loader_path":"/x/gtag/js"}`, `settings.loader_path: contains "gtag", a vendor fingerprint ad blockers match`},
		{`{"loader_path":"/fbevents.js"}`, `settings.loader_path: contains "fbevents", a vendor fingerprint ad blockers match`},
		{`{"collect_path":"/g/collect"}`, `settings.collect_path: segment "g" looks like a tracker endpoint to ad blockers`},
		{`{"collect_path":"/x/collect"}`, `settings.collect_path: contains "collect", a vendor fingerprint ad blockers match`},
		{`{"collect_path":"/tr"}`, `settings.collect_path: segment "tr" looks like a tracker endpoint to ad blockers`},
		{`{"collect_path":"/api/events"}`, `settings.collect_path: segment "events" looks like a tracker endpoint to ad blockers`},
		{`{"collect_path":"/p/pixel.gif"}`, `settings.collect_path: contains "pixel", a vendor fingerprint ad blockers match`},
		{`{"consent_path":"/track"}`, `settings.consent_path: contains "track", a vendor fingerprint ad blockers match`},
		{`{"consent_path":"/analytics"}`, `settings.consent_path: contains "analytics", a vendor fingerprint ad blockers match`},
		{`{"consent_path":"/b/beacon"}`, `settings.consent_path: contains "beacon", a vendor fingerprint ad blockers match`},
		{`{"consent_path":"/K7"}`, "settings.consent_path: only lowercase [a-z0-9/._-] allowed"},
		{`{"consent_path":"/a//b"}`, `settings.consent_path: empty, "." or ".." segment`},
		{`{"consent_path":"/a/../b"}`, `settings.consent_path: empty, "." or ".." segment`},
		{`{"consent_path":"/healthz"}`, "settings.consent_path: /healthz is reserved for health checks"},
		{`{"loader_path":"/k7/a.js","consent_path":"/k7/a.js"}`, "settings.consent_path: same path as settings.loader_path"},
		// sites
		{`{"sites":["https://www.shop.com/path"]}`, "settings.sites[0]: must be an origin like https://www.example.com"},
		{`{"sites":["https://www.shop.com","http://www.shop.com"]}`, "settings.sites[1]: plain http is allowed only for *.localhost hosts; use https"},
		{`{"sites":["ftp://www.shop.com"]}`, "settings.sites[0]: scheme must be https"},
		{`{"sites":["https://1.2.3.4"]}`, "settings.sites[0]: host must be a DNS hostname"},
		{`{"sites":["https://user@www.shop.com"]}`, "settings.sites[0]: must be an origin like https://www.example.com"},
		// previous_paths is read-only
		{`{"previous_paths":[{"kind":"collect","path":"/old/c","until":"2030-01-01T00:00:00Z"}]}`, "settings.previous_paths: read-only: set by path rotation"},
	}
	for _, b := range bad {
		r := e.do("POST", "/api/v1/tenants", op, `{"slug":"new-one","name":"x","settings":`+b.settings+`}`)
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s: %s", b.settings, r.body)
		_, msg := errorOf(t, r)
		require.Equal(t, b.msg, msg, b.settings)
		r = e.do("PATCH", "/api/v1/tenants/"+tn.ID, op, `{"settings":`+b.settings+`}`)
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s: %s", b.settings, r.body)
		_, msg = errorOf(t, r)
		require.Equal(t, b.msg, msg, b.settings)
	}
	require.Equal(t, before, e.snapshot(), "nothing written")

	// The good values are stored (sites as given) and returned.
	good := `{"forwarded_host_cidrs":["203.0.113.0/24","2001:db8::/48","198.51.100.7"],"same_origin_prefix":"/m-1",` +
		`"loader_path":"/s/4b1d.js","collect_path":"/a/9f2c","consent_path":"/a/c0n",` +
		`"sites":["https://www.shop.com","https://shop.com:8443","http://www.demo.localhost:8080"]}`
	r := e.do("PATCH", "/api/v1/tenants/"+tn.ID, op, `{"settings":`+good+`}`)
	require.Equal(t, http.StatusOK, r.status, r.body)
	tv := decode[TenantView](t, r)
	require.Equal(t, "/m-1", tv.Settings.SameOriginPrefix)
	require.Equal(t, []string{"203.0.113.0/24", "2001:db8::/48", "198.51.100.7"}, tv.Settings.ForwardedHostCIDRs)
	require.Equal(t, "/a/9f2c", tv.Settings.CollectPath)
	r = e.do("POST", "/api/v1/tenants", op, `{"slug":"new-one","name":"x","settings":`+good+`}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)

	// previous_paths written by rotation (here: the store) survive a PATCH
	// of other fields, may be sent back unchanged, but never changed or
	// cleared by a client.
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	set := tv.Settings
	set.PreviousPaths = []store.PreviousPath{{Kind: "collect", Path: "/old/c", Until: until}}
	_, err := e.st.UpdateTenant(ctx, tn.ID, store.TenantPatch{Settings: &set})
	require.NoError(t, err)
	r = e.do("PATCH", "/api/v1/tenants/"+tn.ID, op, `{"settings":{"policy_version":"2"}}`)
	require.Equal(t, http.StatusOK, r.status, r.body)
	tv = decode[TenantView](t, r)
	require.Len(t, tv.Settings.PreviousPaths, 1)
	require.True(t, until.Equal(tv.Settings.PreviousPaths[0].Until))
	same := `[{"kind":"collect","path":"/old/c","until":"` + until.Format(time.RFC3339) + `"}]`
	r = e.do("PATCH", "/api/v1/tenants/"+tn.ID, op, `{"settings":{"previous_paths":`+same+`}}`)
	require.Equal(t, http.StatusOK, r.status, r.body)
	before = e.snapshot()
	for _, v := range []string{
		`null`, `[]`,
		`[{"kind":"collect","path":"/old/c","until":"2099-01-01T00:00:00Z"}]`,
		`[{"kind":"loader","path":"/old/c","until":"` + until.Format(time.RFC3339) + `"}]`,
	} {
		r = e.do("PATCH", "/api/v1/tenants/"+tn.ID, op, `{"settings":{"previous_paths":`+v+`}}`)
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s: %s", v, r.body)
		_, msg := errorOf(t, r)
		require.Equal(t, "settings.previous_paths: read-only: set by path rotation", msg)
	}
	// The tenant's own route too.
	r = e.do("PATCH", "/api/v1/tenant", e.token(RoleAdmin, tn.ID), `{"settings":{"previous_paths":[]}}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
	r = e.do("PATCH", "/api/v1/tenant", e.token(RoleAdmin, tn.ID), `{"settings":{"collect_path":"/g/collect"}}`)
	require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
	require.Equal(t, before, e.snapshot(), "nothing written")
}
