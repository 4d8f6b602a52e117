package admin

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
)

func TestRecentEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.mustTenant("recent")
	tok := e.token(RoleViewer, tn.ID)
	now := time.Now().UTC()
	ev := func(id, src string, at time.Time) store.AuditEvent {
		return store.AuditEvent{
			TenantID: tn.ID, EventID: id, EventName: "purchase", EventSource: src, VisitorID: randomUUID(),
			UserData: store.Sealed{KeyID: "k1", Ciphertext: []byte("sealed-jane")}, ClientIP: "203.0.113.77",
			ClientUserAgent: "UA/1", FBP: "fb.1.1732880000000.1116446470", GCLID: "Cj0KCQ-secretish", CreatedAt: at,
		}
	}
	a, b := randomUUID(), randomUUID()
	require.NoError(t, e.st.AppendEvents(t.Context(), []store.AuditEvent{ev(a, "client", now.Add(-time.Minute)), ev(b, "both", now)}))
	require.NoError(t, e.st.AppendOutcomes(t.Context(), []store.DeliveryOutcome{
		{TenantID: tn.ID, EventID: a, PixelUUID: "p-meta", Platform: "meta", Status: "delivered", Attempts: 1, CreatedAt: now},
		{TenantID: tn.ID, EventID: b, PixelUUID: "p-ga4", Platform: "google", Status: "dead", Attempts: 3, CreatedAt: now},
	}))

	r := e.do("GET", "/api/v1/tracking/events/recent", tok, "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	got := decode[map[string][]RecentEventView](t, r)["events"]
	require.Len(t, got, 2)
	require.Equal(t, b, got[0].EventID, "newest first")
	require.Equal(t, "203.0.113.0/24", got[0].ClientIP, "IP masked")
	require.True(t, got[0].HasUserData)
	require.NotContains(t, r.body, "sealed-jane")
	require.NotContains(t, r.body, "1116446470")
	require.NotContains(t, r.body, "secretish")
	require.Equal(t, []DeliveryOut{{Pixel: "p-ga4", Platform: "google", Status: "dead", Attempts: 3, At: got[0].Deliveries[0].At}}, got[0].Deliveries)

	for query, want := range map[string][]string{
		"?platform=meta":   {a},
		"?status=dead":     {b},
		"?source=both":     {b},
		"?source=client":   {a},
		"?platform=tiktok": {},
	} {
		r := e.do("GET", "/api/v1/tracking/events/recent"+query, tok, "")
		require.Equal(t, http.StatusOK, r.status, query)
		ids := []string{}
		for _, v := range decode[map[string][]RecentEventView](t, r)["events"] {
			ids = append(ids, v.EventID)
		}
		require.Equal(t, want, ids, query)
	}
	for _, bad := range []string{"?platform=myspace", "?status=maybe", "?source=x", "?pixel=not-a-uuid"} {
		require.Equal(t, http.StatusUnprocessableEntity, e.do("GET", "/api/v1/tracking/events/recent"+bad, tok, "").status, bad)
	}
}

func TestMaskIP(t *testing.T) {
	t.Parallel()
	require.Equal(t, "203.0.113.0/24", maskIP("203.0.113.77"))
	require.Equal(t, "2001:db8:1::/48", maskIP("2001:db8:1:2::9"))
	require.Equal(t, "203.0.113.0/24", maskIP("::ffff:203.0.113.77"))
	require.Equal(t, "", maskIP(""))
	require.Equal(t, "", maskIP("garbage"))
}

