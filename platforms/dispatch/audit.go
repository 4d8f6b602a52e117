package dispatch

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/normalize"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/queue"
)

// auditLoop writes one accepted-event row per queued event (merge entries
// and undecodable ones are acknowledged without a row), a batch per read,
// and every ReclaimInterval the entries a stopped consumer left pending.
func (e *Engine) auditLoop(readCtx, workCtx context.Context, first []queue.Message) {
	msgs := first
	nextReclaim := time.Now()
	for {
		if len(msgs) > 0 && !e.writeAudit(workCtx, msgs) {
			return
		}
		if readCtx.Err() != nil {
			return
		}
		if !time.Now().Before(nextReclaim) {
			if !e.reclaimAudit(readCtx, workCtx) {
				return
			}
			nextReclaim = time.Now().Add(e.cfg.ReclaimInterval)
		}
		block := max(min(idleBlock, time.Until(nextReclaim)), time.Millisecond)
		var err error
		msgs, err = e.d.Queue.Read(readCtx, AuditGroup, e.d.Consumer, e.cfg.ReadBatch, block)
		if err != nil {
			if readCtx.Err() != nil {
				return
			}
			e.log.Warn("cannot read the queue", "group", AuditGroup, "err", err)
			sleep(readCtx, e.cfg.BackoffBase)
		}
	}
}

// reclaimAudit writes the audit entries a stopped consumer left pending
// longer than ClaimMinIdle (their rows may be written twice if it died
// between its write and its ack); false when cut short by Stop.
func (e *Engine) reclaimAudit(readCtx, workCtx context.Context) bool {
	for range maxReclaimRounds {
		msgs, err := e.d.Queue.Reclaim(readCtx, AuditGroup, e.d.Consumer, e.cfg.ClaimMinIdle, e.cfg.ReadBatch)
		if err != nil {
			if readCtx.Err() == nil {
				e.log.Warn("cannot reclaim pending entries", "group", AuditGroup, "err", err)
			}
			return true
		}
		if len(msgs) == 0 {
			return true
		}
		e.metrics.reclaims.WithLabelValues(AuditGroup).Add(float64(len(msgs)))
		e.log.Info("reclaimed entries of a stopped consumer", "group", AuditGroup, "entries", len(msgs))
		if !e.writeAudit(workCtx, msgs) {
			return false
		}
		if len(msgs) < e.cfg.ReadBatch {
			return true
		}
	}
	return true
}

// writeAudit appends the rows of msgs and acknowledges them, retrying with
// backoff; false when cut short by Stop (nothing acknowledged).
func (e *Engine) writeAudit(ctx context.Context, msgs []queue.Message) bool {
	evs := make([]store.AuditEvent, 0, len(msgs))
	xs := make([]erasable, 0, len(msgs))
	ids := make([]string, 0, len(msgs))
	var dec eventDecoder
	for i := range msgs {
		m := &msgs[i]
		ids = append(ids, m.ID)
		if m.Kind != queue.KindEvent {
			continue
		}
		ev, err := dec.decode(m.Payload)
		if err != nil || ev.TenantID != m.TenantID || ev.EventID != m.EventID {
			continue // recorded "failed" by the platform loops
		}
		evs = append(evs, e.auditEvent(&ev))
		xs = append(xs, erasable{tenant: m.TenantID, received: ev.Received, visitors: []string{ev.VisitorID, m.VisitorID}})
	}
	// The rows of erased visitors are never written (their entries are
	// acknowledged); nothing is written before the check succeeded.
	for attempt := 1; len(evs) > 0; attempt++ {
		drop, err := e.erased(ctx, xs)
		if err == nil {
			if drop != nil {
				kept := evs[:0]
				for i := range evs {
					if !drop[i] {
						kept = append(kept, evs[i])
					}
				}
				evs = kept
			}
			break
		}
		if ctx.Err() != nil {
			return false
		}
		e.log.Warn("cannot check erasures before auditing, retrying", "events", len(evs), "err", err)
		if !sleep(ctx, e.backoff(attempt, 0)) {
			return false
		}
	}
	for attempt := 1; len(evs) > 0; attempt++ {
		err := e.d.Audit.AppendEvents(ctx, evs)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return false
		}
		e.log.Warn("cannot append audit events, retrying", "events", len(evs), "err", err)
		if !sleep(ctx, e.backoff(attempt, 0)) {
			return false
		}
	}
	e.publishAccepted(evs)
	for attempt := 1; ; attempt++ {
		err := e.d.Queue.Ack(ctx, AuditGroup, ids...)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		e.log.Warn("cannot acknowledge audit entries, retrying", "err", err)
		if !sleep(ctx, e.backoff(attempt, 0)) {
			return false
		}
	}
}

// auditEvent is the row of ev: user data normalised, hashed and sealed
// (the IP, user agent and click ids kept as given).
func (e *Engine) auditEvent(ev *platforms.Event) store.AuditEvent {
	row := store.AuditEvent{
		TenantID: ev.TenantID, EventID: ev.EventID, EventName: ev.Name, EventSource: ev.Source, VisitorID: ev.VisitorID,
		EventSourceURL: ev.URL, ClientIP: ev.ClientIP, ClientUserAgent: ev.UserAgent,
		FBC: ev.IDs.FBC, FBP: ev.IDs.FBP, GCLID: ev.IDs.GCLID, CreatedAt: ev.Received,
	}
	if row.EventSource == "" {
		row.EventSource = store.SourceClient
	}
	if row.CreatedAt.IsZero() {
		row.CreatedAt = e.now()
	}
	if len(ev.Props) > 0 {
		if b, err := json.Marshal(ev.Props); err == nil {
			row.CustomData = b
		}
	}
	if ud := hashedUserData(&ev.User); len(ud) > 0 {
		b, err := json.Marshal(ud)
		if err == nil {
			row.UserData, err = e.d.Keyring.Seal(b)
		}
		if err != nil {
			e.log.Warn("audit row kept without user data: cannot seal it", "tenant", ev.TenantID, "err", err)
		}
	}
	return row
}

// hashedUserData maps Meta's short keys to SHA-256 digests (phones E.164
// with '+'); invalid values are left out.
func hashedUserData(u *platforms.UserData) map[string]string {
	out := map[string]string{}
	add := func(key string, f normalize.Field, v string) {
		if v == "" {
			return
		}
		if h, ok := normalize.Hash(f, v, normalize.Rules{PhonePlus: true}); ok {
			out[key] = h
		}
	}
	add("em", normalize.Email, u.Email)
	add("ph", normalize.Phone, u.Phone)
	add("fn", normalize.FirstName, u.FirstName)
	add("ln", normalize.LastName, u.LastName)
	add("ge", normalize.Gender, u.Gender)
	add("db", normalize.DateOfBirth, u.DateOfBirth)
	add("ct", normalize.City, u.City)
	add("st", normalize.State, u.State)
	add("zp", normalize.Zip, u.Zip)
	add("country", normalize.Country, u.Country)
	add("external_id", normalize.ExternalID, u.ExternalID)
	return out
}
