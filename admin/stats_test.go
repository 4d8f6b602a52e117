package admin

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
)

// statsFixture writes, for tenant, events, outcomes and consents whose
// stats are computed by hand in TestEventStats.
func statsFixture(t *testing.T, e *env, tenantID, green, red string) {
	t.Helper()
	now := time.Now().UTC()
	in, out := now.Add(-2*time.Hour), now.Add(-30*time.Hour)
	merged := randomUUID()
	evs := []store.AuditEvent{
		{TenantID: tenantID, EventID: merged, EventName: "purchase", EventSource: store.SourceClient, CreatedAt: in},
		{TenantID: tenantID, EventID: randomUUID(), EventName: "page_view", EventSource: store.SourceClient, CreatedAt: in},
		{TenantID: tenantID, EventID: randomUUID(), EventName: "purchase", EventSource: store.SourceServer, CreatedAt: in},
		{TenantID: tenantID, EventID: randomUUID(), EventName: "lead", EventSource: store.SourceBoth, CreatedAt: in},
		{TenantID: tenantID, EventID: randomUUID(), EventName: "lead", EventSource: store.SourceClient, CreatedAt: out},
	}
	require.NoError(t, e.st.AppendEvents(t.Context(), evs))
	var outs []store.DeliveryOutcome
	o := func(pixel, platform, status string, n int, at time.Time) {
		for range n {
			outs = append(outs, store.DeliveryOutcome{TenantID: tenantID, EventID: randomUUID(), PixelUUID: pixel, Platform: platform, Status: status, Attempts: 1, CreatedAt: at})
		}
	}
	o(green, "meta", "delivered", 19, in)
	o(green, "meta", "failed", 1, in)
	o(green, "meta", "retrying", 5, in)
	o(red, "google", "failed", 3, in)
	o(red, "google", "skipped", 2, in)
	// The browser's purchase, and the back end's copy merged late: seen
	// from both sides. The page view's repeat from the browser is not.
	outs = append(outs,
		store.DeliveryOutcome{TenantID: tenantID, EventID: merged, PixelUUID: red, Platform: "google", Status: "skipped", Source: store.SourceClient, CreatedAt: in},
		store.DeliveryOutcome{TenantID: tenantID, EventID: merged, PixelUUID: green, Platform: "meta", Status: "merged", Source: store.SourceServer, CreatedAt: in},
		store.DeliveryOutcome{TenantID: tenantID, EventID: merged, PixelUUID: red, Platform: "google", Status: "merged", Source: store.SourceServer, CreatedAt: in},
		store.DeliveryOutcome{TenantID: tenantID, EventID: evs[1].EventID, PixelUUID: red, Platform: "google", Status: "skipped", Source: store.SourceClient, CreatedAt: in},
		store.DeliveryOutcome{TenantID: tenantID, EventID: evs[1].EventID, PixelUUID: red, Platform: "google", Status: "merged", Source: store.SourceClient, CreatedAt: in})
	require.NoError(t, e.st.AppendOutcomes(t.Context(), outs))
	for _, mkt := range []bool{true, false, true} {
		_, err := e.st.AppendConsent(t.Context(), store.ConsentRecord{
			TenantID: tenantID, VisitorID: randomUUID(), Analytics: true, Marketing: mkt, Source: store.ConsentSourceBanner, CreatedAt: in,
		}, "")
		require.NoError(t, err)
	}
}

