package admin

import (
	"github.com/jaraba/pixelgw/internal/eventmetrics"
)

// serverEventMetrics binds the shared event counters to source="server";
// nil gets counters of its own, registered nowhere.
func serverEventMetrics(m *eventmetrics.Metrics) *eventmetrics.Source {
	if m == nil {
		m, _ = eventmetrics.New(nil)
	}
	return m.For(eventmetrics.SourceServer)
}

// countResults counts one events API call's per-event results into the
// shared families: received (every event of the call), accepted,
// deduplicated, consent-blocked (no consent on record, or revoked) and
// rejected by reason (invalid, dedup_cap).
func (a *API) countResults(res []EventResult) {
	m := a.evm
	m.Received.Add(float64(len(res)))
	for _, r := range res {
		switch r.Status {
		case EventAccepted:
			m.Accepted.Inc()
		case EventDuplicate:
			m.Deduplicated.Inc()
		case EventRejected:
			switch r.Reason {
			case ReasonNoConsent, ReasonRevoked:
				m.ConsentBlocked.Inc()
			case ReasonOverCap:
				m.Rejected(eventmetrics.ReasonDedupCap).Inc()
			default:
				m.Rejected(eventmetrics.ReasonInvalid).Inc()
			}
		}
	}
}

// countUnavailable counts the n events of a call that failed as a whole
// (queue or store unreachable: 503, nothing queued).
func (a *API) countUnavailable(n int) {
	a.evm.Received.Add(float64(n))
	a.evm.Rejected(eventmetrics.ReasonUnavailable).Add(float64(n))
}
