package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
)

// statsFixture writes a hand-computed fixture for tenant a and noise for
// tenant b, relative to base (an hour boundary). The numbers TenantStats
// must answer at base+30m are in wantStats.
type statsFixture struct {
	a, b                                     store.Tenant
	green, amberLow, amberQuiet, red, red48h store.Pixel
	bPixel                                   store.Pixel
}

func writeStatsFixture(t *testing.T, s Store, base time.Time) statsFixture {
	t.Helper()
	c := ctx(t)
	f := statsFixture{a: NewTenant(t, s), b: NewTenant(t, s)}
	f.green = NewPixel(t, s, f.a.ID, store.PlatformMeta)
	f.amberLow = NewPixel(t, s, f.a.ID, store.PlatformGoogle)
	f.amberQuiet = NewPixel(t, s, f.a.ID, store.PlatformTikTok)
	f.red = NewPixel(t, s, f.a.ID, store.PlatformLinkedIn)
	f.red48h = NewPixel(t, s, f.a.ID, store.PlatformX)
	f.bPixel = NewPixel(t, s, f.b.ID, store.PlatformMeta)
	red := store.LightRed
	_, err := s.UpdatePixel(c, f.a.ID, f.red.UUID, store.PixelPatch{Status: &red}) // a platform refused its credentials
	require.NoError(t, err)

	in := base.Add(-22*time.Hour + 5*time.Minute) // inside the 24 h window
	recent := base.Add(-2 * time.Hour)
	day2 := base.Add(-30 * time.Hour) // outside 24 h, inside 48 h
	old := base.Add(-50 * time.Hour)  // outside both

	ev := func(tenant, src string, at time.Time) store.AuditEvent {
		return store.AuditEvent{TenantID: tenant, EventID: uuid.NewString(), EventName: "purchase", EventSource: src, CreatedAt: at}
	}
	both := ev(f.a.ID, store.SourceBoth, in)
	// A: 3 client, 2 server, 1 both in the window; 4 client outside.
	require.NoError(t, s.AppendEvents(c, []store.AuditEvent{
		ev(f.a.ID, store.SourceClient, in), ev(f.b.ID, store.SourceClient, in), ev(f.a.ID, store.SourceServer, recent),
		ev(f.a.ID, store.SourceClient, recent), both, ev(f.a.ID, store.SourceClient, day2),
	}))
	require.NoError(t, s.AppendEvents(c, []store.AuditEvent{
		ev(f.a.ID, store.SourceClient, base.Add(10*time.Minute)), ev(f.a.ID, store.SourceServer, in),
		ev(f.a.ID, store.SourceClient, day2), ev(f.a.ID, store.SourceClient, old), ev(f.a.ID, store.SourceClient, old),
	}))
	// B: 5 client, 1 server, 2 both.
	bEvs := []store.AuditEvent{ev(f.b.ID, store.SourceServer, recent), ev(f.b.ID, store.SourceBoth, recent), ev(f.b.ID, store.SourceBoth, recent)}
	for range 4 {
		bEvs = append(bEvs, ev(f.b.ID, store.SourceClient, recent))
	}
	require.NoError(t, s.AppendEvents(c, bEvs))

	out := func(tenant, pixel, platform, status string, at time.Time, n int, event string) []store.DeliveryOutcome {
		outs := make([]store.DeliveryOutcome, n)
		for i := range outs {
			id := event
			if id == "" {
				id = uuid.NewString()
			}
			outs[i] = store.DeliveryOutcome{TenantID: tenant, EventID: id, PixelUUID: pixel, Platform: platform, Status: status, Attempts: 1, CreatedAt: at}
		}
		return outs
	}
	var batch []store.DeliveryOutcome
	add := func(o []store.DeliveryOutcome) { batch = append(batch, o...) }
	// green: 20 delivered, 1 failed (95.2%); retrying and skipped do not count.
	add(out(f.a.ID, f.green.UUID, "meta", "delivered", recent, 20, ""))
	add(out(f.a.ID, f.green.UUID, "meta", "failed", in, 1, ""))
	add(out(f.a.ID, f.green.UUID, "meta", "retrying", recent, 3, ""))
	add(out(f.a.ID, f.green.UUID, "meta", "skipped", recent, 2, ""))
	add(out(f.a.ID, f.green.UUID, "meta", "delivered", old, 100, "")) // outside 48 h
	// amberLow: 9 delivered, 1 failed (90%).
	add(out(f.a.ID, f.amberLow.UUID, "google", "delivered", recent, 9, ""))
	add(out(f.a.ID, f.amberLow.UUID, "google", "failed", recent, 1, ""))
	// amberQuiet: delivered only 30 h ago.
	add(out(f.a.ID, f.amberQuiet.UUID, "tiktok", "delivered", day2, 1, ""))
	// red (stored): delivers fine.
	add(out(f.a.ID, f.red.UUID, "linkedin", "delivered", recent, 4, ""))
	// red48h: nothing delivered in 48 h.
	add(out(f.a.ID, f.red48h.UUID, "twitter", "dead", day2, 2, ""))
	add(out(f.a.ID, f.red48h.UUID, "twitter", "failed", recent, 1, ""))
	// A pixel-less failure (undecodable entry) and a deleted pixel.
	add(out(f.a.ID, "", "meta", "failed", recent, 1, ""))
	add(out(f.a.ID, uuid.NewString(), "meta", "delivered", recent, 2, ""))
	// B: its pixel fails everything.
	add(out(f.b.ID, f.bPixel.UUID, "meta", "failed", recent, 50, ""))
	add(out(f.b.ID, f.bPixel.UUID, "meta", "delivered", old, 3, ""))
	require.NoError(t, s.AppendOutcomes(c, batch))

	// Deduplication: only events seen from both sides count, once.
	src := func(o []store.DeliveryOutcome, source string) []store.DeliveryOutcome {
		for i := range o {
			o[i].Source = source
		}
		return o
	}
	// crossLate: the browser copy was sent (skipped here: not a delivery),
	// then the server copy came late and is merged for two pixels, in two
	// batches: counts once.
	crossLate := uuid.NewString()
	require.NoError(t, s.AppendOutcomes(c, src(out(f.a.ID, f.green.UUID, "meta", "skipped", recent, 1, crossLate), store.SourceClient)))
	require.NoError(t, s.AppendOutcomes(c, src(out(f.a.ID, f.green.UUID, "meta", "merged", recent, 1, crossLate), store.SourceServer)))
	// repeat: the browser fired it twice (a same-side repeat): not counted,
	// though merged for two pixels.
	repeat := uuid.NewString()
	require.NoError(t, s.AppendOutcomes(c, append(src(out(f.a.ID, f.amberLow.UUID, "google", "skipped", recent, 1, repeat), store.SourceClient),
		src(out(f.a.ID, f.amberLow.UUID, "google", "merged", recent, 1, repeat), store.SourceClient)...)))
	require.NoError(t, s.AppendOutcomes(c, append(src(out(f.a.ID, f.green.UUID, "meta", "merged", recent, 1, repeat), store.SourceClient),
		// crossLate again, for another pixel: still once.
		src(out(f.a.ID, f.amberLow.UUID, "google", "merged", recent, 1, crossLate), store.SourceServer)...)))
	// inWindow: the server copy was folded in before the send: the sent
	// copy's outcomes say "both" (with the merged copy's own, in the same
	// batch or not).
	inWindow := uuid.NewString()
	require.NoError(t, s.AppendOutcomes(c, src(out(f.a.ID, f.red.UUID, "linkedin", "merged", recent, 1, inWindow), store.SourceServer)))
	require.NoError(t, s.AppendOutcomes(c, src(out(f.a.ID, f.red.UUID, "linkedin", "skipped", recent, 1, inWindow), store.SourceBoth)))
	// serverTwice: a retried webhook, and a merged outcome written before
	// migration 003 (no source) beside it: not counted.
	serverTwice := uuid.NewString()
	require.NoError(t, s.AppendOutcomes(c, append(src(out(f.a.ID, f.green.UUID, "meta", "skipped", recent, 1, serverTwice), store.SourceServer),
		out(f.a.ID, f.green.UUID, "meta", "merged", recent, 1, serverTwice)...)))
	require.NoError(t, s.AppendOutcomes(c, src(out(f.a.ID, f.amberLow.UUID, "google", "merged", recent, 1, serverTwice), store.SourceServer)))
	// The "both" audit event merged too is still one.
	require.NoError(t, s.AppendOutcomes(c, src(out(f.a.ID, f.green.UUID, "meta", "merged", recent, 1, both.EventID), store.SourceServer)))
	// B merges A's event ids with a server copy: A's browser outcomes of
	// the same id are another tenant's and prove nothing for B.
	require.NoError(t, s.AppendOutcomes(c, append(src(out(f.b.ID, f.bPixel.UUID, "meta", "merged", recent, 1, repeat), store.SourceServer),
		src(out(f.b.ID, f.bPixel.UUID, "meta", "merged", recent, 1, crossLate), store.SourceServer)...)))

	consent := func(tenant, visitor string, marketing bool, at time.Time) {
		t.Helper()
		_, err := s.AppendConsent(c, store.ConsentRecord{
			TenantID: tenant, VisitorID: visitor, Analytics: true, Marketing: marketing,
			PolicyVersion: "1", Source: store.ConsentSourceBanner, CreatedAt: at,
		}, "")
		require.NoError(t, err)
	}
	v := func() string { return uuid.NewString() }
	// A: six visitors decided in the window, three of them (latest
	// decision) with marketing.
	v1 := v()
	consent(f.a.ID, v1, true, base.Add(-3*time.Hour))
	consent(f.a.ID, v1, false, base.Add(-time.Hour)) // changed their mind: counts once, as no
	v2 := v()
	consent(f.a.ID, v2, true, recent)
	consent(f.a.ID, v(), false, recent)
	consent(f.a.ID, v(), true, day2) // outside the window
	v5 := v()
	consent(f.a.ID, v5, true, day2)
	consent(f.a.ID, v5, false, base.Add(-time.Hour)) // earlier decision outside: nothing subtracted
	v6 := v()
	consent(f.a.ID, v6, true, base.Add(-time.Hour))
	consent(f.a.ID, v6, false, base.Add(-5*time.Hour)) // arrives late, older: not the latest
	v7 := v()
	consent(f.a.ID, v7, false, base.Add(-time.Hour))
	consent(f.a.ID, v7, true, base.Add(-50*time.Minute)) // same hour
	// B: A's visitor id refuses in B; one more yes.
	consent(f.b.ID, v2, false, recent)
	consent(f.b.ID, v(), true, recent)
	return f
}

