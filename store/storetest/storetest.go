// Package storetest is the conformance suite every store driver runs
// (storesqlite, storepg). New store behaviour goes here, never into one
// driver's tests.
//
// Contract the suite pins down, beyond the comments in package store:
//
//   - Callers choose ids (tenant, pixel UUID, API key, response); drivers
//     assign Pixel.ID and, for AppendConsent, an empty ConsentRecord.ID.
//   - A zero CreatedAt means "now"; a non-zero one is stored as given.
//     UpdatedAt is set by the driver on every create and update. Times are
//     stored in UTC with at least millisecond precision.
//   - Creating an object for a tenant that does not exist is ErrNotFound.
//   - Empty and nil maps, slices and ciphertexts are equivalent.
//   - ResealAll skips zero Sealed values and counts only rewritten ones.
//   - DeleteTenant succeeds even when the tenant has audit rows and consents.
//   - Lists without a documented order may come in any order.
package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
)

// Store is what a driver under test provides.
type Store interface {
	store.Store
	store.Migrator
}

// Exercise runs the whole suite. open must return a fresh, migrated store
// isolated from every other store it returns, and close it in t.Cleanup. It
// is called from parallel subtests.
func Exercise(t *testing.T, open func(t *testing.T) Store) {
	t.Helper()
	groups := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) Store)
	}{
		{"Tenants", exerciseTenants},
		{"Domains", exerciseDomains},
		{"Pixels", exercisePixels},
		{"CookieKeys", exerciseCookieKeys},
		{"APIKeys", exerciseAPIKeys},
		{"Audit", exerciseAudit},
		{"Consents", exerciseConsents},
		{"Secrets", exerciseSecrets},
		{"ConfigVersion", exerciseConfigVersion},
		{"Schema", exerciseSchema},
		{"DeleteTenant", exerciseDeleteTenant},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.fn(t, open)
		})
	}
}

// subtests runs each case in its own parallel subtest with a fresh store.
func subtests(t *testing.T, open func(t *testing.T) Store, cases map[string]func(t *testing.T, s Store)) {
	t.Helper()
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, open(t))
		})
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

// NewTenant creates a tenant with a random slug and full settings.
func NewTenant(t testing.TB, s store.Store) store.Tenant {
	t.Helper()
	id := uuid.NewString()
	ten, err := s.CreateTenant(t.Context(), store.Tenant{
		ID:       id,
		Slug:     "t-" + strings.ReplaceAll(id, "-", "")[:16],
		Name:     "Tenant " + id[:8],
		Settings: fullSettings(),
	})
	require.NoError(t, err)
	return ten
}

// NewPixel creates an active pixel of tenantID on platform with every field
// set.
func NewPixel(t testing.TB, s store.Store, tenantID, platform string) store.Pixel {
	t.Helper()
	p, err := s.CreatePixel(t.Context(), samplePixel(tenantID, platform))
	require.NoError(t, err)
	return p
}

// NewDomain adds a random hostname to tenantID.
func NewDomain(t testing.TB, s store.Store, tenantID string) store.TenantDomain {
	t.Helper()
	d, err := s.AddDomain(t.Context(), sampleDomain(tenantID))
	require.NoError(t, err)
	return d
}

func fullSettings() store.TenantSettings {
	return store.TenantSettings{
		DefaultLanguage: "es",
		Languages:       []string{"es", "en", "pt"},
		PrivacyURL:      "https://example.com/privacy",
		PolicyVersion:   "2026-01",
		BannerColors:    map[string]string{"background": "#ffffff", "accent": "#0055ff"},
		BannerTexts: map[string]map[string]string{
			"es": {"title": "Privacidad", "accept": "Aceptar"},
			"en": {"title": "Privacy", "accept": "Accept"},
		},
		LoaderPath:  "/a1b2/l.js",
		CollectPath: "/a1b2/c",
		ConsentPath: "/a1b2/k",
		Sites:       []string{"https://www.example.com", "https://shop.example.com"},
	}
}

func sampleDomain(tenantID string) store.TenantDomain {
	r := strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	return store.TenantDomain{
		Hostname:     "t" + r + ".example.com",
		TenantID:     tenantID,
		CookieDomain: "example.com",
		Verification: store.VerificationPending,
		VerifyToken:  "pixelgw-verify=" + r,
	}
}

