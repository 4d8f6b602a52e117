package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store/queue/queueredis"
	"github.com/jaraba/pixelgw/test/platformsim"
)

// engineHeader carries, in every request the simulator records, the tag of
// the pixelgw process that sent it (see taggedSim).
const engineHeader = "X-Test-Engine"

// taggedSim serves the simulator under one path prefix per pixelgw process
// ("/a/meta/…" for process a): it strips the prefix, stamps the process's
// tag into a request header (so the simulator's raw log tells the senders
// apart) and counts each process's requests in flight.
type taggedSim struct {
	sim      *platformsim.Sim
	mu       sync.Mutex
	inflight map[string]int
}

func (ts *taggedSim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tag, rest, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if !ok || tag == "" {
		http.NotFound(w, r)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = "/"+rest, ""
	r2.Header.Set(engineHeader, tag)
	ts.mu.Lock()
	ts.inflight[tag]++
	ts.mu.Unlock()
	defer func() {
		ts.mu.Lock()
		ts.inflight[tag]--
		ts.mu.Unlock()
	}()
	ts.sim.Handler().ServeHTTP(w, r2)
}

func (ts *taggedSim) inFlight(tag string) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.inflight[tag]
}

// fleet is a scaled-mode delivery set-up: a fresh PostgreSQL schema, a
// Redis key prefix, the strict simulator served by this test process on
// 127.0.0.1, and tenants with Meta, GA4 and TikTok pixels.
type fleet struct {
	t       *testing.T
	sim     *platformsim.Sim
	tags    *taggedSim
	simURL  string
	env     []string
	rdb     *redis.Client
	prefix  string
	tenants []*fleetTenant
}

type fleetTenant struct {
	slug, id, host, origin string
	collect, consent       string
	cookies                map[string]string
	pixels                 []string // platform + ":" + pixel id
	events                 []string // accepted event ids
}

// deliveryPlatforms are the platforms the fleet's tenants use.
var deliveryPlatforms = []string{platformsim.Meta, platformsim.Google, platformsim.TikTok}

// newFleet prepares the stores and the simulator and migrates the schema;
// extra are PIXELGW_* settings for every process.
func newFleet(t *testing.T, seed uint64, extra ...string) *fleet {
	t.Helper()
	schema, prefix, rdb := scaledStores(t)

	sim := platformsim.New(platformsim.Options{Seed: seed})
	tags := &taggedSim{sim: sim, inflight: map[string]int{}}
	srv := httptest.NewServer(tags)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close) // releases delayed requests before the server closes

	env := append(scaledEnv(t, schema, prefix),
		"PIXELGW_EDGE_RATE_LIMIT_PER_IP=100000", "PIXELGW_EDGE_RATE_LIMIT_BURST_IP=100000",
		"PIXELGW_PLATFORMS_ALLOW_PRIVATE_ADDRESSES=true",
		"PIXELGW_LOG_LEVEL=warn",
	)
	env = append(env, extra...)
	f := &fleet{t: t, sim: sim, tags: tags, simURL: srv.URL, env: env, rdb: rdb, prefix: prefix}
	_, errOut, code := pixelgw(t, env, "migrate")
	require.Equal(t, 0, code, errOut)
	return f
}

// edgeOnly starts an instance without the delivery engine (API and edge).
func (f *fleet) edgeOnly() *server {
	return startServer(f.t, append(f.engineEnv("edge"), "PIXELGW_PLATFORMS_DELIVER=false"))
}

// engineEnv is the environment of a delivering process tagged tag.
func (f *fleet) engineEnv(tag string) []string {
	base := f.simURL + "/" + tag
	return append(slices.Clone(f.env),
		"PIXELGW_PLATFORMS_META_BASE_URL="+base+"/meta",
		"PIXELGW_PLATFORMS_GOOGLE_BASE_URL="+base+"/google",
		"PIXELGW_PLATFORMS_TIKTOK_BASE_URL="+base+"/tiktok",
		"PIXELGW_PLATFORMS_LINKEDIN_BASE_URL="+base+"/linkedin",
		"PIXELGW_PLATFORMS_X_BASE_URL="+base+"/x",
	)
}

