package dispatch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/dispatch"
	"github.com/jaraba/pixelgw/platforms/google"
	"github.com/jaraba/pixelgw/platforms/meta"
	"github.com/jaraba/pixelgw/platforms/tiktok"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/queue"
	"github.com/jaraba/pixelgw/store/queue/queuesqlite"
	"github.com/jaraba/pixelgw/store/secret"
	"github.com/jaraba/pixelgw/store/storesqlite"
	"github.com/jaraba/pixelgw/store/storetest"
	"github.com/jaraba/pixelgw/test/platformsim"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	metaToken = "EAAB-dispatch-meta-token-0123456789"
	gaSecret  = "ga-dispatch-api-secret"
	ttToken   = "tt-dispatch-access-token-0123456789"
)

// env is one gateway's delivery side: a real queue and store (SQLite by
// default; Redis + PostgreSQL with newScaledEnv), the strict simulator over
// real HTTP, real adapters and an engine.
type env struct {
	t         testing.TB
	sim       *platformsim.Sim
	q         queue.Queue
	st        store.Store
	kr        *secret.Keyring
	cfg       dispatch.Config
	deps      dispatch.Deps
	eng       *dispatch.Engine
	client    *http.Client
	base      string // the simulator's URL
	authMu    sync.Mutex
	auth      []string // OnAuthFailure calls: tenant + "/" + pixel
	recovered []string // OnRecovered calls: tenant + "/" + pixel
}

func testConfig() dispatch.Config {
	cfg := dispatch.Defaults()
	cfg.MaxWait = 20 * time.Millisecond
	cfg.BackoffBase = 10 * time.Millisecond
	cfg.BackoffMax = 50 * time.Millisecond
	cfg.PixelsRefresh = 50 * time.Millisecond
	cfg.MergeWindow = 30 * time.Millisecond // conversions (every test's "lead") take the merge path
	return cfg
}

// newEnv is an env on a SQLite queue and store in a temp dir (embedded mode).
func newEnv(t testing.TB, cfg dispatch.Config) *env {
	t.Helper()
	dir := t.TempDir()
	q, err := queuesqlite.Open(t.Context(), filepath.Join(dir, "queue.db"), queuesqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, q.Close()) })
	st, err := storesqlite.Open(t.Context(), filepath.Join(dir, "pixelgw.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	_, err = st.Migrate(t.Context())
	require.NoError(t, err)
	return newEnvOn(t, cfg, q, st)
}

// newEnvOn is an env on the given queue and migrated store, which the
// caller closes at cleanup.
func newEnvOn(t testing.TB, cfg dispatch.Config, q queue.Queue, st store.Store) *env {
	t.Helper()
	sim := platformsim.New(platformsim.Options{Tokens: map[string]string{
		platformsim.Meta: metaToken, platformsim.Google: gaSecret, platformsim.TikTok: ttToken,
	}})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close) // releases hung requests before the server closes
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)

	kr, err := secret.NewKeyring("k1", map[string][]byte{"k1": bytes.Repeat([]byte{7}, secret.KeySize)})
	require.NoError(t, err)

	mc := meta.Defaults()
	mc.BaseURL = srv.URL + "/meta"
	mc.Timeout = 5 * time.Second
	gc := google.Defaults()
	gc.BaseURL = srv.URL + "/google"
	gc.Timeout = 5 * time.Second
	tc := tiktok.Defaults()
	tc.BaseURL = srv.URL + "/tiktok"
	tc.Timeout = 5 * time.Second
	e := &env{t: t, sim: sim, q: q, st: st, kr: kr, cfg: cfg, client: client, base: srv.URL}
	e.deps = dispatch.Deps{
		Queue: q, Pixels: st, Keyring: kr, Audit: st,
		Destinations: []platforms.Destination{meta.New(mc, client), google.New(gc, client), tiktok.New(tc, client)},
		Consumer:     "test-" + uuid.NewString()[:8],
		OnAuthFailure: func(tenant, id string) {
			e.authMu.Lock()
			defer e.authMu.Unlock()
			e.auth = append(e.auth, tenant+"/"+id)
		},
		OnRecovered: func(tenant, id string) {
			e.authMu.Lock()
			defer e.authMu.Unlock()
			e.recovered = append(e.recovered, tenant+"/"+id)
		},
	}
	return e
}