func exerciseStats(t *testing.T, open func(t *testing.T) Store) {
	subtests(t, open, map[string]func(t *testing.T, s Store){
		"HandComputedFixture": func(t *testing.T, s Store) {
			base := time.Now().UTC().Truncate(time.Hour)
			now := base.Add(30 * time.Minute)
			f := writeStatsFixture(t, s, base)

			got, err := s.TenantStats(ctx(t), f.a.ID, now)
			require.NoError(t, err)
			require.Equal(t, base.Add(-23*time.Hour), got.From)
			require.Equal(t, now, got.To)
			require.Equal(t, store.SourceCounts{Client: 3, Server: 2, Both: 1}, got.Events)
			require.Equal(t, store.DeliveryCounts{Delivered: 35, Failed: 4}, got.Deliveries)
			require.Equal(t, int64(3), got.Deduplicated, "the both event, crossLate and inWindow")
			require.Equal(t, store.ConsentCounts{Decided: 6, Marketing: 3}, got.Consent)

			lights := map[string]string{}
			for _, p := range got.Pixels {
				lights[p.UUID] = p.Light
			}
			require.Equal(t, map[string]string{
				f.green.UUID: store.LightGreen, f.amberLow.UUID: store.LightAmber, f.amberQuiet.UUID: store.LightAmber,
				f.red.UUID: store.LightRed, f.red48h.UUID: store.LightRed,
			}, lights)
			require.Len(t, got.Pixels, 5)
			p := got.Pixels[0]
			require.Equal(t, store.PixelStats{
				UUID: f.green.UUID, Platform: store.PlatformMeta, PixelID: f.green.PixelID, Active: true, StoredStatus: "unknown",
				Day: store.DeliveryCounts{Delivered: 20, Failed: 1}, TwoDays: store.DeliveryCounts{Delivered: 20, Failed: 1},
				Light: store.LightGreen,
			}, p, "pixels by creation")
			require.Equal(t, store.DeliveryCounts{Failed: 1}, got.Pixels[4].Day)
			require.Equal(t, store.DeliveryCounts{Failed: 1, Dead: 2}, got.Pixels[4].TwoDays)
			require.Equal(t, store.DeliveryCounts{Delivered: 1}, got.Pixels[2].TwoDays)
			require.Equal(t, store.LightRed, got.Pixels[3].StoredStatus)

			gb, err := s.TenantStats(ctx(t), f.b.ID, now)
			require.NoError(t, err)
			require.Equal(t, store.SourceCounts{Client: 5, Server: 1, Both: 2}, gb.Events)
			require.Equal(t, store.DeliveryCounts{Failed: 50}, gb.Deliveries)
			require.Equal(t, int64(2), gb.Deduplicated, "its two both events")
			require.Equal(t, store.ConsentCounts{Decided: 2, Marketing: 1}, gb.Consent)
			require.Len(t, gb.Pixels, 1)
			require.Equal(t, store.LightRed, gb.Pixels[0].Light, "failed everything for 48 h")
		},
		"WindowsMove": func(t *testing.T, s Store) {
			base := time.Now().UTC().Truncate(time.Hour)
			f := writeStatsFixture(t, s, base)
			// 23 hours later only the events of the last hour are left;
			// nothing finished in 24 h (amber) but red48h still failed
			// within 48 h with nothing delivered (red).
			got, err := s.TenantStats(ctx(t), f.a.ID, base.Add(23*time.Hour+time.Minute))
			require.NoError(t, err)
			require.Equal(t, store.SourceCounts{Client: 1}, got.Events)
			require.Equal(t, store.ConsentCounts{}, got.Consent)
			for _, p := range got.Pixels {
				want := store.LightAmber
				if p.UUID == f.red.UUID || p.UUID == f.red48h.UUID {
					want = store.LightRed
				}
				require.Equal(t, want, p.Light, p.Platform)
			}
		},
		"ReconcileDedup": func(t *testing.T, s Store) {
			// Outcomes written in an order no batch can judge: the merged
			// copy first, the sent copy's outcome later (or by another
			// instance at the same moment). Only the reconciliation counts
			// them, once, in the merged outcome's hour.
			ten, other := NewTenant(t, s), NewTenant(t, s)
			now := time.Now().UTC()
			at := now.Add(-30 * time.Minute)
			o := func(tenant, event, status, source string, at time.Time) store.DeliveryOutcome {
				return store.DeliveryOutcome{TenantID: tenant, EventID: event, PixelUUID: "p", Platform: "meta", Status: status, Source: source, CreatedAt: at}
			}
			late, sameSide, old, alone := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
			require.NoError(t, s.AppendOutcomes(ctx(t), []store.DeliveryOutcome{
				o(ten.ID, late, "merged", store.SourceServer, at),
				o(ten.ID, sameSide, "merged", store.SourceClient, at),               // a same-side repeat
				o(ten.ID, old, "merged", store.SourceServer, now.Add(-3*time.Hour)), // before the window
				o(ten.ID, alone, "merged", store.SourceServer, at),                  // its other copy never finished
			}))
			require.NoError(t, s.AppendOutcomes(ctx(t), []store.DeliveryOutcome{
				o(ten.ID, late, "delivered", store.SourceClient, at.Add(time.Second)),
				o(ten.ID, sameSide, "delivered", store.SourceClient, at),
				o(ten.ID, old, "delivered", store.SourceClient, now.Add(-3*time.Hour)),
				// Another tenant's browser copy of the same id proves nothing.
				o(other.ID, alone, "delivered", store.SourceClient, at),
			}))
			stats := func() int64 {
				got, err := s.TenantStats(ctx(t), ten.ID, now)
				require.NoError(t, err)
				return got.Deduplicated
			}
			require.Zero(t, stats(), "no batch saw both sides")

			n, err := s.ReconcileDedup(ctx(t), now.Add(-store.DedupReconcileWindow), now)
			require.NoError(t, err)
			require.Equal(t, int64(1), n, "late only")
			require.Equal(t, int64(1), stats())
			n, err = s.ReconcileDedup(ctx(t), now.Add(-store.DedupReconcileWindow), now)
			require.NoError(t, err)
			require.Zero(t, n, "idempotent")
			require.Equal(t, int64(1), stats())

			// Counted by a batch already: the reconciliation leaves it.
			both := uuid.NewString()
			require.NoError(t, s.AppendOutcomes(ctx(t), []store.DeliveryOutcome{
				o(ten.ID, both, "delivered", store.SourceClient, at), o(ten.ID, both, "merged", store.SourceServer, at),
			}))
			require.Equal(t, int64(2), stats())
			n, err = s.ReconcileDedup(ctx(t), now.Add(-store.DedupReconcileWindow), now)
			require.NoError(t, err)
			require.Zero(t, n)
			require.Equal(t, int64(2), stats())

			// Concurrent reconciliations (every instance runs one) count an
			// event once.
			racy := make([]string, 20)
			var outs []store.DeliveryOutcome
			for i := range racy {
				racy[i] = uuid.NewString()
				outs = append(outs, o(ten.ID, racy[i], "merged", store.SourceClient, at))
			}
			require.NoError(t, s.AppendOutcomes(ctx(t), outs))
			outs = outs[:0]
			for _, id := range racy {
				outs = append(outs, o(ten.ID, id, "delivered", store.SourceServer, at))
			}
			require.NoError(t, s.AppendOutcomes(ctx(t), outs))
			var wg sync.WaitGroup
			counts := make([]int64, 4)
			errs := make([]error, 4)
			for i := range counts {
				wg.Go(func() { counts[i], errs[i] = s.ReconcileDedup(ctx(t), now.Add(-store.DedupReconcileWindow), now) })
			}
			wg.Wait()
			var sum int64
			for i := range counts {
				require.NoError(t, errs[i])
				sum += counts[i]
			}
			require.Equal(t, int64(len(racy)), sum)
			require.Equal(t, int64(2+len(racy)), stats())
		},
		"ConcurrentWriters": func(t *testing.T, s Store) {
			// Writers batching for the same tenants and hours, merging the
			// same events and deciding for the same visitors at once: the
			// counts are exact (no lost update, no deadlock, no visitor
			// counted twice).
			tenants := []store.Tenant{NewTenant(t, s), NewTenant(t, s), NewTenant(t, s)}
			now := time.Now().UTC()
			at := now.Add(-time.Hour)
			shared := make([]string, 10) // merged (browser + server) by every writer
			for i := range shared {
				shared[i] = uuid.NewString()
			}
			visitors := make([]string, 5) // every writer decides for them
			for i := range visitors {
				visitors[i] = uuid.NewString()
			}
			const writers, rounds = 6, 5
			var wg sync.WaitGroup
			errs := make(chan error, writers*rounds*3)
			for w := range writers {
				wg.Go(func() {
					for r := range rounds {
						var evs []store.AuditEvent
						var outs []store.DeliveryOutcome
						for k := range tenants {
							ten := tenants[(k+w)%len(tenants)] // each writer its own tenant order
							for range 10 {
								evs = append(evs, store.AuditEvent{TenantID: ten.ID, EventID: uuid.NewString(), EventName: "lead", EventSource: store.SourceClient, CreatedAt: at})
								outs = append(outs, store.DeliveryOutcome{TenantID: ten.ID, EventID: uuid.NewString(), PixelUUID: "p", Platform: "meta", Status: "delivered", CreatedAt: at})
							}
							for _, id := range shared {
								outs = append(outs,
									store.DeliveryOutcome{TenantID: ten.ID, EventID: id, PixelUUID: "p", Platform: "meta", Status: "skipped", Source: store.SourceClient, CreatedAt: at},
									store.DeliveryOutcome{TenantID: ten.ID, EventID: id, PixelUUID: "p", Platform: "meta", Status: "merged", Source: store.SourceServer, CreatedAt: at})
							}
						}
						errs <- s.AppendEvents(ctx(t), evs)
						errs <- s.AppendOutcomes(ctx(t), outs)
						_, err := s.AppendConsent(ctx(t), store.ConsentRecord{TenantID: tenants[0].ID, VisitorID: visitors[(w+r)%len(visitors)],
							Marketing: w%2 == 0, Source: store.ConsentSourceBanner, CreatedAt: at.Add(time.Duration(w*rounds+r) * time.Second)}, "")
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			for _, ten := range tenants {
				got, err := s.TenantStats(ctx(t), ten.ID, now)
				require.NoError(t, err)
				require.Equal(t, int64(writers*rounds*10), got.Events.Client)
				require.Equal(t, int64(writers*rounds*10), got.Deliveries.Delivered)
				require.Equal(t, int64(len(shared)), got.Deduplicated)
			}
			got, err := s.TenantStats(ctx(t), tenants[0].ID, now)
			require.NoError(t, err)
			require.Equal(t, int64(len(visitors)), got.Consent.Decided, "each visitor once")
			var want int64
			for _, v := range visitors {
				latest, err := s.LatestConsent(ctx(t), tenants[0].ID, v)
				require.NoError(t, err)
				if latest.Marketing {
					want++
				}
			}
			require.Equal(t, want, got.Consent.Marketing)
		},
		"UnknownTenant": func(t *testing.T, s Store) {
			now := time.Now().UTC()
			for _, id := range []string{uuid.NewString(), "not-a-uuid", ""} {
				got, err := s.TenantStats(ctx(t), id, now)
				require.NoError(t, err)
				require.Equal(t, store.TenantStats{From: store.WindowStart(now, store.StatsWindow), To: now}, got)
			}
		},
		"ZeroCreatedAtIsNow": func(t *testing.T, s Store) {
			a := NewTenant(t, s)
			p := NewPixel(t, s, a.ID, store.PlatformMeta)
			id := uuid.NewString()
			require.NoError(t, s.AppendEvents(ctx(t), []store.AuditEvent{{TenantID: a.ID, EventID: id, EventName: "lead", EventSource: store.SourceServer}}))
			require.NoError(t, s.AppendOutcomes(ctx(t), []store.DeliveryOutcome{{TenantID: a.ID, EventID: id, PixelUUID: p.UUID, Platform: "meta", Status: "delivered"}}))
			_, err := s.AppendConsent(ctx(t), store.ConsentRecord{TenantID: a.ID, VisitorID: uuid.NewString(), Marketing: true, Source: store.ConsentSourceAPI}, "")
			require.NoError(t, err)
			got, err := s.TenantStats(ctx(t), a.ID, time.Now().Add(time.Minute))
			require.NoError(t, err)
			require.Equal(t, store.SourceCounts{Server: 1}, got.Events)
			require.Equal(t, store.DeliveryCounts{Delivered: 1}, got.Deliveries)
			require.Equal(t, store.ConsentCounts{Decided: 1, Marketing: 1}, got.Consent)
			require.Equal(t, store.LightGreen, got.Pixels[0].Light)
		},
		"PurgeAndDeleteTenant": func(t *testing.T, s Store) {
			base := time.Now().UTC().Truncate(time.Hour)
			f := writeStatsFixture(t, s, base)
			n, err := s.PurgeStats(ctx(t), base.Add(-time.Hour)) // keeps 8 days: nothing of the fixture is that old
			require.NoError(t, err)
			require.Zero(t, n)
			got, err := s.TenantStats(ctx(t), f.a.ID, base.Add(30*time.Minute))
			require.NoError(t, err)
			require.Equal(t, int64(3), got.Deduplicated)

			n, err = s.PurgeStats(ctx(t), base.Add(9*24*time.Hour))
			require.NoError(t, err)
			require.Positive(t, n)
			got, err = s.TenantStats(ctx(t), f.a.ID, base.Add(30*time.Minute))
			require.NoError(t, err)
			require.Equal(t, store.SourceCounts{}, got.Events)
			require.Equal(t, store.ConsentCounts{}, got.Consent)
			require.Zero(t, got.Deduplicated)
			n, err = s.PurgeStats(ctx(t), base.Add(9*24*time.Hour))
			require.NoError(t, err)
			require.Zero(t, n, "idempotent")

			// A deleted tenant's rollups go with it: the same id created
			// again starts from zero.
			f2 := writeStatsFixture(t, s, base)
			require.NoError(t, s.DeleteTenant(ctx(t), f2.a.ID))
			_, err = s.CreateTenant(ctx(t), store.Tenant{ID: f2.a.ID, Slug: f2.a.Slug, Name: f2.a.Name})
			require.NoError(t, err)
			got, err = s.TenantStats(ctx(t), f2.a.ID, base.Add(30*time.Minute))
			require.NoError(t, err)
			require.Equal(t, store.TenantStats{From: base.Add(-23 * time.Hour), To: base.Add(30 * time.Minute)}, got)
			gb, err := s.TenantStats(ctx(t), f2.b.ID, base.Add(30*time.Minute))
			require.NoError(t, err)
			require.Equal(t, int64(8), gb.Events.Total(), "the other tenant keeps its numbers")
		},
	})
}
