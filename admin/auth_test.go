package admin

import (
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

func TestAuthRejectsBadTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.mustTenant("alpha")
	rsaPriv, rsaPub := testRSA(t)

	valid := func() Claims {
		c := e.claims(RoleAdmin, a.ID)
		c.IssuedAt = jwt.NewNumericDate(e.now)
		c.ExpiresAt = jwt.NewNumericDate(e.now.Add(time.Hour))
		return c
	}
	with := func(f func(c *Claims)) Claims { c := valid(); f(&c); return c }
	hs := func(c jwt.Claims) string { return sign(t, jwt.SigningMethodHS256, hsSecret, "hs1", c) }

	cases := []struct {
		name  string
		auth  string // whole Authorization header; "" = none
		token string // bearer token
		msg   string
	}{
		{name: "no header", msg: "missing bearer token"},
		{name: "basic auth", auth: "Basic dXNlcjpwYXNz", msg: "authorization must be a bearer token"},
		{name: "garbage", token: "not.a.jwt", msg: "malformed token"},
		{name: "expired", token: hs(with(func(c *Claims) {
			c.IssuedAt = jwt.NewNumericDate(e.now.Add(-2 * time.Hour))
			c.ExpiresAt = jwt.NewNumericDate(e.now.Add(-time.Hour))
		})), msg: "token expired"},
		{name: "not yet valid", token: hs(with(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(e.now.Add(10 * time.Minute)) })), msg: "token not valid yet"},
		{name: "issued in the future", token: hs(with(func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(e.now.Add(10 * time.Minute)) })), msg: "token not valid yet"},
		{name: "forged signature", token: sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), "hs1", valid()), msg: "invalid token"},
		{name: "alg none", token: sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "hs1", valid()), msg: "invalid token"},
		{name: "alg none without kid", token: sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", valid()), msg: "token has no kid"},
		{name: "wrong audience", token: hs(with(func(c *Claims) { c.Audience = jwt.ClaimStrings{"someone-else"} })), msg: "token audience not accepted"},
		{name: "no audience", token: hs(with(func(c *Claims) { c.Audience = nil })), msg: "token audience not accepted"},
		{name: "wrong issuer", token: hs(with(func(c *Claims) { c.Issuer = "evil" })), msg: "token issuer not accepted"},
		{name: "unknown kid", token: sign(t, jwt.SigningMethodHS256, hsSecret, "nope", valid()), msg: "token signed with an unknown key"},
		{name: "no kid", token: sign(t, jwt.SigningMethodHS256, hsSecret, "", valid()), msg: "token has no kid"},
		// Algorithm confusion: an HS256 token whose HMAC secret is the RSA
		// public key, naming the RS256 key.
		{name: "HS256 against RS256 key", token: sign(t, jwt.SigningMethodHS256, []byte(rsaPub), "rs1", valid()), msg: "invalid token"},
		{name: "RS256 against HS256 key", token: sign(t, jwt.SigningMethodRS256, rsaPriv, "hs1", valid()), msg: "invalid token"},
		{name: "RS256 valid signature, unknown role", token: sign(t, jwt.SigningMethodRS256, rsaPriv, "rs1", with(func(c *Claims) { c.Role = "root" })), msg: "token role not accepted"},
		{name: "EdDSA signed by another key", token: func() string {
			_, other, err := ed25519.GenerateKey(rand.Reader)
			require.NoError(t, err)
			return sign(t, jwt.SigningMethodEdDSA, other, "ed1", valid())
		}(), msg: "invalid token"},
		{name: "EdDSA key named, HS256 used", token: sign(t, jwt.SigningMethodHS256, hsSecret, "ed1", valid()), msg: "invalid token"},
		{name: "missing exp", token: hs(with(func(c *Claims) { c.ExpiresAt = nil })), msg: "token lacks exp"},
		{name: "missing iat", token: hs(with(func(c *Claims) { c.IssuedAt = nil })), msg: "token lacks iat"},
		{name: "lifetime above max_ttl", token: hs(with(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(e.now.Add(25 * time.Hour)) })), msg: "token lifetime exceeds the maximum"},
		{name: "unknown role", token: hs(with(func(c *Claims) { c.Role = "superuser" })), msg: "token role not accepted"},
		{name: "admin without tenant", token: hs(with(func(c *Claims) { c.TenantID = "" })), msg: "token lacks tenant_id"},
		{name: "tenant not a uuid", token: hs(with(func(c *Claims) { c.TenantID = "alpha" })), msg: "token tenant_id is not a UUID"},
	}
	before := e.snapshot()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.auth != "" {
				hdr = []string{"Authorization", tc.auth}
			}
			r := e.do("POST", "/api/v1/tracking/pixels", tc.token, metaPixel, hdr...)
			require.Equal(t, http.StatusUnauthorized, r.status, r.body)
			require.True(t, strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer"), r.header)
			code, msg := errorOf(t, r)
			require.Equal(t, "unauthorized", code)
			require.Equal(t, tc.msg, msg)
			if tc.token != "" {
				require.NotContains(t, r.body, tc.token)
				require.NotContains(t, e.logs.String(), tc.token)
			}
			// GET is refused the same way.
			g := e.do("GET", "/api/v1/tracking/pixels", tc.token, "", hdr...)
			require.Equal(t, http.StatusUnauthorized, g.status)
		})
	}
	require.Equal(t, before, e.snapshot(), "a refused request wrote something")
}