func (e *env) start() {
	e.t.Helper()
	e.eng = dispatch.New(e.cfg, e.deps)
	require.NoError(e.t, e.eng.Start(e.t.Context()))
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(e.t, e.eng.Stop(ctx))
	})
}

func (e *env) tenant() string { return storetest.NewTenant(e.t, e.st).ID }

// pixel creates a pixel with valid credentials (unless creds is given).
func (e *env) pixel(tenant, platform string, serverSide bool, creds map[string]string) store.Pixel {
	e.t.Helper()
	var pixelID string
	switch platform {
	case store.PlatformMeta:
		pixelID = fmt.Sprint(100_000_000_000_000 + rand.Int64N(900_000_000_000_000))
		if creds == nil {
			creds = map[string]string{"access_token": metaToken}
		}
	case store.PlatformGoogle:
		pixelID = "G-" + strings.ToUpper(strings.ReplaceAll(uuid.NewString(), "-", "")[:10])
		if creds == nil {
			creds = map[string]string{"api_secret": gaSecret}
		}
	case store.PlatformTikTok:
		pixelID = strings.ToUpper(strings.ReplaceAll(uuid.NewString(), "-", "")[:20])
		if creds == nil {
			creds = map[string]string{"access_token": ttToken}
		}
	}
	b, err := json.Marshal(creds)
	require.NoError(e.t, err)
	sealed, err := e.kr.Seal(b)
	require.NoError(e.t, err)
	p, err := e.st.CreatePixel(e.t.Context(), store.Pixel{
		UUID: uuid.NewString(), TenantID: tenant, Platform: platform, PixelID: pixelID,
		Credentials: sealed, IsActive: true, ServerSideEnabled: serverSide, Status: "unknown",
	})
	require.NoError(e.t, err)
	return p
}

func payload(tenant, id, name string, at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"v": 1, "src": "client", "tenant": tenant, "id": id, "name": name,
		"ts": at.UnixMilli(), "recv": at.UnixMilli(),
		"url": "https://www.example.com/shop", "sid": "1764400000", "visitor": "3f1c2a44-9d1e-4c1e-9f3a-0b7d2c5e8a11",
		"ip": "203.0.113.7", "ua": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0",
		"consent": map[string]any{"a": true, "m": true, "f": true, "policy": "2026-01"},
		"ids":     map[string]any{"fbp": "fb.1.1764400000000.1234567890"},
		"user":    map[string]any{"em": "Jane.Doe@Example.com"},
	})
	return b
}

// admit queues one event (a conversion) and returns its id.
func (e *env) admit(tenant, name string) string {
	e.t.Helper()
	id := uuid.NewString()
	e.admitID(tenant, id, name, payload(tenant, id, name, time.Now()), queue.Queued)
	return id
}

func (e *env) admitID(tenant, id, name string, body []byte, want queue.Result) {
	e.t.Helper()
	res, err := e.q.Admit(e.t.Context(), []queue.Entry{{
		TenantID: tenant, EventID: id, EventName: name, Window: 48 * time.Hour, Conversion: true, Payload: body,
	}})
	require.NoError(e.t, err)
	require.Equal(e.t, []queue.Result{want}, res)
}

// delivered maps each event id the simulator accepted for the pixel to the
// number of accepted requests that carried it.
func (e *env) delivered(p store.Pixel) map[string]int {
	out := map[string]int{}
	for _, r := range e.requests(p) {
		if !r.Accepted {
			continue
		}
		for i, id := range platformsim.EventIDs(r.Platform, r.Body) {
			if !slices.Contains(r.Rejected, i) {
				out[id]++
			}
		}
	}
	return out
}

