package queue_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/jaraba/pixelgw/store/queue"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeQueue answers Result(n) for an entry whose EventID is "n", fails a
// batch holding the EventID "fail", and records batch sizes. It stands in
// for a store only to test the Batcher's plumbing; the real stores run the
// conformance suite through the Batcher.
type fakeQueue struct {
	queue.Queue
	mu      sync.Mutex
	batches []int
	gate    chan struct{} // when non-nil, Admit waits for it
	entered atomic.Int32  // Admit calls begun
}

var errFake = errors.New("fake failure")

func (f *fakeQueue) Admit(_ context.Context, entries []queue.Entry) ([]queue.Result, error) {
	f.entered.Add(1)
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	f.batches = append(f.batches, len(entries))
	f.mu.Unlock()
	res := make([]queue.Result, len(entries))
	for i, e := range entries {
		if e.EventID == "fail" {
			return nil, errFake
		}
		n, _ := strconv.Atoi(e.EventID)
		res[i] = queue.Result(n)
	}
	return res, nil
}

// sizes returns the sizes of the batches admitted so far.
func (f *fakeQueue) sizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.batches)
}

func entries(ids ...string) []queue.Entry {
	out := make([]queue.Entry, len(ids))
	for i, id := range ids {
		out[i] = queue.Entry{TenantID: "t", EventID: id, EventName: "n", Window: time.Minute}
	}
	return out
}

// eachInFlight runs test as parallel subtests with one and two batches
// allowed in flight.
func eachInFlight(t *testing.T, test func(t *testing.T, inFlight int)) {
	t.Parallel()
	for _, inFlight := range []int{1, 2} {
		t.Run(strconv.Itoa(inFlight), func(t *testing.T) {
			t.Parallel()
			test(t, inFlight)
		})
	}
}

func TestBatcherSplitsResults(t *testing.T) { eachInFlight(t, testBatcherSplitsResults) }

func testBatcherSplitsResults(t *testing.T, inFlight int) {
	f := &fakeQueue{gate: make(chan struct{})}
	b := queue.NewBatcher(f, queue.BatcherConfig{InFlight: inFlight, MaxWait: time.Millisecond, MaxEntries: 7})
	require.NoError(t, b.Start(t.Context()))
	defer func() { require.NoError(t, b.Stop(context.Background())) }()

	// Whatever the grouping, every caller gets exactly its own results, and
	// a failing batch fails every caller in it.
	calls := [][]string{{"1"}, {"2", "3"}, {"4", "1", "2"}, {"3"}, {"4", "4"}, {"fail", "1"}, {"2"}, {"1", "1", "1", "1", "1", "1", "1", "1"}}
	type out struct {
		res []queue.Result
		err error
	}
	outs := make([]out, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Go(func() {
			res, err := b.Admit(context.Background(), entries(c...))
			outs[i] = out{res, err}
		})
	}
	// Hold the store briefly so callers pile up into shared batches (this
	// only encourages batching; nothing below depends on it).
	time.Sleep(20 * time.Millisecond)
	close(f.gate)
	wg.Wait()
	require.ErrorIs(t, outs[5].err, errFake, "the failing caller's batch fails")
	for i, c := range calls {
		if outs[i].err != nil {
			require.ErrorIs(t, outs[i].err, errFake)
			require.Nil(t, outs[i].res)
			continue
		}
		require.Len(t, outs[i].res, len(c), "call %d", i)
		for j, id := range c {
			n, _ := strconv.Atoi(id)
			require.Equal(t, queue.Result(n), outs[i].res[j], "call %d entry %d", i, j)
		}
	}
	sizes := f.sizes()
	require.Equal(t, uint64(len(sizes)), b.Stats().Batches)
	t.Logf("batch sizes: %v", sizes)
}

func TestBatcherCancelledBeforeHandOff(t *testing.T) {
	t.Parallel()
	f := &fakeQueue{}
	b := queue.NewBatcher(f, queue.BatcherConfig{})
	require.NoError(t, b.Start(t.Context()))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := b.Admit(ctx, entries("1"))
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, b.Stop(t.Context()))
	_, err = b.Admit(t.Context(), entries("1"))
	require.ErrorIs(t, err, queue.ErrClosed)
	_, err = b.Admit(t.Context(), entries(""))
	require.ErrorIs(t, err, queue.ErrInvalidEntry)
	require.Empty(t, f.sizes())
}

