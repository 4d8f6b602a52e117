package periodic_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/internal/periodic"
)

func TestLoop(t *testing.T) {
	t.Parallel()
	var p periodic.Loop
	require.NoError(t, p.Stop(t.Context(), "never started"))

	var runs atomic.Int64
	p.Start(time.Millisecond, false, func(context.Context) { runs.Add(1) })
	p.Start(time.Millisecond, false, func(context.Context) { t.Error("a second Start must not run its job") })
	require.Eventually(t, func() bool { return runs.Load() >= 3 }, 5*time.Second, time.Millisecond)
	require.NoError(t, p.Stop(t.Context(), "job"))
	after := runs.Load()
	time.Sleep(10 * time.Millisecond)
	require.Equal(t, after, runs.Load(), "no run after Stop")
	require.NoError(t, p.Stop(t.Context(), "job"), "idempotent")

	// A job that ignores its context: Stop gives up at its own deadline.
	var q periodic.Loop
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	q.Start(time.Millisecond, false, func(context.Context) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-release
	})
	<-started
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	require.ErrorContains(t, q.Stop(ctx, "stuck job"), "cannot stop stuck job")
	close(release)
	require.NoError(t, q.Stop(t.Context(), "stuck job"))

	// immediately: the first run does not wait for a tick.
	var r periodic.Loop
	ran := make(chan struct{}, 1)
	r.Start(time.Hour, true, func(context.Context) { ran <- struct{}{} })
	<-ran
	require.NoError(t, r.Stop(t.Context(), "hourly job"))
	r.Start(time.Hour, true, func(context.Context) { t.Error("Start after Stop must not run its job") })
}
