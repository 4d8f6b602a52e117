// Package eventmetrics holds the Prometheus counters of incoming events
// that the edge (browser beacons, source="client") and the server-side
// events API (source="server") share, so a dashboard reads one family per
// question whichever path an event took. No tenant label: a fleet has
// thousands of tenants.
//
// Families (label source = client|server):
//
//   - pixelgw_events_received_total{source}: events received in a valid
//     request (a beacon that parsed; an events API call that passed its
//     shape checks), before validation of each event, consent and dedup;
//   - pixelgw_events_accepted_total{source}: events durably queued;
//   - pixelgw_events_deduplicated_total{source}: events whose event_id was
//     already seen in its dedup window (a conversion's repeat is queued as
//     a merge entry, counted here, not as accepted);
//   - pixelgw_events_consent_blocked_total{source}: events dropped for lack
//     of consent (no valid cookie or record, or a newer revocation);
//   - pixelgw_events_rejected_total{source, reason}: single events refused
//     for another reason: invalid (the events API's per-event validation),
//     dedup_cap (the tenant's live dedup keys are at their cap) and
//     unavailable (the queue or the store did not answer: the request
//     failed, none of its events was queued; the sender retries).
//     Whole requests the edge refuses before reading events (origin, rate
//     limit, size, ...) stay in pixelgw_edge_rejected_total{reason}.
//
// The first four names predate this package (the edge had them without
// the source label, received with a constant source="client"): queries
// that sum over labels keep working.
package eventmetrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Sources (label values).
const (
	SourceClient = "client"
	SourceServer = "server"
)

// Rejection reasons (label values of pixelgw_events_rejected_total).
const (
	ReasonInvalid     = "invalid"
	ReasonDedupCap    = "dedup_cap"
	ReasonUnavailable = "unavailable"
)

// Metrics are the shared families. Create them once per process (New) and
// hand the same value to the edge and the admin API.
type Metrics struct {
	received       *prometheus.CounterVec
	accepted       *prometheus.CounterVec
	deduplicated   *prometheus.CounterVec
	consentBlocked *prometheus.CounterVec
	rejected       *prometheus.CounterVec
}

// New creates the families and registers them on reg (nil: not registered,
// for tests). A registration error (a name already registered) is returned
// with the metrics still usable.
func New(reg prometheus.Registerer) (*Metrics, error) {
	src := []string{"source"}
	m := &Metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pixelgw_events_received_total", Help: "Events received in valid requests, by source (client: edge beacons, server: events API)."}, src),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pixelgw_events_accepted_total", Help: "Events durably queued for delivery, by source."}, src),
		deduplicated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pixelgw_events_deduplicated_total", Help: "Events whose event_id was already seen in its dedup window, by source."}, src),
		consentBlocked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pixelgw_events_consent_blocked_total", Help: "Events dropped for lack of consent (no valid cookie or record, or revoked), by source."}, src),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pixelgw_events_rejected_total", Help: "Single events refused (invalid, dedup_cap, unavailable), by source and reason."},
			[]string{"source", "reason"}),
	}
	// Every series exists from the start (a rate over a missing series is
	// no data, not zero).
	for _, s := range []string{SourceClient, SourceServer} {
		m.For(s)
		for _, r := range []string{ReasonInvalid, ReasonDedupCap, ReasonUnavailable} {
			m.rejected.WithLabelValues(s, r)
		}
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.received, m.accepted, m.deduplicated, m.consentBlocked, m.rejected} {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}

// Source is the counters of one source, labels bound (no allocation per
// increment: the edge's hot path uses them).
type Source struct {
	Received       prometheus.Counter
	Accepted       prometheus.Counter
	Deduplicated   prometheus.Counter
	ConsentBlocked prometheus.Counter
	rejected       map[string]prometheus.Counter
	vec            *prometheus.CounterVec
	source         string
}

// For binds the counters of source.
func (m *Metrics) For(source string) *Source {
	s := &Source{
		Received:       m.received.WithLabelValues(source),
		Accepted:       m.accepted.WithLabelValues(source),
		Deduplicated:   m.deduplicated.WithLabelValues(source),
		ConsentBlocked: m.consentBlocked.WithLabelValues(source),
		rejected:       map[string]prometheus.Counter{},
		vec:            m.rejected,
		source:         source,
	}
	for _, r := range []string{ReasonInvalid, ReasonDedupCap, ReasonUnavailable} {
		s.rejected[r] = m.rejected.WithLabelValues(source, r)
	}
	return s
}

// Rejected is the counter of events of this source refused for reason.
func (s *Source) Rejected(reason string) prometheus.Counter {
	if c, ok := s.rejected[reason]; ok {
		return c
	}
	return s.vec.WithLabelValues(s.source, reason)
}
