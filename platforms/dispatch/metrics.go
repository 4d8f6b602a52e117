package dispatch

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's Prometheus metrics. No tenant label: a fleet has
// thousands of tenants.
type metrics struct {
	outcomes *prometheus.CounterVec   // platform, outcome
	retries  *prometheus.CounterVec   // platform
	requests *prometheus.HistogramVec // platform, result
	waiting  prometheus.Gauge         // conversions in the merge window
	overflow *prometheus.CounterVec   // platform
	dead     *prometheus.CounterVec   // platform
	reclaims *prometheus.CounterVec   // group
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pixelgw_deliveries_total",
			Help: "Delivery outcomes per event and pixel, by platform and outcome (delivered, retrying, failed, dead, skipped, merged, unconfirmed, erased).",
		}, []string{"platform", "outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pixelgw_delivery_retries_total",
			Help: "Events sent again to a pixel after a retryable failure, by platform.",
		}, []string{"platform"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pixelgw_platform_request_duration_seconds",
			Help:    "Platform requests by platform and result (ok, partial, retryable, permanent), with their latency.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"platform", "result"}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pixelgw_merge_window_waiting",
			Help: "Conversions waiting in the merge window for their other copy, all platforms together.",
		}),
		overflow: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pixelgw_merge_window_overflow_total",
			Help: "Conversions sent without waiting because merge_max_waiting were already waiting, by platform.",
		}, []string{"platform"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pixelgw_dead_letters_total",
			Help: "Queue entries put on the dead-letter list (dead or failed for a pixel), by platform.",
		}, []string{"platform"}),
		reclaims: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pixelgw_queue_reclaimed_total",
			Help: "Queue entries claimed from consumers that stopped without acknowledging them, by consumer group.",
		}, []string{"group"}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.outcomes, m.retries, m.requests, m.waiting, m.overflow, m.dead, m.reclaims} {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}

// platformMetrics are the metrics of one platform, labels bound.
type platformMetrics struct {
	outcome  map[string]prometheus.Counter
	retries  prometheus.Counter
	request  map[string]prometheus.Observer
	overflow prometheus.Counter
	dead     prometheus.Counter
	reclaims prometheus.Counter
}

func (m *metrics) forPlatform(platform string) *platformMetrics {
	pm := &platformMetrics{
		outcome:  map[string]prometheus.Counter{},
		retries:  m.retries.WithLabelValues(platform),
		request:  map[string]prometheus.Observer{},
		overflow: m.overflow.WithLabelValues(platform),
		dead:     m.dead.WithLabelValues(platform),
		reclaims: m.reclaims.WithLabelValues(Group(platform)),
	}
	for _, s := range []string{StatusDelivered, StatusRetrying, StatusFailed, StatusDead, StatusSkipped, StatusMerged, StatusUnconfirmed, StatusErased} {
		pm.outcome[s] = m.outcomes.WithLabelValues(platform, s)
	}
	for _, r := range []string{"ok", "partial", "retryable", "permanent"} {
		pm.request[r] = m.requests.WithLabelValues(platform, r)
	}
	return pm
}

func (pm *platformMetrics) observe(result string, d time.Duration) {
	pm.request[result].Observe(d.Seconds())
}
