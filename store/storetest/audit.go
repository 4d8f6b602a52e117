package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
)

func sampleEvent(tenantID string, at time.Time) store.AuditEvent {
	id := uuid.NewString()
	return store.AuditEvent{
		TenantID:        tenantID,
		EventID:         "ev-" + id,
		EventName:       "purchase",
		EventSource:     store.SourceServer,
		UserData:        store.Sealed{KeyID: "k1", Ciphertext: []byte("ud-" + id)},
		CustomData:      []byte(`{"currency":"EUR","value":12.5,"items":[{"id":"sku-1"}]}`),
		EventSourceURL:  "https://www.example.com/checkout?x=1",
		ClientIP:        "203.0.113.7",
		ClientUserAgent: "Mozilla/5.0",
		FBC:             "fb.1.1700000000.abc",
		FBP:             "fb.1.1700000000.123",
		GCLID:           "gclid-1",
		CreatedAt:       at,
	}
}

// requireSameEvent compares every field; CustomData as JSON.
func requireSameEvent(t *testing.T, want, got store.AuditEvent) {
	t.Helper()
	if len(want.CustomData) == 0 {
		require.Empty(t, got.CustomData)
	} else {
		require.JSONEq(t, string(want.CustomData), string(got.CustomData))
	}
	requireTime(t, want.CreatedAt, got.CreatedAt)
	w, g := want, got
	w.CustomData, g.CustomData = nil, nil
	w.CreatedAt, g.CreatedAt = time.Time{}, time.Time{}
	w.UserData, g.UserData = normSealed(w.UserData), normSealed(g.UserData)
	require.Equal(t, w, g)
}

func eventIDs(rs []store.RecentEvent) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Event.EventID)
	}
	return out
}

