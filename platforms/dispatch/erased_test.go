package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms/dispatch"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/queue"
)

// visitorPayload is payload() of visitor, received at recv.
func visitorPayload(t testing.TB, tenant, id, name, visitor string, recv time.Time) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(payload(tenant, id, name, recv), &m))
	m["visitor"] = visitor
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// admitVisitor queues a conversion of visitor received at recv; entryVisitor
// is the queue entry's VisitorID ("" as queued by a version before
// erasure existed).
func (e *env) admitVisitor(tenant, visitor, entryVisitor string, recv time.Time) string {
	e.t.Helper()
	id := uuid.NewString()
	res, err := e.q.Admit(e.t.Context(), []queue.Entry{{
		TenantID: tenant, EventID: id, EventName: "lead", Window: 48 * time.Hour, Conversion: true,
		VisitorID: entryVisitor, Payload: visitorPayload(e.t, tenant, id, "lead", visitor, recv),
	}})
	require.NoError(e.t, err)
	require.Equal(e.t, []queue.Result{queue.Queued}, res)
	return id
}

func (e *env) auditRows(tenant string) map[string]store.AuditEvent {
	e.t.Helper()
	evs, err := e.st.RecentEvents(e.t.Context(), tenant, 1000)
	require.NoError(e.t, err)
	out := map[string]store.AuditEvent{}
	for _, ev := range evs {
		out[ev.Event.EventID] = ev.Event
	}
	return out
}

func (e *env) stop() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(e.t, e.eng.Stop(ctx))
}

// An event waiting in the merge window when its visitor is erased is never
// sent (outcome "erased"); the visitor's next event, received after the
// erasure (they consented again), is delivered.
func TestErasureRecallsEventInMergeWindow(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MergeWindow = 10 * time.Minute // only Stop's drain sends what waits
	cfg.ClaimMinIdle = time.Hour
	e := newEnv(t, cfg)
	sp := &spy{Destination: e.deps.Destinations[0]}
	e.deps.Destinations = e.deps.Destinations[:1]
	e.deps.Destinations[0] = sp
	reg := prometheus.NewRegistry()
	e.deps.Registerer = reg
	ten := e.tenant()
	px := e.pixel(ten, store.PlatformMeta, true, nil)
	other := e.tenant()
	opx := e.pixel(other, store.PlatformMeta, true, nil)
	e.start()

	visitor := uuid.NewString()
	held := e.admitVisitor(ten, visitor, visitor, time.Now())
	// Same visitor id in another tenant: not erased.
	kept := e.admitVisitor(other, visitor, visitor, time.Now())
	eventually(t, func() bool { return gather(t, reg, "pixelgw_merge_window_waiting", nil) == 2 }, "both wait in the merge window")
	// Audited before the erasure (the audit group drops an erased visitor's
	// rows, and the outcome is read through the event's row).
	eventually(t, func() bool { _, ok := e.auditRows(ten)[held]; return ok }, "the held event audited")

	erasedAt := time.Now()
	er, err := e.q.EraseVisitor(t.Context(), ten, visitor, erasedAt, time.Hour)
	require.NoError(t, err)
	require.Equal(t, int64(1), er.Entries, "the held entry was still in the queue, unacknowledged")
	// Consented again: the next event is received after the erasure.
	later := e.admitVisitor(ten, visitor, visitor, erasedAt.Add(time.Millisecond))
	eventually(t, func() bool { return gather(t, reg, "pixelgw_merge_window_waiting", nil) == 3 }, "the later event waits too")
	eventually(t, func() bool { _, ok := e.auditRows(ten)[later]; return ok }, "the later event audited")

	e.stop() // drains the window: each waiting event is checked before its request
	require.Equal(t, map[string]int{later: 1}, e.delivered(px), "the held event never reached the platform")
	require.Equal(t, map[string]int{kept: 1}, e.delivered(opx))
	for _, ev := range sp.events() {
		require.NotEqual(t, held, ev.EventID, "the held event was never handed to the adapter")
	}
	o := e.final(ten, held, px.UUID)
	require.Equal(t, dispatch.StatusErased, o.Status)
	require.Zero(t, o.Attempts, "no request carried it")
	require.Empty(t, o.ResponseID)
	require.Equal(t, dispatch.StatusDelivered, e.final(ten, later, px.UUID).Status)
	require.Equal(t, 1.0, gather(t, reg, "pixelgw_deliveries_total", map[string]string{"platform": "meta", "outcome": "erased"}))
	require.Zero(t, e.lag(), "the erased event's message is acknowledged")
	require.Empty(t, deadLettersOf(t, e, ten), "an erased event is never dead-lettered")
}

