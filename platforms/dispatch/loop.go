package dispatch

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/queue"
)

// maxRecord bounds the outcomes one recorder write carries.
const maxRecord = 5000

// loop delivers to one platform: it reads the platform's consumer group,
// batches per pixel and sends with bounded concurrency.
type loop struct {
	e        *Engine
	dest     platforms.Destination
	platform string
	group    string
	maxBatch int
	m        *platformMetrics

	sem     chan struct{} // one token per request in flight
	senders sync.WaitGroup
	rec     chan record
	pending map[string]*batch // pixel UUID -> open batch (run's goroutine only)
	// settled are outcomes known without a request (skipped, failed Check,
	// merged, undecodable), handed to the recorder before any request
	// starts, so they are written before an ack that depends on them.
	settled record
}

// msgState tracks one message until every pixel's outcome is final.
type msgState struct {
	id        string
	remaining atomic.Int32
}

type item struct {
	msg *msgState
	ev  *platforms.Event
}

type batch struct {
	pixel    *platforms.Pixel
	items    []item
	deadline time.Time
}

// record is what the recorder writes: answers, then outcomes, then acks.
type record struct {
	resps []store.PlatformResponse
	outs  []store.DeliveryOutcome
	acks  []string
}

func (r *record) empty() bool { return len(r.resps) == 0 && len(r.outs) == 0 && len(r.acks) == 0 }

func newLoop(e *Engine, dest platforms.Destination) *loop {
	return &loop{
		e: e, dest: dest, platform: dest.Platform(), group: Group(dest.Platform()), maxBatch: dest.MaxBatch(),
		m:       e.metrics.forPlatform(dest.Platform()),
		sem:     make(chan struct{}, e.cfg.MaxInFlight),
		rec:     make(chan record, 2*e.cfg.MaxInFlight+2),
		pending: map[string]*batch{},
	}
}

func (l *loop) run(readCtx, workCtx context.Context, first []queue.Message) {
	recDone := make(chan struct{})
	go func() {
		defer close(recDone)
		l.recordLoop(workCtx)
	}()
	l.handle(workCtx, first)
	for readCtx.Err() == nil {
		l.flush(workCtx, false)
		block := idleBlock
		if d, ok := l.nextDeadline(); ok {
			block = max(time.Until(d), time.Millisecond)
		}
		msgs, err := l.e.d.Queue.Read(readCtx, l.group, l.e.d.Consumer, l.e.cfg.ReadBatch, block)
		if err != nil {
			if readCtx.Err() != nil {
				break
			}
			l.e.log.Warn("cannot read the queue", "group", l.group, "err", err)
			sleep(readCtx, l.e.cfg.BackoffBase)
			continue
		}
		l.handle(workCtx, msgs)
	}
	// Drain: send what is batched, wait for every request and retry, then
	// for the recorder's last writes.
	l.flush(workCtx, true)
	l.senders.Wait()
	close(l.rec)
	<-recDone
}

func (l *loop) outcome(tenant, eventID, pixel, status string, attempts int, respID string, at time.Time) store.DeliveryOutcome {
	return store.DeliveryOutcome{
		TenantID: tenant, EventID: eventID, PixelUUID: pixel, Platform: l.platform,
		Status: status, Attempts: attempts, ResponseID: respID, CreatedAt: at,
	}
}

// handle routes read messages: outcomes for what is settled at once, the
// rest into per-pixel batches.
func (l *loop) handle(workCtx context.Context, msgs []queue.Message) {
	if len(msgs) == 0 {
		return
	}
	now := l.e.now()
	snap := l.e.pixels.Load()
	settled := &l.settled
	for i := range msgs {
		m := &msgs[i]
		pixels := snap.lookup(l.platform, m.TenantID)
		if m.Kind == queue.KindMerge {
			// The merge window is the next increment: record only.
			for _, p := range pixels {
				settled.outs = append(settled.outs, l.outcome(m.TenantID, m.EventID, p.UUID, StatusMerged, 0, "", now))
			}
			settled.acks = append(settled.acks, m.ID)
			continue
		}
		ev, err := platforms.DecodeEvent(m.Payload)
		if err == nil && (ev.TenantID != m.TenantID || ev.EventID != m.EventID) {
			err = errors.New("payload tenant or event id differs from the queue entry's")
		}
		if err != nil {
			l.e.log.Warn("undeliverable queue entry", "group", l.group, "id", m.ID, "tenant", m.TenantID, "err", err)
			settled.outs = append(settled.outs, l.outcome(m.TenantID, m.EventID, "", StatusFailed, 0, "", now))
			settled.acks = append(settled.acks, m.ID)
			continue
		}
		var ok []*platforms.Pixel
		for _, p := range pixels {
			switch err := l.dest.Check(p, &ev, now); {
			case err == nil:
				ok = append(ok, p)
			case errors.Is(err, platforms.ErrSkip):
				settled.outs = append(settled.outs, l.outcome(m.TenantID, m.EventID, p.UUID, StatusSkipped, 0, "", now))
			default:
				l.e.log.Debug("event refused for pixel", "platform", l.platform, "pixel", p.UUID, "err", err)
				settled.outs = append(settled.outs, l.outcome(m.TenantID, m.EventID, p.UUID, StatusFailed, 0, "", now))
			}
		}
		if len(ok) == 0 {
			settled.acks = append(settled.acks, m.ID)
			continue
		}
		ms := &msgState{id: m.ID}
		ms.remaining.Store(int32(len(ok)))
		evp := &ev
		for _, p := range ok {
			l.add(workCtx, p, item{msg: ms, ev: evp})
		}
	}
	l.emitSettled(workCtx)
}