// engine starts a delivering process tagged tag.
func (f *fleet) engine(tag string) *server { return startServer(f.t, f.engineEnv(tag)) }

// addTenants creates n tenants through s's API, each with the platforms
// deliveryPlatforms[i%3:] (so tenants differ), waits until s's edge serves
// them and records a consent decision for one visitor per tenant.
func (f *fleet) addTenants(s *server, n int) {
	t := f.t
	t.Helper()
	op, errOut, code := pixelgw(t, f.env, "token", "-role", "operator", "-ttl", "10m")
	require.Equal(t, 0, code, errOut)
	op = strings.TrimSpace(op)
	for i := range n {
		ft := &fleetTenant{slug: fmt.Sprintf("dur%d", i)}
		ft.host, ft.origin = "t."+ft.slug+".example", "https://www."+ft.slug+".example"
		status, created := apiReq(t, s.api, "POST", "/api/v1/tenants", op, map[string]any{
			"slug": ft.slug, "name": ft.slug, "settings": map[string]any{"sites": []string{ft.origin}},
		})
		require.Equal(t, 201, status, created)
		ft.id = created["id"].(string)
		paths := created["edge_paths"].(map[string]any)
		ft.collect, ft.consent = paths["collect"].(string), paths["consent"].(string)
		status, _ = apiReq(t, s.api, "POST", "/api/v1/tenants/"+ft.id+"/domains", op, map[string]any{"hostname": ft.host})
		require.Equal(t, 201, status)
		tok, errOut, code := pixelgw(t, f.env, "token", "-tenant", ft.slug, "-role", "admin", "-ttl", "10m")
		require.Equal(t, 0, code, errOut)
		tok = strings.TrimSpace(tok)
		for _, p := range deliveryPlatforms[i%len(deliveryPlatforms):] {
			var id string
			var creds map[string]string
			switch p {
			case platformsim.Meta:
				id, creds = fmt.Sprintf("10000000000%04d", i), map[string]string{"access_token": "durable-meta-token-not-real"}
			case platformsim.Google:
				id, creds = fmt.Sprintf("G-DUR%04d", i), map[string]string{"api_secret": "durable-ga4-secret-not-real"}
			case platformsim.TikTok:
				id, creds = fmt.Sprintf("CDUR%016d", i), map[string]string{"access_token": "durable-tiktok-token-not-real"}
			}
			status, px := apiReq(t, s.api, "POST", "/api/v1/tracking/pixels", tok, map[string]any{
				"platform": p, "pixel_id": id, "credentials": creds,
			})
			require.Equal(t, 201, status, px)
			ft.pixels = append(ft.pixels, p+":"+id)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, _, cookies := edgeReq(t, s.edge, "POST", ft.host, ft.consent,
				`{"v":1,"analytics":true,"marketing":true,"functional":false,"policy":"1"}`,
				"Origin", ft.origin, "Content-Type", "text/plain")
			if st == 204 {
				ft.cookies = cookies
				break
			}
			require.True(t, time.Now().Before(deadline), "edge never served tenant %s: %d", ft.slug, st)
			time.Sleep(20 * time.Millisecond)
		}
		f.tenants = append(f.tenants, ft)
	}
}

var eventNames = []string{"view_content", "add_to_cart", "lead"}