func exerciseAudit(t *testing.T, open func(t *testing.T) Store) {
	subtests(t, open, map[string]func(t *testing.T, s Store){
		"RoundTripWithOutcomes": func(t *testing.T, s Store) {
			a := NewTenant(t, s)
			now := time.Now().UTC()
			ev1 := sampleEvent(a.ID, now.Add(-2*time.Minute))
			ev2 := sampleEvent(a.ID, now.Add(-time.Minute))
			ev2.CustomData = nil
			ev2.UserData = store.Sealed{}
			ev2.EventSource = store.SourceBoth
			require.NoError(t, s.AppendEvents(ctx(t), []store.AuditEvent{ev1, ev2}))

			resp := store.PlatformResponse{
				ID: uuid.NewString(), TenantID: a.ID, PixelUUID: uuid.NewString(), Platform: store.PlatformMeta,
				HTTPStatus: 200, Body: []byte(`{"events_received":1}`), CreatedAt: now,
			}
			require.NoError(t, s.AppendResponses(ctx(t), []store.PlatformResponse{resp}))
			outs := []store.DeliveryOutcome{
				{TenantID: a.ID, EventID: ev1.EventID, PixelUUID: resp.PixelUUID, Platform: store.PlatformMeta, Status: "retrying", Attempts: 1, CreatedAt: now.Add(-50 * time.Second), Source: store.SourceServer},
				{TenantID: a.ID, EventID: ev1.EventID, PixelUUID: resp.PixelUUID, Platform: store.PlatformMeta, Status: "delivered", Attempts: 2, ResponseID: resp.ID, CreatedAt: now.Add(-40 * time.Second), Source: store.SourceBoth, Test: true},
				{TenantID: a.ID, EventID: ev1.EventID, PixelUUID: uuid.NewString(), Platform: store.PlatformGoogle, Status: "skipped", CreatedAt: now.Add(-30 * time.Second)},
			}
			require.NoError(t, s.AppendOutcomes(ctx(t), outs))

			recent, err := s.RecentEvents(ctx(t), a.ID, 10)
			require.NoError(t, err)
			require.Equal(t, []string{ev2.EventID, ev1.EventID}, eventIDs(recent), "newest first")
			requireSameEvent(t, ev2, recent[0].Event)
			require.Empty(t, recent[0].Outcomes)
			requireSameEvent(t, ev1, recent[1].Event)
			require.Len(t, recent[1].Outcomes, len(outs))
			for i, got := range recent[1].Outcomes {
				requireTime(t, outs[i].CreatedAt, got.CreatedAt)
				got.CreatedAt = outs[i].CreatedAt
				require.Equal(t, outs[i], got, "outcomes oldest first")
			}
			// The answer the delivered outcome references comes along.
			require.Empty(t, recent[0].Responses)
			require.Len(t, recent[1].Responses, 1)
			gotResp := recent[1].Responses[resp.ID]
			requireTime(t, resp.CreatedAt, gotResp.CreatedAt)
			gotResp.CreatedAt = resp.CreatedAt
			require.Equal(t, resp, gotResp)
		},
		"ResponsesAreTenantScoped": func(t *testing.T, s Store) {
			a, b := NewTenant(t, s), NewTenant(t, s)
			now := time.Now().UTC()
			ea, eb := sampleEvent(a.ID, now), sampleEvent(b.ID, now)
			require.NoError(t, s.AppendEvents(ctx(t), []store.AuditEvent{ea, eb}))
			ra := store.PlatformResponse{ID: uuid.NewString(), TenantID: a.ID, PixelUUID: uuid.NewString(), Platform: store.PlatformMeta,
				HTTPStatus: 400, Body: []byte(`{"error":{"message":"a's answer"}}`), CreatedAt: now}
			require.NoError(t, s.AppendResponses(ctx(t), []store.PlatformResponse{ra}))
			// B's outcome names A's answer (it cannot happen through the
			// engine; the read must not follow it across tenants).
			require.NoError(t, s.AppendOutcomes(ctx(t), []store.DeliveryOutcome{
				{TenantID: a.ID, EventID: ea.EventID, PixelUUID: ra.PixelUUID, Platform: store.PlatformMeta, Status: "failed", Attempts: 1, ResponseID: ra.ID, CreatedAt: now},
				{TenantID: b.ID, EventID: eb.EventID, PixelUUID: ra.PixelUUID, Platform: store.PlatformMeta, Status: "failed", Attempts: 1, ResponseID: ra.ID, CreatedAt: now},
			}))
			got, err := s.RecentEvents(ctx(t), a.ID, 10)
			require.NoError(t, err)
			require.Len(t, got, 1)
			require.Equal(t, 400, got[0].Responses[ra.ID].HTTPStatus)
			require.Equal(t, ra.Body, got[0].Responses[ra.ID].Body)
			got, err = s.RecentEvents(ctx(t), b.ID, 10)
			require.NoError(t, err)
			require.Len(t, got, 1)
			require.Len(t, got[0].Outcomes, 1)
			require.Empty(t, got[0].Responses, "another tenant's answer never shows")
		},
		"ZeroCreatedAtIsNow": func(t *testing.T, s Store) {
			a := NewTenant(t, s)
			ev := sampleEvent(a.ID, time.Time{})
			require.NoError(t, s.AppendEvents(ctx(t), []store.AuditEvent{ev}))
			recent, err := s.RecentEvents(ctx(t), a.ID, 1)
			require.NoError(t, err)
			require.Len(t, recent, 1)
			requireRecent(t, recent[0].Event.CreatedAt)
		},
		"EmptyBatches": func(t *testing.T, s Store) {
			require.NoError(t, s.AppendEvents(ctx(t), nil))
			require.NoError(t, s.AppendOutcomes(ctx(t), nil))
			require.NoError(t, s.AppendResponses(ctx(t), []store.PlatformResponse{}))
		},
		"Limit": func(t *testing.T, s Store) {
			a := NewTenant(t, s)
			now := time.Now().UTC()
			var evs []store.AuditEvent
			for i := range 5 {
				evs = append(evs, sampleEvent(a.ID, now.Add(time.Duration(i)*time.Second)))
			}
			// Stored out of order: the order comes from CreatedAt.
			require.NoError(t, s.AppendEvents(ctx(t), []store.AuditEvent{evs[3], evs[0], evs[4]}))
			require.NoError(t, s.AppendEvents(ctx(t), []store.AuditEvent{evs[2], evs[1]}))

			recent, err := s.RecentEvents(ctx(t), a.ID, 3)
			require.NoError(t, err)
			require.Equal(t, []string{evs[4].EventID, evs[3].EventID, evs[2].EventID}, eventIDs(recent))
		},
		"TenantScoped": func(t *testing.T, s Store) {
			a, b := NewTenant(t, s), NewTenant(t, s)
			now := time.Now().UTC()
			ea := sampleEvent(a.ID, now.Add(-time.Second))
			eb := sampleEvent(b.ID, now)
			eb.EventID = ea.EventID // the same event id in two tenants
			require.NoError(t, s.AppendEvents(ctx(t), []store.AuditEvent{ea, eb}))
			require.NoError(t, s.AppendOutcomes(ctx(t), []store.DeliveryOutcome{
				{TenantID: a.ID, EventID: ea.EventID, PixelUUID: uuid.NewString(), Platform: store.PlatformMeta, Status: "delivered", Attempts: 1, CreatedAt: now},
				{TenantID: b.ID, EventID: eb.EventID, PixelUUID: uuid.NewString(), Platform: store.PlatformTikTok, Status: "failed", Attempts: 3, CreatedAt: now},
			}))

			ra, err := s.RecentEvents(ctx(t), a.ID, 10)
			require.NoError(t, err)
			require.Len(t, ra, 1)
			requireSameEvent(t, ea, ra[0].Event)
			require.Len(t, ra[0].Outcomes, 1)
			require.Equal(t, a.ID, ra[0].Outcomes[0].TenantID)
			require.Equal(t, "delivered", ra[0].Outcomes[0].Status)

			rb, err := s.RecentEvents(ctx(t), b.ID, 10)
			require.NoError(t, err)
			require.Len(t, rb, 1)
			requireSameEvent(t, eb, rb[0].Event)
			require.Len(t, rb[0].Outcomes, 1)
			require.Equal(t, "failed", rb[0].Outcomes[0].Status)

			none, err := s.RecentEvents(ctx(t), uuid.NewString(), 10)
			require.NoError(t, err)
			require.Empty(t, none)
		},
		"LargeBatch": func(t *testing.T, s Store) {
			a := NewTenant(t, s)
			now := time.Now().UTC()
			const n = 2000
			evs := make([]store.AuditEvent, n)
			outs := make([]store.DeliveryOutcome, n)
			for i := range evs {
				evs[i] = sampleEvent(a.ID, now.Add(time.Duration(i)*time.Millisecond))
				outs[i] = store.DeliveryOutcome{TenantID: a.ID, EventID: evs[i].EventID, PixelUUID: "p", Platform: store.PlatformMeta, Status: "delivered", Attempts: 1, CreatedAt: now}
			}
			require.NoError(t, s.AppendEvents(ctx(t), evs))
			require.NoError(t, s.AppendOutcomes(ctx(t), outs))
			recent, err := s.RecentEvents(ctx(t), a.ID, n+10)
			require.NoError(t, err)
			require.Len(t, recent, n)
			require.Equal(t, evs[n-1].EventID, recent[0].Event.EventID)
			require.Equal(t, evs[0].EventID, recent[n-1].Event.EventID)
			for _, r := range recent {
				require.Len(t, r.Outcomes, 1)
			}
		},
		"ConcurrentAppends": func(t *testing.T, s Store) {
			a := NewTenant(t, s)
			const writers, batches, size = 8, 5, 20
			errs := make(chan error, writers)
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for range batches {
						evs := make([]store.AuditEvent, size)
						for i := range evs {
							evs[i] = sampleEvent(a.ID, time.Time{})
						}
						if err := s.AppendEvents(ctx(t), evs); err != nil {
							errs <- fmt.Errorf("writer %d: %w", w, err)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			var all []error
			for err := range errs {
				all = append(all, err)
			}
			require.NoError(t, errors.Join(all...))
			recent, err := s.RecentEvents(ctx(t), a.ID, writers*batches*size+1)
			require.NoError(t, err)
			require.Len(t, recent, writers*batches*size)
		},
		"PurgeClientIPs": func(t *testing.T, s Store) {
			a, b := NewTenant(t, s), NewTenant(t, s)
			now := time.Now().UTC()
			cutoff := now.Add(-30 * 24 * time.Hour)
			old1 := sampleEvent(a.ID, cutoff.Add(-time.Hour))
			old2 := sampleEvent(b.ID, cutoff.Add(-48*time.Hour))
			oldNoIP := sampleEvent(a.ID, cutoff.Add(-2*time.Hour))
			oldNoIP.ClientIP = ""
			fresh := sampleEvent(a.ID, cutoff.Add(time.Hour))
			require.NoError(t, s.AppendEvents(ctx(t), []store.AuditEvent{old1, old2, oldNoIP, fresh}))

			n, err := s.PurgeClientIPs(ctx(t), cutoff)
			require.NoError(t, err)
			require.EqualValues(t, 2, n)

			ra, err := s.RecentEvents(ctx(t), a.ID, 10)
			require.NoError(t, err)
			require.Equal(t, []string{fresh.EventID, old1.EventID, oldNoIP.EventID}, eventIDs(ra))
			requireSameEvent(t, fresh, ra[0].Event)
			purged := old1
			purged.ClientIP = ""
			requireSameEvent(t, purged, ra[1].Event)

			rb, err := s.RecentEvents(ctx(t), b.ID, 10)
			require.NoError(t, err)
			require.Len(t, rb, 1)
			require.Empty(t, rb[0].Event.ClientIP)
			require.Equal(t, old2.ClientUserAgent, rb[0].Event.ClientUserAgent)

			n, err = s.PurgeClientIPs(ctx(t), cutoff)
			require.NoError(t, err)
			require.Zero(t, n, "a second purge finds nothing")
		},
	})
}

// BenchAppendEvents measures batched audit writes: b.N batches of 500 events
// (the same events each time: the audit has no uniqueness rule).
func BenchAppendEvents(b *testing.B, s store.Store) {
	b.Helper()
	ten := NewTenant(b, s)
	batch := make([]store.AuditEvent, 500)
	for i := range batch {
		batch[i] = sampleEvent(ten.ID, time.Time{})
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.AppendEvents(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
}