// A caller still waiting for a batch when its context ends leaves: its
// entries never reach the store. A caller already in a batch waits for it.
func TestBatcherCancelledWhilePending(t *testing.T) {
	t.Parallel()
	f := &fakeQueue{gate: make(chan struct{})}
	b := queue.NewBatcher(f, queue.BatcherConfig{InFlight: 1, MaxWait: -1})
	require.NoError(t, b.Start(t.Context()))
	first := make(chan error, 1)
	go func() {
		_, err := b.Admit(context.Background(), entries("1"))
		first <- err
	}()
	waitFor(t, func() bool { return f.entered.Load() == 1 }) // the first caller leads, gated in the store
	ctx, cancel := context.WithCancel(t.Context())
	second := make(chan error, 1)
	go func() {
		_, err := b.Admit(ctx, entries("2", "3"))
		second <- err
	}()
	waitFor(t, func() bool { return b.Stats().Waiting == 1 })
	cancel()
	require.ErrorIs(t, <-second, context.Canceled)
	close(f.gate)
	require.NoError(t, <-first)
	require.NoError(t, b.Stop(t.Context()))
	require.Equal(t, []int{1}, f.sizes(), "the withdrawn caller's entries were never admitted")
}

// Stop lets the batch in flight and every caller already waiting finish:
// they get results, not ErrClosed; later callers get ErrClosed.
func TestBatcherStopDrainsWaiting(t *testing.T) {
	t.Parallel()
	f := &fakeQueue{gate: make(chan struct{})}
	b := queue.NewBatcher(f, queue.BatcherConfig{InFlight: 1, MaxWait: -1})
	require.NoError(t, b.Start(t.Context()))
	type out struct {
		res []queue.Result
		err error
	}
	outs := make(chan out, 3)
	admit := func(ids ...string) {
		res, err := b.Admit(context.Background(), entries(ids...))
		outs <- out{res, err}
	}
	go admit("1")
	waitFor(t, func() bool { return f.entered.Load() == 1 }) // leads, gated in the store
	go admit("2")
	go admit("3", "4")
	waitFor(t, func() bool { return b.Stats().Waiting == 2 })
	stopped := make(chan error, 1)
	go func() { stopped <- b.Stop(context.Background()) }()
	// Once Stop began, new callers are refused (probed with a cancelled
	// context, so that a probe before Stop returns at once); Stop itself
	// still waits.
	done, cancel := context.WithCancel(t.Context())
	cancel()
	waitFor(t, func() bool {
		_, err := b.Admit(done, entries("1"))
		return errors.Is(err, queue.ErrClosed)
	})
	require.Empty(t, stopped, "Stop waits for the batches")
	close(f.gate)
	for range 3 {
		o := <-outs
		require.NoError(t, o.err)
		require.NotEmpty(t, o.res)
	}
	require.NoError(t, <-stopped)
	require.Equal(t, []int{1, 3}, f.sizes(), "the waiting callers went as one batch, led by the first of them")
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 5*time.Second, time.Millisecond)
}

// result waits for one Admit outcome, failing the test (not hanging it)
// when it never comes.
func result(t *testing.T, c <-chan error) error {
	t.Helper()
	select {
	case err := <-c:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Admit did not return")
		return nil
	}
}

// crowd admits n concurrent one-entry callers while the store holds the
// first batches, so that the others go as one batch: recent batches then
// carried about n-inFlight callers. It leaves the store ungated.
func crowd(t *testing.T, b *queue.Batcher, f *fakeQueue, n int) {
	t.Helper()
	f.gate = make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := b.Admit(context.Background(), entries(strconv.Itoa(i)))
			assert.NoError(t, err)
		})
	}
	waitFor(t, func() bool { return int(f.entered.Load())+b.Stats().Waiting == n })
	close(f.gate)
	wg.Wait()
}