// send posts perTenant events to every tenant through edge in beacons of
// up to per events (1..25), recording the ids the edge accepted (204).
func (f *fleet) send(edge string, perTenant, per int) {
	t := f.t
	t.Helper()
	for _, ft := range f.tenants {
		for sent := 0; sent < perTenant; {
			n := min(per, perTenant-sent)
			var evs []string
			var ids []string
			for j := range n {
				id := uuid.NewString()
				ids = append(ids, id)
				evs = append(evs, fmt.Sprintf(`{"name":%q,"id":%q,"ts":%d,"url":"%s/p","user":{"em":"jane%d@example.com"}}`,
					eventNames[(sent+j)%len(eventNames)], id, time.Now().UnixMilli(), ft.origin, sent+j))
			}
			body := `{"v":1,"events":[` + strings.Join(evs, ",") + `],"ids":{"fbp":"fb.1.1732880000000.1116446470","ttclid":"E.C.P.abc"}}`
			st, resp, _ := edgeReq(t, edge, "POST", ft.host, ft.collect, body,
				"Origin", ft.origin, "Content-Type", "text/plain", "Cookie", cookieHdr(ft.cookies), "User-Agent", "Mozilla/5.0 durable")
			require.Equal(t, 204, st, resp)
			ft.events = append(ft.events, ids...)
			sent += n
		}
	}
}

// pair is one (event, pixel) delivery target; pixel is platform:pixel id.
type pair struct{ event, pixel string }

// expected lists every (accepted event, pixel of its tenant).
func (f *fleet) expected() map[pair]bool {
	out := map[pair]bool{}
	for _, ft := range f.tenants {
		for _, id := range ft.events {
			for _, p := range ft.pixels {
				out[pair{id, p}] = true
			}
		}
	}
	return out
}

// pixelOf names the pixel a recorded request was for.
func pixelOf(r platformsim.Request) string {
	switch r.Platform {
	case platformsim.Meta: // /meta/<version>/<pixel>/events
		if parts := strings.Split(r.Path, "/"); len(parts) > 3 {
			return r.Platform + ":" + parts[3]
		}
	case platformsim.Google:
		q, _ := url.ParseQuery(r.RawQuery)
		return r.Platform + ":" + q.Get("measurement_id")
	case platformsim.TikTok:
		var b struct {
			Source string `json:"event_source_id"`
		}
		_ = json.Unmarshal(r.Body, &b)
		return r.Platform + ":" + b.Source
	}
	return r.Platform + ":?"
}

// carried is one (event, pixel) inside one recorded request.
type carried struct {
	req    *platformsim.Request
	status int
	ok     bool // a 2xx answer that accepted this event
	engine string
}

// rawLog maps every (event, pixel) to the requests that carried it, in the
// order the simulator answered them.
func (f *fleet) rawLog() map[pair][]carried {
	out := map[pair][]carried{}
	for _, p := range deliveryPlatforms {
		for _, r := range f.sim.Requests(p) {
			px := pixelOf(r)
			for i, id := range platformsim.EventIDs(r.Platform, r.Body) {
				c := carried{req: &r, status: r.Status, engine: r.Header.Get(engineHeader),
					ok: r.Status >= 200 && r.Status < 300 && r.Accepted && !slices.Contains(r.Rejected, i)}
				out[pair{id, px}] = append(out[pair{id, px}], c)
			}
		}
	}
	return out
}

func okCount(cs []carried) int {
	n := 0
	for _, c := range cs {
		if c.ok {
			n++
		}
	}
	return n
}

