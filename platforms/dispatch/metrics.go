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
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pixelgw_deliveries_total",
			Help: "Delivery outcomes per event and pixel, by platform and outcome (delivered, retrying, failed, dead, skipped, merged).",
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
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.outcomes, m.retries, m.requests} {
		errs = append(errs, reg.Register(c))
	}
	return m, errors.Join(errs...)
}

// platformMetrics are the metrics of one platform, labels bound.
type platformMetrics struct {
	outcome map[string]prometheus.Counter
	retries prometheus.Counter
	request map[string]prometheus.Observer
}

func (m *metrics) forPlatform(platform string) *platformMetrics {
	pm := &platformMetrics{
		outcome: map[string]prometheus.Counter{},
		retries: m.retries.WithLabelValues(platform),
		request: map[string]prometheus.Observer{},
	}
	for _, s := range []string{StatusDelivered, StatusRetrying, StatusFailed, StatusDead, StatusSkipped, StatusMerged} {
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
