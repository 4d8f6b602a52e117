package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/storesqlite"
	"github.com/jaraba/pixelgw/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// healthStore is a migrated SQLite store in t.TempDir with one tenant.
func healthStore(t *testing.T) (*storesqlite.Store, string) {
	t.Helper()
	st, err := storesqlite.Open(t.Context(), filepath.Join(t.TempDir(), "pixelgw.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	_, err = st.Migrate(t.Context())
	require.NoError(t, err)
	return st, storetest.NewTenant(t, st).ID
}

// healthPixel creates a Meta pixel with the given status.
func healthPixel(t *testing.T, st *storesqlite.Store, tenant, status string) string {
	t.Helper()
	p, err := st.CreatePixel(t.Context(), store.Pixel{
		UUID: uuid.NewString(), TenantID: tenant, Platform: store.PlatformMeta,
		PixelID:  fmt.Sprint(100_000_000_000_000 + rand.Int64N(900_000_000_000_000)),
		IsActive: true, ServerSideEnabled: true, Status: status,
	})
	require.NoError(t, err)
	return p.UUID
}

func pixelStatus(t *testing.T, st *storesqlite.Store, tenant, id string) string {
	t.Helper()
	p, err := st.GetPixel(t.Context(), tenant, id)
	require.NoError(t, err)
	return p.Status
}

func stopHealth(t *testing.T, h *pixelHealth) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, h.Stop(ctx))
}

func TestPixelHealthRedThenGreen(t *testing.T) {
	t.Parallel()
	st, ten := healthStore(t)
	px := healthPixel(t, st, ten, "unknown")
	other := healthPixel(t, st, ten, "green")
	h := newPixelHealth(st, nil, healthQueue)
	require.NoError(t, h.Start(t.Context()))
	t.Cleanup(func() { stopHealth(t, h) })

	h.Failed(ten, px)
	require.Eventually(t, func() bool { return pixelStatus(t, st, ten, px) == pixelRed }, 10*time.Second, 5*time.Millisecond)
	h.Recovered(ten, px)
	require.Eventually(t, func() bool { return pixelStatus(t, st, ten, px) == pixelGreen }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, "green", pixelStatus(t, st, ten, other), "another pixel is untouched")

	// A report for a pixel that is gone (or of another tenant) is only logged.
	h.Failed(ten, uuid.NewString())
	h.Failed(storetest.NewTenant(t, st).ID, other)
	stopHealth(t, h)
	require.Equal(t, "green", pixelStatus(t, st, ten, other))
}

func TestPixelHealthDropsWhenFullAndStopDrains(t *testing.T) {
	t.Parallel()
	st, ten := healthStore(t)
	const size = 4
	pxs := make([]string, size+2)
	for i := range pxs {
		pxs[i] = healthPixel(t, st, ten, "unknown")
	}
	h := newPixelHealth(st, nil, size)
	// Not started: nothing reads, so the queue fills; reports must still
	// return at once.
	for _, px := range pxs {
		h.Failed(ten, px)
	}
	require.Len(t, h.reports, size)
	h.mu.Lock()
	require.EqualValues(t, 2, h.dropped)
	h.mu.Unlock()

	require.NoError(t, h.Start(t.Context()))
	stopHealth(t, h) // drains the queue before it returns
	for i, px := range pxs {
		want := pixelRed
		if i >= size {
			want = "unknown" // dropped
		}
		require.Equal(t, want, pixelStatus(t, st, ten, px), "pixel %d", i)
	}
	require.Empty(t, h.reports)

	// A dropped report is not deduplicated: the next one is queued.
	h.Failed(ten, pxs[size])
	require.Len(t, h.reports, 1)
}

func TestPixelHealthDedup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		second func(h *pixelHealth)
		after  time.Duration
		queued int
	}{
		{"same status within the window", func(h *pixelHealth) { h.Failed("t", "p") }, healthDedup - time.Second, 1},
		{"same status after the window", func(h *pixelHealth) { h.Failed("t", "p") }, healthDedup, 2},
		{"other status within the window", func(h *pixelHealth) { h.Recovered("t", "p") }, time.Second, 2},
		{"other pixel", func(h *pixelHealth) { h.Failed("t", "q") }, 0, 2},
		{"same pixel id, other tenant", func(h *pixelHealth) { h.Failed("u", "p") }, 0, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			h := newPixelHealth(nil, nil, healthQueue)
			h.now = func() time.Time { return now }
			h.Failed("t", "p")
			now = now.Add(tc.after)
			tc.second(h)
			require.Len(t, h.reports, tc.queued)
		})
	}
}

func TestPixelHealthRedGreenRedWithinWindow(t *testing.T) {
	t.Parallel()
	h := newPixelHealth(nil, nil, healthQueue)
	h.Failed("t", "p")
	h.Recovered("t", "p")
	h.Failed("t", "p")
	h.Failed("t", "p")
	require.Len(t, h.reports, 3, "a change of status always goes through, a repeat does not")
}

// blockingUpdater blocks every write until its context ends.
type blockingUpdater struct {
	entered chan struct{}
	mu      sync.Mutex
	errs    []error
}

func (b *blockingUpdater) UpdatePixel(ctx context.Context, _, _ string, _ store.PixelPatch) (store.Pixel, error) {
	b.entered <- struct{}{}
	<-ctx.Done()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs = append(b.errs, ctx.Err())
	return store.Pixel{}, ctx.Err()
}

func TestPixelHealthStopCutShort(t *testing.T) {
	t.Parallel()
	b := &blockingUpdater{entered: make(chan struct{}, 4)}
	h := newPixelHealth(b, nil, healthQueue)
	require.NoError(t, h.Start(t.Context()))
	h.Failed("t", "p1")
	h.Failed("t", "p2")
	<-b.entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := h.Stop(ctx)
	require.ErrorIs(t, err, context.Canceled)
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Equal(t, []error{context.Canceled}, b.errs, "the write in progress is cancelled, the queued one not started")
}

func TestPixelHealthLifecycle(t *testing.T) {
	t.Parallel()
	h := newPixelHealth(nil, nil, healthQueue)
	require.NoError(t, h.Stop(t.Context()), "stop without start")
	require.NoError(t, h.Stop(t.Context()), "idempotent")
	require.Error(t, h.Start(t.Context()), "no start after stop")
	h.Failed("t", "p") // reports after stop never block
	for range healthQueue + 1 {
		h.Recovered("t", uuid.NewString())
	}

	st, _ := healthStore(t)
	h = newPixelHealth(st, nil, healthQueue)
	require.NoError(t, h.Start(t.Context()))
	require.NoError(t, h.Start(t.Context()), "idempotent")
	stopHealth(t, h)
	stopHealth(t, h)
}

// BenchmarkPixelHealthReport is the delivery path's cost of a repeated
// report (the dedup hit: a pixel refused on every request).
func BenchmarkPixelHealthReport(b *testing.B) {
	h := newPixelHealth(nil, nil, healthQueue)
	h.Failed("t", "p")
	b.ReportAllocs()
	for b.Loop() {
		h.Failed("t", "p")
	}
}
