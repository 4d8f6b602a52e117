package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/live"
	"github.com/jaraba/pixelgw/store/live/livemem"
)

// streamServer serves a copy of the env's API with a live hub over real
// HTTP (streaming needs a connection, not a recorder).
func (e *env) streamServer(t *testing.T, hub live.Subscriber, mutate func(*Config)) (*API, *httptest.Server) {
	t.Helper()
	cfg := e.cfg
	if mutate != nil {
		mutate(&cfg)
	}
	api, err := New(cfg, Deps{Store: e.st, Keyring: e.keyring, Logger: e.api.log, Now: e.api.now, Live: hub})
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(api.Handler())
	// Short server timeouts: the stream must outlive them.
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	srv.Config.RegisterOnShutdown(api.CloseStreams)
	srv.Start()
	t.Cleanup(srv.Close)
	return api, srv
}

// sseMsg is one Server-Sent Events message (or comment).
type sseMsg struct {
	event, id, data, comment string
}

type sseClient struct {
	resp *http.Response
	msgs chan sseMsg // closed at EOF
}

// getStream GETs the stream with one header (none when name is "").
func getStream(t *testing.T, srv *httptest.Server, name, value string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/tracking/events/stream", nil)
	require.NoError(t, err)
	if name != "" {
		req.Header.Set(name, value)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// openStream GETs the stream; on 200 it parses messages in the
// background.
func openStream(t *testing.T, srv *httptest.Server, token string) (*http.Response, *sseClient) {
	t.Helper()
	var resp *http.Response
	if token != "" {
		resp = getStream(t, srv, "Authorization", "Bearer "+token)
	} else {
		resp = getStream(t, srv, "", "")
	}
	if resp.StatusCode != http.StatusOK {
		return resp, nil
	}
	c := &sseClient{resp: resp, msgs: make(chan sseMsg, 1024)}
	go func() {
		defer close(c.msgs)
		rd := bufio.NewReader(resp.Body)
		var m sseMsg
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				c.msgs <- m
				m = sseMsg{}
			case strings.HasPrefix(line, ":"):
				m.comment = strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "event: "):
				m.event = line[len("event: "):]
			case strings.HasPrefix(line, "id: "):
				m.id = line[len("id: "):]
			case strings.HasPrefix(line, "data: "):
				m.data = line[len("data: "):]
			}
		}
	}()
	return resp, c
}

// next returns the next message that is not a heartbeat; ok false at EOF.
func (c *sseClient) next(t *testing.T) (sseMsg, bool) {
	t.Helper()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		select {
		case m, ok := <-c.msgs:
			if ok && m.comment == "ping" {
				continue
			}
			return m, ok
		case <-timer.C:
			t.Fatal("no stream message within 10s")
		}
	}
}

func TestEventStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.mustTenant("stream")
	hub := livemem.New(0)
	t.Cleanup(func() { _ = hub.Stop(context.Background()) })
	api, srv := e.streamServer(t, hub, nil)
	api.streams.heartbeat = 50 * time.Millisecond

	resp, c := openStream(t, srv, e.token(RoleViewer, tn.ID))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	m, _ := c.next(t)
	require.Equal(t, "connected", m.comment, "the stream is open once the headers and this line arrive")
	require.True(t, hub.Listening(tn.ID))

	// Outlive the server's read and write timeouts (300ms), with
	// heartbeats meanwhile.
	pings := 0
	for pings < 8 {
		m, ok := <-c.msgs
		require.True(t, ok, "stream ended by the server's timeouts")
		if m.comment == "ping" {
			pings++
		}
	}

	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	hub.Publish(tn.ID, []live.Update{
		{Kind: live.KindAccepted, EventID: "ev-1", At: at, EventName: "purchase", Source: "both", URL: "https://shop.example/thanks",
			ClientIP: "203.0.113.77", UserAgent: "Mozilla/5.0", FBP: "fb.1.1764400000000.1234567890", FBC: "fb.1.1764400000000.AbCdEfGh", GCLID: "Cj0KCQiA-gclid-value", HasUserData: true},
		{Kind: live.KindDelivery, EventID: "ev-1", At: at, EventName: "purchase", Source: "both", Pixel: "3f1c2a44-9d1e-4c1e-9f3a-0b7d2c5e8a11",
			Platform: "meta", Status: "delivered", Attempts: 1, HTTPStatus: 200, Test: true},
		{Kind: live.KindDelivery, EventID: "ev-1", At: at, EventName: "purchase", Source: "server", Pixel: "3f1c2a44-9d1e-4c1e-9f3a-0b7d2c5e8a12",
			Platform: "tiktok", Status: "merged"},
		{Kind: live.KindDelivery, EventID: "ev-0", At: at, Pixel: "3f1c2a44-9d1e-4c1e-9f3a-0b7d2c5e8a12", Platform: "tiktok", Status: "skipped"},
		{Kind: live.KindGap, At: at},
	})
	acc, _ := c.next(t)
	require.Equal(t, "accepted", acc.event)
	require.Equal(t, "1", acc.id)
	require.JSONEq(t, `{"event_id":"ev-1","event_name":"purchase","source":"both","url":"https://shop.example/thanks",
		"client_ip":"203.0.113.0/24","user_agent":"Mozilla/5.0","fbp":"…7890","fbc":"…EfGh","gclid":"…alue",
		"has_user_data":true,"created_at":"2026-11-29T10:00:00Z","deliveries":[]}`, acc.data, "masked exactly like the recent view")
	d1, _ := c.next(t)
	require.Equal(t, "delivery", d1.event)
	require.Equal(t, "2", d1.id)
	require.JSONEq(t, `{"event_id":"ev-1","event_name":"purchase","pixel":"3f1c2a44-9d1e-4c1e-9f3a-0b7d2c5e8a11","platform":"meta",
		"status":"delivered","attempts":1,"at":"2026-11-29T10:00:00Z","source":"both","test":true,"http_status":200}`, d1.data,
		"the event's name, the copy's source and the test flag, like the recent view's outcomes")
	d2, _ := c.next(t)
	require.JSONEq(t, `{"event_id":"ev-1","event_name":"purchase","pixel":"3f1c2a44-9d1e-4c1e-9f3a-0b7d2c5e8a12","platform":"tiktok",
		"status":"merged","attempts":0,"at":"2026-11-29T10:00:00Z","source":"server"}`, d2.data)
	d3, _ := c.next(t)
	require.JSONEq(t, `{"event_id":"ev-0","pixel":"3f1c2a44-9d1e-4c1e-9f3a-0b7d2c5e8a12","platform":"tiktok","status":"skipped","attempts":0,"at":"2026-11-29T10:00:00Z"}`,
		d3.data, "an update from an older instance: no name, source or flag")
	gap, _ := c.next(t)
	require.Equal(t, "gap", gap.event)
	require.Equal(t, "5", gap.id)

	// The recent view shows the same event identically.
	ud, err := e.keyring.Seal([]byte(`{"em":"x"}`))
	require.NoError(t, err)
	require.NoError(t, e.st.AppendEvents(t.Context(), []store.AuditEvent{{
		TenantID: tn.ID, EventID: "ev-1", EventName: "purchase", EventSource: "both", EventSourceURL: "https://shop.example/thanks",
		ClientIP: "203.0.113.77", ClientUserAgent: "Mozilla/5.0", FBP: "fb.1.1764400000000.1234567890", FBC: "fb.1.1764400000000.AbCdEfGh",
		GCLID: "Cj0KCQiA-gclid-value", UserData: ud, CreatedAt: at,
	}}))
	r := e.do("GET", "/api/v1/tracking/events/recent", e.token(RoleViewer, tn.ID), "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	recent := decode[map[string][]json.RawMessage](t, r)["events"]
	require.Len(t, recent, 1)
	require.JSONEq(t, string(recent[0]), acc.data)
	require.NotContains(t, acc.data, "203.0.113.77")

	// Server shutdown ends the stream with an "end" event.
	srv.Config.SetKeepAlivesEnabled(false)
	go func() { _ = srv.Config.Shutdown(context.Background()) }()
	end, ok := c.next(t)
	require.True(t, ok)
	require.Equal(t, "end", end.event)
	require.JSONEq(t, `{"reason":"shutdown"}`, end.data)
	_, ok = c.next(t)
	require.False(t, ok, "then the server closes it")
	require.Eventually(t, func() bool { return !hub.Listening(tn.ID) }, 10*time.Second, 5*time.Millisecond, "unsubscribed")
}

func TestEventStreamRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.mustTenant("stream-refusals")
	hub := livemem.New(0)
	t.Cleanup(func() { _ = hub.Stop(context.Background()) })
	_, srv := e.streamServer(t, hub, func(c *Config) { c.MaxStreams = 1 })

	resp, _ := openStream(t, srv, "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, _ = openStream(t, srv, e.token(RoleOperator, ""))
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "a tenant's stream needs a token naming the tenant")

	// One stream per process here: the second waits for the first.
	resp, c := openStream(t, srv, e.token(RoleAdmin, tn.ID))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	m, _ := c.next(t)
	require.Equal(t, "connected", m.comment)
	resp, _ = openStream(t, srv, e.token(RoleAdmin, tn.ID))
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	b, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(b), `"code":"unavailable"`)
	c.resp.Body.Close()
	require.Eventually(t, func() bool {
		resp, c := openStream(t, srv, e.token(RoleAdmin, tn.ID))
		if c != nil {
			c.resp.Body.Close()
		}
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 10*time.Millisecond, "the slot is freed when the client leaves")

	// API keys send events only: the stream refuses them, in either header.
	r := e.do("POST", "/api/v1/api-keys", e.token(RoleAdmin, tn.ID), `{"name":"backend"}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	key := decode[APIKeyView](t, r).Key
	for _, h := range [][2]string{{"X-API-Key", key}, {"Authorization", "Bearer " + key}} {
		resp := getStream(t, srv, h[0], h[1])
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, h[0])
		b, _ := io.ReadAll(resp.Body)
		require.NotContains(t, string(b), key)
	}

	// Without a hub the route answers 503.
	plain := httptest.NewServer(e.api.Handler())
	t.Cleanup(plain.Close)
	resp, _ = openStream(t, plain, e.token(RoleAdmin, tn.ID))
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
}

// TestEventStreamSlowClientDropped: a client that does not read is dropped
// once its buffer is full — counted, the connection closed — and the
// publisher never waits for it.
func TestEventStreamSlowClientDropped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.mustTenant("stream-slow")
	hub := livemem.New(16)
	t.Cleanup(func() { _ = hub.Stop(context.Background()) })
	_, srv := e.streamServer(t, hub, nil)
	resp, c := openStream(t, srv, e.token(RoleAdmin, tn.ID))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	m, _ := c.next(t)
	require.Equal(t, "connected", m.comment)

	// Stop reading: the parser goroutine blocks once its channel is full,
	// then the socket buffers fill, then the handler's write blocks and
	// the hub's buffer for this stream fills.
	big := strings.Repeat("x", 16<<10)
	deadline := time.Now().Add(60 * time.Second)
	for hub.Stats().Dropped == 0 {
		hub.Publish(tn.ID, []live.Update{{Kind: live.KindAccepted, EventID: "e", URL: "https://shop.example/" + big}})
		require.True(t, time.Now().Before(deadline), "the slow stream was never dropped")
	}
	require.Equal(t, 0, hub.Stats().Subscriptions)
	// Reading again, the client reaches the end: the server closed the
	// stream (after an "end" event, unless its write timed out first).
	var last sseMsg
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	for done := false; !done; {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				done = true
			} else if m.event != "" {
				last = m
			}
		case <-timer.C:
			t.Fatal("the dropped stream was never closed")
		}
	}
	if last.event == "end" {
		require.JSONEq(t, `{"reason":"too_slow"}`, last.data)
	} else {
		require.Equal(t, "accepted", last.event)
	}
}

// TestEventStreamTenantCap: one tenant cannot take every stream of the
// process: past api.max_streams_per_tenant its next stream is refused (503
// + Retry-After) while another tenant still gets one.
func TestEventStreamTenantCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, b := e.mustTenant("stream-cap-a"), e.mustTenant("stream-cap-b")
	hub := livemem.New(0)
	t.Cleanup(func() { _ = hub.Stop(context.Background()) })
	_, srv := e.streamServer(t, hub, func(c *Config) { c.MaxStreams, c.MaxStreamsPerTenant = 3, 2 })

	var open []*sseClient
	for range 2 {
		resp, c := openStream(t, srv, e.token(RoleViewer, a.ID))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		m, _ := c.next(t)
		require.Equal(t, "connected", m.comment)
		open = append(open, c)
	}
	resp, _ := openStream(t, srv, e.token(RoleAdmin, a.ID))
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "the tenant's third stream")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	body, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(body), `"code":"unavailable"`)
	require.Contains(t, string(body), "for this tenant")

	resp, c := openStream(t, srv, e.token(RoleViewer, b.ID))
	require.Equal(t, http.StatusOK, resp.StatusCode, "another tenant still gets the process's last slot")
	m, _ := c.next(t)
	require.Equal(t, "connected", m.comment)
	resp, _ = openStream(t, srv, e.token(RoleViewer, b.ID))
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "the process is full")

	// A stream that ends gives its slot back to its tenant.
	open[0].resp.Body.Close()
	require.Eventually(t, func() bool {
		resp, c := openStream(t, srv, e.token(RoleViewer, a.ID))
		if c != nil {
			c.resp.Body.Close()
		}
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 10*time.Millisecond, "the tenant's slot is freed when its client leaves")
}

// TestEventStreamEndsWhenTokenExpires: the stream stops with
// end: token_expired once the JWT that opened it is no longer valid (exp
// plus the leeway), then the server closes it.
func TestEventStreamEndsWhenTokenExpires(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.mustTenant("stream-expiry")
	hub := livemem.New(0)
	t.Cleanup(func() { _ = hub.Stop(context.Background()) })
	api, srv := e.streamServer(t, hub, func(c *Config) { c.JWT.Leeway = time.Second })
	api.streams.heartbeat = 50 * time.Millisecond

	// Valid for one or two more seconds by the API's clock (the env's,
	// which starts at the truncated now), plus the leeway.
	now := time.Now()
	c := e.claims(RoleViewer, tn.ID)
	c.IssuedAt = jwt.NewNumericDate(now.Add(-time.Hour))
	c.ExpiresAt = jwt.NewNumericDate(now.Add(time.Second))
	tok := sign(t, jwt.SigningMethodHS256, hsSecret, "hs1", c)
	resp, sc := openStream(t, srv, tok)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	m, _ := sc.next(t)
	require.Equal(t, "connected", m.comment)

	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	hub.Publish(tn.ID, []live.Update{{Kind: live.KindDelivery, EventID: "ev-1", At: at, Pixel: "p", Platform: "meta", Status: "delivered"}})
	d, _ := sc.next(t)
	require.Equal(t, "delivery", d.event, "the stream works until then")
	end, ok := sc.next(t)
	require.True(t, ok)
	require.Equal(t, "end", end.event)
	require.JSONEq(t, `{"reason":"token_expired"}`, end.data)
	_, ok = sc.next(t)
	require.False(t, ok, "then the server closes it")
	require.Eventually(t, func() bool { return !hub.Listening(tn.ID) }, 10*time.Second, 5*time.Millisecond, "unsubscribed")
}
