//go:build !race

package proxy_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

// maxCollectAllocs is the handler's allocation budget per beacon, the queue
// excluded (nopQueue keeps nothing). The aim is ≤ 5 per event; the
// handler does 1 per beacon (one string holding every string the queue
// entries keep), whatever its number of events. The budget leaves 1 for a
// pool refill after a GC.
const maxCollectAllocs = 2

// TestCollectHandlerAllocs pins what the collect handler itself allocates
// per beacon once warm (pools filled): routing, origin and rate limit,
// parse + validate, the consent cookie, the queued record and the entries.
func TestCollectHandlerAllocs(t *testing.T) {
	e := newBenchEdge(t, nopQueue{})
	five := `{"v":1,"events":[`
	for i, name := range []string{"page_view", "view_item", "add_to_cart", "custom:quiz_done", "purchase"} {
		if i > 0 {
			five += ","
		}
		ev := strings.TrimPrefix(beacon(name, uuid.NewString()), `{"v":1,"events":[`)
		five += ev[:strings.Index(ev, `],"ids":`)]
	}
	five += `]}`
	for _, tc := range []struct {
		name string
		ctx  func() *handlerCtx
	}{
		{"page_view", func() *handlerCtx { return e.newHandlerCtx(t, "page_view") }},
		{"purchase", func() *handlerCtx { return e.newHandlerCtx(t, "purchase") }},
		{"custom", func() *handlerCtx { return e.newHandlerCtx(t, "custom:quiz_done") }},
		{"5 events", func() *handlerCtx {
			h := e.newHandlerCtx(t, "page_view")
			h.ctx.Request.SetBodyString(five)
			h.gen = nil // fixed ids: nopQueue keeps nothing, so no dedup
			return h
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.ctx()
			for range 10 { // warm the pools and the rate limiter's entry
				require.Equal(t, fasthttp.StatusNoContent, h.serve(e.edge.Handle), string(h.ctx.Response.Body()))
			}
			allocs := testing.AllocsPerRun(500, func() {
				if s := h.serve(e.edge.Handle); s != fasthttp.StatusNoContent {
					t.Fatalf("status %d", s)
				}
			})
			t.Logf("%s: %.1f allocs per beacon", tc.name, allocs)
			require.LessOrEqual(t, allocs, float64(maxCollectAllocs))
		})
	}
}
