package platformsim

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func validGA4() map[string]any {
	return map[string]any{
		"client_id":        "1234567890.1700000000",
		"timestamp_micros": now.UnixMicro(),
		"consent":          map[string]any{"ad_user_data": "DENIED", "ad_personalization": "DENIED"},
		"user_data": map[string]any{
			"sha256_email_address": []any{sha("person@example.com")},
			"sha256_phone_number":  []any{sha("+16505551212")},
			"address":              []any{map[string]any{"sha256_first_name": sha("mary"), "city": "madrid", "country": "ES"}},
		},
		"events": []any{map[string]any{
			"name": "purchase",
			"params": map[string]any{
				"session_id": "1700000000", "engagement_time_msec": 100, "currency": "EUR", "value": 12.5,
				"transaction_id": "T1", "page_location": "https://shop.example/" + strings.Repeat("a", 900),
				"items": []any{map[string]any{"item_id": "SKU"}}, "event_id": "evt-1",
			},
		}},
	}
}

func TestGoogleDebugRejectList(t *testing.T) {
	t.Parallel()
	mut := func(f func(m map[string]any)) map[string]any {
		m := clone(validGA4())
		f(m)
		return m
	}
	event := func(f func(e map[string]any)) map[string]any {
		return mut(func(m map[string]any) { f(m["events"].([]any)[0].(map[string]any)) })
	}
	params := func(f func(p map[string]any)) map[string]any {
		return event(func(e map[string]any) { f(e["params"].(map[string]any)) })
	}
	events := func(n int) map[string]any {
		return mut(func(m map[string]any) {
			evs := make([]any, n)
			for i := range evs {
				evs[i] = map[string]any{"name": "page_view"}
			}
			m["events"] = evs
		})
	}
	cases := []struct {
		name  string
		mid   string // default G-TEST1234
		body  any
		codes []string // validationCode of each message, in order
	}{
		{name: "valid", body: validGA4()},
		{name: "valid 25 events", body: events(25)},
		{name: "page_view allowed", body: event(func(e map[string]any) { e["name"] = "page_view" })},
		{name: "26 events", body: events(26), codes: []string{"EXCEEDED_MAX_ENTITIES"}},
		{name: "no measurement_id", mid: "-", body: validGA4(), codes: []string{"VALUE_REQUIRED"}},
		{name: "bad measurement_id", mid: "UA-1234-1", body: validGA4(), codes: []string{"VALUE_INVALID"}},
		{name: "not json", body: "{", codes: []string{"VALUE_INVALID"}},
		{name: "no client_id", body: mut(func(m map[string]any) { delete(m, "client_id") }), codes: []string{"VALUE_REQUIRED"}},
		{name: "no events", body: mut(func(m map[string]any) { delete(m, "events") }), codes: []string{"VALUE_REQUIRED"}},
		{name: "empty events", body: mut(func(m map[string]any) { m["events"] = []any{} }), codes: []string{"VALUE_REQUIRED"}},
		{name: "unknown top key", body: mut(func(m map[string]any) { m["cid"] = "x" }), codes: []string{"VALUE_INVALID"}},
		{name: "invalid name", body: event(func(e map[string]any) { e["name"] = "_badEventName" }), codes: []string{"NAME_INVALID"}},
		{name: "name with dash", body: event(func(e map[string]any) { e["name"] = "add-to-cart" }), codes: []string{"NAME_INVALID"}},
		{name: "name too long", body: event(func(e map[string]any) { e["name"] = strings.Repeat("a", 41) }), codes: []string{"NAME_INVALID"}},
		{name: "reserved name", body: event(func(e map[string]any) { e["name"] = "session_start" }), codes: []string{"NAME_RESERVED"}},
		{name: "reserved prefix", body: event(func(e map[string]any) { e["name"] = "google_thing" }), codes: []string{"NAME_RESERVED"}},
		{name: "missing name", body: event(func(e map[string]any) { delete(e, "name") }), codes: []string{"VALUE_REQUIRED"}},
		{name: "param value too long", body: params(func(p map[string]any) { p["content"] = strings.Repeat("x", 101) }), codes: []string{"VALUE_OUT_OF_BOUNDS"}},
		{name: "page_location too long", body: params(func(p map[string]any) { p["page_location"] = strings.Repeat("x", 1001) }), codes: []string{"VALUE_OUT_OF_BOUNDS"}},
		{name: "reserved param prefix", body: params(func(p map[string]any) { p["ga_x"] = "1" }), codes: []string{"NAME_RESERVED"}},
		{name: "26 params", body: event(func(e map[string]any) {
			p := map[string]any{}
			for i := range 26 {
				p["p"+strings.Repeat("x", i)] = 1
			}
			e["params"] = p
		}), codes: []string{"EXCEEDED_MAX_ENTITIES"}},
		{name: "engagement_time_msec string", body: params(func(p map[string]any) { p["engagement_time_msec"] = "100" }), codes: []string{"VALUE_INVALID"}},
		{name: "timestamp 73h old", body: mut(func(m map[string]any) { m["timestamp_micros"] = now.Add(-73 * time.Hour).UnixMicro() }), codes: []string{"VALUE_OUT_OF_BOUNDS"}},
		{name: "timestamp in ms", body: mut(func(m map[string]any) { m["timestamp_micros"] = now.UnixMilli() }), codes: []string{"VALUE_OUT_OF_BOUNDS"}},
		{name: "timestamp in seconds as string", body: mut(func(m map[string]any) { m["timestamp_micros"] = "1700000000" }), codes: []string{"VALUE_INVALID"}},
		{name: "consent lower case", body: mut(func(m map[string]any) { m["consent"] = map[string]any{"ad_user_data": "granted"} }), codes: []string{"VALUE_INVALID"}},
		{name: "consent unknown key", body: mut(func(m map[string]any) { m["consent"] = map[string]any{"ad_storage": "GRANTED"} }), codes: []string{"VALUE_INVALID"}},
		{name: "raw email", body: mut(func(m map[string]any) {
			m["user_data"].(map[string]any)["sha256_email_address"] = []any{"person@example.com"}
		}), codes: []string{"VALUE_INVALID"}},
		{name: "raw first name", body: mut(func(m map[string]any) {
			m["user_data"].(map[string]any)["address"] = []any{map[string]any{"sha256_first_name": "Mary"}}
		}), codes: []string{"VALUE_INVALID"}},
		{name: "reserved user property", body: mut(func(m map[string]any) {
			m["user_properties"] = map[string]any{"first_visit_time": map[string]any{"value": "1"}}
		}), codes: []string{"NAME_RESERVED"}},
	}
	s, base := newSim(t, Options{Tokens: map[string]string{Google: "secret"}})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mid := "?measurement_id=G-TEST1234"
			switch tc.mid {
			case "":
			case "-":
				mid = "?"
			default:
				mid = "?measurement_id=" + tc.mid
			}
			// The validation server does not check api_secret.
			a := post(t, base+"/google/debug/mp/collect"+mid+"&api_secret=whatever", map[string]string{"Content-Type": "application/json"}, tc.body)
			require.Equal(t, 200, a.status)
			msgs, ok := a.json["validationMessages"].([]any)
			require.True(t, ok, string(a.raw))
			got := make([]string, 0, len(msgs))
			for _, m := range msgs {
				mm := m.(map[string]any)
				require.NotEmpty(t, mm["description"])
				got = append(got, mm["validationCode"].(string))
			}
			if tc.codes == nil {
				tc.codes = []string{}
			}
			require.Equal(t, tc.codes, got, string(a.raw))

			// The collect endpoint answers 204 to everything, and the
			// record says whether GA4 would have kept it.
			c := post(t, base+"/google/mp/collect"+mid+"&api_secret=secret", map[string]string{"Content-Type": "application/json"}, tc.body)
			require.Equal(t, 204, c.status)
			require.Empty(t, c.raw)
		})
	}
	t.Cleanup(func() {
		rs := s.Requests(Google)
		require.Len(t, rs, 2*len(cases))
		accepted := 0
		for _, r := range rs {
			if r.Accepted {
				accepted++
			}
		}
		require.Equal(t, 2*3, accepted) // valid, 25 events, page_view on both endpoints
	})
}

func TestGoogleCollectSecret(t *testing.T) {
	t.Parallel()
	s, base := newSim(t, Options{Tokens: map[string]string{Google: "secret"}})
	a := post(t, base+"/google/mp/collect?measurement_id=G-TEST1234&api_secret=wrong", nil, validGA4())
	require.Equal(t, 204, a.status)
	a = post(t, base+"/google/mp/collect?measurement_id=G-TEST1234", nil, validGA4())
	require.Equal(t, 204, a.status)
	a = post(t, base+"/google/mp/collect?measurement_id=G-TEST1234&api_secret=secret", nil, validGA4())
	require.Equal(t, 204, a.status)
	rs := s.Requests("google")
	require.Len(t, rs, 3)
	require.False(t, rs[0].Accepted)
	require.Contains(t, rs[0].Errors[0], "api_secret")
	require.False(t, rs[1].Accepted)
	require.True(t, rs[2].Accepted)
	require.Equal(t, 3, s.Count(Google, 204))
	require.Equal(t, map[string]int{"evt-1": 1}, s.Delivered(Google))

	a = post(t, base+"/google/mp/other", nil, validGA4())
	require.Equal(t, 404, a.status)
}
