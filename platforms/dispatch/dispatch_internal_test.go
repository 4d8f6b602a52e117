package dispatch

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, Defaults().Validate())
	f := func(mutate func(*Config), want string) {
		t.Helper()
		c := Defaults()
		mutate(&c)
		err := c.Validate()
		require.Error(t, err)
		require.Contains(t, err.Error(), want)
	}
	f(func(c *Config) { c.MaxWait = 0 }, "platforms.dispatch.max_wait")
	f(func(c *Config) { c.Attempts = 0 }, "platforms.dispatch.attempts")
	f(func(c *Config) { c.BackoffBase = 0 }, "platforms.dispatch.backoff_base")
	f(func(c *Config) { c.BackoffMax = c.BackoffBase - 1 }, "platforms.dispatch.backoff_max")
	f(func(c *Config) { c.MaxInFlight = 0 }, "platforms.dispatch.max_in_flight")
	f(func(c *Config) { c.ReadBatch = 0 }, "platforms.dispatch.read_batch")
	f(func(c *Config) { c.PixelsRefresh = 0 }, "platforms.dispatch.pixels_refresh")
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	e := New(Config{BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second}, Deps{})
	f := func(attempt int, retryAfter, lo, hi time.Duration) {
		t.Helper()
		for range 200 {
			d := e.backoff(attempt, retryAfter)
			require.GreaterOrEqual(t, d, lo, "attempt %d", attempt)
			require.LessOrEqual(t, d, hi, "attempt %d", attempt)
		}
	}
	f(1, 0, 50*time.Millisecond, 100*time.Millisecond)
	f(2, 0, 100*time.Millisecond, 200*time.Millisecond)
	f(4, 0, 400*time.Millisecond, 800*time.Millisecond)
	f(10, 0, 500*time.Millisecond, time.Second)
	f(1000, 0, 500*time.Millisecond, time.Second)
	f(1, 700*time.Millisecond, 700*time.Millisecond, 700*time.Millisecond) // Retry-After honoured
	f(1, time.Hour, time.Second, time.Second)                              // capped at BackoffMax
}

func TestClassify(t *testing.T) {
	t.Parallel()
	f := func(err error, n int, want []verdict, wantRA time.Duration, wantAuth bool) {
		t.Helper()
		vs, ra, auth := classify(err, n)
		require.Equal(t, want, vs)
		require.Equal(t, wantRA, ra)
		require.Equal(t, wantAuth, auth)
	}
	f(nil, 2, []verdict{delivered, delivered}, 0, false)
	f(&platforms.RetryableError{Err: errors.New("x"), RetryAfter: time.Second}, 2, []verdict{retry, retry}, time.Second, false)
	f(&platforms.PermanentError{Err: errors.New("x")}, 1, []verdict{failed}, 0, false)
	f(&platforms.PermanentError{Err: errors.New("x"), Auth: true}, 1, []verdict{failed}, 0, true)
	f(errors.New("unclassified"), 1, []verdict{retry}, 0, false)
	f(&platforms.BatchError{Errs: map[int]error{
		1: &platforms.RetryableError{Err: errors.New("x"), RetryAfter: 2 * time.Second},
		2: &platforms.PermanentError{Err: errors.New("y")},
	}}, 4, []verdict{delivered, retry, failed, delivered}, 2*time.Second, false)
}

func TestNewUUID(t *testing.T) {
	t.Parallel()
	a, b := newUUID(), newUUID()
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, a)
	require.NotEqual(t, a, b)
}
