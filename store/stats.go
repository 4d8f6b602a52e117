package store

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// The dashboard's numbers (GET /api/v1/tracking/events/stats) come from
// hourly rollups, never from a scan of the audit. Drivers maintain them in
// the same transaction as the writes they count, aggregated per batch in Go
// and written with one upsert per rollup table:
//
//   - AppendEvents: accepted events per (tenant, UTC hour of CreatedAt) by
//     EventSource (client, server, both);
//   - AppendOutcomes: per (tenant, pixel UUID, hour) the outcomes that
//     finish a delivery: delivered (the platform answered 2xx), failed
//     (permanent answer, refused by the adapter's Check, undecodable) and
//     dead (attempts exhausted). retrying, skipped and any other status are
//     not deliveries and are not counted;
//   - deduplicated events: an event counts once, in the hour the store
//     first learns that it was seen from BOTH sides, browser and server
//     (DedupCandidates): an audit row or any outcome with source "both"
//     (the delivery engine folded copies from both sides before sending),
//     or a "merged" outcome (a second copy) whose source differs from the
//     known source of another outcome of the event — stored before, or in
//     the same batch (the sent copy's, recorded when it was sent). A repeat
//     from the same side (a page firing twice, a retried webhook) is not
//     counted. A ledger of (tenant, event id) — kept 3 days, the 48 h dedup
//     window plus margin — makes the count distinct although every pixel of
//     every platform records its own outcomes. Drivers check the stored
//     sources in the batch's one ledger statement (an index probe of
//     delivery_outcome (tenant_id, event_id) per candidate: only events
//     with a "merged" outcome are candidates). A batch cannot see another
//     instance's uncommitted outcomes, nor outcomes written after it, so
//     ReconcileDedup re-checks the recent merged outcomes not yet counted
//     (every minute, DedupReconcileWindow back);
//   - AppendConsent: per (tenant, hour) the visitors whose latest decision
//     falls in that hour, and how many of them granted marketing. A new
//     decision moves its visitor from the hour of their previous decision
//     (if that hour can still be in a window) to its own, so the sums count
//     distinct visitors by their latest decision.
//
// Rollups start empty at migration 002 (consent is backfilled for the last
// 25 hours, because a later decision subtracts the earlier one): events and
// deliveries reach their full 24/48 h only that long after the upgrade.

// StatsWindow is the window of the tenant numbers: the current UTC hour and
// the 23 before it (so between 23 and 24 hours of data).
const StatsWindow = 24 * time.Hour

// StatsRedWindow is the window of the pixel lights' "nothing delivered"
// rule: the current hour and the 47 before it.
const StatsRedWindow = 48 * time.Hour

// StatsRetention is how long rollup rows are kept (PurgeStats).
const StatsRetention = 8 * 24 * time.Hour

// StatsLedgerRetention is how long the deduplication ledger remembers an
// event id: the 48 h dedup window (a second copy arrives within it) plus a
// day of delivery lag.
const StatsLedgerRetention = 72 * time.Hour

// WindowStart is the first hour bucket of a window of length w ending at
// now: the hour of now minus w, plus one hour.
func WindowStart(now time.Time, w time.Duration) time.Time {
	return now.UTC().Truncate(time.Hour).Add(time.Hour - w)
}

// Pixel lights.
const (
	LightGreen = "green"
	LightAmber = "amber"
	LightRed   = "red"
)

// SuccessThreshold is the share of finished deliveries answered 2xx a pixel
// needs in the last 24 h to be green.
const SuccessThreshold = 0.95

// SourceCounts are accepted events by source.
type SourceCounts struct {
	Client, Server, Both int64
}

// Total is the number of accepted events.
func (c SourceCounts) Total() int64 { return c.Client + c.Server + c.Both }

// DeliveryCounts are finished deliveries (one per event and pixel).
type DeliveryCounts struct {
	Delivered int64 // answered 2xx
	Failed    int64 // permanent failure
	Dead      int64 // attempts exhausted
}