func (l *loop) emitSettled(workCtx context.Context) {
	l.emit(workCtx, l.settled)
	l.settled = record{}
}

// add puts it in its pixel's batch and sends the batch once full.
func (l *loop) add(workCtx context.Context, p *platforms.Pixel, it item) {
	b := l.pending[p.UUID]
	if b == nil {
		b = &batch{pixel: p, deadline: time.Now().Add(l.e.cfg.MaxWait)}
		l.pending[p.UUID] = b
	}
	b.items = append(b.items, it)
	if len(b.items) >= l.maxBatch {
		delete(l.pending, p.UUID)
		l.send(workCtx, b)
	}
}

func (l *loop) nextDeadline() (time.Time, bool) {
	var d time.Time
	for _, b := range l.pending {
		if d.IsZero() || b.deadline.Before(d) {
			d = b.deadline
		}
	}
	return d, !d.IsZero()
}

// flush sends the batches whose wait is over (all of them with force).
func (l *loop) flush(workCtx context.Context, force bool) {
	now := time.Now()
	for k, b := range l.pending {
		if force || !now.Before(b.deadline) {
			delete(l.pending, k)
			l.send(workCtx, b)
		}
	}
}

// send starts delivering b once a request slot is free (the loop does not
// read meanwhile: back-pressure).
func (l *loop) send(workCtx context.Context, b *batch) {
	l.emitSettled(workCtx)
	select {
	case l.sem <- struct{}{}:
	case <-workCtx.Done():
		return // stopping past the deadline: left pending in the queue
	}
	l.senders.Add(1)
	go l.deliver(workCtx, b)
}

type verdict uint8

const (
	delivered verdict = iota
	failed
	retry
)

// classify turns Send's error into a verdict per event, the largest
// Retry-After and whether credentials were refused. An error of no known
// class is retried (bounded by Attempts).
func classify(err error, n int) (vs []verdict, retryAfter time.Duration, auth bool) {
	vs = make([]verdict, n)
	one := func(err error) verdict {
		var re *platforms.RetryableError
		var pe *platforms.PermanentError
		switch {
		case err == nil:
			return delivered
		case errors.As(err, &re):
			retryAfter = max(retryAfter, re.RetryAfter)
			return retry
		case errors.As(err, &pe):
			auth = auth || pe.Auth
			return failed
		}
		return retry
	}
	var be *platforms.BatchError
	if errors.As(err, &be) {
		for i := range vs {
			vs[i] = one(be.Errs[i])
		}
		return vs, retryAfter, auth
	}
	v := one(err)
	for i := range vs {
		vs[i] = v
	}
	return vs, retryAfter, auth
}

// result is the request's metric label.
func result(err error) string {
	var be *platforms.BatchError
	var pe *platforms.PermanentError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &be):
		return "partial"
	case errors.As(err, &pe):
		return "permanent"
	}
	return "retryable"
}

