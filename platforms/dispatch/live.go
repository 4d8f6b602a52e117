package dispatch

import (
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/live"
)

// publishAccepted tells the live streams of each tenant with one open
// (Deps.Live; live.Publisher.Listening) which of its events were accepted:
// one Publish per tenant per audit batch, after the rows are written.
func (e *Engine) publishAccepted(evs []store.AuditEvent) {
	pub := e.d.Live
	if pub == nil || len(evs) == 0 {
		return
	}
	byTenant := map[string][]live.Update{}
	listening := map[string]bool{}
	for i := range evs {
		ev := &evs[i]
		on, seen := listening[ev.TenantID]
		if !seen {
			on = pub.Listening(ev.TenantID)
			listening[ev.TenantID] = on
		}
		if !on {
			continue
		}
		byTenant[ev.TenantID] = append(byTenant[ev.TenantID], live.Update{
			Kind: live.KindAccepted, EventID: ev.EventID, At: ev.CreatedAt.UTC(),
			EventName: ev.EventName, Source: ev.EventSource, URL: ev.EventSourceURL,
			ClientIP: ev.ClientIP, UserAgent: ev.ClientUserAgent,
			FBP: ev.FBP, FBC: ev.FBC, GCLID: ev.GCLID, HasUserData: !ev.UserData.IsZero(),
		})
	}
	for t, ups := range byTenant {
		pub.Publish(t, ups)
	}
}

// publishOutcomes tells the live streams each written outcome — the event's
// name, the copy's source and the test flag as stored, and the HTTP status
// of the request that carried it: one Publish per tenant per recorder
// write.
func (l *loop) publishOutcomes(r *record) {
	pub := l.e.d.Live
	if pub == nil || len(r.outs) == 0 {
		return
	}
	var statuses map[string]int // response id -> HTTP status
	byTenant := map[string][]live.Update{}
	listening := map[string]bool{}
	for i := range r.outs {
		o := &r.outs[i]
		on, seen := listening[o.TenantID]
		if !seen {
			on = pub.Listening(o.TenantID)
			listening[o.TenantID] = on
		}
		if !on {
			continue
		}
		if statuses == nil {
			statuses = make(map[string]int, len(r.resps))
			for j := range r.resps {
				statuses[r.resps[j].ID] = r.resps[j].HTTPStatus
			}
		}
		byTenant[o.TenantID] = append(byTenant[o.TenantID], live.Update{
			Kind: live.KindDelivery, EventID: o.EventID, At: o.CreatedAt.UTC(), EventName: o.EventName, Source: o.Source,
			Pixel: o.PixelUUID, Platform: o.Platform, Status: o.Status, Attempts: o.Attempts,
			HTTPStatus: statuses[o.ResponseID], Test: o.Test,
		})
	}
	for t, ups := range byTenant {
		pub.Publish(t, ups)
	}
}