// requests are every request the simulator received for the pixel.
func (e *env) requests(p store.Pixel) []platformsim.Request {
	var out []platformsim.Request
	for _, r := range e.sim.Requests(p.Platform) {
		switch p.Platform {
		case store.PlatformMeta:
			if !strings.Contains(r.Path, "/"+p.PixelID+"/") {
				continue
			}
		case store.PlatformGoogle:
			if !strings.Contains(r.RawQuery, "measurement_id="+p.PixelID) {
				continue
			}
		case store.PlatformTikTok:
			if !bytes.Contains(r.Body, []byte(`"`+p.PixelID+`"`)) {
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// outcomes are the audit's outcomes of the event (oldest first).
func (e *env) outcomes(tenant, eventID string) []store.DeliveryOutcome {
	e.t.Helper()
	evs, err := e.st.RecentEvents(e.t.Context(), tenant, 1000)
	require.NoError(e.t, err)
	for _, ev := range evs {
		if ev.Event.EventID == eventID {
			return ev.Outcomes
		}
	}
	return nil
}

// final returns the last outcome of the event for the pixel, "" if none.
func (e *env) final(tenant, eventID, pixelUUID string) store.DeliveryOutcome {
	var last store.DeliveryOutcome
	for _, o := range e.outcomes(tenant, eventID) {
		if o.PixelUUID == pixelUUID {
			last = o
		}
	}
	return last
}

func (e *env) lag() int64 {
	n, err := e.q.Lag(e.t.Context())
	require.NoError(e.t, err)
	return n
}

func eventually(t testing.TB, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: "+msg, args...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) waitStatus(tenant, eventID string, p store.Pixel, status string) store.DeliveryOutcome {
	e.t.Helper()
	var o store.DeliveryOutcome
	eventually(e.t, func() bool {
		o = e.final(tenant, eventID, p.UUID)
		return o.Status == status
	}, "event %s: pixel %s (%s) never reached %q (last %q)", eventID, p.UUID, p.Platform, status, o.Status)
	return o
}

func TestDeliversOncePerPixelOfItsTenantOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	a, b := e.tenant(), e.tenant()
	aMeta := e.pixel(a, store.PlatformMeta, true, nil)
	aGoogle := e.pixel(a, store.PlatformGoogle, true, nil)
	aOff := e.pixel(a, store.PlatformMeta, false, nil)
	bMeta := e.pixel(b, store.PlatformMeta, true, nil)
	bGoogle := e.pixel(b, store.PlatformGoogle, true, nil)
	e.start()

	var ids []string
	for range 7 {
		ids = append(ids, e.admit(a, "lead"))
	}
	bID := e.admit(b, "lead")
	for _, id := range ids {
		e.waitStatus(a, id, aMeta, dispatch.StatusDelivered)
		e.waitStatus(a, id, aGoogle, dispatch.StatusDelivered)
	}
	eventually(t, func() bool { return e.lag() == 0 }, "every entry acknowledged by every group")

	for _, p := range []store.Pixel{aMeta, aGoogle} {
		got := e.delivered(p)
		require.Len(t, got, len(ids), "pixel %s", p.Platform)
		for _, id := range ids {
			require.Equal(t, 1, got[id], "%s: event %s in exactly one accepted request", p.Platform, id)
		}
		for _, r := range e.requests(p) {
			require.True(t, r.Accepted, "no rejected request: %v", r.Errors)
		}
	}
	require.Empty(t, e.requests(aOff), "server_side_enabled=false gets nothing")
	require.Empty(t, e.final(a, ids[0], aOff.UUID).Status, "no outcome for a disabled pixel")
	for _, p := range []store.Pixel{bMeta, bGoogle} {
		e.waitStatus(b, bID, p, dispatch.StatusDelivered)
		require.Equal(t, map[string]int{bID: 1}, e.delivered(p), "another tenant's pixel gets only its own events")
	}
	for _, p := range []store.Pixel{aMeta, aGoogle} {
		require.NotContains(t, e.delivered(p), bID, "tenant B's event never reaches tenant A's pixels")
	}
	// Audit rows: once per event, user data sealed and hashed.
	evs, err := e.st.RecentEvents(t.Context(), a, 100)
	require.NoError(t, err)
	require.Len(t, evs, len(ids))
	for _, ev := range evs {
		require.Equal(t, "lead", ev.Event.EventName)
		require.Equal(t, "203.0.113.7", ev.Event.ClientIP, "the IP is kept as given")
		require.False(t, ev.Event.UserData.IsZero())
		plain, err := e.kr.Open(ev.Event.UserData)
		require.NoError(t, err)
		require.NotContains(t, string(plain), "example.com", "user data is hashed")
		require.Contains(t, string(plain), `"em":"`)
		for _, o := range ev.Outcomes {
			require.Equal(t, 1, o.Attempts)
			require.NotEmpty(t, o.ResponseID, "outcomes reference the platform's answer")
		}
	}
}

func TestRetriesAfterA500(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	ten := e.tenant()
	px := e.pixel(ten, store.PlatformMeta, true, nil)
	gx := e.pixel(ten, store.PlatformGoogle, true, nil)
	e.sim.Inject(platformsim.Meta, platformsim.Fault{Status: http.StatusInternalServerError, Times: 1})
	reg := prometheus.NewRegistry()
	e.deps.Registerer = reg
	e.start()
	id := e.admit(ten, "lead")

	o := e.waitStatus(ten, id, px, dispatch.StatusDelivered)
	require.Equal(t, 2, o.Attempts)
	e.waitStatus(ten, id, gx, dispatch.StatusDelivered)
	require.Equal(t, map[string]int{id: 1}, e.delivered(px), "exactly one 2xx request carried it")
	reqs := e.requests(px)
	require.Len(t, reqs, 2, "the raw log shows the failed attempt")
	require.Equal(t, http.StatusInternalServerError, reqs[0].Status)
	require.Equal(t, map[string]int{id: 1}, e.delivered(gx), "a Meta retry never re-sends to GA4")
	require.Len(t, e.requests(gx), 1)

	var statuses []string
	for _, o := range e.outcomes(ten, id) {
		if o.PixelUUID == px.UUID {
			statuses = append(statuses, o.Status)
		}
	}
	require.Equal(t, []string{dispatch.StatusRetrying, dispatch.StatusDelivered}, statuses)

	counts := map[string]float64{}
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if labels["platform"] != store.PlatformMeta {
				continue
			}
			switch mf.GetName() {
			case "pixelgw_deliveries_total":
				counts[labels["outcome"]] = m.GetCounter().GetValue()
			case "pixelgw_delivery_retries_total":
				counts["retries"] = m.GetCounter().GetValue()
			case "pixelgw_platform_request_duration_seconds":
				counts["requests_"+labels["result"]] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	require.Equal(t, 1.0, counts[dispatch.StatusDelivered])
	require.Equal(t, 1.0, counts[dispatch.StatusRetrying])
	require.Equal(t, 1.0, counts["retries"])
	require.Equal(t, 1.0, counts["requests_ok"])
	require.Equal(t, 1.0, counts["requests_retryable"])
}

func TestPermanentFailureIsNotRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	ten := e.tenant()
	px := e.pixel(ten, store.PlatformMeta, true, nil)
	e.sim.Inject(platformsim.Meta, platformsim.Fault{Status: http.StatusBadRequest})
	e.start()
	id := e.admit(ten, "lead")

	o := e.waitStatus(ten, id, px, dispatch.StatusFailed)
	require.Equal(t, 1, o.Attempts)
	eventually(t, func() bool { return e.lag() == 0 }, "acknowledged once failed")
	require.Len(t, e.requests(px), 1, "no retry")
}

func TestExhaustedRetriesAreDead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	ten := e.tenant()
	px := e.pixel(ten, store.PlatformMeta, true, nil)
	e.sim.Inject(platformsim.Meta, platformsim.Fault{Status: http.StatusServiceUnavailable, RetryAfter: time.Second})
	e.start()
	id := e.admit(ten, "lead")

	o := e.waitStatus(ten, id, px, dispatch.StatusDead)
	require.Equal(t, 3, o.Attempts)
	eventually(t, func() bool { return e.lag() == 0 }, "acknowledged once dead")
	reqs := e.requests(px)
	require.Len(t, reqs, 3)
	for _, r := range reqs {
		require.Equal(t, http.StatusServiceUnavailable, r.Status)
	}
	require.Empty(t, e.delivered(px))
}

// TestAttemptsPerPlatform: platforms.meta.attempts = 5 overrides the
// dispatch default (3) for Meta only; GA4 keeps 3.
func TestAttemptsPerPlatform(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.PlatformAttempts = map[string]int{store.PlatformMeta: 5}
	e := newEnv(t, cfg)
	ten := e.tenant()
	pm := e.pixel(ten, store.PlatformMeta, true, nil)
	pg := e.pixel(ten, store.PlatformGoogle, true, nil)
	e.sim.Inject(platformsim.Meta, platformsim.Fault{Status: http.StatusServiceUnavailable})
	e.sim.Inject(platformsim.Google, platformsim.Fault{Status: http.StatusServiceUnavailable})
	e.start()
	id := e.admit(ten, "lead")

	require.Equal(t, 5, e.waitStatus(ten, id, pm, dispatch.StatusDead).Attempts)
	require.Equal(t, 3, e.waitStatus(ten, id, pg, dispatch.StatusDead).Attempts)
	eventually(t, func() bool { return e.lag() == 0 }, "acknowledged once dead")
	require.Len(t, e.requests(pm), 5)
	require.Len(t, e.requests(pg), 3)
}

func TestAuthFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	ten := e.tenant()
	bad := e.pixel(ten, store.PlatformMeta, true, map[string]string{"access_token": "EAAB-wrong-token-000000000000"})
	good := e.pixel(ten, store.PlatformMeta, true, nil)
	e.start()
	id := e.admit(ten, "lead")

	e.waitStatus(ten, id, bad, dispatch.StatusFailed)
	e.waitStatus(ten, id, good, dispatch.StatusDelivered)
	e.authMu.Lock()
	defer e.authMu.Unlock()
	require.Equal(t, []string{ten + "/" + bad.UUID}, e.auth, "the callback gets the tenant and the pixel")
	require.Empty(t, e.recovered, "neither pixel was red")
	require.Len(t, e.requests(bad), 1)
	for _, r := range e.requests(bad) {
		require.NotContains(t, string(r.Response), "EAAB-wrong", "the token is not echoed")
	}
}

func TestRecoveredAfterRed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	ten := e.tenant()
	red := e.pixel(ten, store.PlatformMeta, true, nil)
	_, err := e.st.UpdatePixel(t.Context(), ten, red.UUID, store.PixelPatch{Status: ptr("red")})
	require.NoError(t, err)
	green := e.pixel(ten, store.PlatformGoogle, true, nil)
	_, err = e.st.UpdatePixel(t.Context(), ten, green.UUID, store.PixelPatch{Status: ptr("green")})
	require.NoError(t, err)
	badRed := e.pixel(ten, store.PlatformTikTok, true, map[string]string{"access_token": "tt-wrong-token-000000000000"})
	_, err = e.st.UpdatePixel(t.Context(), ten, badRed.UUID, store.PixelPatch{Status: ptr("red")})
	require.NoError(t, err)
	e.start()
	id := e.admit(ten, "lead")

	e.waitStatus(ten, id, red, dispatch.StatusDelivered)
	e.waitStatus(ten, id, green, dispatch.StatusDelivered)
	e.waitStatus(ten, id, badRed, dispatch.StatusFailed)
	e.authMu.Lock()
	defer e.authMu.Unlock()
	require.Equal(t, []string{ten + "/" + red.UUID}, e.recovered,
		"only the red pixel that delivered is reported recovered")
	require.Empty(t, e.auth, "a pixel already red is not reported again")
}

