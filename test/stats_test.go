package test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// TestStatsFollowTheRealPipeline: on the real binary (embedded mode, the
// in-process simulator), a visitor's consent, a purchase beacon and the
// back end's copy of the same purchase show up in the stats endpoint as the
// engine records them: one accepted event (the browser's), five deliveries
// answered 2xx (one per demo pixel), one deduplicated event, one visitor
// with marketing consent, every pixel green.
func TestStatsFollowTheRealPipeline(t *testing.T) {
	t.Parallel()
	env := append(embeddedEnv(t, t.TempDir(), newMasterKey(t)), "PIXELGW_PLATFORMS_SIMULATOR=true",
		"PIXELGW_PLATFORMS_DISPATCH_MERGE_WINDOW=3s")
	_, errOut, code := pixelgw(t, env, "migrate")
	require.Equal(t, 0, code, errOut)
	_, errOut, code = pixelgw(t, env, "seed-demo")
	require.Equal(t, 0, code, errOut)
	s := startServer(t, env)
	out, errOut, code := pixelgw(t, env, "token", "-tenant", "demo", "-ttl", "10m")
	require.Equal(t, 0, code, errOut)
	tok := strings.TrimSpace(out)
	status, ten := apiReq(t, s.api, "GET", "/api/v1/tenant", tok, nil)
	require.Equal(t, 200, status)
	paths := ten["edge_paths"].(map[string]any)

	st, _, cookies := edgeReq(t, s.edge, "POST", "t.demo.localhost", paths["consent"].(string),
		`{"v":1,"analytics":true,"marketing":true,"functional":false,"policy":"1"}`,
		"Origin", demoOrigin, "Content-Type", "text/plain")
	require.Equal(t, 204, st)
	visitor := cookies["jaraba_visitor_id"]
	require.NotEmpty(t, visitor)
	id := uuid.NewString()
	body := `{"v":1,"events":[{"name":"purchase","id":"` + id + `","ts":` + strconv.FormatInt(time.Now().UnixMilli(), 10) +
		`,"url":"http://www.demo.localhost:8080/","props":{"value":49.9,"currency":"EUR"}}],` +
		`"ids":{"fbp":"fb.1.1732880000000.1116446470","ttclid":"E.C.P.abc","twclid":"tw123","li_fat_id":"li-1"}}`
	st, _, _ = edgeReq(t, s.edge, "POST", "t.demo.localhost", paths["collect"].(string), body,
		"Origin", demoOrigin, "Content-Type", "text/plain", "Cookie", cookieHdr(cookies), "User-Agent", "Mozilla/5.0 e2e")
	require.Equal(t, 204, st)
	status, res := apiReq(t, s.api, "POST", "/api/v1/tracking/events", tok, map[string]any{
		"event_name": "Purchase", "event_id": id, "visitor_id": visitor, "user_data": map[string]string{"em": "jane@example.com"},
	})
	require.Less(t, status, 300, res)

	want := func(stats map[string]any) bool {
		num := func(path ...string) float64 {
			var v any = stats
			for _, p := range path {
				m, ok := v.(map[string]any)
				if !ok {
					return -1
				}
				v = m[p]
			}
			f, _ := v.(float64)
			return f
		}
		if num("events", "total") != 1 || num("events", "client") != 1 || num("server_side", "delivered") != 5 ||
			num("server_side", "success_rate") != 1 || num("dedup", "deduplicated") != 1 || num("dedup", "rate") != 1 ||
			num("consent", "visitors_decided") != 1 || num("consent", "rate") != 1 {
			return false
		}
		pixels, _ := stats["pixels"].([]any)
		if len(pixels) != 5 {
			return false
		}
		for _, p := range pixels {
			if p.(map[string]any)["status"] != "green" {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, stats := apiReq(t, s.api, "GET", "/api/v1/tracking/events/stats", tok, nil)
		require.Equal(t, 200, status, stats)
		if want(stats) {
			break
		}
		require.True(t, time.Now().Before(deadline), "stats never matched: %v\n%s", stats, s.log.String())
		time.Sleep(200 * time.Millisecond)
	}
}