// deliver sends b (holding a request slot), records the outcome of each
// event and retries the retryable ones after a backoff.
func (l *loop) deliver(workCtx context.Context, b *batch) {
	defer l.senders.Done()
	items := b.items
	for attempt := 1; ; attempt++ {
		evs := make([]*platforms.Event, len(items))
		for i := range items {
			evs[i] = items[i].ev
		}
		start := time.Now()
		resp, err := l.dest.Send(workCtx, b.pixel, evs)
		<-l.sem
		if workCtx.Err() != nil {
			return // cut short by Stop: nothing recorded, nothing acknowledged
		}
		now := l.e.now()
		var rec record
		respID := ""
		if resp.HTTPStatus != 0 || len(resp.Body) > 0 {
			respID = newUUID()
			rec.resps = append(rec.resps, store.PlatformResponse{
				ID: respID, TenantID: b.pixel.TenantID, PixelUUID: b.pixel.UUID, Platform: l.platform,
				HTTPStatus: resp.HTTPStatus, Body: resp.Body, CreatedAt: now,
			})
		}
		vs, retryAfter, auth := classify(err, len(items))
		l.m.observe(result(err), time.Since(start))
		if auth {
			l.e.log.Warn("platform refused the pixel's credentials", "platform", l.platform, "pixel", b.pixel.UUID, "err", err)
			if l.e.d.OnAuthFailure != nil {
				l.e.d.OnAuthFailure(b.pixel.UUID)
			}
		}
		var again []item
		var nFailed, nDead int
		for i, it := range items {
			status := StatusDelivered
			switch vs[i] {
			case failed:
				status = StatusFailed
				nFailed++
			case retry:
				if attempt >= l.e.cfg.Attempts {
					status = StatusDead
					nDead++
				} else {
					status = StatusRetrying
					again = append(again, it)
				}
			}
			rec.outs = append(rec.outs, l.outcome(b.pixel.TenantID, it.ev.EventID, b.pixel.UUID, status, attempt, respID, now))
		}
		if nFailed > 0 || nDead > 0 {
			l.e.log.Warn("events not delivered", "platform", l.platform, "pixel", b.pixel.UUID,
				"failed", nFailed, "dead", nDead, "attempt", attempt, "err", err)
		}
		if !l.emit(workCtx, rec) {
			return
		}
		// Count the final outcomes down only once they are queued for the
		// recorder: the ack of a message then follows, in the recorder's
		// order, the outcomes every other batch queued for it.
		var acks record
		for i, it := range items {
			if (vs[i] != retry || attempt >= l.e.cfg.Attempts) && it.msg.remaining.Add(-1) == 0 {
				acks.acks = append(acks.acks, it.msg.id)
			}
		}
		if !l.emit(workCtx, acks) || len(again) == 0 {
			return
		}
		l.m.retries.Add(float64(len(again)))
		l.e.log.Debug("retrying", "platform", l.platform, "pixel", b.pixel.UUID, "events", len(again), "attempt", attempt, "err", err)
		if !sleep(workCtx, l.e.backoff(attempt, retryAfter)) {
			return
		}
		select {
		case l.sem <- struct{}{}:
		case <-workCtx.Done():
			return
		}
		items = again
	}
}

// emit hands r to the recorder; false when stopping past the deadline.
func (l *loop) emit(workCtx context.Context, r record) bool {
	if r.empty() {
		return true
	}
	for i := range r.outs {
		l.m.outcome[r.outs[i].Status].Inc()
	}
	select {
	case l.rec <- r:
		return true
	case <-workCtx.Done():
		return false
	}
}

// recordLoop writes records in order, merging what is waiting into one
// write, until rec is closed. Acks follow the write that made them safe;
// earlier outcomes of the same message were written by an earlier (or the
// same) write, since records are written in arrival order.
func (l *loop) recordLoop(workCtx context.Context) {
	for r := range l.rec {
		open := true
		for open && len(r.outs) < maxRecord {
			select {
			case more, ok := <-l.rec:
				if !ok {
					open = false
					break
				}
				r.resps = append(r.resps, more.resps...)
				r.outs = append(r.outs, more.outs...)
				r.acks = append(r.acks, more.acks...)
			default:
				open = false
			}
		}
		l.write(workCtx, &r)
	}
}

// write appends answers then outcomes, then acknowledges, each retried
// with backoff until it succeeds or the engine is cut short.
func (l *loop) write(ctx context.Context, r *record) {
	steps := []struct {
		what string
		fn   func() error
	}{
		{"platform responses", func() error {
			if len(r.resps) == 0 {
				return nil
			}
			err := l.e.d.Audit.AppendResponses(ctx, r.resps)
			if errors.Is(err, store.ErrConflict) {
				return nil // an earlier try was applied after all
			}
			return err
		}},
		{"delivery outcomes", func() error {
			if len(r.outs) == 0 {
				return nil
			}
			return l.e.d.Audit.AppendOutcomes(ctx, r.outs)
		}},
		{"acks", func() error {
			if len(r.acks) == 0 {
				return nil
			}
			return l.e.d.Queue.Ack(ctx, l.group, r.acks...)
		}},
	}
	for _, s := range steps {
		for attempt := 1; ; attempt++ {
			err := s.fn()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			l.e.log.Warn("cannot record deliveries, retrying", "what", s.what, "platform", l.platform, "err", err)
			if !sleep(ctx, l.e.backoff(attempt, 0)) {
				return
			}
		}
	}
}