func TestSkippedAndUndecodable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	ten := e.tenant()
	px := e.pixel(ten, store.PlatformMeta, true, nil)
	gx := e.pixel(ten, store.PlatformGoogle, true, nil)
	e.start()

	// No marketing consent: Meta skips it, GA4 (analytics) sends it.
	id := uuid.NewString()
	var m map[string]any
	require.NoError(t, json.Unmarshal(payload(ten, id, "lead", time.Now()), &m))
	m["consent"] = map[string]any{"a": true, "m": false}
	body, err := json.Marshal(m)
	require.NoError(t, err)
	e.admitID(ten, id, "lead", body, queue.Queued)
	// Garbage is acknowledged (recorded "failed"), never blocks the engine.
	e.admitID(ten, uuid.NewString(), "lead", []byte("not json"), queue.Queued)

	o := e.waitStatus(ten, id, px, dispatch.StatusSkipped)
	require.Zero(t, o.Attempts)
	e.waitStatus(ten, id, gx, dispatch.StatusDelivered)
	eventually(t, func() bool { return e.lag() == 0 }, "everything acknowledged")
	require.Empty(t, e.requests(px))
}

func TestMergeEntriesAreRecorded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	ten := e.tenant()
	px := e.pixel(ten, store.PlatformMeta, true, nil)
	e.start()
	id := e.admit(ten, "lead")
	e.waitStatus(ten, id, px, dispatch.StatusDelivered)
	e.admitID(ten, id, "lead", payload(ten, id, "lead", time.Now()), queue.Duplicate)

	e.waitStatus(ten, id, px, dispatch.StatusMerged)
	eventually(t, func() bool { return e.lag() == 0 }, "merge acknowledged")
	require.Equal(t, map[string]int{id: 1}, e.delivered(px), "a merge is never sent on its own")
	require.Len(t, e.requests(px), 1, "a merge after the first send is not sent again")
	evs, err := e.st.RecentEvents(t.Context(), ten, 10)
	require.NoError(t, err)
	require.Len(t, evs, 1, "one audit row per event")
}

