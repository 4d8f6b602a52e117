package admin

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"
	"testing"

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
