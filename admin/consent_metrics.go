package admin

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jaraba/pixelgw/consent"
	"github.com/jaraba/pixelgw/store/queue"
)

// QueueEraser removes a visitor's queued-but-undelivered entries and dead
// letters and records the erasure (at, kept ttl) for the delivery engine
// (queue.Queue satisfies it).
type QueueEraser interface {
	EraseVisitor(ctx context.Context, tenantID, visitorID string, at time.Time, ttl time.Duration) (queue.Erasure, error)
}

// consentMetrics counts consent decisions made through the API, by the
// same choice labels as the edge's pixelgw_consent_decisions_total
// (consent.Choice), without a tenant label: sum both for every decision.
type consentMetrics struct {
	decisions *prometheus.CounterVec
}

func newConsentMetrics(reg prometheus.Registerer) (*consentMetrics, error) {
	m := &consentMetrics{decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pixelgw_consent_api_decisions_total",
		Help: "Consent decisions recorded through the admin API (POST and revocations), by choice.",
	}, []string{"choice"})}
	for _, c := range []string{"all", "marketing", "analytics", "none"} {
		m.decisions.WithLabelValues(c) // export zeros: rates work from the start
	}
	if reg == nil {
		return m, nil
	}
	if err := reg.Register(m.decisions); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, err
		}
		// A second API on the same registry (tests) shares the counter.
		existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
		if !ok {
			return nil, err
		}
		m.decisions = existing
	}
	return m, nil
}

// decided counts one recorded decision.
func (m *consentMetrics) decided(analytics, marketing bool) {
	m.decisions.WithLabelValues(consent.Choice(analytics, marketing)).Inc()
}
