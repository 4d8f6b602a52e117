// Package periodic runs one background job on a ticker between Start and
// Stop: the queue implementations' trimmer and purge, the hourly
// maintenance and the GA4 health sweep share it.
package periodic

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Loop runs one background job every interval, in one goroutine, between
// Start and Stop. Its zero value is ready to use; it runs at most once
// (Start after Stop is a no-op).
type Loop struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// Start runs job every interval until Stop, and once at once first when
// immediately is set (the job gets a context that Stop cancels). Starting
// twice is a no-op.
func (p *Loop) Start(interval time.Duration, immediately bool, job func(ctx context.Context)) {
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
		if immediately {
			job(ctx)
		}
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
func (p *Loop) Stop(ctx context.Context, what string) error {
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
