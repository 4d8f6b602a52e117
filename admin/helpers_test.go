package admin

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/jaraba/pixelgw/internal/syncbuf"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/secret"
	"github.com/jaraba/pixelgw/store/storesqlite"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Test keys. The RSA key is generated once per test binary (it is slow);
// it is read-only afterwards.
var (
	hsSecret  = bytes.Repeat([]byte("k"), 32)
	rsaOnce   sync.Once
	rsaKey    *rsa.PrivateKey
	rsaPubPEM string
)

func testRSA(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			panic(err)
		}
		rsaKey = k
		rsaPubPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	})
	return rsaKey, rsaPubPEM
}

// syncBuffer is a concurrency-safe output sink.
type syncBuffer = syncbuf.Buffer

type env struct {
	t       *testing.T
	api     *API
	h       http.Handler
	st      *storesqlite.Store
	keyring *secret.Keyring
	logs    *syncBuffer
	now     time.Time
	cfg     Config
	hsKey   JWTKey
	edPriv  ed25519.PrivateKey
	// bodies collects every response body, for canary checks.
	mu     sync.Mutex
	bodies []string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := storesqlite.Open(ctx, filepath.Join(t.TempDir(), "pixelgw.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)

	kr, err := secret.NewKeyring("m1", map[string][]byte{"m1": bytes.Repeat([]byte{7}, 32)})
	require.NoError(t, err)

	_, rsaPub := testRSA(t)
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	edDER, err := x509.MarshalPKIXPublicKey(edPub)
	require.NoError(t, err)

	hsKey := JWTKey{KID: "hs1", Alg: "HS256", Secret: base64.StdEncoding.EncodeToString(hsSecret)}
	cfg := Defaults()
	cfg.MaxBodyBytes = 4096
	cfg.JWT.Keys = []JWTKey{
		hsKey,
		{KID: "rs1", Alg: "RS256", PublicKey: rsaPub},
		{KID: "ed1", Alg: "EdDSA", PublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: edDER}))},
	}
	logs := &syncBuffer{}
	now := time.Now().UTC().Truncate(time.Second)
	// The clock ticks 10ms per reading so stored timestamps are ordered.
	var ticks atomic.Int64
	api, err := New(cfg, Deps{
		Store: st, Keyring: kr,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    func() time.Time { return now.Add(time.Duration(ticks.Add(1)) * 10 * time.Millisecond) },
	})
	require.NoError(t, err)
	return &env{t: t, api: api, h: api.Handler(), st: st, keyring: kr, logs: logs, now: now, cfg: cfg, hsKey: hsKey, edPriv: edPriv}
}

// claims builds valid claims for a role and tenant.
func (e *env) claims(role, tenantID string) Claims {
	return Claims{TenantID: tenantID, Role: role, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: e.cfg.JWT.Issuer, Audience: jwt.ClaimStrings{e.cfg.JWT.Audience},
	}}
}

// token issues a valid HS256 token.
func (e *env) token(role, tenantID string) string {
	e.t.Helper()
	s, err := IssueToken(e.hsKey, e.claims(role, tenantID), time.Hour, e.now)
	require.NoError(e.t, err)
	return s
}

// sign signs arbitrary claims with the method, key and kid given.
func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, c jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

type reply struct {
	status int
	header http.Header
	body   string
}

// do sends a request; body "" means none. JSON bodies get the JSON content
// type unless headers override it.
func (e *env) do(method, path, token, body string, headers ...string) reply {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	e.mu.Lock()
	e.bodies = append(e.bodies, rec.Body.String())
	e.mu.Unlock()
	return reply{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
}

// errorOf decodes an error body and returns its code and message.
func errorOf(t *testing.T, r reply) (string, string) {
	t.Helper()
	var b struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &b), r.body)
	require.NotEmpty(t, b.Error.Code, r.body)
	return b.Error.Code, b.Error.Message
}

func decode[T any](t *testing.T, r reply) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal([]byte(r.body), &v), r.body)
	return v
}

// mustTenant creates a tenant through the service API.
func (e *env) mustTenant(slug string) store.Tenant {
	e.t.Helper()
	tn, err := e.api.CreateTenant(context.Background(), TenantInput{Slug: slug, Name: "Tenant " + slug})
	require.NoError(e.t, err)
	return tn
}

// snapshot is every admin-managed row of the store, for "nothing was
// written" checks.
func (e *env) snapshot() string {
	e.t.Helper()
	ctx := context.Background()
	ts, err := e.st.ListTenants(ctx)
	require.NoError(e.t, err)
	slices.SortFunc(ts, func(a, b store.Tenant) int { return strings.Compare(a.ID, b.ID) })
	type tenantDump struct {
		Tenant  store.Tenant
		Domains []store.TenantDomain
		Pixels  []store.Pixel
		Keys    []store.CookieKey
		APIKeys []store.APIKey
	}
	var out []tenantDump
	for _, tn := range ts {
		d := tenantDump{Tenant: tn}
		d.Domains, err = e.st.ListDomains(ctx, tn.ID)
		require.NoError(e.t, err)
		d.Pixels, err = e.st.ListPixels(ctx, tn.ID)
		require.NoError(e.t, err)
		d.Keys, err = e.st.ListCookieKeys(ctx, tn.ID)
		require.NoError(e.t, err)
		d.APIKeys, err = e.st.ListAPIKeys(ctx, tn.ID)
		require.NoError(e.t, err)
		slices.SortFunc(d.Domains, func(a, b store.TenantDomain) int { return strings.Compare(a.Hostname, b.Hostname) })
		slices.SortFunc(d.Pixels, func(a, b store.Pixel) int { return strings.Compare(a.UUID, b.UUID) })
		slices.SortFunc(d.APIKeys, func(a, b store.APIKey) int { return strings.Compare(a.ID, b.ID) })
		out = append(out, d)
	}
	b, err := json.Marshal(out)
	require.NoError(e.t, err)
	return string(b)
}

// Valid pixel bodies per platform.
const (
	metaPixel     = `{"platform":"meta","pixel_id":"123456789012345","credentials":{"access_token":"EAAB-meta-token-0001"},"domains":["www.example.com"]}`
	googlePixel   = `{"platform":"google","pixel_id":"G-ABC123XYZ","credentials":{"api_secret":"ga4-secret-value-0002"}}`
	linkedinPixel = `{"platform":"linkedin","pixel_id":"7654321","credentials":{"access_token":"li-token-value-0003"},"extras":{"ad_account_id":"5123"},"event_map":{"purchase":"urn:lla:llaPartnerConversion:111","lead":"urn:lla:llaPartnerConversion:222"}}`
	tiktokPixel   = `{"platform":"tiktok","pixel_id":"C4ABCDEFGHIJ1234567K","credentials":{"access_token":"tt-token-value-0004"},"test_event_code":"TEST123"}`
	xPixel        = `{"platform":"twitter","pixel_id":"o8z6j","credentials":{"consumer_key":"ck-value-000000","consumer_secret":"cs-value-000000","access_token":"at-value-000000","access_token_secret":"ats-value-00000"},"event_map":{"purchase":"o87ne","lead":"tw-o8z6j-o87nf"}}`
)

func randomUUID() string { return uuid.NewString() }
