package test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/test/platformsim"
)

// canaries are the personal data of one visitor, each unique to this run.
type canaries struct {
	ip, ua, fbp, email, emailHash string
}

func newCanaries() canaries {
	var b [6]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	email := "canary." + h + "@example.com"
	sum := sha256.Sum256([]byte(email))
	return canaries{
		ip:        fmt.Sprintf("198.51.%d.%d", 1+int(b[0])%250, 1+int(b[1])%250),
		ua:        "Mozilla/5.0 (X11; Linux x86_64) canary-ua-" + h,
		fbp:       "fb.1.1732880000000." + strconv.FormatUint(uint64(b[2])<<32|uint64(b[3])<<24|uint64(b[4])<<16|uint64(b[5]), 10) + "7",
		email:     email,
		emailHash: hex.EncodeToString(sum[:]),
	}
}

// all lists the canaries with their names, plus their hex forms (a bytea
// column dumps as hex).
func (c canaries) all() map[string]string {
	m := map[string]string{"ip": c.ip, "user agent": c.ua, "fbp": c.fbp, "email": c.email, "email hash": c.emailHash}
	for k, v := range map[string]string{"ip": c.ip, "user agent": c.ua, "fbp": c.fbp, "email": c.email} {
		m[k+" (hex)"] = hex.EncodeToString([]byte(v))
	}
	return m
}

