package test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/test/platformsim"
)

// TestConsentDecidesDeliveries runs the real binary in scaled mode
// (PostgreSQL + Redis) against the strict simulator, with three banner
// decisions on the demo tenant's five pixels: everything granted (the
// control: every platform receives the visitor's events), analytics only
// (GA4 receives them with ad_user_data and ad_personalization DENIED and
// no user data; Meta, LinkedIn, TikTok and X receive nothing, their
// outcomes are "skipped") and everything refused (nothing is queued,
// audited or sent anywhere).
func TestConsentDecidesDeliveries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema, prefix, _ := scaledStores(t)
	conn := pgConn(t)

	sim := platformsim.New(platformsim.Options{MaxRecorded: 2000})
	env := append(scaledEnv(t, schema, prefix),
		"PIXELGW_PLATFORMS_DISPATCH_MERGE_WINDOW=200ms",
	)
	env = append(env, serveSimulator(t, sim)...)
	tok := seededDemo(t, env)
	s := startServing(t, env)
	status, ten := apiReq(t, s.api, "GET", "/api/v1/tenant", tok, nil)
	require.Equal(t, 200, status)
	paths := ten["edge_paths"].(map[string]any)

	type visitor struct {
		id  string
		ids []string // event ids sent
	}
	decide := func(analytics, marketing bool) *visitor {
		body := `{"v":1,"analytics":` + strconv.FormatBool(analytics) + `,"marketing":` + strconv.FormatBool(marketing) +
			`,"functional":false,"policy":"1"}`
		st, _, cookies := edgeReq(t, s.edge, "POST", "t.demo.localhost", paths["consent"].(string), body,
			"Origin", demoOrigin, "Content-Type", "text/plain")
		require.Equal(t, 204, st)
		v := &visitor{id: cookies["jaraba_visitor_id"]}
		if analytics || marketing {
			require.NotEmpty(t, v.id)
		} else {
			require.Empty(t, v.id, "no visitor id is kept for a visitor who refused everything")
		}
		for _, name := range []string{"page_view", "purchase"} {
			id := uuid.NewString()
			ev := `{"v":1,"events":[{"name":"` + name + `","id":"` + id + `","ts":` + strconv.FormatInt(time.Now().UnixMilli(), 10) +
				`,"url":"http://www.demo.localhost:8080/shop","props":{"value":20,"currency":"EUR"},"user":{"em":"shopper@example.com"}}],` +
				`"ids":{"fbp":"fb.1.1764400000000.42","ttclid":"tt-42","li_fat_id":"li-42","twclid":"tw-42"}}`
			st, _, _ := edgeReq(t, s.edge, "POST", "t.demo.localhost", paths["collect"].(string), ev,
				"Origin", demoOrigin, "Content-Type", "text/plain", "Cookie", cookieHdr(cookies))
			require.Equal(t, 204, st, "a beacon is answered 204 whatever the consent")
			v.ids = append(v.ids, id)
		}
		return v
	}
	all, analytics, none := decide(true, true), decide(true, false), decide(false, false)

	// Wait until every pixel has a final outcome for every queued event.
	final := func(ids []string) int {
		var n int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(DISTINCT (event_id, pixel_uuid)) FROM `+schema+`.delivery_outcome
			WHERE event_id = ANY($1) AND status IN ('delivered', 'skipped', 'failed', 'dead')`, ids).Scan(&n))
		return n
	}
	want := 2 * 5 // two events x five pixels
	deadline := time.Now().Add(60 * time.Second)
	for final(all.ids) < want || final(analytics.ids) < want {
		require.True(t, time.Now().Before(deadline), "outcomes: all %d, analytics %d of %d\n%s",
			final(all.ids), final(analytics.ids), want, s.log.String())
		time.Sleep(200 * time.Millisecond)
	}

	// sent is the requests a platform accepted whose body matches (an event
	// id, or for GA4 its client_id, which is the visitor id).
	sent := func(platform string, match func(body string) bool) []platformsim.Request {
		var out []platformsim.Request
		for _, r := range sim.Requests(platform) {
			if r.Accepted && match(string(r.Body)) {
				out = append(out, r)
			}
		}
		return out
	}
	hasAny := func(ids []string) func(string) bool {
		return func(body string) bool {
			for _, id := range ids {
				if strings.Contains(body, id) {
					return true
				}
			}
			return false
		}
	}
	ga4Of := func(v *visitor) func(string) bool {
		return func(body string) bool { return strings.Contains(body, `"client_id":"`+v.id+`"`) }
	}
	// The control: with marketing consent every platform got the events.
	for _, p := range []string{platformsim.Meta, platformsim.LinkedIn, platformsim.TikTok, platformsim.X} {
		require.NotEmpty(t, sent(p, hasAny(all.ids)), "%s receives the consented visitor's events", p)
	}
	require.NotEmpty(t, sent(platformsim.Google, ga4Of(all)))

	// Analytics only: no ad platform request carries the events ...
	for _, p := range []string{platformsim.Meta, platformsim.LinkedIn, platformsim.TikTok, platformsim.X} {
		require.Empty(t, sent(p, hasAny(analytics.ids)), "%s must not receive events without marketing consent", p)
	}
	var skipped int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.delivery_outcome
		WHERE event_id = ANY($1) AND platform <> 'google' AND status = 'skipped'`, analytics.ids).Scan(&skipped))
	require.Equal(t, 2*4, skipped, "each ad platform's pixel records the events skipped")
	// ... and GA4 gets them with the ad signals DENIED and no user data.
	reqs := sent(platformsim.Google, ga4Of(analytics))
	require.NotEmpty(t, reqs)
	for _, r := range reqs {
		var body struct {
			Consent  map[string]string `json:"consent"`
			UserData json.RawMessage   `json:"user_data"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &body), string(r.Body))
		require.Equal(t, map[string]string{"ad_user_data": "DENIED", "ad_personalization": "DENIED"}, body.Consent)
		require.Empty(t, body.UserData, "no user data without marketing consent")
	}
	for _, r := range sent(platformsim.Google, ga4Of(all)) {
		require.Contains(t, string(r.Body), `"ad_user_data":"GRANTED"`)
	}

	// Everything refused: nothing queued, audited or sent.
	var audited, outcomes int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.tracking_event WHERE event_id = ANY($1)`, none.ids).Scan(&audited))
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.delivery_outcome WHERE event_id = ANY($1)`, none.ids).Scan(&outcomes))
	require.Zero(t, audited)
	require.Zero(t, outcomes)
	for _, p := range []string{platformsim.Meta, platformsim.Google, platformsim.LinkedIn, platformsim.TikTok, platformsim.X} {
		require.Empty(t, sent(p, hasAny(none.ids)), p)
	}
}