func TestStopDrainsBatchedEvents(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxWait = time.Minute // only Stop's drain can send them
	e := newEnv(t, cfg)
	ten := e.tenant()
	px := e.pixel(ten, store.PlatformMeta, true, nil)
	// Queued before Start: Start's first read claims them.
	ids := []string{e.admit(ten, "lead"), e.admit(ten, "lead")}
	e.eng = dispatch.New(e.cfg, e.deps)
	require.NoError(t, e.eng.Start(t.Context()))
	require.NoError(t, e.eng.Start(t.Context()), "Start is idempotent")

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, e.eng.Stop(ctx))
	require.NoError(t, e.eng.Stop(ctx), "Stop is idempotent")
	require.Error(t, e.eng.Start(t.Context()), "no restart after Stop")

	require.Equal(t, map[string]int{ids[0]: 1, ids[1]: 1}, e.delivered(px))
	for _, id := range ids {
		require.Equal(t, dispatch.StatusDelivered, e.final(ten, id, px.UUID).Status)
	}
	require.Zero(t, e.lag(), "drained work is acknowledged")
}

func TestStopPastDeadlineAcksNothingUnfinished(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	ten := e.tenant()
	px := e.pixel(ten, store.PlatformMeta, true, nil)
	e.sim.Inject(platformsim.Meta, platformsim.Fault{Hang: true})
	id := e.admit(ten, "lead")
	e.eng = dispatch.New(e.cfg, e.deps)
	require.NoError(t, e.eng.Start(t.Context()))

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, e.eng.Stop(ctx), context.DeadlineExceeded)
	require.Empty(t, e.final(ten, id, px.UUID).Status, "no outcome for the cut-short request")
	require.Positive(t, e.lag(), "the unfinished entry stays pending in the queue")
	require.Empty(t, e.delivered(px))
}

func TestPartialBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	ten := e.tenant()
	px := e.pixel(ten, store.PlatformTikTok, true, nil)
	// Queued before Start: Start's first read claims both, one batch.
	ids := []string{uuid.NewString(), uuid.NewString()}
	now := time.Now()
	res, err := e.q.Admit(t.Context(), []queue.Entry{
		{TenantID: ten, EventID: ids[0], EventName: "lead", Window: time.Hour, Conversion: true, Payload: payload(ten, ids[0], "lead", now)},
		{TenantID: ten, EventID: ids[1], EventName: "lead", Window: time.Hour, Conversion: true, Payload: payload(ten, ids[1], "lead", now)},
	})
	require.NoError(t, err)
	require.Equal(t, []queue.Result{queue.Queued, queue.Queued}, res)
	e.sim.Inject(platformsim.TikTok, platformsim.Fault{PartialIndexes: []int{1}, Times: 1})
	e.start()

	e.waitStatus(ten, ids[0], px, dispatch.StatusDelivered)
	o := e.waitStatus(ten, ids[1], px, dispatch.StatusFailed)
	require.Equal(t, 1, o.Attempts)
	eventually(t, func() bool { return e.lag() == 0 }, "acknowledged")
	require.Len(t, e.requests(px), 1, "a permanent per-event rejection is not retried")
	require.Equal(t, map[string]int{ids[0]: 1}, e.delivered(px))
	require.Equal(t, e.final(ten, ids[0], px.UUID).ResponseID, o.ResponseID, "one answer, referenced by both outcomes")
}

