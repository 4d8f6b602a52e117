package admin

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
)

// countingStore counts the consent reads the events API makes.
type countingStore struct {
	store.Store
	consents atomic.Int64
}

func (s *countingStore) LatestConsent(ctx context.Context, tenantID, visitorID string) (store.ConsentRecord, error) {
	s.consents.Add(1)
	return s.Store.LatestConsent(ctx, tenantID, visitorID)
}

// TestServerEventsConsentCache: repeated server-side events of a consented
// visitor cost no database read; a refusal is never cached; a grant made
// stale by a newer decision elsewhere (the revocation set) is decided again
// from the store within the same call; decisions and settings written
// through this process drop the cache at once.
func TestServerEventsConsentCache(t *testing.T) {
	t.Parallel()
	w := newEvWorld(t)
	cs := &countingStore{Store: w.e.st}
	api, err := New(w.e.cfg, Deps{Store: cs, Keyring: w.e.keyring, Logger: w.e.api.log, Now: w.e.api.now,
		Decisions: w.q, DeadLetters: w.q, Admitter: w.q})
	require.NoError(t, err)
	w.e.api, w.e.h = api, api.Handler()
	result := func(visitor string) EventResult {
		t.Helper()
		id := randomUUID()
		r := w.batch(evBody("lead", id, visitor, ""))
		require.Equal(t, http.StatusOK, r.status, r.body)
		res := decode[map[string][]EventResult](t, r)["results"]
		require.Len(t, res, 1)
		return res[0]
	}

	// A consented visitor: one read, then none.
	require.Equal(t, EventAccepted, result(w.visitor).Status)
	c0 := cs.consents.Load()
	for range 5 {
		require.Equal(t, EventAccepted, result(w.visitor).Status)
	}
	require.Equal(t, c0, cs.consents.Load(), "a cached grant needs no consent read")

	// A refusal is read every time, so a grant written by another instance
	// (straight into the store here) counts at once.
	other := randomUUID()
	_, err = w.e.st.AppendConsent(t.Context(), store.ConsentRecord{TenantID: w.tn.ID, VisitorID: other, PolicyVersion: "p1",
		Source: store.ConsentSourceAPI, CreatedAt: w.e.now.Add(-time.Minute)}, "")
	require.NoError(t, err)
	require.Equal(t, ReasonNoConsent, result(other).Reason)
	_, err = w.e.st.AppendConsent(t.Context(), store.ConsentRecord{TenantID: w.tn.ID, VisitorID: other, Analytics: true, Marketing: true,
		PolicyVersion: "p1", Source: store.ConsentSourceAPI, CreatedAt: w.e.now.Add(-30 * time.Second)}, "")
	require.NoError(t, err)
	require.Equal(t, EventAccepted, result(other).Status)

	// Another instance records a NEWER grant for a cached visitor: its
	// revocation-set entry refuses the cached (older) record, and the call
	// decides again from the store — accepted, not "revoked".
	newer := w.e.now.Add(time.Hour)
	_, err = w.e.st.AppendConsent(t.Context(), store.ConsentRecord{TenantID: w.tn.ID, VisitorID: w.visitor, Analytics: true, Marketing: true,
		PolicyVersion: "p1", Source: store.ConsentSourceAPI, CreatedAt: newer}, "")
	require.NoError(t, err)
	require.NoError(t, w.q.SetDecision(t.Context(), w.tn.ID, w.visitor, decisionTime(newer), time.Hour))
	c1 := cs.consents.Load()
	require.Equal(t, EventAccepted, result(w.visitor).Status)
	require.Equal(t, c1+1, cs.consents.Load(), "the stale entry was read again once")

	// ... and a newer REVOCATION elsewhere is refused even from the cache.
	revoked := w.e.now.Add(2 * time.Hour)
	_, err = w.e.st.AppendConsent(t.Context(), store.ConsentRecord{TenantID: w.tn.ID, VisitorID: w.visitor,
		PolicyVersion: "p1", Source: store.ConsentSourceAPI, CreatedAt: revoked}, "")
	require.NoError(t, err)
	require.NoError(t, w.q.SetDecision(t.Context(), w.tn.ID, w.visitor, decisionTime(revoked), time.Hour))
	require.Equal(t, ReasonNoConsent, result(w.visitor).Reason)

	// A decision through this API drops the entry at once.
	fresh := randomUUID()
	w.consent(t, fresh, true, true)
	require.Equal(t, EventAccepted, result(fresh).Status)
	w.consent(t, fresh, false, false)
	require.Equal(t, ReasonNoConsent, result(fresh).Reason)

	// Settings changed through this API apply to the next call.
	r := w.e.do("PATCH", "/api/v1/tenant", w.tok, `{"settings":{"server_legal_basis":true}}`)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, EventAccepted, result(randomUUID()).Status, "server_legal_basis applies at once")
}
