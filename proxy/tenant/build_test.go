package tenant_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/admin"
	"github.com/jaraba/pixelgw/internal/syncbuf"
	"github.com/jaraba/pixelgw/proxy/tenant"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/secret"
	"github.com/jaraba/pixelgw/store/storesqlite"
)

type env struct {
	st  *storesqlite.Store
	kr  *secret.Keyring
	api *admin.API
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	st, err := storesqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	kr, err := secret.NewKeyring("m1", map[string][]byte{"m1": bytes.Repeat([]byte{7}, 32)})
	require.NoError(t, err)
	api, err := admin.New(admin.Defaults(), admin.Deps{Store: st, Keyring: kr, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	return &env{st: st, kr: kr, api: api}
}

func (e *env) tenant(t testing.TB, slug string, s store.TenantSettings, hosts ...string) store.Tenant {
	t.Helper()
	ctx := context.Background()
	tn, err := e.api.CreateTenant(ctx, admin.TenantInput{Slug: slug, Name: slug, Settings: s})
	require.NoError(t, err)
	for _, h := range hosts {
		_, err := e.api.AddDomain(ctx, tn.ID, admin.DomainInput{Hostname: h})
		require.NoError(t, err)
	}
	return tn
}

func TestBuildLookupAndIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a := e.tenant(t, "shop-a", store.TenantSettings{
		LoaderPath: "/s/4b1d.js", CollectPath: "/a/9f2c", ConsentPath: "/a/c0n",
		Sites:              []string{"https://www.shop-a.com", "http://www.shop-a.localhost:8080"},
		ForwardedHostCIDRs: []string{"203.0.113.0/24"},
		SameOriginPrefix:   "/m",
	}, "t.shop-a.com", "www.shop-a.com")
	b := e.tenant(t, "shop-b", store.TenantSettings{}, "t.shop-b.com")
	_, err := e.api.CreatePixel(ctx, a.ID, admin.PixelInput{
		Platform: store.PlatformMeta, PixelID: "123456789012345",
		Credentials: map[string]string{"access_token": "EAAB-secret-token-0001"},
		Domains:     []string{"shop.shop-a.com", "www.pixel.localhost"},
	})
	require.NoError(t, err)
	_, err = e.api.CreatePixel(ctx, b.ID, admin.PixelInput{
		Platform: store.PlatformGoogle, PixelID: "G-ABC123XYZ",
		Credentials: map[string]string{"api_secret": "ga4-secret-value-0002"},
		IsActive:    new(false),
	})
	require.NoError(t, err)

	now := time.Now()
	s, err := tenant.Build(ctx, e.st, e.kr, now)
	require.NoError(t, err)
	require.Empty(t, s.Skipped)
	require.Equal(t, 2, s.Tenants())
	require.Equal(t, 3, s.Domains())
	v, err := e.st.ConfigVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, v, s.Version)

	var reg tenant.Registry
	require.Nil(t, reg.Lookup([]byte("t.shop-a.com")), "empty registry")
	reg.Swap(s)

	for _, h := range []string{"t.shop-a.com", "T.Shop-A.COM", "t.shop-a.com:8080", "t.shop-a.com.", "www.shop-a.com"} {
		d := reg.Lookup([]byte(h))
		require.NotNil(t, d, h)
		require.Equal(t, a.ID, d.Tenant.ID, h)
		require.Equal(t, "shop-a.com", d.CookieDomain)
		require.False(t, d.Verified)
	}
	d := reg.Lookup([]byte("t.shop-b.com"))
	require.NotNil(t, d)
	require.Equal(t, b.ID, d.Tenant.ID)
	for _, h := range []string{"", "shop-a.com", "x.t.shop-a.com", "t.shop-c.com", "[::1]:8080", "127.0.0.1", "t.shop-a.co", strings.Repeat("a", 300)} {
		require.Nil(t, reg.Lookup([]byte(h)), h)
	}

	ta := s.Tenant(a.ID)
	require.Equal(t, tenant.EndpointLoader, ta.Endpoint([]byte("/s/4b1d.js"), now))
	require.Equal(t, tenant.EndpointCollect, ta.Endpoint([]byte("/a/9f2c"), now))
	require.Equal(t, tenant.EndpointConsent, ta.Endpoint([]byte("/a/c0n"), now))
	require.Equal(t, tenant.EndpointNone, ta.Endpoint([]byte("/a/9f2c/"), now))
	require.Equal(t, tenant.EndpointNone, ta.Endpoint([]byte("/"), now))
	rest, ok := ta.StripPrefix([]byte("/m/a/9f2c"))
	require.True(t, ok)
	require.Equal(t, "/a/9f2c", string(rest))
	_, ok = ta.StripPrefix([]byte("/mx/a/9f2c"))
	require.False(t, ok)

	// Tenant B uses its deterministic defaults; A's paths mean nothing there.
	tb := s.Tenant(b.ID)
	require.Equal(t, tenant.DefaultPath(b.ID, tenant.KindLoader), tb.LoaderPath)
	require.True(t, strings.HasSuffix(tb.LoaderPath, ".js"))
	require.Equal(t, tenant.EndpointCollect, tb.Endpoint([]byte(tb.CollectPath), now))
	require.Equal(t, tenant.EndpointNone, tb.Endpoint([]byte("/a/9f2c"), now))
	require.Equal(t, tenant.EndpointNone, ta.Endpoint([]byte(tb.CollectPath), now))

	// Origins: sites (normalised) and pixel domains; only A's.
	for _, o := range []string{"https://www.shop-a.com", "http://www.shop-a.localhost:8080", "https://shop.shop-a.com", "https://www.pixel.localhost", "http://www.pixel.localhost"} {
		require.True(t, ta.OriginAllowed([]byte(o)), o)
		require.False(t, tb.OriginAllowed([]byte(o)), o)
	}
	for _, o := range []string{"http://shop.shop-a.com", "https://www.shop-a.com/", "https://evil.com", "null", ""} {
		require.False(t, ta.OriginAllowed([]byte(o)), o)
	}

	// Pixels: active only, no secrets.
	require.Len(t, ta.Pixels, 1)
	require.True(t, ta.Pixels[0].Credentials.IsZero())
	require.Empty(t, ta.Pixels[0].CredentialHints)
	require.Empty(t, tb.Pixels, "inactive pixel left out")

	// Cookie keys: opened, distinct per tenant.
	require.Len(t, ta.SignKey.Secret, 32)
	require.Equal(t, ta.SignKey.Secret, ta.VerifyKeys[ta.SignKey.ID])
	require.NotEqual(t, ta.SignKey.Secret, tb.SignKey.Secret)
	require.NotContains(t, tb.VerifyKeys, ta.SignKey.ID)

	// Forwarded host CIDRs are per tenant.
	require.True(t, ta.ForwardedHostAllowed(mustAddr("203.0.113.9")))
	require.True(t, ta.ForwardedHostAllowed(mustAddr("::ffff:203.0.113.9")))
	require.False(t, ta.ForwardedHostAllowed(mustAddr("198.51.100.1")))
	require.False(t, tb.ForwardedHostAllowed(mustAddr("203.0.113.9")))

	// Rotation: the new key signs, the previous one still verifies.
	_, err = e.api.RotateCookieKeys(ctx, a.ID)
	require.NoError(t, err)
	s2, err := tenant.Build(ctx, e.st, e.kr, now)
	require.NoError(t, err)
	ta2 := s2.Tenant(a.ID)
	require.NotEqual(t, ta.SignKey.ID, ta2.SignKey.ID)
	require.Len(t, ta2.VerifyKeys, 2)
	require.Contains(t, ta2.VerifyKeys, ta.SignKey.ID)
	require.Greater(t, s2.Version, s.Version)
	// The old snapshot is untouched.
	require.Len(t, ta.VerifyKeys, 1)
}

