package ops

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/jaraba/pixelgw/internal/syncbuf"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const canaryDSN = "postgres://pgw:CANARY-pw@db:5432/x"

// syncBuffer is a goroutine-safe log sink.
type syncBuffer = syncbuf.Buffer

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	s := New(opts)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Stop(context.Background())) })
	return s
}

// get fetches path from s with the given Host header, without keep-alive so
// no client goroutine outlives the test.
func get(t *testing.T, s *Server, method, path, host string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, "http://"+s.Addr()+path, nil)
	require.NoError(t, err)
	if host != "" {
		req.Host = host
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(body)
}

func TestHealthzAnyHost(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	for _, host := range []string{"", "pixelgw.internal", "evil.example:9999"} {
		code, h, body := get(t, s, http.MethodGet, "/healthz", host)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "ok\n", body)
		require.Equal(t, "no-store", h.Get("Cache-Control"))
	}
	code, _, _ := get(t, s, http.MethodHead, "/healthz", "")
	require.Equal(t, http.StatusOK, code)
	code, _, _ = get(t, s, http.MethodPost, "/healthz", "")
	require.Equal(t, http.StatusMethodNotAllowed, code)
	code, _, _ = get(t, s, http.MethodGet, "/api/v1/tenants", "")
	require.Equal(t, http.StatusNotFound, code)
}

func TestMetricsServesRegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "pixelgw_test_events_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	s := startServer(t, Options{Registry: reg})
	code, _, body := get(t, s, http.MethodGet, "/metrics", "any.host")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "pixelgw_test_events_total 3")
}

func TestMetricsWithoutRegistry(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	code, _, _ := get(t, s, http.MethodGet, "/metrics", "")
	require.Equal(t, http.StatusOK, code)
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	leaky := func(context.Context) error { return errors.New("cannot connect to " + canaryDSN) }
	blocks := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	panics := func(context.Context) error { panic("boom") }

	cases := []struct {
		name     string
		checks   []Check
		wantCode int
		wantBody string
	}{
		{"no checks", nil, http.StatusOK, `{"status":"ready"}` + "\n"},
		{"all pass", []Check{{"postgres", ok}, {"redis", ok}}, http.StatusOK, `{"status":"ready"}` + "\n"},
		{"one fails", []Check{{"postgres", leaky}, {"redis", ok}}, http.StatusServiceUnavailable, `{"status":"not ready","failing":["postgres"]}` + "\n"},
		{"timeout", []Check{{"redis", blocks}, {"postgres", ok}}, http.StatusServiceUnavailable, `{"status":"not ready","failing":["redis"]}` + "\n"},
		{"panic", []Check{{"sqlite", panics}}, http.StatusServiceUnavailable, `{"status":"not ready","failing":["sqlite"]}` + "\n"},
		{"nil func", []Check{{"x", nil}}, http.StatusServiceUnavailable, `{"status":"not ready","failing":["x"]}` + "\n"},
		{"all fail in order", []Check{{"b", leaky}, {"a", leaky}}, http.StatusServiceUnavailable, `{"status":"not ready","failing":["b","a"]}` + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			s := startServer(t, Options{
				Checks:       tc.checks,
				CheckTimeout: 20 * time.Millisecond,
				Logger:       slog.New(slog.NewJSONHandler(&logs, nil)),
			})
			code, h, body := get(t, s, http.MethodGet, "/readyz", "lb.example")
			require.Equal(t, tc.wantCode, code)
			require.Equal(t, tc.wantBody, body)
			require.Equal(t, "application/json", h.Get("Content-Type"))
			require.NotContains(t, body, "CANARY")
		})
	}
}

