package queue

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// BatcherConfig configures a Batcher.
type BatcherConfig struct {
	// MaxWait is how long a worker keeps collecting after the first request
	// of a batch (200 µs by default; negative: do not wait). Under load batches fill from callers
	// that queued while the workers were busy, so MaxWait mostly matters at
	// low load, where it is the latency added to an Admit.
	MaxWait time.Duration
	// MaxEntries closes a batch early (512 by default). One caller's
	// entries are never split, so a batch may exceed it by one request.
	MaxEntries int
	// Workers is how many batches may be in flight at once (2 by default:
	// Redis runs scripts one at a time and SQLite has one writer, so more
	// workers only make smaller batches; queueredis's BenchmarkAdmitBatcher
	// compares).
	Workers int
	// Timeout bounds one batch's Admit (5 s by default). A caller waits for
	// its batch's outcome even when its own context ends, so that an error
	// always means "nothing admitted"; Timeout bounds that wait.
	Timeout time.Duration
}

func (c BatcherConfig) withDefaults() BatcherConfig {
	if c.MaxWait < 0 {
		c.MaxWait = 0
	} else if c.MaxWait == 0 {
		c.MaxWait = 200 * time.Microsecond
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = 512
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	return c
}

// BatcherStats counts what the Batcher sent.
type BatcherStats struct {
	Batches uint64 // Admit calls to the Queue
	Entries uint64 // entries in them
}

// request is one Admit call waiting for its batch.
type request struct {
	entries []Entry
	res     []Result
	err     error
	done    chan struct{} // capacity 1: the worker's single completion signal
}

// Batcher puts micro-batching in front of a Queue: concurrent Admit calls
// are collected for up to MaxWait or MaxEntries and sent as ONE Admit of
// the concatenated entries (one Lua script on Redis, one transaction on
// SQLite), each caller getting its own results back. That Admit is atomic
// over the whole batch, so a failure fails every caller of that batch with
// nothing admitted. Repeats of one key from different callers of a batch
// are resolved in order, exactly as inside one caller's batch. Other
// methods go straight to the Queue.
//
// Admit before Start (or on a Batcher that was never started) calls the
// Queue directly; after Stop it returns ErrClosed.
type Batcher struct {
	q    Queue
	cfg  BatcherConfig
	reqs chan *request // unbuffered: a request is either taken by a worker or not sent at all
	pool sync.Pool

	batches, entries atomic.Uint64

	mu       sync.Mutex // serialises Start and Stop
	started  atomic.Bool
	stopping chan struct{}
	wg       sync.WaitGroup
}

// NewBatcher returns a Batcher over q; call Start to run its workers.
func NewBatcher(q Queue, cfg BatcherConfig) *Batcher {
	b := &Batcher{q: q, cfg: cfg.withDefaults(), reqs: make(chan *request), stopping: make(chan struct{})}
	b.pool.New = func() any { return &request{done: make(chan struct{}, 1)} }
	return b
}

// Start runs the workers. Calling it again is a no-op.
func (b *Batcher) Start(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-b.stopping:
		return fmt.Errorf("cannot start batcher: %w", ErrClosed)
	default:
	}
	if b.started.Load() {
		return nil
	}
	b.started.Store(true)
	for range b.cfg.Workers {
		b.wg.Go(b.worker)
	}
	return nil
}

// Stop stops taking requests, lets the workers finish the batches they hold
// and waits for them (or ctx). Safe if never started; idempotent.
func (b *Batcher) Stop(ctx context.Context) error {
	b.mu.Lock()
	select {
	case <-b.stopping:
	default:
		close(b.stopping)
	}
	b.mu.Unlock()
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cannot stop batcher: %w", ctx.Err())
	}
}

// Stats returns counters since New.
func (b *Batcher) Stats() BatcherStats {
	return BatcherStats{Batches: b.batches.Load(), Entries: b.entries.Load()}
}

// Admit implements Queue through the micro-batches.
func (b *Batcher) Admit(ctx context.Context, entries []Entry) ([]Result, error) {
	if err := ValidateBatch(entries); err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return []Result{}, nil
	}
	if !b.started.Load() {
		select {
		case <-b.stopping:
			return nil, fmt.Errorf("cannot admit: %w", ErrClosed)
		default:
			return b.q.Admit(ctx, entries)
		}
	}
	if err := ctx.Err(); err != nil { // select picks at random among ready cases
		return nil, fmt.Errorf("cannot admit: %w", err)
	}
	r := b.pool.Get().(*request)
	r.entries, r.res, r.err = entries, nil, nil
	select {
	case b.reqs <- r:
	case <-b.stopping:
		b.release(r)
		return nil, fmt.Errorf("cannot admit: %w", ErrClosed)
	case <-ctx.Done():
		b.release(r)
		return nil, fmt.Errorf("cannot admit: %w", ctx.Err())
	}
	<-r.done // bounded by cfg.Timeout: see BatcherConfig.Timeout
	res, err := r.res, r.err
	b.release(r)
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (b *Batcher) release(r *request) {
	r.entries, r.res, r.err = nil, nil, nil
	b.pool.Put(r)
}