func TestBuildPreviousPathsGrace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now()
	a := e.tenant(t, "shop-a", store.TenantSettings{CollectPath: "/n3w/c"}, "t.shop-a.com")
	set := a.Settings
	set.PreviousPaths = []store.PreviousPath{
		{Kind: tenant.KindCollect, Path: "/0ld/c", Until: now.Add(time.Hour)},
		{Kind: tenant.KindLoader, Path: "/0ld/l.js", Until: now.Add(-time.Second)}, // over
		{Kind: "bogus", Path: "/0ld/x", Until: now.Add(time.Hour)},
		{Kind: tenant.KindConsent, Path: "/n3w/c", Until: now.Add(time.Hour)}, // current path wins
	}
	_, err := e.st.UpdateTenant(ctx, a.ID, store.TenantPatch{Settings: &set})
	require.NoError(t, err)
	s, err := tenant.Build(ctx, e.st, e.kr, now)
	require.NoError(t, err)
	ta := s.Tenant(a.ID)
	require.Equal(t, tenant.EndpointCollect, ta.Endpoint([]byte("/n3w/c"), now))
	require.Equal(t, tenant.EndpointCollect, ta.Endpoint([]byte("/0ld/c"), now))
	require.Equal(t, tenant.EndpointNone, ta.Endpoint([]byte("/0ld/c"), now.Add(2*time.Hour)), "grace ends without a rebuild")
	require.Equal(t, tenant.EndpointNone, ta.Endpoint([]byte("/0ld/l.js"), now))
	require.Equal(t, tenant.EndpointNone, ta.Endpoint([]byte("/0ld/x"), now))
}

func TestBuildSkipsBadTenantOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	good := e.tenant(t, "good", store.TenantSettings{}, "t.good.com")
	now := time.Now().UTC()

	// Written straight to the store, bypassing admin validation (an older
	// binary, a manual edit): a vendor-fingerprint path.
	badPath, err := e.st.CreateTenant(ctx, store.Tenant{ID: "00000000-0000-4000-8000-000000000001", Slug: "bad-path", Name: "x",
		Settings: store.TenantSettings{CollectPath: "/gtm.js"}, CreatedAt: now, UpdatedAt: now})
	require.NoError(t, err)
	// No cookie key at all.
	noKey, err := e.st.CreateTenant(ctx, store.Tenant{ID: "00000000-0000-4000-8000-000000000002", Slug: "no-key", Name: "x", CreatedAt: now, UpdatedAt: now})
	require.NoError(t, err)
	// A cookie key sealed under a master key this edge lacks.
	otherKR, err := secret.NewKeyring("m9", map[string][]byte{"m9": bytes.Repeat([]byte{9}, 32)})
	require.NoError(t, err)
	sealed, err := otherKR.Seal(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	badKey, err := e.st.CreateTenant(ctx, store.Tenant{ID: "00000000-0000-4000-8000-000000000003", Slug: "bad-key", Name: "x", CreatedAt: now, UpdatedAt: now})
	require.NoError(t, err)
	require.NoError(t, e.st.AddCookieKey(ctx, store.CookieKey{TenantID: badKey.ID, KeyID: "k1", Secret: sealed, Active: true, CreatedAt: now}))
	for i, id := range []string{badPath.ID, noKey.ID, badKey.ID} {
		_, err := e.st.AddDomain(ctx, store.TenantDomain{Hostname: "t.bad" + string(rune('a'+i)) + ".com", TenantID: id, CookieDomain: "bad.com", Verification: store.VerificationPending, CreatedAt: now})
		require.NoError(t, err)
	}

	s, err := tenant.Build(ctx, e.st, e.kr, now)
	require.NoError(t, err)
	require.Len(t, s.Skipped, 3)
	joined := errors.Join(s.Skipped...).Error()
	for _, want := range []string{"bad-path", "settings.collect_path", "no-key", "no active cookie key", "bad-key", "cookie key \"k1\""} {
		require.Contains(t, joined, want)
	}
	require.Equal(t, 1, s.Tenants())
	require.NotNil(t, s.Lookup([]byte("t.good.com")))
	require.Equal(t, good.ID, s.Lookup([]byte("t.good.com")).Tenant.ID)
	for _, h := range []string{"t.bada.com", "t.badb.com", "t.badc.com"} {
		require.Nil(t, s.Lookup([]byte(h)), h)
	}
}