func TestReadyzLogsFailureOnceAndRecovery(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	var mu sync.Mutex
	var fail error = errors.New("cannot ping: connection refused")
	check := func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		return fail
	}
	s := startServer(t, Options{Checks: []Check{{"postgres", check}}, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})

	for range 3 {
		code, _, _ := get(t, s, http.MethodGet, "/readyz", "")
		require.Equal(t, http.StatusServiceUnavailable, code)
	}
	require.Equal(t, 1, strings.Count(logs.String(), "readiness check failing"))
	require.Contains(t, logs.String(), `"check":"postgres"`)
	require.Contains(t, logs.String(), "connection refused")

	mu.Lock()
	fail = nil
	mu.Unlock()
	code, _, _ := get(t, s, http.MethodGet, "/readyz", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, 1, strings.Count(logs.String(), "readiness check recovered"))
}

func TestDraining(t *testing.T) {
	t.Parallel()
	called := false
	var mu sync.Mutex
	s := startServer(t, Options{Checks: []Check{{"postgres", func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		called = true
		return nil
	}}}})
	code, _, _ := get(t, s, http.MethodGet, "/readyz", "")
	require.Equal(t, http.StatusOK, code)
	require.False(t, s.Draining())

	s.SetDraining()
	mu.Lock()
	called = false
	mu.Unlock()
	code, _, body := get(t, s, http.MethodGet, "/readyz", "")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, `{"status":"draining"}`+"\n", body)
	mu.Lock()
	require.False(t, called, "checks are skipped while draining")
	mu.Unlock()

	code, _, _ = get(t, s, http.MethodGet, "/healthz", "")
	require.Equal(t, http.StatusOK, code, "still alive while draining")
}

func TestPortConflictFailsAtStart(t *testing.T) {
	t.Parallel()
	a := startServer(t, Options{})
	b := New(Options{Listen: a.Addr()})
	err := b.Start(context.Background())
	require.ErrorIs(t, err, syscall.EADDRINUSE)
	require.ErrorContains(t, err, `cannot listen on ops address "`+a.Addr()+`"`)
	require.Empty(t, b.Addr())
	require.NoError(t, b.Stop(context.Background()))
}

func TestBadListenAddress(t *testing.T) {
	t.Parallel()
	s := New(Options{Listen: "not-an-address"})
	require.ErrorContains(t, s.Start(context.Background()), `cannot listen on ops address "not-an-address"`)
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	never := New(Options{Listen: "127.0.0.1:0"})
	require.NoError(t, never.Stop(ctx), "stop before start")
	require.NoError(t, never.Stop(ctx), "stop twice")
	require.ErrorIs(t, never.Start(ctx), ErrStopped)

	s := New(Options{Listen: "127.0.0.1:0"})
	require.Empty(t, s.Addr())
	require.NoError(t, s.Start(ctx))
	addr := s.Addr()
	require.NotEmpty(t, addr)
	require.NoError(t, s.Start(ctx), "start twice")
	require.Equal(t, addr, s.Addr())
	code, _, _ := get(t, s, http.MethodGet, "/healthz", "")
	require.Equal(t, http.StatusOK, code)

	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { require.NoError(t, s.Stop(ctx)) })
	}
	wg.Wait()
	require.NoError(t, s.Stop(ctx))
	require.ErrorIs(t, s.Start(ctx), ErrStopped)
	require.True(t, s.Draining())

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err == nil {
		_ = conn.Close()
	}
	require.Error(t, err, "listener is closed after Stop")
}

func TestStopClosesIdleConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New(Options{Listen: "127.0.0.1:0"})
	require.NoError(t, s.Start(ctx))
	// A keep-alive client leaves an idle connection open on the server.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	resp, err := client.Get("http://" + s.Addr() + "/healthz")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, s.Stop(ctx))
}

func TestPprofOnlyWhenEnabled(t *testing.T) {
	t.Parallel()
	off := startServer(t, Options{})
	code, _, _ := get(t, off, http.MethodGet, "/debug/pprof/", "")
	require.Equal(t, http.StatusNotFound, code, "the profiler is off by default")

	on := startServer(t, Options{Pprof: true})
	code, _, body := get(t, on, http.MethodGet, "/debug/pprof/", "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "goroutine")
	code, _, _ = get(t, on, http.MethodGet, "/debug/pprof/goroutine?debug=1", "")
	require.Equal(t, http.StatusOK, code)
}
