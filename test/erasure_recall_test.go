package test

import (
	"bytes"
	"context"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/test/platformsim"
)

// TestErasureRecallsHeldEvent: in scaled mode (PostgreSQL + Redis), a
// purchase beacon waits in the delivery engine's merge window (already read
// by every platform's consumer group, so the queue's erasure scan cannot
// remove it) when DELETE consent erases its visitor. It never reaches any
// platform (outcome "erased" for each pixel), no canary is left in any
// table or Redis key, and the visitor's next purchase, after they consent
// again, is delivered.
func TestErasureRecallsHeldEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema, prefix, rdb := scaledStores(t)
	conn := pgConn(t)

	sim := platformsim.New(platformsim.Options{MaxRecorded: 1000})
	env := append(scaledEnv(t, schema, prefix),
		"PIXELGW_EDGE_TRUSTED_PROXIES_0=127.0.0.1/32",
		// Long enough to see the event held and erase its visitor meanwhile.
		"PIXELGW_PLATFORMS_DISPATCH_MERGE_WINDOW=5s",
	)
	env = append(env, serveSimulator(t, sim)...)
	tok := seededDemo(t, env)

	a := startServing(t, env)
	status, ten := apiReq(t, a.api, "GET", "/api/v1/tenant", tok, nil)
	require.Equal(t, 200, status)
	paths := ten["edge_paths"].(map[string]any)

	consent := func(c canaries, cookies map[string]string) map[string]string {
		hdr := []string{"Origin", demoOrigin, "Content-Type", "text/plain", "X-Forwarded-For", c.ip, "User-Agent", c.ua}
		if cookies != nil {
			hdr = append(hdr, "Cookie", cookieHdr(cookies))
		}
		st, _, set := edgeReq(t, a.edge, "POST", "t.demo.localhost", paths["consent"].(string),
			`{"v":1,"analytics":true,"marketing":true,"functional":true,"policy":"1"}`, hdr...)
		require.Equal(t, 204, st)
		return set
	}
	purchase := func(c canaries, cookies map[string]string) string {
		id := uuid.NewString()
		body := `{"v":1,"events":[{"name":"purchase","id":"` + id + `","ts":` + strconv.FormatInt(time.Now().UnixMilli(), 10) +
			`,"url":"http://www.demo.localhost:8080/shop","props":{"value":49.9,"currency":"EUR"},"user":{"em":"` + c.email + `"}}],` +
			`"ids":{"fbp":"` + c.fbp + `"}}`
		st, _, _ := edgeReq(t, a.edge, "POST", "t.demo.localhost", paths["collect"].(string), body,
			"Origin", demoOrigin, "Content-Type", "text/plain", "Cookie", cookieHdr(cookies),
			"X-Forwarded-For", c.ip, "User-Agent", c.ua)
		require.Equal(t, 204, st)
		return id
	}
	// sent lists the platforms whose simulator received a request carrying s.
	sent := func(s string) []string {
		var out []string
		for _, p := range []string{platformsim.Meta, platformsim.Google, platformsim.LinkedIn, platformsim.TikTok, platformsim.X} {
			for _, r := range sim.Requests(p) {
				if bytes.Contains(bytes.ToLower(r.Body), []byte(strings.ToLower(s))) || strings.Contains(r.RawQuery, s) {
					out = append(out, p)
					break
				}
			}
		}
		return out
	}
	outcomes := func(eventID string) map[string]int {
		rows, err := conn.Query(ctx, "SELECT status FROM "+schema+".delivery_outcome WHERE event_id = $1", eventID)
		require.NoError(t, err)
		st, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		out := map[string]int{}
		for _, s := range st {
			out[s]++
		}
		return out
	}
	poll := func(cond func() bool, msg string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			require.True(t, time.Now().Before(deadline), "%s\n%s", msg, a.log.String())
			time.Sleep(50 * time.Millisecond)
		}
	}

	c := newCanaries()
	cookies := consent(c, nil)
	visitor := cookies["jaraba_visitor_id"]
	require.NotEmpty(t, visitor)
	held := purchase(c, cookies)

	// Held: audited (the audit group does not wait) and read, not yet
	// acknowledged, by every platform's group: in the merge window.
	poll(func() bool {
		var audited int
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM "+schema+".tracking_event WHERE event_id = $1", held).Scan(&audited))
		groups, err := rdb.XInfoGroups(ctx, prefix+":q").Result()
		require.NoError(t, err)
		n := 0
		for _, g := range groups {
			if strings.HasPrefix(g.Name, "deliver-") && g.Pending >= 1 {
				n++
			}
		}
		return audited == 1 && n == 5
	}, "the purchase is never held by the five platforms' groups")
	require.Empty(t, sent(held), "the merge window holds it")
	require.Empty(t, outcomes(held))

	status, out := apiReq(t, a.api, "DELETE", "/api/v1/tracking/consent/"+visitor, tok, nil)
	require.Equal(t, 200, status, out)
	require.Equal(t, 1.0, out["erased"].(map[string]any)["queued_entries"], "the held entry was still in the stream: %v", out)

	// The visitor consents again — once the second of the revocation's
	// decision time has begun, as a cookie carries seconds — and buys.
	revokedAt, err := time.Parse(time.RFC3339Nano, out["revocation"].(map[string]any)["created_at"].(string))
	require.NoError(t, err)
	poll(func() bool { return time.Now().After(revokedAt.Truncate(time.Second).Add(time.Second)) }, "clock")
	c2 := newCanaries()
	maps.Copy(cookies, consent(c2, cookies)) // the new consent cookie, the same visitor id
	later := purchase(c2, cookies)

	// The held purchase is recorded "erased" for every pixel and sent to
	// none; the later one is delivered.
	poll(func() bool { return len(sent(later)) > 0 && outcomes(held)["erased"] > 0 },
		"the later purchase never delivered, or the held one never recorded erased")
	allErased := func() bool {
		got := outcomes(held)
		return len(got) == 1 && got["erased"] == outcomes(later)["delivered"]
	}
	poll(allErased, "every pixel's outcome of the held purchase is erased")
	require.Empty(t, sent(held), "the held purchase reached a platform")
	for name, v := range c.all() {
		require.Empty(t, sent(v), "the erased visitor's %s reached a platform", name)
	}
	require.Empty(t, findCanaries(c, dumpSchema(t, conn, schema)), "PostgreSQL keeps a trace")
	require.Empty(t, findCanaries(c, dumpRedis(t, rdb, prefix)), "Redis keeps a trace")
	var audited int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM "+schema+".tracking_event WHERE event_id = $1 AND client_ip IS NULL", held).Scan(&audited))
	require.Equal(t, 1, audited, "the row audited before the erasure is scrubbed, and none is written after")
	stopServer(t, a)
}