// flakySource is the real store with an off switch, to test that a failed
// reload keeps the previous snapshot.
type flakySource struct {
	*storesqlite.Store
	fail  atomic.Bool
	polls atomic.Int64
}

var errDown = errors.New("database is down")

func (f *flakySource) ConfigVersion(ctx context.Context) (int64, error) {
	f.polls.Add(1)
	if f.fail.Load() {
		return 0, errDown
	}
	return f.Store.ConfigVersion(ctx)
}

func (f *flakySource) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	if f.fail.Load() {
		return nil, errDown
	}
	return f.Store.ListTenants(ctx)
}

// syncBuffer is a concurrency-safe output sink.
type syncBuffer = syncbuf.Buffer

func TestReloaderPicksUpChangesAndSurvivesFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a := e.tenant(t, "shop-a", store.TenantSettings{}, "t.shop-a.com")
	src := &flakySource{Store: e.st}
	var reg tenant.Registry
	logs := &syncBuffer{}
	r := tenant.NewReloader(src, e.kr, &reg, slog.New(slog.NewJSONHandler(logs, nil)), 0)
	require.NoError(t, r.Stop(ctx), "stop before start is a no-op")

	r = tenant.NewReloader(src, e.kr, &reg, slog.New(slog.NewJSONHandler(logs, nil)), 0)
	require.NoError(t, r.Start(ctx))
	require.NoError(t, r.Start(ctx), "idempotent")
	t.Cleanup(func() { require.NoError(t, r.Stop(ctx)) })
	require.NotNil(t, reg.Lookup([]byte("t.shop-a.com")), "first snapshot is built by Start")
	require.Nil(t, reg.Lookup([]byte("www.shop-a.com")))

	// A change through "another instance" (the same store) is served
	// within one second.
	_, err := e.api.AddDomain(ctx, a.ID, admin.DomainInput{Hostname: "www.shop-a.com"})
	require.NoError(t, err)
	deadline := time.Now().Add(time.Second)
	for reg.Lookup([]byte("www.shop-a.com")) == nil {
		require.True(t, time.Now().Before(deadline), "change not served within 1 s")
		time.Sleep(10 * time.Millisecond)
	}

	// The store goes down: the snapshot stays, the error is logged once
	// however many polls fail.
	before := reg.Snapshot()
	src.fail.Store(true)
	p0 := src.polls.Load()
	for src.polls.Load() < p0+4 {
		time.Sleep(10 * time.Millisecond)
	}
	require.Same(t, before, reg.Snapshot())
	require.NotNil(t, reg.Lookup([]byte("www.shop-a.com")))
	require.Equal(t, 1, strings.Count(logs.String(), "cannot reload edge config"), logs.String())

	// Back up: a change is picked up again.
	src.fail.Store(false)
	require.NoError(t, e.st.DeleteDomain(ctx, a.ID, "www.shop-a.com"))
	deadline = time.Now().Add(2 * time.Second)
	for reg.Lookup([]byte("www.shop-a.com")) != nil {
		require.True(t, time.Now().Before(deadline), "change not served after recovery")
		time.Sleep(10 * time.Millisecond)
	}
	require.Contains(t, logs.String(), "edge config reload recovered")

	require.NoError(t, r.Stop(ctx))
	require.NoError(t, r.Stop(ctx), "idempotent")
	require.ErrorIs(t, r.Start(ctx), tenant.ErrStopped)
}
