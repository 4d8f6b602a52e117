package test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/test/platformsim"
)

// TestCrashMidBatchAtLeastOnce runs two delivering pixelgw processes on one
// PostgreSQL schema and one Redis stream, with every platform answer delayed
// so batches are in flight, and kills one of them with SIGKILL while it has
// a request in flight. Every event the edge accepted still reaches each of
// its pixels in a 2xx-answered request (the survivor reclaims the dead
// process's entries after claim_min_idle), and an (event, pixel) delivered
// twice was first delivered by the killed process and carries the same
// event id both times (the platforms' dedup key).
func TestCrashMidBatchAtLeastOnce(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1,
		"PIXELGW_PLATFORMS_DISPATCH_MAX_WAIT=20ms",
		"PIXELGW_PLATFORMS_DISPATCH_MERGE_WINDOW=100ms",
		"PIXELGW_PLATFORMS_DISPATCH_BACKOFF_BASE=50ms",
		"PIXELGW_PLATFORMS_DISPATCH_BACKOFF_MAX=200ms",
		"PIXELGW_PLATFORMS_DISPATCH_MAX_IN_FLIGHT=2",
		"PIXELGW_PLATFORMS_DISPATCH_READ_BATCH=50",
		"PIXELGW_PLATFORMS_DISPATCH_RECLAIM_INTERVAL=500ms",
		"PIXELGW_PLATFORMS_DISPATCH_CLAIM_MIN_IDLE=5s",
		"PIXELGW_PLATFORMS_META_TIMEOUT=2s", "PIXELGW_PLATFORMS_GOOGLE_TIMEOUT=2s", "PIXELGW_PLATFORMS_TIKTOK_TIMEOUT=2s",
	)
	edge := f.edgeOnly()
	f.addTenants(edge, 3)
	for _, p := range deliveryPlatforms {
		f.sim.Inject(p, platformsim.Fault{Delay: 250 * time.Millisecond})
	}
	a, b := f.engine("a"), f.engine("b")
	f.send(edge.edge, 60, 5)

	// Kill a while it waits for an answer.
	deadline := time.Now().Add(30 * time.Second)
	for f.tags.inFlight("a") == 0 {
		require.True(t, time.Now().Before(deadline), "process a never had a request in flight\n%s", a.log.String())
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, a.cmd.Process.Kill())
	<-a.done
	killed := time.Now()
	// More events after the kill: the survivor alone delivers them.
	f.send(edge.edge, 30, 5)

	want := f.expected()
	log := f.waitDelivered(want, 120*time.Second, b)
	t.Logf("every pair delivered %s after the kill", time.Since(killed).Round(time.Millisecond))

	var cut, dup int
	for p, cs := range log {
		require.True(t, want[p], "a delivery nobody asked for: %v", p)
		if slices.ContainsFunc(cs, func(c carried) bool { return c.status == 0 && c.engine == "a" }) {
			cut++
		}
		var oks []carried
		for _, c := range cs {
			if c.ok {
				oks = append(oks, c)
			}
		}
		require.NotEmpty(t, oks, "(event %s, pixel %s) never delivered", p.event, p.pixel)
		if len(oks) > 1 {
			dup++
			// Only a request of the killed process, answered before its
			// outcome was acknowledged, is sent again, by the survivor; the
			// copies carry one event id (the key was the event id itself).
			require.Equal(t, "a", oks[0].engine, "(event %s, pixel %s): a second delivery of an event the survivor had", p.event, p.pixel)
			for _, c := range oks[1:] {
				require.Equal(t, "b", c.engine)
			}
			for _, c := range oks {
				require.Contains(t, platformsim.EventIDs(c.req.Platform, c.req.Body), p.event)
			}
		}
	}
	require.Positive(t, cut, "the kill cut a request in flight (recorded unanswered)")
	t.Logf("%d (event, pixel) pairs; %d carried by a request the kill cut; %d delivered twice", len(want), cut, dup)
	require.Positive(t, metricSum(t, b.ops, "pixelgw_queue_reclaimed_total", ""), "the survivor reclaimed the dead process's entries")
}
