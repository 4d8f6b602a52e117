package test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/proxy/tenant"
)

// liveStream is an open GET /api/v1/tracking/events/stream: every message
// it received, by event type.
type liveStream struct {
	mu   sync.Mutex
	msgs []sseEvent
	done chan struct{}
}

type sseEvent struct {
	Event string
	Data  map[string]any
	Raw   string
}

// openLiveStream opens the stream on an API address and reads it in the
// background until the test ends.
func openLiveStream(t *testing.T, api, token string) *liveStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+api+"/api/v1/tracking/events/stream", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	s := &liveStream{done: make(chan struct{})}
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-s.done
	})
	go func() {
		defer close(s.done)
		rd := bufio.NewReader(resp.Body)
		var ev sseEvent
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "" && ev.Event != "":
				_ = json.Unmarshal([]byte(ev.Raw), &ev.Data)
				s.mu.Lock()
				s.msgs = append(s.msgs, ev)
				s.mu.Unlock()
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				ev.Raw = line[len("data: "):]
			}
		}
	}()
	return s
}

func (s *liveStream) all() []sseEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sseEvent(nil), s.msgs...)
}

// waitFor polls the stream until ok holds for one message.
func (s *liveStream) waitFor(t *testing.T, what string, ok func(sseEvent) bool) sseEvent {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, m := range s.all() {
			if ok(m) {
				return m
			}
		}
		require.True(t, time.Now().Before(deadline), "no %s on the stream; got %+v", what, s.all())
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLiveStreamAcrossInstances runs two scaled instances on one
// PostgreSQL schema and one Redis prefix, only A delivering: a stream
// opened on B shows a purchase sent to A's edge — accepted, then delivered
// to each of the demo tenant's pixels with the simulator's HTTP status, all
// published by A — and the demo tenant's
// stream never shows another tenant's events, which do reach that tenant's
// own stream.
func TestLiveStreamAcrossInstances(t *testing.T) {
	t.Parallel()
	schema, prefix, _ := scaledStores(t)

	env := append(scaledEnv(t, schema, prefix),
		"PIXELGW_PLATFORMS_SIMULATOR=true",
		"PIXELGW_PLATFORMS_DISPATCH_MERGE_WINDOW=1s",
	)
	_, errOut, code := pixelgw(t, env, "migrate")
	require.Equal(t, 0, code, errOut)
	_, errOut, code = pixelgw(t, env, "seed-demo")
	require.Equal(t, 0, code, errOut)
	// B runs no delivery engine: whatever its streams show was published
	// by A, through Redis.
	a, b := startServer(t, env), startServer(t, append(append([]string{}, env...), "PIXELGW_PLATFORMS_DELIVER=false"))

	op, errOut, code := pixelgw(t, env, "token", "-role", "operator", "-ttl", "10m")
	require.Equal(t, 0, code, errOut)
	op = strings.TrimSpace(op)
	demoTok, errOut, code := pixelgw(t, env, "token", "-tenant", "demo", "-role", "viewer", "-ttl", "10m")
	require.Equal(t, 0, code, errOut)
	demoTok = strings.TrimSpace(demoTok)
	status, ten := apiReq(t, a.api, "GET", "/api/v1/tenant", demoTok, nil)
	require.Equal(t, 200, status, ten)
	demoID := ten["id"].(string)
	status, pixels := apiReq(t, a.api, "GET", "/api/v1/tracking/pixels", demoTok, nil)
	require.Equal(t, 200, status)
	demoPixels := map[string]bool{}
	for _, p := range pixels["pixels"].([]any) {
		demoPixels[p.(map[string]any)["uuid"].(string)] = true
	}
	require.NotEmpty(t, demoPixels)

	// Another tenant, with a site and a domain, no pixels.
	status, created := apiReq(t, a.api, "POST", "/api/v1/tenants", op, map[string]any{
		"slug": "other", "name": "Other", "settings": map[string]any{"sites": []string{"https://www.other.example"}},
	})
	require.Equal(t, 201, status, created)
	otherID := created["id"].(string)
	otherPaths := created["edge_paths"].(map[string]any)
	status, _ = apiReq(t, a.api, "POST", "/api/v1/tenants/"+otherID+"/domains", op, map[string]any{"hostname": "t.other.example"})
	require.Equal(t, 201, status)
	otherTok, errOut, code := pixelgw(t, env, "token", "-tenant", "other", "-ttl", "10m")
	require.Equal(t, 0, code, errOut)

	// Streams: the demo tenant's on B, the other tenant's on A.
	demoStream := openLiveStream(t, b.api, demoTok)
	otherStream := openLiveStream(t, a.api, strings.TrimSpace(otherTok))

	post := func(addr, host, path, body, origin string, cookies map[string]string) (int, map[string]string) {
		st, _, cs := edgeReq(t, addr, "POST", host, path, body,
			"Origin", origin, "Content-Type", "text/plain;charset=UTF-8", "Cookie", cookieHdr(cookies))
		return st, cs
	}
	consentJSON := `{"v":1,"analytics":true,"marketing":true,"functional":false,"policy":"1"}`

	// The other tenant's event first (its edge answers within ~1s of the
	// tenant's creation).
	otherOrigin := "https://www.other.example"
	var otherCookies map[string]string
	deadline := time.Now().Add(10 * time.Second)
	for {
		var st int
		st, otherCookies = post(b.edge, "t.other.example", otherPaths["consent"].(string), consentJSON, otherOrigin, nil)
		if st == 204 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the other tenant is never served (%d)", st)
		time.Sleep(50 * time.Millisecond)
	}
	otherEvent := uuid.NewString()
	st, _ := post(b.edge, "t.other.example", otherPaths["collect"].(string), pageBeacon("purchase", otherEvent), otherOrigin, otherCookies)
	require.Equal(t, 204, st)

	// The demo's purchase, through A's edge.
	collect, consentPath := tenant.DefaultPath(demoID, tenant.KindCollect), tenant.DefaultPath(demoID, tenant.KindConsent)
	st, cookies := post(a.edge, "t.demo.localhost", consentPath, consentJSON, demoOrigin, nil)
	require.Equal(t, 204, st)
	demoEvent := uuid.NewString()
	// With the identifiers every platform needs (as in TestDemoDeliversToEveryPlatform).
	body := `{"v":1,"events":[{"name":"purchase","id":"` + demoEvent + `","ts":` + strconv.FormatInt(time.Now().UnixMilli(), 10) +
		`,"url":"http://www.demo.localhost:8080/","props":{"value":49.9,"currency":"EUR"},"user":{"em":"jane@example.com"}}],` +
		`"ids":{"fbp":"fb.1.1732880000000.1116446470","ttclid":"E.C.P.abc","twclid":"tw123","li_fat_id":"li-1"}}`
	st, _ = post(a.edge, "t.demo.localhost", collect, body, demoOrigin, cookies)
	require.Equal(t, 204, st)

	acc := demoStream.waitFor(t, "accepted demo event", func(m sseEvent) bool {
		return m.Event == "accepted" && m.Data["event_id"] == demoEvent
	})
	require.Equal(t, "purchase", acc.Data["event_name"])
	require.Equal(t, "127.0.0.0/24", acc.Data["client_ip"], "masked like the recent view")
	require.NotContains(t, acc.Raw, "127.0.0.1")
	require.Equal(t, "…6470", acc.Data["fbp"])
	require.Equal(t, true, acc.Data["has_user_data"])
	require.NotContains(t, acc.Raw, "jane@example.com")
	// Each of the demo's pixels answers; the simulator says 2xx (GA4: 204).
	for px := range demoPixels {
		d := demoStream.waitFor(t, "delivery to pixel "+px, func(m sseEvent) bool {
			return m.Event == "delivery" && m.Data["event_id"] == demoEvent && m.Data["pixel"] == px && m.Data["status"] != "retrying"
		})
		require.Equal(t, "delivered", d.Data["status"], "%+v", d.Data)
		require.Equal(t, "purchase", d.Data["event_name"], "%+v", d.Data)
		require.Equal(t, "client", d.Data["source"], "%+v", d.Data)
		code, _ := d.Data["http_status"].(float64)
		require.True(t, code >= 200 && code < 300, "%+v", d.Data)
	}

	// The other tenant's event reached its own stream, never the demo's.
	otherStream.waitFor(t, "accepted other event", func(m sseEvent) bool {
		return m.Event == "accepted" && m.Data["event_id"] == otherEvent
	})
	for _, m := range demoStream.all() {
		require.NotContains(t, m.Raw, otherEvent)
		require.NotContains(t, m.Raw, otherID)
	}
	for _, m := range otherStream.all() {
		require.NotContains(t, m.Raw, demoEvent)
	}
}