func (b *Batcher) worker() {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var (
		batch   []*request
		entries []Entry
	)
	for {
		var n int
		select {
		case <-b.stopping:
			return
		case r := <-b.reqs:
			batch = append(batch[:0], r)
			n = len(r.entries)
		}
		if b.cfg.MaxWait > 0 {
			timer.Reset(b.cfg.MaxWait)
		}
	collect:
		for n < b.cfg.MaxEntries {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
				n += len(r.entries)
				continue
			default:
			}
			if b.cfg.MaxWait <= 0 {
				break collect
			}
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
				n += len(r.entries)
			case <-timer.C:
				break collect
			}
		}
		timer.Stop()
		entries = b.flush(batch, entries)
		clear(batch)
	}
}

// flush sends one Admit for batch and hands every request its results.
// entries is the worker's reusable buffer.
func (b *Batcher) flush(batch []*request, entries []Entry) []Entry {
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.Timeout)
	var (
		res []Result
		err error
	)
	if len(batch) == 1 {
		res, err = b.q.Admit(ctx, batch[0].entries)
		b.entries.Add(uint64(len(batch[0].entries)))
	} else {
		entries = entries[:0]
		for _, r := range batch {
			entries = append(entries, r.entries...)
		}
		res, err = b.q.Admit(ctx, entries)
		b.entries.Add(uint64(len(entries)))
		clear(entries) // drop references to callers' payloads
	}
	cancel()
	b.batches.Add(1)
	if want := len(entries); err == nil && len(batch) > 1 && len(res) != want {
		err = fmt.Errorf("cannot admit a batch: %d results for %d entries", len(res), want)
	} else if err == nil && len(batch) == 1 && len(res) != len(batch[0].entries) {
		err = fmt.Errorf("cannot admit a batch: %d results for %d entries", len(res), len(batch[0].entries))
	}
	off := 0
	for _, r := range batch {
		if err == nil {
			end := off + len(r.entries)
			r.res, off = res[off:end:end], end
		}
		r.err = err
		r.done <- struct{}{}
	}
	return entries
}

// SetDecision implements Queue.
func (b *Batcher) SetDecision(ctx context.Context, tenantID, visitorID string, at time.Time, ttl time.Duration) error {
	return b.q.SetDecision(ctx, tenantID, visitorID, at, ttl)
}

// Read implements Queue.
func (b *Batcher) Read(ctx context.Context, group, consumer string, n int, block time.Duration) ([]Message, error) {
	return b.q.Read(ctx, group, consumer, n, block)
}

// Reclaim implements Queue.
func (b *Batcher) Reclaim(ctx context.Context, group, consumer string, minIdle time.Duration, n int) ([]Message, error) {
	return b.q.Reclaim(ctx, group, consumer, minIdle, n)
}

// DeadLetter implements Queue.
func (b *Batcher) DeadLetter(ctx context.Context, group string, m Message, reason string) error {
	return b.q.DeadLetter(ctx, group, m, reason)
}

// DeadLetters implements Queue.
func (b *Batcher) DeadLetters(ctx context.Context, tenantID string, limit int) ([]DeadLetter, error) {
	return b.q.DeadLetters(ctx, tenantID, limit)
}

// DeadLettersDropped implements Queue.
func (b *Batcher) DeadLettersDropped(ctx context.Context, tenantID string) (int64, error) {
	return b.q.DeadLettersDropped(ctx, tenantID)
}

// Replay implements Queue.
func (b *Batcher) Replay(ctx context.Context, tenantID string, ids []string) (int, error) {
	return b.q.Replay(ctx, tenantID, ids)
}

// EraseVisitor implements Queue.
func (b *Batcher) EraseVisitor(ctx context.Context, tenantID, visitorID string, at time.Time, ttl time.Duration) (Erasure, error) {
	return b.q.EraseVisitor(ctx, tenantID, visitorID, at, ttl)
}

// ErasedAt implements Queue.
func (b *Batcher) ErasedAt(ctx context.Context, tenantID string, visitorIDs []string) (map[string]time.Time, error) {
	return b.q.ErasedAt(ctx, tenantID, visitorIDs)
}

// Ack implements Queue.
func (b *Batcher) Ack(ctx context.Context, group string, ids ...string) error {
	return b.q.Ack(ctx, group, ids...)
}

// Lag implements Queue.
func (b *Batcher) Lag(ctx context.Context) (int64, error) { return b.q.Lag(ctx) }

// Ping implements Queue.
func (b *Batcher) Ping(ctx context.Context) error { return b.q.Ping(ctx) }

// Interface guards
var _ Queue = (*Batcher)(nil)
