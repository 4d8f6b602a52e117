package proxy

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jaraba/pixelgw/internal/eventmetrics"
)

// Rejection reasons (label values of pixelgw_edge_rejected_total).
const (
	reasonOrigin       = "origin"
	reasonContentType  = "content_type"
	reasonRateLimited  = "rate_limited"
	reasonTooLarge     = "too_large"
	reasonInvalid      = "invalid"
	reasonBackpressure = "backpressure"
	reasonQueue        = "queue_unavailable"
	reasonOverCap      = "dedup_cap"
)

// Metrics are the edge's Prometheus metrics. No tenant label: a fleet has
// thousands of tenants. The event counters (received, accepted,
// deduplicated, consent-blocked, rejected events) are the families of
// internal/eventmetrics with source="client", shared with the events API.
type Metrics struct {
	received         prometheus.Counter
	accepted         prometheus.Counter
	deduplicated     prometheus.Counter
	consentBlocked   prometheus.Counter
	overCapEvents    prometheus.Counter
	unavailable      prometheus.Counter // events of beacons refused with 503 (queue)
	rejectedBy       *prometheus.CounterVec
	consentDecisions *prometheus.CounterVec
	loaderServed     prometheus.Counter
	consentRestored  prometheus.Counter
	queueLag         prometheus.Gauge
}

// NewMetrics creates the edge's metrics and registers them on reg (nil: not
// registered, for tests). events are the shared event families, already
// registered by their creator (cmd/pixelgw); nil creates them here (and
// registers them on reg), for an edge on its own.
func NewMetrics(reg prometheus.Registerer, events *eventmetrics.Metrics) *Metrics {
	if events == nil {
		events, _ = eventmetrics.New(reg) // a fresh registry: no name clash
	}
	ev := events.For(eventmetrics.SourceClient)
	m := &Metrics{
		received: ev.Received, accepted: ev.Accepted, deduplicated: ev.Deduplicated, consentBlocked: ev.ConsentBlocked,
		overCapEvents: ev.Rejected(eventmetrics.ReasonDedupCap), unavailable: ev.Rejected(eventmetrics.ReasonUnavailable),
		rejectedBy: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pixelgw_edge_rejected_total", Help: "Collect and consent requests refused, by reason."}, []string{"reason"}),
		consentDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pixelgw_consent_decisions_total", Help: "Consent decisions recorded from banners, by choice."}, []string{"choice"}),
		loaderServed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pixelgw_loader_requests_total", Help: "Loader script requests answered (200 or 304)."}),
		consentRestored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pixelgw_consent_restored_total", Help: "Consent cookies set again from the visitor's current record (capped cookies)."}),
		queueLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pixelgw_queue_lag", Help: "Entries not yet acknowledged by the slowest delivery group."}),
	}
	for _, r := range []string{reasonOrigin, reasonContentType, reasonRateLimited, reasonTooLarge, reasonInvalid, reasonBackpressure, reasonQueue, reasonOverCap} {
		m.rejectedBy.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.rejectedBy, m.consentDecisions, m.loaderServed, m.consentRestored, m.queueLag)
	}
	return m
}

func (m *Metrics) rejected(reason string) { m.rejectedBy.WithLabelValues(reason).Inc() }
