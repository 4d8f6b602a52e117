package dispatch

import (
	"context"
	"time"

	"github.com/jaraba/pixelgw/platforms"
)

// erasable is what the erasure check needs of one event: its tenant, when
// the edge (or the events API) received it, and its visitor ids (the
// event's, its queue entry's, those of merge entries folded into it).
type erasable struct {
	tenant   string
	received time.Time
	visitors []string
}

// erased reports, per x, whether one of its visitors was erased
// (queue.Queue.EraseVisitor) at or after the event was received, compared
// in milliseconds, the markers' precision: such an event is dropped. An
// event received after the erasure is kept: the visitor consented again,
// and the edge and the events API admit it only with a newer decision.
// One ErasedAt call per tenant present (a platform batch has one tenant);
// none when no event has a visitor. nil and no error: nothing erased.
func (e *Engine) erased(ctx context.Context, xs []erasable) ([]bool, error) {
	byTenant := map[string][]string{}
	var tenants []string
	for i := range xs {
		for _, v := range xs[i].visitors {
			if v == "" {
				continue
			}
			if _, ok := byTenant[xs[i].tenant]; !ok {
				tenants = append(tenants, xs[i].tenant)
			}
			byTenant[xs[i].tenant] = append(byTenant[xs[i].tenant], v)
		}
	}
	var drop []bool
	for _, t := range tenants {
		marks, err := e.d.Queue.ErasedAt(ctx, t, byTenant[t])
		if err != nil {
			return nil, err
		}
		if len(marks) == 0 {
			continue
		}
		for i := range xs {
			if xs[i].tenant != t {
				continue
			}
			for _, v := range xs[i].visitors {
				if at, ok := marks[v]; ok && xs[i].received.UnixMilli() <= at.UnixMilli() {
					if drop == nil {
						drop = make([]bool, len(xs))
					}
					drop[i] = true
				}
			}
		}
	}
	return drop, nil
}

// itemErasable is the erasure check's view of a batched event.
func itemErasable(it *item) erasable {
	x := erasable{tenant: it.msg.msg.TenantID, received: it.ev.Received,
		visitors: []string{it.ev.VisitorID, it.msg.msg.VisitorID}}
	for i := range it.msg.merges {
		x.visitors = append(x.visitors, it.msg.merges[i].VisitorID)
	}
	return x
}

// dropErased is the check before each request for pixel p (the first send
// and every retry): the items of erased visitors are recorded "erased"
// (no request, nothing sent, no dead letter), counted down like a final
// outcome (their message is acknowledged once every pixel's outcome is
// written) and left out of the returned items. An error (the queue did not
// answer) leaves items as they are: the caller sends nothing and retries.
func (l *loop) dropErased(ctx context.Context, p *platforms.Pixel, items []item, requests int) ([]item, error) {
	xs := make([]erasable, len(items))
	for i := range items {
		xs[i] = itemErasable(&items[i])
	}
	drop, err := l.e.erased(ctx, xs)
	if err != nil || drop == nil {
		return items, err
	}
	now := l.e.now()
	var rec record
	kept := make([]item, 0, len(items))
	var gone []item
	for i, it := range items {
		if !drop[i] {
			kept = append(kept, it)
			continue
		}
		gone = append(gone, it)
		rec.outs = append(rec.outs, l.outcome(p.TenantID, it.ev.EventID, it.ev.Name, p, StatusErased, it.ev.Source, requests, "", now))
	}
	l.e.log.Info("events of erased visitors dropped", "platform", l.platform, "pixel", p.UUID, "events", len(gone))
	// As in deliver: count down only once the outcomes are queued.
	if !l.emit(ctx, rec) {
		return nil, nil
	}
	var acks record
	for _, it := range gone {
		if it.msg.remaining.Add(-1) == 0 {
			acks.acks = append(acks.acks, it.msg.ackIDs()...)
		}
	}
	if !l.emit(ctx, acks) {
		return nil, nil
	}
	return kept, nil
}

// dropErasedLetters leaves out of r.dead the letters of erased visitors
// (a dead letter carries the payload: personal data), checked just before
// they are stored.
func (l *loop) dropErasedLetters(ctx context.Context, r *record) error {
	if len(r.dead) == 0 {
		return nil
	}
	xs := make([]erasable, len(r.dead))
	for i := range r.dead {
		d := &r.dead[i]
		xs[i] = erasable{tenant: d.msg.TenantID, received: d.received, visitors: []string{d.msg.VisitorID}}
	}
	drop, err := l.e.erased(ctx, xs)
	if err != nil || drop == nil {
		return err
	}
	kept := r.dead[:0]
	for i := range r.dead {
		if !drop[i] {
			kept = append(kept, r.dead[i])
		}
	}
	r.dead = kept
	return nil
}