// startServing starts `pixelgw serve` and waits until its edge and API
// answer too (startServer waits for the ops listener, which starts first).
// freePort's addresses can be taken by a parallel test before the server
// binds them: a server that exits meanwhile is started again on new ports.
func startServing(t *testing.T, env []string) *server {
	t.Helper()
	for try := 1; ; try++ {
		s := startServer(t, env)
		deadline := time.Now().Add(15 * time.Second)
		for exited := false; !exited; {
			select {
			case err := <-s.done:
				s.done <- err // for startServer's cleanup
				require.Less(t, try, 3, "pixelgw serve exited: %v\n%s", err, s.log.String())
				exited = true // try again on new ports
				continue
			default:
			}
			edge, _ := httpGet(t, "http://"+s.edge+"/healthz", "", "")
			api, _ := httpGet(t, "http://"+s.api+"/api/v1/openapi.json", "", "")
			if edge == 200 && api == 200 {
				return s
			}
			require.True(t, time.Now().Before(deadline), "edge or API not serving:\n%s", s.log.String())
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// stopServer sends SIGTERM and waits for a clean exit.
func stopServer(t *testing.T, s *server) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-s.done:
		require.NoError(t, err, s.log.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("pixelgw did not stop after SIGTERM:\n%s", s.log.String())
	}
}

// dumpSchema returns every row of every table of the schema as text
// (partitions included), lowercased, by table.
func dumpSchema(t *testing.T, conn *pgx.Conn, schema string) map[string]string {
	t.Helper()
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY 1`, schema)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Contains(t, tables, "tracking_event")
	out := map[string]string{}
	for _, tb := range tables {
		rows, err := conn.Query(ctx, "SELECT t::text FROM "+pgx.Identifier{schema, tb}.Sanitize()+" t")
		require.NoError(t, err)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		out[tb] = strings.ToLower(strings.Join(lines, "\n"))
	}
	return out
}

// dumpRedis returns every key under prefix with everything it holds, as
// text, by key: strings, hashes, lists, sets, sorted sets and streams
// (every entry with its fields, and the consumer groups' pending entries).
func dumpRedis(t *testing.T, rdb *redis.Client, prefix string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		typ, err := rdb.Type(ctx, key).Result()
		require.NoError(t, err)
		var b strings.Builder
		b.WriteString(key + " (" + typ + ")\n")
		switch typ {
		case "string":
			v, err := rdb.Get(ctx, key).Result()
			require.NoError(t, err)
			b.WriteString(v)
		case "hash":
			v, err := rdb.HGetAll(ctx, key).Result()
			require.NoError(t, err)
			fmt.Fprint(&b, v)
		case "list":
			v, err := rdb.LRange(ctx, key, 0, -1).Result()
			require.NoError(t, err)
			fmt.Fprint(&b, v)
		case "set":
			v, err := rdb.SMembers(ctx, key).Result()
			require.NoError(t, err)
			fmt.Fprint(&b, v)
		case "zset":
			v, err := rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
			require.NoError(t, err)
			fmt.Fprint(&b, v)
		case "stream":
			v, err := rdb.XRange(ctx, key, "-", "+").Result()
			require.NoError(t, err)
			for _, x := range v {
				fmt.Fprintf(&b, "%s %v\n", x.ID, x.Values)
			}
			groups, err := rdb.XInfoGroups(ctx, key).Result()
			require.NoError(t, err)
			for _, g := range groups {
				p, err := rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: key, Group: g.Name, Start: "-", End: "+", Count: 100000}).Result()
				require.NoError(t, err)
				fmt.Fprintf(&b, "group %s %v\n", g.Name, p)
			}
		default:
			t.Fatalf("key %s has an unexpected type %s", key, typ)
		}
		out[key] = strings.ToLower(b.String())
	}
	require.NoError(t, iter.Err())
	return out
}

// findCanaries lists "canary in place" for every canary found in dump.
func findCanaries(c canaries, dump map[string]string) []string {
	var found []string
	for place, text := range dump {
		for name, v := range c.all() {
			if strings.Contains(text, strings.ToLower(v)) {
				found = append(found, name+" in "+place)
			}
		}
	}
	return found
}

// TestErasureLeavesNoTrace: in scaled mode (PostgreSQL + Redis), a visitor
// with marketing consent sends beacons and a server-side event carrying
// canary values; some are delivered (and one platform dead-letters them),
// some are still queued (the second instance runs no delivery engine). DELETE
// consent then leaves no canary in any table of the schema nor in any Redis
// key under the prefix, and later events of the visitor are refused.
func TestErasureLeavesNoTrace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema, prefix, rdb := scaledStores(t)
	conn := pgConn(t)

	// The platforms: a simulator in this process; Meta refuses everything
	// (HTTP 400, permanent), so the visitor's events become dead letters.
	sim := platformsim.New(platformsim.Options{MaxRecorded: 1000})
	sim.Inject("meta", platformsim.Fault{Status: http.StatusBadRequest})

	env := append(scaledEnv(t, schema, prefix),
		"PIXELGW_EDGE_TRUSTED_PROXIES_0=127.0.0.1/32",
		"PIXELGW_PLATFORMS_DISPATCH_MERGE_WINDOW=500ms",
		"PIXELGW_PLATFORMS_DISPATCH_ATTEMPTS=2",
		"PIXELGW_PLATFORMS_DISPATCH_BACKOFF_BASE=100ms",
		"PIXELGW_PLATFORMS_DISPATCH_BACKOFF_MAX=500ms",
	)
	env = append(env, serveSimulator(t, sim)...)
	tok := seededDemo(t, env)

	a := startServing(t, env) // delivers
	status, ten := apiReq(t, a.api, "GET", "/api/v1/tenant", tok, nil)
	require.Equal(t, 200, status)
	paths := ten["edge_paths"].(map[string]any)
	status, key := apiReq(t, a.api, "POST", "/api/v1/api-keys", tok, map[string]any{"name": "backend"})
	require.Equal(t, 201, status, key)
	apiKey := key["key"].(string)

	c := newCanaries()
	st, _, cookies := edgeReq(t, a.edge, "POST", "t.demo.localhost", paths["consent"].(string),
		`{"v":1,"analytics":true,"marketing":true,"functional":true,"policy":"1"}`,
		"Origin", demoOrigin, "Content-Type", "text/plain", "X-Forwarded-For", c.ip, "User-Agent", c.ua)
	require.Equal(t, 204, st)
	visitor := cookies["jaraba_visitor_id"]
	require.NotEmpty(t, visitor)

	beacon := func(s *server, name string) int {
		body := `{"v":1,"events":[{"name":"` + name + `","id":"` + uuid.NewString() + `","ts":` + strconv.FormatInt(time.Now().UnixMilli(), 10) +
			`,"url":"http://www.demo.localhost:8080/shop","props":{"value":49.9,"currency":"EUR"},"user":{"em":"` + c.email + `"}}],` +
			`"ids":{"fbp":"` + c.fbp + `"}}`
		st, _, _ := edgeReq(t, s.edge, "POST", "t.demo.localhost", paths["collect"].(string), body,
			"Origin", demoOrigin, "Content-Type", "text/plain", "Cookie", cookieHdr(cookies),
			"X-Forwarded-For", c.ip, "User-Agent", c.ua)
		return st
	}
	serverEvent := func(s *server, hashed bool) int {
		em := c.email
		if hashed {
			em = c.emailHash
		}
		body := fmt.Sprintf(`{"event_name":"purchase","event_id":%q,"visitor_id":%q,"user_data":{"em":%q},`+
			`"client_ip_address":%q,"client_user_agent":%q,"fbp":%q,"custom_data":{"value":10,"currency":"EUR"}}`,
			uuid.NewString(), visitor, em, c.ip, c.ua, c.fbp)
		req, err := http.NewRequest("POST", "http://"+s.api+"/api/v1/tracking/events", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", apiKey)
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}

	// Phase 1, delivered: a beacon and a server event (hashed email); GA4
	// and the others receive them, Meta dead-letters them, the audit
	// records them.
	require.Equal(t, 204, beacon(a, "purchase"))
	require.Equal(t, 202, serverEvent(a, true))
	deadline := time.Now().Add(60 * time.Second)
	for {
		var audited int
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM "+schema+".tracking_event WHERE visitor_id = $1", visitor).Scan(&audited))
		status, dl := apiReq(t, a.api, "GET", "/api/v1/tracking/deadletters", tok, nil)
		require.Equal(t, 200, status, dl)
		letters, _ := dl["dead_letters"].([]any)
		if audited >= 2 && len(letters) >= 2 && len(sim.Requests("google")) >= 1 {
			break
		}
		require.True(t, time.Now().Before(deadline), "audited %d, dead letters %d, google requests %d\n%s",
			audited, len(letters), len(sim.Requests("google")), a.log.String())
		time.Sleep(200 * time.Millisecond)
	}
	stopServer(t, a)

	// Phase 2, still queued: an edge + API instance without a delivery
	// engine takes a beacon and a server event (raw email).
	b := startServing(t, append(env, "PIXELGW_PLATFORMS_DELIVER=false"))
	require.Equal(t, 204, beacon(b, "add_to_cart"))
	require.Equal(t, 202, serverEvent(b, false))
	before := findCanaries(c, dumpRedis(t, rdb, prefix))
	// The test can fail: before the erasure, the queue stream and the
	// tenant's dead letters carry the canaries.
	require.Contains(t, before, "email in "+prefix+":q", before)
	require.Contains(t, before, "ip in "+prefix+":q", before)
	require.Condition(t, func() bool {
		for _, f := range before {
			if strings.HasPrefix(f, "user agent in "+prefix+":dl:") {
				return true
			}
		}
		return false
	}, "dead letters: %v", before)
	require.NotEmpty(t, findCanaries(c, dumpSchema(t, conn, schema)), "so do the audit rows and the consent IP")

	status, out := apiReq(t, b.api, "DELETE", "/api/v1/tracking/consent/"+visitor, tok, nil)
	require.Equal(t, 200, status, out)
	require.Equal(t, true, out["complete"], out)
	erased := out["erased"].(map[string]any)
	require.GreaterOrEqual(t, erased["queued_entries"], 2.0, out)
	require.GreaterOrEqual(t, erased["dead_letters"], 2.0, out)
	require.GreaterOrEqual(t, erased["tracking_events"], 2.0, out)
	require.Equal(t, 1.0, erased["consent_ips"], out)
	_, metrics := httpGet(t, "http://"+b.ops+"/metrics", "", "")
	require.Contains(t, metrics, "\npixelgw_consent_api_decisions_total{choice=\"none\"} 1\n", "the revocation is counted, without a tenant label")

	require.Empty(t, findCanaries(c, dumpSchema(t, conn, schema)), "PostgreSQL keeps a trace")
	require.Empty(t, findCanaries(c, dumpRedis(t, rdb, prefix)), "Redis keeps a trace")

	// Later events of the visitor are refused: the beacon's old cookie is
	// dropped, the server event is refused, nothing is queued.
	require.Equal(t, 204, beacon(b, "purchase"))
	require.Equal(t, 422, serverEvent(b, true))
	require.Empty(t, findCanaries(c, dumpRedis(t, rdb, prefix)), "a later event was queued")
	require.Empty(t, findCanaries(c, dumpSchema(t, conn, schema)))
	for _, v := range c.all() {
		require.NotContains(t, b.log.String(), v, "personal data is never logged")
	}

	// Idempotent.
	status, out = apiReq(t, b.api, "DELETE", "/api/v1/tracking/consent/"+visitor, tok, nil)
	require.Equal(t, 200, status, out)
	require.Equal(t, 0.0, out["erased"].(map[string]any)["queued_entries"], out)
}