func samplePixel(tenantID, platform string) store.Pixel {
	id := uuid.NewString()
	return store.Pixel{
		UUID:              id,
		TenantID:          tenantID,
		Platform:          platform,
		PixelID:           "px" + strings.ReplaceAll(id, "-", "")[:14],
		Credentials:       store.Sealed{KeyID: "k1", Ciphertext: []byte("ciphertext-" + id)},
		CredentialHints:   map[string]string{"access_token": "…abcd"},
		Extras:            map[string]string{"ad_account_id": "act_123", "measurement_id": "G-ABC"},
		EventMap:          map[string]string{"purchase": "urn:li:rule:1", "page_view": ""},
		IsActive:          true,
		ServerSideEnabled: true,
		ClientSideEnabled: false,
		TestEventCode:     "TEST123",
		Domains:           []string{"www.example.com", "shop.example.com"},
		Status:            "unknown",

		ConfirmBrowserConversions: true,
	}
}

// Normalizers: empty and nil are equivalent; times are checked separately.

func normMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func normSlice(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func normBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func normSealed(s store.Sealed) store.Sealed {
	s.Ciphertext = normBytes(s.Ciphertext)
	return s
}

func normSettings(s store.TenantSettings) store.TenantSettings {
	s.Languages = normSlice(s.Languages)
	s.BannerColors = normMap(s.BannerColors)
	s.Sites = normSlice(s.Sites)
	if len(s.BannerTexts) == 0 {
		s.BannerTexts = nil
	}
	for k, v := range s.BannerTexts {
		s.BannerTexts[k] = normMap(v)
	}
	return s
}

// requireTime checks got is want within a millisecond.
func requireTime(t *testing.T, want, got time.Time, msgAndArgs ...any) {
	t.Helper()
	require.False(t, got.IsZero(), msgAndArgs...)
	require.WithinDuration(t, want, got, time.Millisecond, msgAndArgs...)
}

// requireRecent checks got is a driver-assigned "now".
func requireRecent(t *testing.T, got time.Time, msgAndArgs ...any) {
	t.Helper()
	require.False(t, got.IsZero(), msgAndArgs...)
	require.WithinDuration(t, time.Now(), got, time.Minute, msgAndArgs...)
}

func requireSameTenant(t *testing.T, want, got store.Tenant) {
	t.Helper()
	w, g := want, got
	w.Settings, g.Settings = normSettings(w.Settings), normSettings(g.Settings)
	w.CreatedAt, w.UpdatedAt, g.CreatedAt, g.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	require.Equal(t, w, g)
	if !want.CreatedAt.IsZero() {
		requireTime(t, want.CreatedAt, got.CreatedAt, "CreatedAt")
	}
	if !want.UpdatedAt.IsZero() {
		requireTime(t, want.UpdatedAt, got.UpdatedAt, "UpdatedAt")
	}
}

func normPixel(p store.Pixel) store.Pixel {
	p.Credentials = normSealed(p.Credentials)
	p.CredentialHints = normMap(p.CredentialHints)
	p.Extras = normMap(p.Extras)
	p.EventMap = normMap(p.EventMap)
	p.Domains = normSlice(p.Domains)
	p.CreatedAt, p.UpdatedAt = time.Time{}, time.Time{}
	return p
}

// requireSamePixel compares every field; want.ID 0 means "any id".
func requireSamePixel(t *testing.T, want, got store.Pixel) {
	t.Helper()
	w, g := normPixel(want), normPixel(got)
	if w.ID == 0 {
		g.ID = 0
	}
	require.Equal(t, w, g)
	if !want.CreatedAt.IsZero() {
		requireTime(t, want.CreatedAt, got.CreatedAt, "CreatedAt")
	}
	if !want.UpdatedAt.IsZero() {
		requireTime(t, want.UpdatedAt, got.UpdatedAt, "UpdatedAt")
	}
}

func normDomain(d store.TenantDomain) store.TenantDomain {
	d.CreatedAt = time.Time{}
	return d
}

func normCookieKey(k store.CookieKey) store.CookieKey {
	k.Secret = normSealed(k.Secret)
	k.CreatedAt = time.Time{}
	return k
}

func normAPIKey(k store.APIKey) store.APIKey {
	k.Hash = normBytes(k.Hash)
	k.Scopes = normSlice(k.Scopes)
	k.CreatedAt = time.Time{}
	k.RevokedAt = nil
	return k
}

func pixelUUIDs(ps []store.Pixel) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.UUID)
	}
	return out
}

func tenantIDs(ts []store.Tenant) []string {
	out := make([]string, 0, len(ts))
	for _, x := range ts {
		out = append(out, x.ID)
	}
	return out
}

func hostnames(ds []store.TenantDomain) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.Hostname)
	}
	return out
}

func cookieKeyRefs(ks []store.CookieKey) []string {
	out := make([]string, 0, len(ks))
	for _, k := range ks {
		out = append(out, fmt.Sprintf("%s/%s", k.TenantID, k.KeyID))
	}
	return out
}

func ptr[T any](v T) *T { return &v }
