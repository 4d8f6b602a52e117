package dispatch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
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
	attempts int // requests per (event, pixel): Config.AttemptsFor
	m        *platformMetrics

	sem     chan struct{} // one token per request in flight
	senders sync.WaitGroup
	rec     chan record
	pending map[string]*batch // pixel UUID -> open batch (run's goroutine only)
	// settled are outcomes known without a request (skipped, failed Check,
	// merged, undecodable), handed to the recorder before any request
	// starts, so they are written before an ack that depends on them.
	settled record

	// The merge window (run's goroutine only): conversions waiting for
	// their other copy, by key and in arrival order (= deadline order).
	waiting map[waitKey]*waiter
	waitQ   []*waiter

	// held are the ids of the messages this loop has read and not yet
	// acknowledged, so a reclaim that returns one of them (idle longer
	// than ClaimMinIdle under overload) does not process it twice.
	heldMu sync.Mutex
	held   map[string]struct{}

	dec eventDecoder // run's goroutine only
}

// msgState tracks one message until every pixel's outcome is final.
type msgState struct {
	msg queue.Message
	// merges are the merge messages folded into this one (fixed before
	// its first send), acknowledged with it; msrc are their sources.
	merges    []queue.Message
	msrc      []string
	remaining atomic.Int32
	// letter is set once the message is dead-lettered for this group.
	letter atomic.Bool
	// merged is the event with the merges' identifiers folded in (set
	// before the first send when merges is not empty): what a dead letter
	// carries.
	merged *platforms.Event
	// received is the event's Received (zero: undecodable), for the
	// erasure check of its dead letter.
	received time.Time
}

// ackIDs are the ids acknowledged once every pixel's outcome is written.
func (ms *msgState) ackIDs() []string {
	ids := make([]string, 0, 1+len(ms.merges))
	ids = append(ids, ms.msg.ID)
	for i := range ms.merges {
		ids = append(ids, ms.merges[i].ID)
	}
	return ids
}

// waitKey identifies the copies of one event (the dedup key's parts).
type waitKey struct{ tenant, eventID, name string }

// waiter is a conversion in the merge window.
type waiter struct {
	key   waitKey
	ms    *msgState
	ev    *platforms.Event
	until time.Time
	// targeted: ev is for this platform (Event.Targets); a copy that is not
	// is replaced by the first later copy that is.
	targeted bool
	// confirmed: a server copy of the conversion has been seen (it confirms
	// the browser's for pixels with ConfirmBrowserConversions).
	confirmed bool
}

