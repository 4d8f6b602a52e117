package eventmetrics_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/internal/eventmetrics"
)

// TestOneFamilyPerQuestion: both sources count into the same families,
// told apart by the source label; every series exists from the start.
func TestOneFamilyPerQuestion(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := eventmetrics.New(reg)
	require.NoError(t, err)
	client, server := m.For(eventmetrics.SourceClient), m.For(eventmetrics.SourceServer)
	client.Received.Add(3)
	client.Accepted.Add(2)
	client.ConsentBlocked.Inc()
	server.Received.Add(4)
	server.Accepted.Inc()
	server.Deduplicated.Inc()
	server.Rejected(eventmetrics.ReasonInvalid).Inc()
	server.Rejected(eventmetrics.ReasonDedupCap).Inc()
	m.For(eventmetrics.SourceServer).Rejected(eventmetrics.ReasonInvalid).Inc() // bound twice: the same series

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP pixelgw_events_received_total Events received in valid requests, by source (client: edge beacons, server: events API).
# TYPE pixelgw_events_received_total counter
pixelgw_events_received_total{source="client"} 3
pixelgw_events_received_total{source="server"} 4
# HELP pixelgw_events_accepted_total Events durably queued for delivery, by source.
# TYPE pixelgw_events_accepted_total counter
pixelgw_events_accepted_total{source="client"} 2
pixelgw_events_accepted_total{source="server"} 1
# HELP pixelgw_events_deduplicated_total Events whose event_id was already seen in its dedup window, by source.
# TYPE pixelgw_events_deduplicated_total counter
pixelgw_events_deduplicated_total{source="client"} 0
pixelgw_events_deduplicated_total{source="server"} 1
# HELP pixelgw_events_consent_blocked_total Events dropped for lack of consent (no valid cookie or record, or revoked), by source.
# TYPE pixelgw_events_consent_blocked_total counter
pixelgw_events_consent_blocked_total{source="client"} 1
pixelgw_events_consent_blocked_total{source="server"} 0
# HELP pixelgw_events_rejected_total Single events refused (invalid, dedup_cap, unavailable), by source and reason.
# TYPE pixelgw_events_rejected_total counter
pixelgw_events_rejected_total{reason="dedup_cap",source="client"} 0
pixelgw_events_rejected_total{reason="dedup_cap",source="server"} 1
pixelgw_events_rejected_total{reason="invalid",source="client"} 0
pixelgw_events_rejected_total{reason="invalid",source="server"} 2
pixelgw_events_rejected_total{reason="unavailable",source="client"} 0
pixelgw_events_rejected_total{reason="unavailable",source="server"} 0
`), "pixelgw_events_received_total", "pixelgw_events_accepted_total", "pixelgw_events_deduplicated_total",
		"pixelgw_events_consent_blocked_total", "pixelgw_events_rejected_total"))

	// A second set on the same registry is refused (created once per
	// process), yet usable.
	again, err := eventmetrics.New(reg)
	require.Error(t, err)
	again.For(eventmetrics.SourceClient).Accepted.Inc()
	require.Equal(t, 2.0, testutil.ToFloat64(client.Accepted), "the registered set is untouched")
}
