package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/storesqlite"
)

func TestMaintainerPurgesOldIPs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, tn := maintStore(t)
	now := time.Now().UTC()
	old, recent := now.Add(-31*24*time.Hour), now.Add(-24*time.Hour)
	require.NoError(t, st.AppendEvents(ctx, []store.AuditEvent{
		{TenantID: tn.ID, EventID: "old", EventName: "lead", EventSource: "client", ClientIP: "203.0.113.1", CreatedAt: old},
		{TenantID: tn.ID, EventID: "new", EventName: "lead", EventSource: "client", ClientIP: "203.0.113.2", CreatedAt: recent},
	}))
	for _, at := range []time.Time{old, recent} {
		_, err := st.AppendConsent(ctx, store.ConsentRecord{TenantID: tn.ID, VisitorID: uuid.NewString(), Analytics: true,
			PolicyVersion: "1", Source: store.ConsentSourceBanner, CreatedAt: at}, "198.51.100.9")
		require.NoError(t, err)
	}
	require.NoError(t, st.AppendOutcomes(ctx, []store.DeliveryOutcome{
		{TenantID: tn.ID, EventID: "old", PixelUUID: "p", Platform: "meta", Status: "delivered", CreatedAt: old},
		{TenantID: tn.ID, EventID: "new", PixelUUID: "p", Platform: "meta", Status: "delivered", CreatedAt: recent},
	}))
	partitioned := 0
	m := newMaintainer(st, func(context.Context, time.Time, time.Time) error { partitioned++; return nil }, slog.New(slog.DiscardHandler))
	m.run(ctx)
	require.Equal(t, 1, partitioned)

	evs, err := st.RecentEvents(ctx, tn.ID, 10)
	require.NoError(t, err)
	ips := map[string]string{}
	for _, e := range evs {
		ips[e.Event.EventID] = e.Event.ClientIP
	}
	require.Equal(t, map[string]string{"old": "", "new": "203.0.113.2"}, ips, "only IPs older than 30 days are purged")
	n, err := st.PurgeConsentIPs(ctx, now.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "the old consent IP was already purged, the recent one remains")

	purged, err := st.PurgeStats(ctx, now)
	require.NoError(t, err)
	require.Zero(t, purged, "the 31-day-old rollups were already purged, the recent ones are kept")
	stats, err := st.TenantStats(ctx, tn.ID, recent.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, int64(1), stats.Deliveries.Delivered)

	require.NoError(t, m.Start(ctx))
	require.NoError(t, m.Stop(ctx))
	require.NoError(t, m.Stop(ctx), "idempotent")
}

// The reconciliation runs at start and every dedupEvery: an event whose
// merged copy was written before the other side's outcome (no batch could
// see both) is counted without anyone calling the store.
func TestMaintainerReconcilesDedup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, tn := maintStore(t)
	at := time.Now().UTC().Add(-time.Minute)
	for _, o := range []store.DeliveryOutcome{
		{TenantID: tn.ID, EventID: "e", PixelUUID: "p", Platform: "meta", Status: "merged", Source: store.SourceServer, CreatedAt: at},
		{TenantID: tn.ID, EventID: "e", PixelUUID: "p", Platform: "meta", Status: "delivered", Source: store.SourceClient, CreatedAt: at},
	} {
		require.NoError(t, st.AppendOutcomes(ctx, []store.DeliveryOutcome{o}))
	}
	dedup := func() int64 {
		s, err := st.TenantStats(ctx, tn.ID, time.Now())
		require.NoError(t, err)
		return s.Deduplicated
	}
	require.Zero(t, dedup())

	m := newMaintainer(st, nil, slog.New(slog.DiscardHandler))
	m.every = time.Hour
	m.dedupEvery = 10 * time.Millisecond
	require.NoError(t, m.Start(ctx))
	t.Cleanup(func() { require.NoError(t, m.Stop(ctx)) })
	require.Eventually(t, func() bool { return dedup() == 1 }, 10*time.Second, 10*time.Millisecond)
}

// maintStore is a migrated embedded store with one tenant.
func maintStore(t *testing.T) (*storesqlite.Store, store.Tenant) {
	t.Helper()
	ctx := context.Background()
	st, err := storesqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	tn, err := st.CreateTenant(ctx, store.Tenant{ID: uuid.NewString(), Slug: "maint", Name: "m"})
	require.NoError(t, err)
	return st, tn
}