// Finished is every delivery that ended: delivered, failed or dead.
func (d DeliveryCounts) Finished() int64 { return d.Delivered + d.Failed + d.Dead }

// SuccessRate is Delivered / Finished; ok is false when nothing finished.
func (d DeliveryCounts) SuccessRate() (rate float64, ok bool) {
	if d.Finished() <= 0 {
		return 0, false
	}
	return float64(d.Delivered) / float64(d.Finished()), true
}

// Add sums two counts.
func (d DeliveryCounts) Add(o DeliveryCounts) DeliveryCounts {
	return DeliveryCounts{d.Delivered + o.Delivered, d.Failed + o.Failed, d.Dead + o.Dead}
}

// ConsentCounts are distinct visitors by their latest decision.
type ConsentCounts struct {
	Decided   int64 // visitors whose latest decision is in the window
	Marketing int64 // of them, those whose latest decision grants marketing
}

// PixelStats is one pixel's deliveries and light.
type PixelStats struct {
	UUID         string
	Platform     string
	PixelID      string
	Active       bool
	StoredStatus string         // Pixel.Status (red after an auth failure)
	Day          DeliveryCounts // StatsWindow
	TwoDays      DeliveryCounts // StatsRedWindow
	Light        string         // PixelLight
}

// TenantStats are a tenant's numbers at a time.
type TenantStats struct {
	From, To     time.Time      // the StatsWindow: first hour bucket, and the time asked
	Events       SourceCounts   // accepted events
	Deliveries   DeliveryCounts // every pixel's, deleted pixels and pixel-less failures included
	Deduplicated int64          // distinct events seen twice (see above)
	Consent      ConsentCounts
	Pixels       []PixelStats // every pixel of the tenant, by creation
}

// PixelLight is a pixel's light:
//
//   - red: its stored status is red (a platform refused its credentials), or
//     deliveries finished in the last 48 h and none was delivered;
//   - amber: no delivery finished in the last 24 h (no events), fewer than
//     95% of them delivered, or its stored status is amber (degraded);
//   - green otherwise.
func PixelLight(stored string, day, twoDays DeliveryCounts) string {
	switch {
	case stored == LightRed:
		return LightRed
	case twoDays.Finished() > 0 && twoDays.Delivered == 0:
		return LightRed
	}
	rate, ok := day.SuccessRate()
	if !ok || rate < SuccessThreshold || stored == LightAmber {
		return LightAmber
	}
	return LightGreen
}

// ConsentDelta is a change of one consent rollup bucket.
type ConsentDelta struct {
	Hour      time.Time
	Decided   int64
	Marketing int64
}

// ConsentDeltas is what appending a decision at time at (marketing or not)
// does to the consent rollup, given the visitor's previous latest decision
// (hasPrev false when none) and the current time. For drivers.
func ConsentDeltas(hasPrev bool, prevAt time.Time, prevMarketing bool, at time.Time, marketing bool, now time.Time) []ConsentDelta {
	if hasPrev && prevAt.After(at) {
		return nil // not the visitor's latest decision
	}
	b := func(v bool) int64 {
		if v {
			return 1
		}
		return 0
	}
	hour := at.UTC().Truncate(time.Hour)
	out := []ConsentDelta{{Hour: hour, Decided: 1, Marketing: b(marketing)}}
	if !hasPrev {
		return out
	}
	prevHour := prevAt.UTC().Truncate(time.Hour)
	if prevHour.Before(WindowStart(now, StatsWindow)) {
		return out // no window can still hold the previous decision
	}
	if prevHour.Equal(hour) {
		out[0].Decided--
		out[0].Marketing -= b(prevMarketing)
		if out[0].Marketing == 0 && out[0].Decided == 0 {
			return nil
		}
		return out
	}
	return append(out, ConsentDelta{Hour: prevHour, Decided: -1, Marketing: -b(prevMarketing)})
}

