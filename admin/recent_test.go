package admin

import (
	"net/http"
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
