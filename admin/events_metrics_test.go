package admin

import (
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/internal/eventmetrics"
)

// TestTrackEventMetrics: the events API counts into the shared families
// with source="server": received, accepted, deduplicated, consent-blocked
// and rejected by reason; a failed call counts its events unavailable.
func TestTrackEventMetrics(t *testing.T) {
	t.Parallel()
	w := newEvWorld(t)
	reg := prometheus.NewRegistry()
	events, err := eventmetrics.New(reg)
	require.NoError(t, err)
	edge := events.For(eventmetrics.SourceClient) // what the edge would count
	api, err := New(w.e.cfg, Deps{Store: w.e.st, Keyring: w.e.keyring, Logger: w.e.api.log, Now: w.e.api.now,
		Decisions: w.q, DeadLetters: w.q, Admitter: w.q, Events: events})
	require.NoError(t, err)
	w.e.api, w.e.h = api, api.Handler()

	dup, unconsented := randomUUID(), randomUUID()
	r := w.batch(
		evBody("purchase", dup, w.visitor, ""),
		evBody("purchase", dup, w.visitor, ""), // the same conversion again: deduplicated
		evBody("lead", randomUUID(), w.visitor, ""),
		evBody("lead", randomUUID(), w.visitor, `,"platforms":["myspace"]`), // invalid
		evBody("lead", randomUUID(), "", ""),                                // no consent
		evBody("lead", randomUUID(), unconsented, ""),                       // no record: no consent
	)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, EventAccepted, statusOf(t, w.send(evBody("page_view", randomUUID(), w.visitor, ""))))

	server := events.For(eventmetrics.SourceServer)
	require.Equal(t, 7.0, testutil.ToFloat64(server.Received))
	require.Equal(t, 3.0, testutil.ToFloat64(server.Accepted))
	require.Equal(t, 1.0, testutil.ToFloat64(server.Deduplicated))
	require.Equal(t, 2.0, testutil.ToFloat64(server.ConsentBlocked))
	require.Equal(t, 1.0, testutil.ToFloat64(server.Rejected(eventmetrics.ReasonInvalid)))
	require.Equal(t, 0.0, testutil.ToFloat64(edge.Received), "nothing counted as the edge's")
	require.Equal(t, 8, testutil.CollectAndCount(reg, "pixelgw_events_received_total", "pixelgw_events_accepted_total",
		"pixelgw_events_deduplicated_total", "pixelgw_events_consent_blocked_total"), "four families, two sources each")

	// The queue gone: the call fails as a whole (503), its events counted
	// unavailable, none accepted.
	require.NoError(t, w.q.Close())
	r = w.batch(evBody("lead", randomUUID(), w.visitor, ""), evBody("lead", randomUUID(), w.visitor, ""))
	require.Equal(t, http.StatusServiceUnavailable, r.status, r.body)
	require.Equal(t, 2.0, testutil.ToFloat64(server.Rejected(eventmetrics.ReasonUnavailable)))
	require.Equal(t, 9.0, testutil.ToFloat64(server.Received))
	require.Equal(t, 3.0, testutil.ToFloat64(server.Accepted))
}
