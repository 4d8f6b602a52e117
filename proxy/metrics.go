package proxy

import "github.com/prometheus/client_golang/prometheus"

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
// thousands of tenants.
type Metrics struct {
	received         prometheus.Counter
	accepted         prometheus.Counter
	deduplicated     prometheus.Counter
	consentBlocked   prometheus.Counter
	rejectedBy       *prometheus.CounterVec
	consentDecisions *prometheus.CounterVec
	loaderServed     prometheus.Counter
	consentRestored  prometheus.Counter
	queueLag         prometheus.Gauge
}

// NewMetrics creates the metrics and registers them on reg (nil: not
// registered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pixelgw_events_received_total", Help: "Events in valid beacons received by the edge.",
			ConstLabels: prometheus.Labels{"source": "client"}}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pixelgw_events_accepted_total", Help: "Events durably queued for delivery."}),
		deduplicated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pixelgw_events_deduplicated_total", Help: "Events whose event_id was already seen in its dedup window."}),
		consentBlocked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pixelgw_events_consent_blocked_total", Help: "Events dropped for lack of consent (no valid consent cookie, or revoked)."}),
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
		reg.MustRegister(m.received, m.accepted, m.deduplicated, m.consentBlocked, m.rejectedBy, m.consentDecisions, m.loaderServed, m.consentRestored, m.queueLag)
	}
	return m
}

func (m *Metrics) rejected(reason string) { m.rejectedBy.WithLabelValues(reason).Inc() }
