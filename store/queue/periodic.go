package queue

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Periodic runs one background job every interval, in one goroutine,
// between Start and Stop: the maintenance each implementation needs
// (trimming the Redis stream, purging expired SQLite rows). Its zero value
// is ready to use.
type Periodic struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// Start runs job every interval until Stop (the job gets a context that
// Stop cancels). Starting twice is a no-op.
func (p *Periodic) Start(interval time.Duration, job func(ctx context.Context)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				job(ctx)
			}
		}
	}(p.done)
}

// Stop cancels the job and waits for it, or for ctx (what names the job in
// the error). Safe if never started; idempotent.
func (p *Periodic) Stop(ctx context.Context, what string) error {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if done == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cannot stop %s: %w", what, ctx.Err())
	}
}