// flaky rejects the first event of its first request as retryable and
// accepts everything else.
type flaky struct {
	mu    sync.Mutex
	calls [][]string
}

func (f *flaky) Platform() string { return store.PlatformMeta }
func (f *flaky) MaxBatch() int    { return 10 }
func (f *flaky) Check(*platforms.Pixel, *platforms.Event, time.Time) error {
	return nil
}

func (f *flaky) Send(_ context.Context, _ *platforms.Pixel, evs []*platforms.Event) (platforms.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.EventID)
	}
	f.calls = append(f.calls, ids)
	if len(f.calls) == 1 {
		return platforms.Response{HTTPStatus: 200, Body: []byte(`{"partial":true}`)}, &platforms.BatchError{Errs: map[int]error{
			0: &platforms.RetryableError{Err: fmt.Errorf("throttled")},
		}}
	}
	return platforms.Response{HTTPStatus: 200, Body: []byte(`{}`)}, nil
}

func TestBatchErrorRetriesOnlyTheRetryableEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	f := &flaky{}
	e.deps.Destinations = []platforms.Destination{f}
	ten := e.tenant()
	px := e.pixel(ten, store.PlatformMeta, true, nil)
	ids := []string{uuid.NewString(), uuid.NewString(), uuid.NewString()}
	now := time.Now()
	var entries []queue.Entry
	for _, id := range ids {
		entries = append(entries, queue.Entry{TenantID: ten, EventID: id, EventName: "lead", Window: time.Hour, Conversion: true, Payload: payload(ten, id, "lead", now)})
	}
	_, err := e.q.Admit(t.Context(), entries)
	require.NoError(t, err)
	e.start()

	for _, id := range ids {
		e.waitStatus(ten, id, px, dispatch.StatusDelivered)
	}
	eventually(t, func() bool { return e.lag() == 0 }, "acknowledged")
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Equal(t, [][]string{ids, {ids[0]}}, f.calls)
	require.Equal(t, 2, e.final(ten, ids[0], px.UUID).Attempts)
	require.Equal(t, 1, e.final(ten, ids[1], px.UUID).Attempts)
}

func TestBadAnswersAreClassifiedAndNeverBlock(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Attempts = 2
	e := newEnv(t, cfg)
	mc := meta.Defaults()
	mc.BaseURL = e.base + "/meta"
	mc.Timeout = 200 * time.Millisecond
	e.deps.Destinations[0] = meta.New(mc, e.client)
	ten := e.tenant()
	px := e.pixel(ten, store.PlatformMeta, true, nil)
	gx := e.pixel(ten, store.PlatformGoogle, true, nil)
	tx := e.pixel(ten, store.PlatformTikTok, true, nil)
	e.sim.Inject(platformsim.Meta, platformsim.Fault{Hang: true})
	e.sim.Inject(platformsim.TikTok, platformsim.Fault{Body: "<html><body>Gateway</body></html>"})
	e.start()
	id := e.admit(ten, "lead")

	e.waitStatus(ten, id, gx, dispatch.StatusDelivered) // GA4 does not wait for Meta
	o := e.waitStatus(ten, id, px, dispatch.StatusDead)
	require.Equal(t, 2, o.Attempts, "a hung request times out and is retried")
	eventually(t, func() bool {
		s := e.final(ten, id, tx.UUID).Status
		return s == dispatch.StatusFailed || s == dispatch.StatusDead
	}, "an HTML answer is classified")
	eventually(t, func() bool { return e.lag() == 0 }, "everything acknowledged")
	require.Empty(t, e.delivered(px))
	require.Empty(t, e.delivered(tx))
}

func ptr[T any](v T) *T { return &v }