// The audit group drops the rows of erased visitors too, and the check
// uses the payload's visitor: an entry queued without a visitor field (an
// older version), which EraseVisitor's scan cannot find, is still recalled.
func TestErasureDropsAuditRowsAndLegacyEntries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	e.deps.Destinations = e.deps.Destinations[:1]
	reg := prometheus.NewRegistry()
	e.deps.Registerer = reg
	ten := e.tenant()
	px := e.pixel(ten, store.PlatformMeta, true, nil)

	visitor := uuid.NewString()
	recv := time.Now().Add(-time.Minute)
	legacy := e.admitVisitor(ten, visitor, "", recv)
	er, err := e.q.EraseVisitor(t.Context(), ten, visitor, recv.Add(time.Second), time.Hour)
	require.NoError(t, err)
	require.Zero(t, er.Entries, "the scan cannot find an entry without a visitor field")
	later := e.admitVisitor(ten, visitor, "", recv.Add(2*time.Second))
	e.start()

	e.waitStatus(ten, later, px, dispatch.StatusDelivered)
	eventually(t, func() bool { return e.lag() == 0 }, "every entry acknowledged by every group")
	rows := e.auditRows(ten)
	require.Contains(t, rows, later)
	require.Equal(t, visitor, rows[later].VisitorID)
	require.NotContains(t, rows, legacy, "no audit row for the erased visitor's event")
	require.Equal(t, map[string]int{later: 1}, e.delivered(px))
	require.Equal(t, 1.0, gather(t, reg, "pixelgw_deliveries_total", map[string]string{"platform": "meta", "outcome": "erased"}))
}

// flakyErasures fails ErasedAt while failing is set.
type flakyErasures struct {
	queue.Queue
	failing atomic.Bool
}

func (q *flakyErasures) ErasedAt(ctx context.Context, tenant string, visitors []string) (map[string]time.Time, error) {
	if q.failing.Load() {
		return nil, errors.New("redis: i/o timeout")
	}
	return q.Queue.ErasedAt(ctx, tenant, visitors)
}

// A failed erasure check sends nothing and writes no audit row: it counts
// as a retryable failure, and the event goes out once the check answers.
func TestErasureCheckFailureIsRetried(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MergeWindow = 0
	cfg.Attempts = 100 // never dead while the check fails
	e := newEnv(t, cfg)
	e.deps.Destinations = e.deps.Destinations[:1]
	reg := prometheus.NewRegistry()
	e.deps.Registerer = reg
	fq := &flakyErasures{Queue: e.q}
	fq.failing.Store(true)
	e.deps.Queue = fq
	ten := e.tenant()
	px := e.pixel(ten, store.PlatformMeta, true, nil)
	e.start()

	id := e.admitVisitor(ten, uuid.NewString(), "", time.Now())
	eventually(t, func() bool {
		return gather(t, reg, "pixelgw_deliveries_total", map[string]string{"platform": "meta", "outcome": "retrying"}) >= 2
	}, "the failed checks count as retryable failures")
	require.Empty(t, e.requests(px), "no request goes out without the check")
	require.Empty(t, e.auditRows(ten), "no audit row is written without the check")
	fq.failing.Store(false)
	e.waitStatus(ten, id, px, dispatch.StatusDelivered)
	require.Len(t, e.requests(px), 1)
	require.Equal(t, map[string]int{id: 1}, e.delivered(px))
}

func deadLettersOf(t *testing.T, e *env, tenant string) []queue.DeadLetter {
	t.Helper()
	dl, err := e.q.DeadLetters(t.Context(), tenant, 100)
	require.NoError(t, err)
	return dl
}