func TestAuthAcceptsEveryKeyType(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.mustTenant("alpha")
	rsaPriv, _ := testRSA(t)
	c := e.claims(RoleViewer, a.ID)
	c.IssuedAt = jwt.NewNumericDate(e.now)
	c.ExpiresAt = jwt.NewNumericDate(e.now.Add(time.Hour))
	// Within leeway: expired 10s ago still passes with 30s leeway.
	skewed := c
	skewed.IssuedAt = jwt.NewNumericDate(e.now.Add(-time.Hour))
	skewed.ExpiresAt = jwt.NewNumericDate(e.now.Add(-10 * time.Second))

	for name, tok := range map[string]string{
		"HS256":         e.token(RoleViewer, a.ID),
		"RS256":         sign(t, jwt.SigningMethodRS256, rsaPriv, "rs1", c),
		"EdDSA":         sign(t, jwt.SigningMethodEdDSA, e.edPriv, "ed1", c),
		"within leeway": sign(t, jwt.SigningMethodHS256, hsSecret, "hs1", skewed),
	} {
		t.Run(name, func(t *testing.T) {
			r := e.do("GET", "/api/v1/tenant", tok, "")
			require.Equal(t, http.StatusOK, r.status, r.body)
			require.Equal(t, a.ID, decode[TenantView](t, r).ID)
		})
	}
}

func TestIssueTokenRefusesBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, rsaPub := testRSA(t)
	tenant := randomUUID()
	for name, tc := range map[string]struct {
		key    JWTKey
		claims Claims
		ttl    time.Duration
	}{
		"rsa key":      {key: JWTKey{KID: "rs1", Alg: "RS256", PublicKey: rsaPub}, claims: e.claims(RoleAdmin, tenant), ttl: time.Hour},
		"zero ttl":     {key: e.hsKey, claims: e.claims(RoleAdmin, tenant), ttl: 0},
		"bad role":     {key: e.hsKey, claims: e.claims("root", tenant), ttl: time.Hour},
		"no tenant":    {key: e.hsKey, claims: e.claims(RoleAdmin, ""), ttl: time.Hour},
		"bad tenant":   {key: e.hsKey, claims: e.claims(RoleAdmin, "demo"), ttl: time.Hour},
		"no issuer":    {key: e.hsKey, claims: Claims{Role: RoleOperator}, ttl: time.Hour},
		"short secret": {key: JWTKey{KID: "x", Alg: "HS256", Secret: "c2hvcnQ="}, claims: e.claims(RoleOperator, ""), ttl: time.Hour},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tok, err := IssueToken(tc.key, tc.claims, tc.ttl, e.now)
			require.Error(t, err)
			require.Empty(t, tok)
			require.NotContains(t, err.Error(), "kkkk")
		})
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.mustTenant("alpha")
	admin := e.token(RoleAdmin, a.ID)
	r := e.do("POST", "/api/v1/tracking/pixels", admin, metaPixel)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	px := decode[PixelView](t, r)
	r = e.do("POST", "/api/v1/api-keys", admin, `{"name":"backend"}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	key := decode[APIKeyView](t, r)

	viewer := e.token(RoleViewer, a.ID)
	opNoTenant := e.token(RoleOperator, "")
	opTenant := e.token(RoleOperator, a.ID)

	writes := []struct{ method, path, body string }{
		{"PATCH", "/api/v1/tenant", `{"name":"x"}`},
		{"POST", "/api/v1/tracking/pixels", googlePixel},
		{"PATCH", "/api/v1/tracking/pixels/" + px.UUID, `{"is_active":false}`},
		{"DELETE", "/api/v1/tracking/pixels/" + px.UUID, ""},
		{"POST", "/api/v1/api-keys", `{"name":"x"}`},
		{"DELETE", "/api/v1/api-keys/" + key.ID, ""},
		{"POST", "/api/v1/cookie-keys/rotate", ""},
	}
	operatorRoutes := []struct{ method, path, body string }{
		{"GET", "/api/v1/tenants", ""},
		{"POST", "/api/v1/tenants", `{"slug":"new-one","name":"N"}`},
		{"GET", "/api/v1/tenants/" + a.ID, ""},
		{"PATCH", "/api/v1/tenants/" + a.ID, `{"name":"x"}`},
		{"DELETE", "/api/v1/tenants/" + a.ID, ""},
		{"GET", "/api/v1/tenants/" + a.ID + "/domains", ""},
		{"POST", "/api/v1/tenants/" + a.ID + "/domains", `{"hostname":"t.example.com"}`},
		{"DELETE", "/api/v1/tenants/" + a.ID + "/domains/t.example.com", ""},
		{"POST", "/api/v1/tenants/" + a.ID + "/cookie-keys/rotate", ""},
	}
	before := e.snapshot()
	for _, w := range writes {
		r := e.do(w.method, w.path, viewer, w.body)
		require.Equal(t, http.StatusForbidden, r.status, "viewer %s %s: %s", w.method, w.path, r.body)
		_, msg := errorOf(t, r)
		require.Equal(t, "the viewer role cannot write", msg)

		r = e.do(w.method, w.path, opNoTenant, w.body)
		require.Equal(t, http.StatusForbidden, r.status, "operator %s %s: %s", w.method, w.path, r.body)
		_, msg = errorOf(t, r)
		require.Equal(t, "this route needs a token naming a tenant", msg)
	}
	for _, w := range operatorRoutes {
		for _, tok := range []string{admin, viewer} {
			r := e.do(w.method, w.path, tok, w.body)
			require.Equal(t, http.StatusForbidden, r.status, "%s %s: %s", w.method, w.path, r.body)
			_, msg := errorOf(t, r)
			require.Equal(t, "this route needs the operator role", msg)
		}
	}
	require.Equal(t, before, e.snapshot())

	// Reads work for viewers.
	for _, p := range []string{"/api/v1/tenant", "/api/v1/domains", "/api/v1/tracking/pixels", "/api/v1/tracking/pixels/" + px.UUID, "/api/v1/api-keys"} {
		r := e.do("GET", p, viewer, "")
		require.Equal(t, http.StatusOK, r.status, "%s: %s", p, r.body)
	}
	// An operator token naming a tenant acts as that tenant's admin.
	r = e.do("PATCH", "/api/v1/tracking/pixels/"+px.UUID, opTenant, `{"is_active":false}`)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.False(t, decode[PixelView](t, r).IsActive)

	// A token for a tenant that no longer exists is refused.
	gone := e.token(RoleAdmin, randomUUID())
	r = e.do("GET", "/api/v1/tracking/pixels", gone, "")
	require.Equal(t, http.StatusForbidden, r.status, r.body)
}
