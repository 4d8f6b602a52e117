package dispatch_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms/dispatch"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/queue"
	"github.com/jaraba/pixelgw/test/platformsim"
)

func TestReclaimsTheEntriesOfAStoppedConsumer(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.ReclaimInterval = 20 * time.Millisecond
	cfg.ClaimMinIdle = 300 * time.Millisecond // > merge window + max wait + attempts × backoff max
	e := newEnv(t, cfg)
	reg := prometheus.NewRegistry()
	e.deps.Registerer = reg
	ten := e.tenant()
	px := e.pixel(ten, store.PlatformMeta, true, nil)
	gx := e.pixel(ten, store.PlatformGoogle, true, nil)
	ids := []string{e.admit(ten, "lead"), e.admit(ten, "lead"), e.admit(ten, "lead")}

	// A consumer reads Meta's and the audit's entries, then dies without
	// acknowledging them.
	for _, g := range []string{dispatch.Group(store.PlatformMeta), dispatch.AuditGroup} {
		msgs, err := e.q.Read(t.Context(), g, "dead-consumer", 10, 0)
		require.NoError(t, err)
		require.Len(t, msgs, len(ids))
	}
	e.start()

	for _, id := range ids {
		e.waitStatus(ten, id, gx, dispatch.StatusDelivered) // GA4's group was never read: new entries
		e.waitStatus(ten, id, px, dispatch.StatusDelivered) // Meta's: reclaimed
	}
	eventually(t, func() bool { return e.lag() == 0 }, "every group acknowledged the reclaimed entries")
	require.Equal(t, map[string]int{ids[0]: 1, ids[1]: 1, ids[2]: 1}, e.delivered(px))
	require.Equal(t, map[string]int{ids[0]: 1, ids[1]: 1, ids[2]: 1}, e.delivered(gx))
	evs, err := e.st.RecentEvents(t.Context(), ten, 10)
	require.NoError(t, err)
	require.Len(t, evs, len(ids), "the audit rows of the reclaimed entries were written")
	require.Equal(t, 3.0, gather(t, reg, "pixelgw_queue_reclaimed_total", map[string]string{"group": dispatch.Group(store.PlatformMeta)}))
	require.Equal(t, 3.0, gather(t, reg, "pixelgw_queue_reclaimed_total", map[string]string{"group": dispatch.AuditGroup}))
}

func TestDeadLettersAndReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	reg := prometheus.NewRegistry()
	e.deps.Registerer = reg
	ten := e.tenant()
	// Two Meta pixels: one dead letter per (message, group), not per pixel.
	px := e.pixel(ten, store.PlatformMeta, true, nil)
	px2 := e.pixel(ten, store.PlatformMeta, true, nil)
	gx := e.pixel(ten, store.PlatformGoogle, true, nil)
	e.sim.Inject(platformsim.Meta, platformsim.Fault{Status: http.StatusServiceUnavailable})
	e.start()
	id := e.admit(ten, "lead")

	o := e.waitStatus(ten, id, px, dispatch.StatusDead)
	require.Equal(t, 3, o.Attempts)
	e.waitStatus(ten, id, px2, dispatch.StatusDead)
	e.waitStatus(ten, id, gx, dispatch.StatusDelivered)
	eventually(t, func() bool { return e.lag() == 0 }, "acknowledged once dead-lettered")
	letters, err := e.q.DeadLetters(t.Context(), ten, 10)
	require.NoError(t, err)
	require.Len(t, letters, 1)
	l := letters[0]
	require.Equal(t, dispatch.Group(store.PlatformMeta), l.Group)
	require.Equal(t, id, l.EventID)
	require.Equal(t, "lead", l.EventName)
	require.Equal(t, "event", l.Kind)
	require.Contains(t, l.Reason, "dead after 3 attempts")
	require.Contains(t, l.Reason, "HTTP 503")
	require.NotContains(t, l.Reason, metaToken)
	require.NotEmpty(t, l.Payload)
	require.Equal(t, 1.0, gather(t, reg, "pixelgw_dead_letters_total", map[string]string{"platform": "meta"}))

	// Replay: Meta's pixels get it again, GA4 (which does not deduplicate)
	// does not, and the audit keeps one row.
	e.sim.ClearFaults()
	n, err := e.q.Replay(t.Context(), ten, []string{l.ID})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	e.waitStatus(ten, id, px, dispatch.StatusDelivered)
	e.waitStatus(ten, id, px2, dispatch.StatusDelivered)
	eventually(t, func() bool { return e.lag() == 0 }, "replay acknowledged")
	require.Equal(t, map[string]int{id: 1}, e.delivered(px))
	require.Equal(t, map[string]int{id: 1}, e.delivered(px2))
	require.Len(t, e.requests(gx), 1, "a replay for Meta never re-sends to GA4")
	evs, err := e.st.RecentEvents(t.Context(), ten, 10)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	letters, err = e.q.DeadLetters(t.Context(), ten, 10)
	require.NoError(t, err)
	require.Empty(t, letters)
}

func TestPermanentFailureIsDeadLettered(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	ten := e.tenant()
	px := e.pixel(ten, store.PlatformMeta, true, map[string]string{"access_token": "EAAB-wrong-token-000000000000"})
	e.start()
	id := e.admit(ten, "lead")
	// Garbage is dead-lettered too (once per platform group).
	bad := "00000000-0000-4000-8000-000000000001"
	e.admitID(ten, bad, "lead", []byte("not json"), queue.Queued)

	e.waitStatus(ten, id, px, dispatch.StatusFailed)
	eventually(t, func() bool { return e.lag() == 0 }, "acknowledged")
	letters, err := e.q.DeadLetters(t.Context(), ten, 10)
	require.NoError(t, err)
	reasons := map[string][]string{}
	for _, l := range letters {
		reasons[l.EventID] = append(reasons[l.EventID], l.Group+": "+l.Reason)
	}
	require.Len(t, reasons[id], 1)
	require.Contains(t, reasons[id][0], "deliver-meta: failed: credentials refused (HTTP 400) for pixel "+px.UUID)
	require.Len(t, reasons[bad], 3, "one per platform group")
	for _, r := range reasons[bad] {
		require.Contains(t, r, "undecodable queue entry")
	}
}