// waitDelivered polls until every expected pair has a 2xx-accepted request
// and every consumer group has acknowledged everything.
func (f *fleet) waitDelivered(want map[pair]bool, within time.Duration, logs ...*server) map[pair][]carried {
	t := f.t
	t.Helper()
	q := queueredis.New(f.rdb, queueredis.Config{Prefix: f.prefix}, nil)
	deadline := time.Now().Add(within)
	for {
		log := f.rawLog()
		missing := 0
		for p := range want {
			if okCount(log[p]) == 0 {
				missing++
			}
		}
		lag, err := q.Lag(context.Background())
		require.NoError(t, err)
		if missing == 0 && lag == 0 {
			return log
		}
		if time.Now().After(deadline) {
			var out strings.Builder
			for _, s := range logs {
				out.WriteString(s.log.String())
			}
			t.Fatalf("after %s: %d of %d (event, pixel) pairs undelivered, queue lag %d\n%s", within, missing, len(want), lag, out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// metricSum adds the values of a counter's series matching labels.
func metricSum(t *testing.T, ops, name, labels string) int {
	t.Helper()
	_, body := httpGet(t, "http://"+ops+"/metrics", "", "")
	re := regexp.MustCompile(`(?m)^` + name + `\{([^}]*)\} (\d+)$`)
	n := 0
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		if strings.Contains(m[1], labels) {
			v, _ := strconv.Atoi(m[2])
			n += v
		}
	}
	return n
}

// TestExactlyOnceUnderFaults: with 10% of the platforms' answers a 500
// (seeded), a few hundred events of three tenants reach each of their
// pixels (Meta, GA4, TikTok) in exactly one request the simulator answered
// 2xx, and its raw log shows the failed attempts before them.
func TestExactlyOnceUnderFaults(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 20261129,
		"PIXELGW_PLATFORMS_DISPATCH_MAX_WAIT=10ms",
		"PIXELGW_PLATFORMS_DISPATCH_MERGE_WINDOW=200ms",
		"PIXELGW_PLATFORMS_DISPATCH_BACKOFF_BASE=20ms",
		"PIXELGW_PLATFORMS_DISPATCH_BACKOFF_MAX=200ms",
		// 0.1^8: no event runs out of attempts in practice.
		"PIXELGW_PLATFORMS_DISPATCH_ATTEMPTS=8",
	)
	edge := f.edgeOnly()
	f.addTenants(edge, 3)
	for _, p := range deliveryPlatforms {
		f.sim.Inject(p, platformsim.Fault{Status: http.StatusInternalServerError, Rate: 0.1})
	}
	eng := f.engine("a")
	// Many small beacons, so batches are many and small.
	for range 10 {
		f.send(edge.edge, 10, 5)
	}
	want := f.expected()
	require.GreaterOrEqual(t, len(want), 500)
	log := f.waitDelivered(want, 120*time.Second, eng)

	var failedCarried, failedThenOK int
	for p, cs := range log {
		require.True(t, want[p], "a delivery nobody asked for: %v", p)
		require.Equal(t, 1, okCount(cs), "(event %s, pixel %s): exactly one 2xx-accepted request", p.event, p.pixel)
		for _, c := range cs {
			if c.status >= 200 && c.status < 300 {
				require.True(t, c.ok, "(event %s, pixel %s): a 2xx the platform did not accept: %v", p.event, p.pixel, c.req.Errors)
			}
		}
		if slices.ContainsFunc(cs, func(c carried) bool { return c.status == http.StatusInternalServerError }) {
			failedCarried++
			if cs[len(cs)-1].ok {
				failedThenOK++
			}
		}
	}
	total500 := 0
	for _, p := range deliveryPlatforms {
		total500 += f.sim.Count(p, http.StatusInternalServerError)
		t.Logf("%s: %d requests, %d answered 500", p, len(f.sim.Requests(p)), f.sim.Count(p, http.StatusInternalServerError))
	}
	require.Positive(t, total500, "the raw log shows failed attempts")
	require.Positive(t, failedCarried, "some events were carried by a 500-answered request")
	require.Equal(t, failedCarried, failedThenOK, "every event of a failed attempt was delivered afterwards")
	t.Logf("%d (event, pixel) pairs delivered once each; %d of them after a 500", len(want), failedCarried)

	// What the operator sees: every delivery counted, none dead, retries.
	require.Equal(t, len(want), metricSum(t, eng.ops, "pixelgw_deliveries_total", `outcome="delivered"`))
	require.Zero(t, metricSum(t, eng.ops, "pixelgw_deliveries_total", `outcome="dead"`))
	require.Positive(t, metricSum(t, eng.ops, "pixelgw_delivery_retries_total", ""))
}