// TestRecentEventsResponsesAndFlags: each outcome carries the platform's
// stored answer, the debug-mode mark and its copy's source; an event whose
// copies came from both sides shows source "both" (derived from the
// outcomes: the audit row keeps the first copy's source) and filters so.
func TestRecentEventsResponsesAndFlags(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.mustTenant("recent-flags")
	tok := e.token(RoleViewer, tn.ID)
	now := time.Now().UTC()
	merged, fake, old := randomUUID(), randomUUID(), randomUUID()
	px, px2 := randomUUID(), randomUUID()
	require.NoError(t, e.st.AppendEvents(t.Context(), []store.AuditEvent{
		{TenantID: tn.ID, EventID: old, EventName: "lead", EventSource: "client", CreatedAt: now.Add(-3 * time.Minute)},
		{TenantID: tn.ID, EventID: fake, EventName: "purchase", EventSource: "client", CreatedAt: now.Add(-2 * time.Minute)},
		{TenantID: tn.ID, EventID: merged, EventName: "purchase", EventSource: "client", CreatedAt: now.Add(-time.Minute)},
	}))
	resp := store.PlatformResponse{ID: randomUUID(), TenantID: tn.ID, PixelUUID: px, Platform: "meta", HTTPStatus: 200,
		Body: []byte(`{"events_received":1,"fbtrace_id":"AbC"}`), CreatedAt: now}
	require.NoError(t, e.st.AppendResponses(t.Context(), []store.PlatformResponse{resp}))
	require.NoError(t, e.st.AppendOutcomes(t.Context(), []store.DeliveryOutcome{
		{TenantID: tn.ID, EventID: merged, PixelUUID: px, Platform: "meta", Status: "merged", Source: "server", CreatedAt: now},
		{TenantID: tn.ID, EventID: merged, PixelUUID: px, Platform: "meta", Status: "delivered", Attempts: 1, Source: "both",
			Test: true, ResponseID: resp.ID, CreatedAt: now},
		{TenantID: tn.ID, EventID: fake, PixelUUID: px2, Platform: "meta", Status: "unconfirmed", Source: "client", CreatedAt: now},
		// A row written before migration 003: no source.
		{TenantID: tn.ID, EventID: old, PixelUUID: px2, Platform: "meta", Status: "delivered", Attempts: 1, CreatedAt: now},
	}))

	r := e.do("GET", "/api/v1/tracking/events/recent", tok, "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	got := decode[map[string][]RecentEventView](t, r)["events"]
	require.Len(t, got, 3)
	require.Equal(t, merged, got[0].EventID)
	require.Equal(t, "both", got[0].Source, "derived from the outcomes")
	require.Len(t, got[0].Deliveries, 2)
	require.Nil(t, got[0].Deliveries[0].Response, "settled without a request")
	require.Equal(t, "server", got[0].Deliveries[0].Source)
	d := got[0].Deliveries[1]
	require.True(t, d.Test, "debug mode is marked")
	require.Equal(t, "both", d.Source)
	require.Equal(t, &ResponseOut{HTTPStatus: 200, Body: `{"events_received":1,"fbtrace_id":"AbC"}`}, d.Response)
	require.Equal(t, "client", got[1].Source)
	require.Equal(t, "unconfirmed", got[1].Deliveries[0].Status)
	require.False(t, got[1].Deliveries[0].Test)
	require.Equal(t, "client", got[2].Source)
	require.Empty(t, got[2].Deliveries[0].Source)
	require.Equal(t, 1, strings.Count(r.body, `"test":true`), "only the debug-mode delivery is marked")
	require.NotContains(t, r.body, `"test":false`)

	for query, want := range map[string][]string{
		"?source=both":           {merged},
		"?source=client":         {fake, old},
		"?status=unconfirmed":    {fake},
		"?pixel=" + px:           {merged},
		"?pixel=" + px2:          {fake, old},
		"?pixel=" + randomUUID(): {},
	} {
		r := e.do("GET", "/api/v1/tracking/events/recent"+query, tok, "")
		require.Equal(t, http.StatusOK, r.status, query)
		ids := []string{}
		for _, v := range decode[map[string][]RecentEventView](t, r)["events"] {
			ids = append(ids, v.EventID)
		}
		require.Equal(t, want, ids, query)
	}
}
