package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
)

func sampleConsent(tenantID, visitorID string, at time.Time) store.ConsentRecord {
	return store.ConsentRecord{
		ID:            uuid.NewString(),
		TenantID:      tenantID,
		VisitorID:     visitorID,
		Analytics:     true,
		Marketing:     false,
		Functional:    true,
		PolicyVersion: "2026-01",
		Source:        store.ConsentSourceBanner,
		CreatedAt:     at,
	}
}

func requireSameConsent(t *testing.T, want, got store.ConsentRecord, msgAndArgs ...any) {
	t.Helper()
	requireTime(t, want.CreatedAt, got.CreatedAt, msgAndArgs...)
	want.CreatedAt, got.CreatedAt = time.Time{}, time.Time{}
	require.Equal(t, want, got, msgAndArgs...)
}

func exerciseConsents(t *testing.T, open func(t *testing.T) Store) {
	subtests(t, open, map[string]func(t *testing.T, s Store){
		"EraseVisitor": func(t *testing.T, s Store) {
			a, b := NewTenant(t, s), NewTenant(t, s)
			now := time.Now().UTC()
			v, w := uuid.NewString(), uuid.NewString()
			for _, r := range []store.ConsentRecord{
				sampleConsent(a.ID, v, now.Add(-time.Hour)), sampleConsent(a.ID, v, now),
				sampleConsent(a.ID, w, now), sampleConsent(b.ID, v, now),
			} {
				_, err := s.AppendConsent(ctx(t), r, "198.51.100.4")
				require.NoError(t, err)
			}
			ev := func(tenant, visitor string) store.AuditEvent {
				return store.AuditEvent{
					TenantID: tenant, EventID: uuid.NewString(), EventName: "purchase", EventSource: store.SourceClient,
					VisitorID: visitor, UserData: store.Sealed{KeyID: "k1", Ciphertext: []byte("sealed")},
					ClientIP: "203.0.113.7", ClientUserAgent: "UA", FBC: "fb.1.1.x", FBP: "fb.1.1.2", GCLID: "G", CreatedAt: now,
				}
			}
			require.NoError(t, s.AppendEvents(ctx(t), []store.AuditEvent{ev(a.ID, v), ev(a.ID, v), ev(a.ID, w), ev(b.ID, v)}))

			got, err := s.EraseVisitor(ctx(t), a.ID, v)
			require.NoError(t, err)
			require.Equal(t, store.Erasure{ConsentIPs: 2, Events: 2}, got)
			again, err := s.EraseVisitor(ctx(t), a.ID, v)
			require.NoError(t, err)
			require.Equal(t, store.Erasure{}, again, "idempotent")

			// The decisions stay (proof); only w's and b's IPs remain.
			hist, err := s.ConsentHistory(ctx(t), a.ID, v)
			require.NoError(t, err)
			require.Len(t, hist, 2)
			left, err := s.PurgeConsentIPs(ctx(t), now.Add(time.Hour))
			require.NoError(t, err)
			require.Equal(t, int64(2), left, "other visitors' and other tenants' IPs untouched")

			recent, err := s.RecentEvents(ctx(t), a.ID, 10)
			require.NoError(t, err)
			require.Len(t, recent, 3)
			for _, r := range recent {
				e := r.Event
				if e.VisitorID == v {
					require.Empty(t, e.ClientIP)
					require.True(t, e.UserData.IsZero())
					require.Empty(t, e.ClientUserAgent+e.FBC+e.FBP+e.GCLID)
					require.Equal(t, "purchase", e.EventName, "aggregate facts kept")
				} else {
					require.Equal(t, w, e.VisitorID)
					require.Equal(t, "203.0.113.7", e.ClientIP)
				}
			}
			other, err := s.RecentEvents(ctx(t), b.ID, 10)
			require.NoError(t, err)
			require.Len(t, other, 1)
			require.Equal(t, "203.0.113.7", other[0].Event.ClientIP, "another tenant's same visitor id untouched")
			require.Equal(t, v, other[0].Event.VisitorID)
		},
		"HistoryAndLatest": func(t *testing.T, s Store) {
			a := NewTenant(t, s)
			now := time.Now().UTC()
			visitor := uuid.NewString()
			r1 := sampleConsent(a.ID, visitor, now.Add(-2*time.Hour))
			r2 := sampleConsent(a.ID, visitor, now.Add(-time.Hour))
			r2.Marketing = true
			r2.Source = store.ConsentSourceAPI
			r3 := sampleConsent(a.ID, visitor, now) // revocation
			r3.Analytics, r3.Marketing, r3.Functional = false, false, false
			r3.PolicyVersion = "2026-02"
			for _, r := range []store.ConsentRecord{r1, r2, r3} {
				got, err := s.AppendConsent(ctx(t), r, "198.51.100.4")
				require.NoError(t, err)
				requireSameConsent(t, r, got)
			}
			hist, err := s.ConsentHistory(ctx(t), a.ID, visitor)
			require.NoError(t, err)
			require.Len(t, hist, 3)
			for i, want := range []store.ConsentRecord{r1, r2, r3} {
				requireSameConsent(t, want, hist[i])
			}
			latest, err := s.LatestConsent(ctx(t), a.ID, visitor)
			require.NoError(t, err)
			requireSameConsent(t, r3, latest)
		},
		"AssignsIDAndTime": func(t *testing.T, s Store) {
			a := NewTenant(t, s)
			r := sampleConsent(a.ID, uuid.NewString(), time.Time{})
			r.ID = ""
			got, err := s.AppendConsent(ctx(t), r, "")
			require.NoError(t, err)
			_, err = uuid.Parse(got.ID)
			require.NoError(t, err, "driver assigns a UUID")
			requireRecent(t, got.CreatedAt)
			latest, err := s.LatestConsent(ctx(t), a.ID, r.VisitorID)
			require.NoError(t, err)
			requireSameConsent(t, got, latest)
		},
		"NotFound": func(t *testing.T, s Store) {
			a := NewTenant(t, s)
			_, err := s.LatestConsent(ctx(t), a.ID, "nobody")
			require.ErrorIs(t, err, store.ErrNotFound)
			hist, err := s.ConsentHistory(ctx(t), a.ID, "nobody")
			require.NoError(t, err)
			require.Empty(t, hist)
		},
		"TenantIsolation": func(t *testing.T, s Store) {
			a, b := NewTenant(t, s), NewTenant(t, s)
			now := time.Now().UTC()
			shared := uuid.NewString()
			onlyA := uuid.NewString()
			ra := sampleConsent(a.ID, shared, now.Add(-time.Minute))
			rb := sampleConsent(b.ID, shared, now)
			rb.Marketing = true
			rOnlyA := sampleConsent(a.ID, onlyA, now)
			for _, r := range []store.ConsentRecord{ra, rb, rOnlyA} {
				_, err := s.AppendConsent(ctx(t), r, "")
				require.NoError(t, err)
			}

			latest, err := s.LatestConsent(ctx(t), a.ID, shared)
			require.NoError(t, err)
			requireSameConsent(t, ra, latest, "B's newer decision must not leak into A")
			hist, err := s.ConsentHistory(ctx(t), a.ID, shared)
			require.NoError(t, err)
			require.Len(t, hist, 1)
			requireSameConsent(t, ra, hist[0])

			_, err = s.LatestConsent(ctx(t), b.ID, onlyA)
			require.ErrorIs(t, err, store.ErrNotFound)
			hist, err = s.ConsentHistory(ctx(t), b.ID, onlyA)
			require.NoError(t, err)
			require.Empty(t, hist)
		},
		"PurgeIPs": func(t *testing.T, s Store) {
			a, b := NewTenant(t, s), NewTenant(t, s)
			now := time.Now().UTC()
			cutoff := now.Add(-30 * 24 * time.Hour)
			visitor := uuid.NewString()
			type rec struct {
				r  store.ConsentRecord
				ip string
			}
			recs := []rec{
				{sampleConsent(a.ID, visitor, cutoff.Add(-3*time.Hour)), "192.0.2.1"},
				{sampleConsent(a.ID, visitor, cutoff.Add(-2*time.Hour)), ""},
				{sampleConsent(b.ID, visitor, cutoff.Add(-time.Hour)), "2001:db8::1"},
				{sampleConsent(a.ID, visitor, cutoff.Add(time.Hour)), "192.0.2.2"},
			}
			for _, x := range recs {
				_, err := s.AppendConsent(ctx(t), x.r, x.ip)
				require.NoError(t, err)
			}
			before, err := s.ConsentHistory(ctx(t), a.ID, visitor)
			require.NoError(t, err)

			n, err := s.PurgeConsentIPs(ctx(t), cutoff)
			require.NoError(t, err)
			require.EqualValues(t, 2, n)

			after, err := s.ConsentHistory(ctx(t), a.ID, visitor)
			require.NoError(t, err)
			require.Equal(t, len(before), len(after))
			for i := range before {
				requireSameConsent(t, before[i], after[i])
			}
			latest, err := s.LatestConsent(ctx(t), b.ID, visitor)
			require.NoError(t, err)
			requireSameConsent(t, recs[2].r, latest)

			n, err = s.PurgeConsentIPs(ctx(t), cutoff)
			require.NoError(t, err)
			require.Zero(t, n, "a second purge finds nothing")
			n, err = s.PurgeConsentIPs(ctx(t), now.Add(time.Hour))
			require.NoError(t, err)
			require.EqualValues(t, 1, n, "the fresh IP goes with a later cutoff")
		},
	})
}