// A caller that starts a batch after batches of many callers waits for as
// many, and the caller that completes them ends the wait at once (MaxWait
// is a minute here: only that wake-up lets the test finish). With a second
// batch allowed in flight, new callers still join the waiting one.
func TestBatcherWaitsUntilFilled(t *testing.T) { eachInFlight(t, testBatcherWaitsUntilFilled) }

func testBatcherWaitsUntilFilled(t *testing.T, inFlight int) {
	f := &fakeQueue{}
	b := queue.NewBatcher(f, queue.BatcherConfig{MaxWait: time.Minute, FillCallers: 4, InFlight: inFlight})
	require.NoError(t, b.Start(t.Context()))
	crowd(t, b, f, 41) // batches of up to 39 callers: fill 4
	require.Zero(t, b.Stats().Waits, "the crowd's batches did not wait")
	before := len(f.sizes())
	done := make(chan error, 4)
	admit := func(ids ...string) {
		res, err := b.Admit(context.Background(), entries(ids...))
		if err == nil && len(res) != len(ids) {
			err = errors.New("wrong number of results")
		}
		done <- err
	}
	go admit("1")
	waitFor(t, func() bool { return b.Stats().Waits == 1 }) // leads and waits: no batch yet
	go admit("2")
	waitFor(t, func() bool { return b.Stats().Waiting == 1 })
	go admit("3")
	waitFor(t, func() bool { return b.Stats().Waiting == 2 })
	require.Len(t, f.sizes(), before, "three callers of four: still waiting")
	go admit("4", "5")
	for range 4 {
		require.NoError(t, result(t, done))
	}
	require.NoError(t, b.Stop(t.Context()))
	require.Equal(t, []int{5}, f.sizes()[before:], "one batch of the four callers, sent as soon as the fourth came")
}

// One client calling back to back never waits; after a crowd, the waits that
// bring no one time out after MaxWait and stop once the recent batch size has
// decayed; Stop ends a wait.
func TestBatcherWaitBounds(t *testing.T) {
	t.Parallel()
	t.Run("a lone client does not wait", func(t *testing.T) {
		t.Parallel()
		f := &fakeQueue{}
		b := queue.NewBatcher(f, queue.BatcherConfig{MaxWait: time.Minute})
		require.NoError(t, b.Start(t.Context()))
		for i := range 50 {
			res, err := b.Admit(t.Context(), entries(strconv.Itoa(i), "7"))
			require.NoError(t, err)
			require.Equal(t, []queue.Result{queue.Result(i), 7}, res)
		}
		require.NoError(t, b.Stop(t.Context()))
		require.Zero(t, b.Stats().Waits)
	})
	t.Run("waits for no one time out and stop", func(t *testing.T) {
		t.Parallel()
		f := &fakeQueue{}
		b := queue.NewBatcher(f, queue.BatcherConfig{MaxWait: 2 * time.Millisecond})
		require.NoError(t, b.Start(t.Context()))
		crowd(t, b, f, 41)
		for i := range 50 {
			res, err := b.Admit(t.Context(), entries(strconv.Itoa(i)))
			require.NoError(t, err)
			require.Equal(t, []queue.Result{queue.Result(i)}, res)
		}
		waits := b.Stats().Waits
		require.NotZero(t, waits, "the first lone callers waited")
		for i := range 10 {
			_, err := b.Admit(t.Context(), entries(strconv.Itoa(i)))
			require.NoError(t, err)
		}
		require.Equal(t, waits, b.Stats().Waits, "the waits stopped as the recent batch size decayed")
		require.NoError(t, b.Stop(t.Context()))
	})
	t.Run("stop ends a wait", func(t *testing.T) {
		t.Parallel()
		f := &fakeQueue{}
		b := queue.NewBatcher(f, queue.BatcherConfig{MaxWait: time.Minute})
		require.NoError(t, b.Start(t.Context()))
		crowd(t, b, f, 41)
		done := make(chan error, 1)
		go func() {
			_, err := b.Admit(context.Background(), entries("1"))
			done <- err
		}()
		waitFor(t, func() bool { return b.Stats().Waits == 1 })
		require.NoError(t, b.Stop(t.Context()))
		require.NoError(t, result(t, done))
	})
}
