package proxy_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/proxy/tenant"
	"github.com/jaraba/pixelgw/store"
)

// setPolicy changes a tenant's consent settings in the store and swaps in a
// rebuilt snapshot, as the reloader does: the edge reads the policy from
// its snapshot only.
func setPolicy(t *testing.T, f *fixture, tenantID string, mod func(*store.TenantSettings)) {
	t.Helper()
	ctx := context.Background()
	tn, err := f.st.GetTenant(ctx, tenantID)
	require.NoError(t, err)
	s := tn.Settings
	mod(&s)
	_, err = f.st.UpdateTenant(ctx, tenantID, store.TenantPatch{Settings: &s})
	require.NoError(t, err)
	snap, err := tenant.Build(ctx, f.st, f.kr, time.Now())
	require.NoError(t, err)
	require.Empty(t, snap.Skipped)
	f.reg.Swap(snap)
	f.shop = snap.Lookup([]byte("t.shop.example")).Tenant
	f.other = snap.Lookup([]byte("t.other.example")).Tenant
}

func sendBeacon(t *testing.T, f *fixture, cs map[string]string, hdr ...string) {
	t.Helper()
	h := append([]string{"Origin", shopOrigin, "Content-Type", "text/plain"}, hdr...)
	if cs != nil {
		h = append(h, "Cookie", cookieHeader(cs))
	}
	r := f.do(t, "POST", "t.shop.example", f.shop.CollectPath, beacon("purchase", uuid.NewString()), h...)
	require.Equal(t, 204, r.status, r.body)
}

func queuedConsent(t *testing.T, m []byte) (analytics, marketing bool, payload map[string]any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(m, &payload))
	c := payload["consent"].(map[string]any)
	return c["a"].(bool), c["m"].(bool), payload
}

func TestTenantCanIgnoreGPC(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	setPolicy(t, f, f.shop.ID, func(s *store.TenantSettings) { s.HonorGPC = new(false) })
	require.False(t, f.shop.Policy.HonorGPC)
	require.True(t, f.other.Policy.HonorGPC, "another tenant keeps the default")

	cs := consent(t, f, true, true)
	sendBeacon(t, f, cs, "Sec-GPC", "1")
	msgs := readAll(t, f.q)
	require.Len(t, msgs, 1)
	a, m, p := queuedConsent(t, msgs[0].Payload)
	require.True(t, a)
	require.True(t, m, "GPC is not a marketing opt-out for this tenant")
	require.Contains(t, p, "user", "marketing data kept")

	// Back to the default (null clears the setting): GPC honoured again.
	setPolicy(t, f, f.shop.ID, func(s *store.TenantSettings) { s.HonorGPC = nil })
	sendBeacon(t, f, cs, "Sec-GPC", "1")
	msgs = readAll(t, f.q)
	require.Len(t, msgs, 2)
	_, m, p = queuedConsent(t, msgs[1].Payload)
	require.False(t, m)
	require.NotContains(t, p, "user")
}

func TestTenantRefusesAnalyticsOnlyGA4(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	analyticsOnly := consent(t, f, true, false)

	// Default: analytics alone is queued (GA4 with ad signals DENIED).
	sendBeacon(t, f, analyticsOnly)
	msgs := readAll(t, f.q)
	require.Len(t, msgs, 1)
	a, m, p := queuedConsent(t, msgs[0].Payload)
	require.True(t, a)
	require.False(t, m)
	require.NotContains(t, p, "user")

	setPolicy(t, f, f.shop.ID, func(s *store.TenantSettings) { s.GA4AnalyticsOnly = new(false) })
	sendBeacon(t, f, analyticsOnly)
	require.Len(t, readAll(t, f.q), 1, "no platform may receive analytics-only events: nothing queued")

	// With GPC a full consent becomes analytics-only: refused too.
	all := consent(t, f, true, true)
	sendBeacon(t, f, all, "Sec-GPC", "1")
	require.Len(t, readAll(t, f.q), 1)
	sendBeacon(t, f, all)
	msgs = readAll(t, f.q)
	require.Len(t, msgs, 2, "marketing consent still queues")
	a, m, _ = queuedConsent(t, msgs[1].Payload)
	require.True(t, a)
	require.True(t, m)
}

// TestServerLegalBasisNeverAppliesAtTheEdge: the legal basis is for
// server-side events; a browser without a valid cookie sends nothing.
func TestServerLegalBasisNeverAppliesAtTheEdge(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	setPolicy(t, f, f.shop.ID, func(s *store.TenantSettings) { s.ServerLegalBasis = new(true) })
	require.True(t, f.shop.Policy.ServerLegalBasis)
	sendBeacon(t, f, nil)
	sendBeacon(t, f, map[string]string{"jaraba_consent": "forged.value"})
	rejected := consent(t, f, false, false)
	sendBeacon(t, f, rejected)
	require.Empty(t, readAll(t, f.q))
}
