package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp keeps a process-wide date updater, and a stopped worker
		// pool's cleaner exits only after its idle sleep.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	)
}

func get(t *testing.T, addr, host, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	require.NoError(t, err)
	req.Host = host
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestHealthAndReadinessOnAnyHost(t *testing.T) {
	t.Parallel()
	var broken atomic.Bool
	s := New(Config{Listen: "127.0.0.1:0"}, slog.New(slog.DiscardHandler), nil, func(context.Context) error {
		if broken.Load() {
			return errors.New("store down: postgres://user:canary@db")
		}
		return nil
	})
	require.NoError(t, s.Start(context.Background()))
	addr := s.Addr().String()

	for _, host := range []string{"t.tenant.com", "unknown.example", "10.0.0.1"} {
		code, body := get(t, addr, host, "/healthz")
		require.Equal(t, 200, code)
		require.Equal(t, "ok\n", body)
		code, _ = get(t, addr, host, "/readyz")
		require.Equal(t, 200, code, host)
	}

	code, body := get(t, addr, "unknown.example", "/anything")
	require.Equal(t, 404, code)
	require.NotContains(t, body, "pixelgw")

	broken.Store(true)
	code, body = get(t, addr, "lb", "/readyz")
	require.Equal(t, 503, code)
	require.NotContains(t, body, "canary", "readiness must not leak check errors")
	broken.Store(false)

	s.SetDraining()
	code, _ = get(t, addr, "lb", "/readyz")
	require.Equal(t, 503, code)
	code, _ = get(t, addr, "lb", "/healthz")
	require.Equal(t, 200, code, "alive while draining")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Stop(ctx))
	require.NoError(t, s.Stop(ctx), "Stop is idempotent")
}

func TestStopWithoutStart(t *testing.T) {
	t.Parallel()
	s := New(Defaults(), slog.New(slog.DiscardHandler), nil)
	require.NoError(t, s.Stop(context.Background()))
	require.NoError(t, s.Start(context.Background()), "start after stop is a no-op")
	require.Nil(t, s.Addr())
}

func TestStartPortConflict(t *testing.T) {
	t.Parallel()
	a := New(Config{Listen: "127.0.0.1:0"}, slog.New(slog.DiscardHandler), nil)
	require.NoError(t, a.Start(context.Background()))
	defer a.Stop(context.Background())
	b := New(Config{Listen: a.Addr().String()}, slog.New(slog.DiscardHandler), nil)
	require.Error(t, b.Start(context.Background()))
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, Defaults().Validate())
	require.EqualError(t, Config{Listen: "8080"}.Validate(), `edge.listen: "8080" is not host:port`)
}