func TestEventStats(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.mustTenant("stats")
	admin := e.token(RoleAdmin, tn.ID)
	r := e.do("POST", "/api/v1/tracking/pixels", admin, metaPixel)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	green := decode[PixelView](t, r)
	r = e.do("POST", "/api/v1/tracking/pixels", admin, googlePixel)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	red := decode[PixelView](t, r)

	// Nothing yet: zero counts, null rates, both pixels amber.
	r = e.do("GET", "/api/v1/tracking/events/stats", e.token(RoleViewer, tn.ID), "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Contains(t, r.body, `"server_side":{"delivered":0,"failed":0,"dead":0,"finished":0,"success_rate":null}`)
	require.Contains(t, r.body, `"consent":{"visitors_decided":0,"visitors_marketing":0,"rate":null}`)
	require.Contains(t, r.body, `"dedup":{"deduplicated":0,"events":0,"rate":null}`)
	empty := decode[StatsView](t, r)
	require.Len(t, empty.Pixels, 2)
	require.Equal(t, "amber", empty.Pixels[0].Status)

	statsFixture(t, e, tn.ID, green.UUID, red.UUID)
	r = e.do("GET", "/api/v1/tracking/events/stats", e.token(RoleViewer, tn.ID), "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	got := decode[StatsView](t, r)
	rate := func(v float64) *float64 { return &v }

	require.Equal(t, 24, got.Window.Hours)
	require.Equal(t, got.Window.To.Truncate(time.Hour).Add(-23*time.Hour), got.Window.From)
	require.WithinDuration(t, time.Now(), got.Window.To, time.Minute)
	require.Equal(t, StatsEventsView{Total: 4, Client: 2, Server: 1, Both: 1}, got.Events)
	require.Equal(t, DeliveriesView{Delivered: 19, Failed: 4, Finished: 23, SuccessRate: rate(0.8261)}, got.ServerSide)
	require.Equal(t, StatsConsentView{Decided: 3, Marketing: 2, Rate: rate(0.6667)}, got.Consent)
	require.Equal(t, StatsDedupView{Deduplicated: 2, Events: 4, Rate: rate(0.5)}, got.Dedup)
	require.Equal(t, []PixelStatusView{
		{
			UUID: green.UUID, Platform: "meta", PixelID: green.PixelID, IsActive: true, Status: "green", StoredStatus: green.Status,
			Last24h: DeliveriesView{Delivered: 19, Failed: 1, Finished: 20, SuccessRate: rate(0.95)},
			Last48h: DeliveriesView{Delivered: 19, Failed: 1, Finished: 20, SuccessRate: rate(0.95)},
		},
		{
			UUID: red.UUID, Platform: "google", PixelID: red.PixelID, IsActive: true, Status: "red", StoredStatus: red.Status,
			Last24h: DeliveriesView{Failed: 3, Finished: 3, SuccessRate: rate(0)},
			Last48h: DeliveriesView{Failed: 3, Finished: 3, SuccessRate: rate(0)},
		},
	}, got.Pixels)
	require.NotContains(t, r.body, "ga4-secret", "no credentials")
}

func TestEventStatsAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.mustTenant("stats-auth")
	r := e.do("GET", "/api/v1/tracking/events/stats", "", "")
	require.Equal(t, http.StatusUnauthorized, r.status, r.body)
	require.Equal(t, http.StatusForbidden, e.do("GET", "/api/v1/tracking/events/stats", e.token(RoleOperator, ""), "").status,
		"an operator token must name a tenant")
	r = e.do("POST", "/api/v1/api-keys", e.token(RoleAdmin, tn.ID), `{"name":"backend"}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	key := decode[APIKeyView](t, r).Key
	require.Equal(t, http.StatusUnauthorized, e.do("GET", "/api/v1/tracking/events/stats", "", "", "X-API-Key", key).status,
		"an events:write key cannot read stats")
	require.Equal(t, http.StatusMethodNotAllowed, e.do("POST", "/api/v1/tracking/events/stats", e.token(RoleAdmin, tn.ID), "").status)
	for _, role := range []string{RoleViewer, RoleAdmin} {
		require.Equal(t, http.StatusOK, e.do("GET", "/api/v1/tracking/events/stats", e.token(role, tn.ID), "").status, role)
	}
	require.Equal(t, http.StatusOK, e.do("GET", "/api/v1/tracking/events/stats", e.token(RoleOperator, tn.ID), "").status)
}
