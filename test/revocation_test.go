package test

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestRevocationOnAReachesB: two scaled instances (edge + admin API, no
// delivery engine, so the Redis stream keeps every queued entry) share one
// PostgreSQL schema and one Redis prefix. A visitor consents through B's
// edge and B queues their beacon; the tenant's back end then revokes through
// A's admin API — a new decision with marketing false for one visitor,
// DELETE (revocation + erasure) for another. From then on every beacon sent
// to B with the visitor's old, still validly signed consent cookie is
// refused (not in the stream, and the answer deletes the consent cookie),
// the first one within 1 s of the revocation's answer. A new banner decision
// through B re-consents, and its beacons are queued again. B's
// consent-blocked counter counts exactly the refused beacons.
func TestRevocationOnAReachesB(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema, prefix, rdb := scaledStores(t)
	env := append(scaledEnv(t, schema, prefix),
		"PIXELGW_PLATFORMS_DELIVER=false",
		"PIXELGW_EDGE_RATE_LIMIT_PER_IP=100000", "PIXELGW_EDGE_RATE_LIMIT_BURST_IP=100000",
	)
	tok := seededDemo(t, env)
	a, b := startServing(t, env), startServing(t, env)

	status, ten := apiReq(t, a.api, "GET", "/api/v1/tenant", tok, nil)
	require.Equal(t, 200, status, ten)
	paths := ten["edge_paths"].(map[string]any)
	consentPath, collectPath := paths["consent"].(string), paths["collect"].(string)

	// consent is a banner decision granting everything, through B.
	consent := func(cookies map[string]string) map[string]string {
		t.Helper()
		hdr := []string{"Origin", demoOrigin, "Content-Type", "text/plain;charset=UTF-8"}
		if cookies != nil {
			hdr = append(hdr, "Cookie", cookieHdr(cookies))
		}
		st, _, set := edgeReq(t, b.edge, "POST", "t.demo.localhost", consentPath,
			`{"v":1,"analytics":true,"marketing":true,"functional":false,"policy":"1"}`, hdr...)
		require.Equal(t, 204, st)
		require.NotEmpty(t, set["jaraba_consent"], "the banner decision sets the consent cookie")
		return set
	}
	// beacon sends one purchase with cookies through B and returns its id and
	// whether the answer deleted the consent cookie.
	beacon := func(cookies map[string]string) (id string, cookieDeleted bool) {
		t.Helper()
		id = uuid.NewString()
		st, _, set := edgeReq(t, b.edge, "POST", "t.demo.localhost", collectPath, pageBeacon("purchase", id),
			"Origin", demoOrigin, "Content-Type", "text/plain;charset=UTF-8", "Cookie", cookieHdr(cookies))
		require.Equal(t, 204, st, "a refused beacon is answered like an accepted one")
		v, set1 := set["jaraba_consent"]
		return id, set1 && v == ""
	}
	// queued reports whether the stream holds an entry of event id.
	queued := func(id string) bool {
		t.Helper()
		msgs, err := rdb.XRange(ctx, prefix+":q", "-", "+").Result()
		if err == redis.Nil {
			return false
		}
		require.NoError(t, err)
		for _, m := range msgs {
			if v, _ := m.Values["v"].(string); strings.Contains(v, id) {
				return true
			}
		}
		return false
	}
	// refusedWithin polls beacons with the old cookies until one is refused
	// (deadline 1 s from the revocation's answer at answered), then checks
	// that every later beacon is refused too.
	refused := 0 // beacons B refused, for its consent-blocked counter
	refusedWithin := func(what string, cookies map[string]string, answered time.Time) {
		t.Helper()
		for {
			id, deleted := beacon(cookies)
			if !queued(id) {
				refused++
				require.True(t, deleted, "%s: a refused beacon deletes the consent cookie", what)
				break
			}
			require.Less(t, time.Since(answered), time.Second, "%s: B still queues the revoked visitor's beacons 1 s after A answered", what)
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("%s: first beacon refused by B %s after A's answer", what, time.Since(answered).Round(time.Millisecond))
		var later []string
		for range 20 {
			id, deleted := beacon(cookies)
			require.True(t, deleted, "%s: every refused beacon deletes the consent cookie", what)
			later = append(later, id)
		}
		refused += len(later)
		for _, id := range later {
			require.False(t, queued(id), "%s: a later beacon with the old cookie was queued", what)
		}
	}

	// Two visitors consent through B; B queues their beacons.
	c1, c2 := consent(nil), consent(nil)
	v1, v2 := c1["jaraba_visitor_id"], c2["jaraba_visitor_id"]
	require.NotEmpty(t, v1)
	require.NotEmpty(t, v2)
	require.NotEqual(t, v1, v2)
	for _, c := range []map[string]string{c1, c2} {
		id, deleted := beacon(c)
		require.False(t, deleted)
		require.True(t, queued(id), "B queues a consented visitor's beacon")
	}

	// Visitor 1: a new decision through A's API withdraws marketing.
	status, rec := apiReq(t, a.api, "POST", "/api/v1/tracking/consent", tok, map[string]any{
		"visitor_id": v1, "analytics": false, "marketing": false, "functional": false, "policy_version": "1",
	})
	answered1 := time.Now()
	require.Equal(t, 201, status, rec)
	require.Equal(t, "api", rec["source"])
	refusedWithin("decision with marketing false", c1, answered1)

	// Visitor 2: DELETE through A (revocation + erasure).
	status, out := apiReq(t, a.api, "DELETE", "/api/v1/tracking/consent/"+v2, tok, nil)
	answered2 := time.Now()
	require.Equal(t, 200, status, out)
	refusedWithin("DELETE", c2, answered2)

	// Visitor 1 decides again on B's banner — once the second after the API
	// decision has begun, as a cookie carries whole seconds — and is queued.
	decided, err := time.Parse(time.RFC3339Nano, rec["created_at"].(string))
	require.NoError(t, err)
	for wait := decided.Truncate(time.Second).Add(time.Second); time.Now().Before(wait); {
		time.Sleep(time.Until(wait))
	}
	renewed := maps.Clone(c1)
	maps.Copy(renewed, consent(c1)) // the new consent cookie, the same visitor id
	require.Equal(t, v1, renewed["jaraba_visitor_id"])
	for range 3 {
		id, deleted := beacon(renewed)
		require.False(t, deleted, "the new decision's cookie is trusted")
		require.True(t, queued(id), "B queues the re-consented visitor's beacon")
	}
	// The old cookie stays refused.
	id, deleted := beacon(c1)
	require.True(t, deleted)
	require.False(t, queued(id), "the cookie from before the revocation is still refused")
	refused++
	blocked := brMetricSum(brMetrics(t, b.ops), "pixelgw_events_consent_blocked_total")
	require.Equal(t, float64(refused), blocked, "B counts every refused beacon as blocked for consent")
	stopServer(t, a)
	stopServer(t, b)
}