// Stats answers the dashboard's numbers from the rollups.
type Stats interface {
	// TenantStats returns the tenant's numbers for the windows ending at
	// now. An unknown tenant has zero numbers and no pixels.
	TenantStats(ctx context.Context, tenantID string, now time.Time) (TenantStats, error)
	// PurgeStats deletes rollup rows older than StatsRetention and ledger
	// entries older than StatsLedgerRetention, counted back from now, and
	// returns how many rows it deleted. Idempotent.
	PurgeStats(ctx context.Context, now time.Time) (int64, error)
	// ReconcileDedup counts the deduplicated events that the per-batch
	// check could not see: the other side's outcome was committed by
	// another instance while the merged outcome's batch was being written,
	// or after it. Every "merged" outcome with a source created in
	// [from, to) whose event is not in the ledger yet is checked again
	// against the stored outcomes of its event, exactly like a batch's
	// candidate; those that now show both sides count once, in the hour of
	// the merged outcome. Idempotent, safe to run on every instance at
	// once (the ledger admits each event once); returns how many it
	// counted.
	ReconcileDedup(ctx context.Context, from, to time.Time) (int64, error)
}

// DedupReconcileWindow is how far back ReconcileDedup looks each time the
// instances run it (every minute): the sent copy's outcome of a merged event
// is written when its delivery ends, retries included.
const DedupReconcileWindow = 2 * time.Hour

// DedupCandidate is an event a batch of outcomes may show to have been seen
// from both sides. For drivers.
type DedupCandidate struct {
	// Index is the first outcome of the event in the batch.
	Index             int
	TenantID, EventID string
	// Hour is the UTC hour of that outcome (now when it has no time).
	Hour time.Time
	// Side is SourceBoth when the batch alone shows both sides: count the
	// event. Otherwise the only side (client or server) the batch shows
	// for it: count it when a stored outcome of the event (delivery_outcome,
	// this batch's rows included) has another non-empty source.
	Side string
}

// DedupCandidates returns the events of outs that may count as
// deduplicated, by tenant and event id: those with a "merged" outcome or an
// outcome whose source is "both". The side of each is the union of the
// sources of all its outcomes in the batch (the sent copy's and the merged
// copies'); an outcome without a source (written before migration 003)
// tells nothing, and a candidate that has only such outcomes is left out.
func DedupCandidates(outs []DeliveryOutcome, now time.Time) []DedupCandidate {
	type key struct{ tenant, event string }
	type acc struct {
		first          int
		client, server bool
	}
	var byEvent map[key]*acc
	for i := range outs {
		o := &outs[i]
		if o.Status != "merged" && o.Source != SourceBoth {
			continue
		}
		if byEvent == nil {
			byEvent = map[key]*acc{}
		}
		byEvent[key{o.TenantID, o.EventID}] = &acc{first: -1}
	}
	if len(byEvent) == 0 {
		return nil
	}
	for i := range outs {
		o := &outs[i]
		a := byEvent[key{o.TenantID, o.EventID}]
		if a == nil {
			continue
		}
		if a.first < 0 {
			a.first = i
		}
		switch o.Source {
		case SourceClient:
			a.client = true
		case SourceServer:
			a.server = true
		case SourceBoth:
			a.client, a.server = true, true
		}
	}
	out := make([]DedupCandidate, 0, len(byEvent))
	for k, a := range byEvent {
		side := ""
		switch {
		case a.client && a.server:
			side = SourceBoth
		case a.client:
			side = SourceClient
		case a.server:
			side = SourceServer
		default:
			continue
		}
		at := outs[a.first].CreatedAt
		if at.IsZero() {
			at = now
		}
		out = append(out, DedupCandidate{Index: a.first, TenantID: k.tenant, EventID: k.event, Hour: at.UTC().Truncate(time.Hour), Side: side})
	}
	slices.SortFunc(out, func(a, b DedupCandidate) int {
		return cmp.Or(cmp.Compare(a.TenantID, b.TenantID), cmp.Compare(a.EventID, b.EventID))
	})
	return out
}