// deadLetter is a DeadLetter call the recorder makes before the ack.
type deadLetter struct {
	msg      queue.Message
	reason   string
	received time.Time // msgState.received
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

// record is what the recorder writes: answers, then outcomes, then dead
// letters, then acks.
type record struct {
	resps []store.PlatformResponse
	outs  []store.DeliveryOutcome
	dead  []deadLetter
	acks  []string
}

func (r *record) empty() bool {
	return len(r.resps) == 0 && len(r.outs) == 0 && len(r.dead) == 0 && len(r.acks) == 0
}

func newLoop(e *Engine, dest platforms.Destination) *loop {
	return &loop{
		e: e, dest: dest, platform: dest.Platform(), group: Group(dest.Platform()), maxBatch: dest.MaxBatch(), attempts: e.cfg.AttemptsFor(dest.Platform()),
		m:       e.metrics.forPlatform(dest.Platform()),
		sem:     make(chan struct{}, e.cfg.MaxInFlight),
		rec:     make(chan record, 2*e.cfg.MaxInFlight+2),
		pending: map[string]*batch{},
		waiting: map[waitKey]*waiter{},
		held:    map[string]struct{}{},
	}
}

func (l *loop) run(readCtx, workCtx context.Context, first []queue.Message) {
	recDone := make(chan struct{})
	go func() {
		defer close(recDone)
		l.recordLoop(workCtx)
	}()
	l.handle(workCtx, first, false)
	nextReclaim := time.Now() // at start: a restart recovers its predecessor's entries soon
	for readCtx.Err() == nil {
		if !time.Now().Before(nextReclaim) {
			l.reclaim(readCtx, workCtx)
			nextReclaim = time.Now().Add(l.e.cfg.ReclaimInterval)
		}
		l.release(workCtx, false)
		l.flush(workCtx, false)
		block := idleBlock
		if d, ok := l.nextDeadline(); ok {
			block = time.Until(d)
		}
		block = max(min(block, time.Until(nextReclaim)), time.Millisecond)
		msgs, err := l.e.d.Queue.Read(readCtx, l.group, l.e.d.Consumer, l.e.cfg.ReadBatch, block)
		if err != nil {
			if readCtx.Err() != nil {
				break
			}
			l.e.log.Warn("cannot read the queue", "group", l.group, "err", err)
			sleep(readCtx, l.e.cfg.BackoffBase)
			continue
		}
		l.handle(workCtx, msgs, false)
	}
	// Drain: send what waits in the merge window (its other copy, if it
	// comes later, is only recorded) and what is batched, wait for every
	// request and retry, then for the recorder's last writes.
	l.release(workCtx, true)
	l.flush(workCtx, true)
	l.senders.Wait()
	close(l.rec)
	<-recDone
}

// maxReclaimRounds bounds the Reclaim calls of one reclaim pass.
const maxReclaimRounds = 10

// reclaim claims the entries of this platform's group that a stopped
// consumer left pending longer than ClaimMinIdle and handles them like new
// ones (without a merge window: they have waited long enough).
func (l *loop) reclaim(readCtx, workCtx context.Context) {
	for range maxReclaimRounds {
		msgs, err := l.e.d.Queue.Reclaim(readCtx, l.group, l.e.d.Consumer, l.e.cfg.ClaimMinIdle, l.e.cfg.ReadBatch)
		if err != nil {
			if readCtx.Err() == nil {
				l.e.log.Warn("cannot reclaim pending entries", "group", l.group, "err", err)
			}
			return
		}
		if n := l.handle(workCtx, msgs, true); n > 0 {
			l.m.reclaims.Add(float64(n))
			l.e.log.Info("reclaimed entries of a stopped consumer", "group", l.group, "entries", n)
		}
		if len(msgs) < l.e.cfg.ReadBatch {
			return
		}
	}
}

// hold marks id as read by this loop; false if it already was.
func (l *loop) hold(id string) bool {
	l.heldMu.Lock()
	defer l.heldMu.Unlock()
	if _, ok := l.held[id]; ok {
		return false
	}
	l.held[id] = struct{}{}
	return true
}

func (l *loop) unhold(ids []string) {
	l.heldMu.Lock()
	defer l.heldMu.Unlock()
	for _, id := range ids {
		delete(l.held, id)
	}
}

// outcome is the row of one event (name: its canonical name, for the live
// stream) for pixel p (nil: none) in status; source
// is the copy's (store.Source*), Test whether p has a test_event_code.
func (l *loop) outcome(tenant, eventID, name string, p *platforms.Pixel, status, source string, attempts int, respID string, at time.Time) store.DeliveryOutcome {
	o := store.DeliveryOutcome{
		TenantID: tenant, EventID: eventID, EventName: name, Platform: l.platform, Source: sourceOf(source),
		Status: status, Attempts: attempts, ResponseID: respID, CreatedAt: at,
	}
	if p != nil {
		o.PixelUUID, o.Test = p.UUID, p.TestEventCode != ""
	}
	return o
}

// sourceOf is the stored source of a copy ("" is the browser's: records
// written before the field existed).
func sourceOf(source string) string { return side(source) }

// letter queues the message's dead letter for this group, once. A message
// with merges folded in is stored with the merged event as its payload, so
// a replay sends what the first attempt sent.
func (l *loop) letter(r *record, ms *msgState, reason string) {
	if ms.letter.CompareAndSwap(false, true) {
		m := ms.msg
		if ms.merged != nil {
			if b, err := platforms.EncodeRecord(ms.merged); err == nil {
				m.Payload = b
			} else {
				l.e.log.Warn("dead letter keeps the queued payload: merged event not encodable", "group", l.group, "id", m.ID, "err", err)
			}
		}
		r.dead = append(r.dead, deadLetter{msg: m, reason: reason, received: ms.received})
	}
}

// handle routes read (or reclaimed) messages: conversions into the merge
// window, merge entries into their waiting copy, outcomes for what is
// settled at once, the rest into per-pixel batches. It returns how many it
// took (those this loop already holds are skipped).
func (l *loop) handle(workCtx context.Context, msgs []queue.Message, reclaimed bool) (taken int) {
	if len(msgs) == 0 {
		return 0
	}
	now := l.e.now()
	snap := l.e.pixels.Load()
	settled := &l.settled
	for i := range msgs {
		m := msgs[i]
		if !l.hold(m.ID) {
			continue // reclaimed while this loop still has it
		}
		taken++
		if m.Kind == queue.KindMerge {
			l.merge(m, snap, now)
			continue
		}
		ev, err := l.dec.decode(m.Payload)
		if err == nil && (ev.TenantID != m.TenantID || ev.EventID != m.EventID) {
			err = errors.New("payload tenant or event id differs from the queue entry's")
		}
		if err != nil {
			l.e.log.Warn("undeliverable queue entry", "group", l.group, "id", m.ID, "tenant", m.TenantID, "err", err)
			settled.outs = append(settled.outs, l.outcome(m.TenantID, m.EventID, m.EventName, nil, StatusFailed, "", 0, "", now))
			l.letter(settled, &msgState{msg: m}, "undecodable queue entry")
			settled.acks = append(settled.acks, m.ID)
			continue
		}
		ms := &msgState{msg: m, received: ev.Received}
		if !reclaimed && ev.Class == platforms.ClassConversion && l.e.cfg.MergeWindow > 0 && l.wait(ms, &ev) {
			continue
		}
		l.route(workCtx, ms, &ev, snap, now, ev.Targets(l.platform), !isBrowser(ev.Source))
	}
	l.emitSettled(workCtx)
	return taken
}

// wait puts a conversion in the merge window; false when it must be sent
// now (window full, or another copy of it already waits as an event).
func (l *loop) wait(ms *msgState, ev *platforms.Event) bool {
	key := waitKey{ms.msg.TenantID, ms.msg.EventID, ms.msg.EventName}
	if _, dup := l.waiting[key]; dup {
		return false // e.g. a replay while the first copy waits: sent on its own
	}
	if l.e.waiting.Add(1) > int64(l.e.cfg.MergeMaxWaiting) {
		l.e.waiting.Add(-1)
		l.m.overflow.Inc()
		return false
	}
	l.e.metrics.waiting.Inc()
	w := &waiter{key: key, ms: ms, ev: ev, until: time.Now().Add(l.e.cfg.MergeWindow),
		targeted: ev.Targets(l.platform), confirmed: !isBrowser(ev.Source)}
	l.waiting[key] = w
	l.waitQ = append(l.waitQ, w)
	return true
}

// merge folds a merge entry into its waiting conversion (acknowledged with
// it); when none waits — already sent, or read by another consumer — the
// entry is only recorded ("merged") and acknowledged.
//
// Targeting (Event.Platforms): a copy's data reaches only the platforms it
// targets. A copy for this platform is folded into a waiting copy for it
// (mergeInto); a copy not for this platform is only recorded; a copy for
// this platform replaces a waiting copy that is not (which was not going to
// be sent here). Any server copy confirms the conversion, whatever it
// targets.
func (l *loop) merge(m queue.Message, snap *snapshot, now time.Time) {
	cp, err := l.dec.decode(m.Payload)
	if err == nil && (cp.TenantID != m.TenantID || cp.EventID != m.EventID) {
		err = errors.New("payload tenant or event id differs from the queue entry's")
	}
	src := ""
	if err == nil {
		src = cp.Source
	}
	if w, ok := l.waiting[waitKey{m.TenantID, m.EventID, m.EventName}]; ok {
		switch {
		case err != nil:
			l.e.log.Warn("merge entry not folded: undecodable", "group", l.group, "id", m.ID, "tenant", m.TenantID)
		case !w.targeted && cp.Targets(l.platform):
			w.ev, w.targeted = &cp, true
		case w.targeted && cp.Targets(l.platform):
			mergeInto(w.ev, &cp)
		}
		if err == nil && !isBrowser(cp.Source) {
			w.confirmed = true
		}
		w.ms.merges = append(w.ms.merges, m)
		w.ms.msrc = append(w.ms.msrc, src)
		return
	}
	for _, p := range snap.lookup(l.platform, m.TenantID) {
		l.settled.outs = append(l.settled.outs, l.outcome(m.TenantID, m.EventID, m.EventName, p, StatusMerged, src, 0, "", now))
	}
	l.settled.acks = append(l.settled.acks, m.ID)
}

// release routes the conversions whose merge window is over (all with
// force).
func (l *loop) release(workCtx context.Context, force bool) {
	now := time.Now()
	n := 0
	var snap *snapshot
	var at time.Time
	for n < len(l.waitQ) && (force || !now.Before(l.waitQ[n].until)) {
		w := l.waitQ[n]
		l.waitQ[n] = nil
		n++
		delete(l.waiting, w.key)
		l.e.waiting.Add(-1)
		l.e.metrics.waiting.Dec()
		if snap == nil {
			snap, at = l.e.pixels.Load(), l.e.now()
		}
		l.route(workCtx, w.ms, w.ev, snap, at, w.targeted, w.confirmed)
	}
	if n == 0 {
		return
	}
	l.waitQ = l.waitQ[n:]
	if len(l.waitQ) == 0 {
		l.waitQ = nil
	}
	l.emitSettled(workCtx)
}

// route checks the event for each of its tenant's pixels of the platform
// and adds it to their batches; what is settled without a request (merge
// entries folded in, skipped, unconfirmed, refused by Check) goes to
// l.settled. targeted: the event is for this platform (else every pixel
// records "skipped"); confirmed: a server copy was seen (else a browser
// conversion records "unconfirmed" for the pixels that require one).
func (l *loop) route(workCtx context.Context, ms *msgState, ev *platforms.Event, snap *snapshot, now time.Time, targeted, confirmed bool) {
	settled := &l.settled
	m := &ms.msg
	pixels := snap.lookup(l.platform, m.TenantID)
	if len(ms.merges) > 0 {
		ms.merged = ev
	}
	for i := range ms.merges {
		for _, p := range pixels {
			settled.outs = append(settled.outs, l.outcome(m.TenantID, m.EventID, m.EventName, p, StatusMerged, ms.msrc[i], 0, "", now))
		}
	}
	needsConfirm := ev.Class == platforms.ClassConversion && !confirmed
	var ok []*platforms.Pixel
	for _, p := range pixels {
		if !targeted {
			settled.outs = append(settled.outs, l.outcome(m.TenantID, m.EventID, m.EventName, p, StatusSkipped, ev.Source, 0, "", now))
			continue
		}
		if needsConfirm && snap.confirms(p.UUID) {
			settled.outs = append(settled.outs, l.outcome(m.TenantID, m.EventID, m.EventName, p, StatusUnconfirmed, ev.Source, 0, "", now))
			continue
		}
		switch err := l.dest.Check(p, ev, now); {
		case err == nil:
			ok = append(ok, p)
		case errors.Is(err, platforms.ErrSkip):
			settled.outs = append(settled.outs, l.outcome(m.TenantID, m.EventID, m.EventName, p, StatusSkipped, ev.Source, 0, "", now))
		default:
			l.e.log.Debug("event refused for pixel", "platform", l.platform, "pixel", p.UUID, "err", err)
			settled.outs = append(settled.outs, l.outcome(m.TenantID, m.EventID, m.EventName, p, StatusFailed, ev.Source, 0, "", now))
			l.letter(settled, ms, "failed: invalid for pixel "+p.UUID)
		}
	}
	if len(ok) == 0 {
		settled.acks = append(settled.acks, ms.ackIDs()...)
		return
	}
	ms.remaining.Store(int32(len(ok)))
	for _, p := range ok {
		l.add(workCtx, p, item{msg: ms, ev: ev})
	}
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
	if len(l.waitQ) > 0 {
		d = l.waitQ[0].until
	}
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
		// Erasure check before every request; a failed check sends
		// nothing and counts as a retryable failure.
		var err error
		if items, err = l.dropErased(workCtx, b.pixel, items, attempt-1); err == nil && len(items) == 0 {
			<-l.sem
			return
		}
		var resp platforms.Response
		sent := err == nil
		if !sent {
			l.e.log.Warn("cannot check erasures before sending, retrying", "platform", l.platform, "pixel", b.pixel.UUID, "err", err)
		}
		evs := make([]*platforms.Event, len(items))
		for i := range items {
			evs[i] = items[i].ev
		}
		start := time.Now()
		if sent {
			resp, err = l.dest.Send(workCtx, b.pixel, evs)
		}
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
		if sent {
			l.m.observe(result(err), time.Since(start))
		}
		// The health callbacks fire only on a change of the stored light
		// (as of the last snapshot), so a pixel that stays red is not
		// written again and again.
		if auth {
			l.e.log.Warn("platform refused the pixel's credentials", "platform", l.platform, "pixel", b.pixel.UUID, "err", err)
			if l.e.d.OnAuthFailure != nil && !l.e.pixels.Load().isRed(b.pixel.UUID) {
				l.e.d.OnAuthFailure(b.pixel.TenantID, b.pixel.UUID)
			}
		} else if l.e.d.OnRecovered != nil && slices.Contains(vs, delivered) && l.e.pixels.Load().isRed(b.pixel.UUID) {
			l.e.d.OnRecovered(b.pixel.TenantID, b.pixel.UUID)
		}
		var again []item
		var nFailed, nDead int
		for i, it := range items {
			status := StatusDelivered
			switch vs[i] {
			case failed:
				status = StatusFailed
				nFailed++
				l.letter(&rec, it.msg, letterReason(status, attempt, err, resp.HTTPStatus, auth, b.pixel.UUID))
			case retry:
				if attempt >= l.attempts {
					status = StatusDead
					nDead++
					l.letter(&rec, it.msg, letterReason(status, attempt, err, resp.HTTPStatus, auth, b.pixel.UUID))
				} else {
					status = StatusRetrying
					again = append(again, it)
				}
			}
			rec.outs = append(rec.outs, l.outcome(b.pixel.TenantID, it.ev.EventID, it.ev.Name, b.pixel, status, it.ev.Source, attempt, respID, now))
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
			if (vs[i] != retry || attempt >= l.attempts) && it.msg.remaining.Add(-1) == 0 {
				acks.acks = append(acks.acks, it.msg.ackIDs()...)
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

// letterReason is a dead letter's reason: short, no secrets (no error
// text, which may quote the platform's answer).
func letterReason(status string, attempts int, err error, httpStatus int, auth bool, pixel string) string {
	answer := "no answer"
	if httpStatus != 0 {
		answer = "HTTP " + strconv.Itoa(httpStatus)
	}
	switch {
	case status == StatusDead:
		return fmt.Sprintf("dead after %d attempts (last: %s, %s) for pixel %s", attempts, result(err), answer, pixel)
	case auth:
		return fmt.Sprintf("failed: credentials refused (%s) for pixel %s", answer, pixel)
	}
	return fmt.Sprintf("failed: %s (%s) for pixel %s", result(err), answer, pixel)
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
				r.dead = append(r.dead, more.dead...)
				r.acks = append(r.acks, more.acks...)
			default:
				open = false
			}
		}
		l.write(workCtx, &r)
	}
}

// write appends answers then outcomes, then stores dead letters, then
// acknowledges, each retried with backoff until it succeeds or the engine
// is cut short.
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
		{"dead letters", func() error {
			if err := l.dropErasedLetters(ctx, r); err != nil {
				return err
			}
			for len(r.dead) > 0 {
				d := r.dead[0]
				err := l.e.d.Queue.DeadLetter(ctx, l.group, d.msg, d.reason)
				if errors.Is(err, queue.ErrInvalidDeadLetter) {
					l.e.log.Warn("dead letter refused", "group", l.group, "id", d.msg.ID, "err", err)
					err = nil
				} else if err == nil {
					l.m.dead.Inc()
				}
				if err != nil {
					return err
				}
				r.dead = r.dead[1:] // a retry resumes after the stored ones
			}
			return nil
		}},
		{"acks", func() error {
			if len(r.acks) == 0 {
				return nil
			}
			if err := l.e.d.Queue.Ack(ctx, l.group, r.acks...); err != nil {
				return err
			}
			l.unhold(r.acks)
			return nil
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
	l.publishOutcomes(r)
}
