package platformsim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func validTikTokEvent() map[string]any {
	return map[string]any{
		"event":      "Purchase",
		"event_time": now.Unix(),
		"event_id":   "evt-1",
		"user": map[string]any{
			"email": sha("person@example.com"), "phone": []any{sha("+16505551212")},
			"external_id": sha("u1"), "ttclid": "E.C.P.abc", "ttp": "abc", "ip": "203.0.113.24",
			"user_agent": "Mozilla/5.0", "city": "menlopark", "country": "us",
		},
		"properties": map[string]any{
			"currency": "USD", "value": 184.5, "content_type": "product",
			"contents": []any{map[string]any{"content_id": "SKU-1", "price": 129.0, "quantity": 1}},
		},
		"page": map[string]any{"url": "https://shop.example/thanks", "referrer": "https://shop.example/"},
	}
}

func tiktokRequest(events ...map[string]any) map[string]any {
	data := make([]any, len(events))
	for i, e := range events {
		data[i] = e
	}
	return map[string]any{"event_source": "web", "event_source_id": "CABCDEFGHIJ1234567", "data": data}
}

func TestTikTokRejectList(t *testing.T) {
	t.Parallel()
	top := func(f func(m map[string]any)) map[string]any {
		m := clone(tiktokRequest(validTikTokEvent()))
		f(m)
		return m
	}
	ev := func(f func(e map[string]any)) map[string]any {
		e := clone(validTikTokEvent())
		f(e)
		return tiktokRequest(validTikTokEvent(), e)
	}
	user := func(f func(u map[string]any)) map[string]any {
		return ev(func(e map[string]any) { f(e["user"].(map[string]any)) })
	}
	many := func(n int) map[string]any {
		evs := make([]map[string]any, n)
		for i := range evs {
			evs[i] = validTikTokEvent()
		}
		return tiktokRequest(evs...)
	}
	cases := []struct {
		name    string
		token   string // default tok; "-" none
		path    string
		body    any
		status  int // default 200
		code    int64
		message string
	}{
		{name: "valid", body: tiktokRequest(validTikTokEvent())},
		{name: "valid 1000", body: many(1000)},
		{name: "custom event name", body: ev(func(e map[string]any) { e["event"] = "custom_thing" })},
		{name: "test_event_code", body: top(func(m map[string]any) { m["test_event_code"] = "TEST1" })},
		{name: "no token", token: "-", body: tiktokRequest(validTikTokEvent()), code: 40001},
		{name: "wrong token", token: "nope", body: tiktokRequest(validTikTokEvent()), code: 40001},
		{name: "no trailing slash", path: "/tiktok/open_api/v1.3/event/track", body: tiktokRequest(validTikTokEvent()), status: 404},
		{name: "not json", body: "[", code: 40002},
		{name: "unknown top key", body: top(func(m map[string]any) { m["pixel_code"] = "X" }), code: 40002, message: "pixel_code: Unknown field."},
		{name: "bad event_source", body: top(func(m map[string]any) { m["event_source"] = "browser" }), code: 40002, message: "event_source:"},
		{name: "missing event_source_id", body: top(func(m map[string]any) { delete(m, "event_source_id") }), code: 40002, message: "event_source_id:"},
		{name: "bad pixel code", body: top(func(m map[string]any) { m["event_source_id"] = "abc" }), code: 40002, message: "event_source_id:"},
		{name: "no data", body: top(func(m map[string]any) { delete(m, "data") }), code: 40002, message: "data:"},
		{name: "empty data", body: top(func(m map[string]any) { m["data"] = []any{} }), code: 40002, message: "data:"},
		{name: "1001 events", body: many(1001), code: 40002, message: "data: Longer than maximum length 1000."},
		{name: "missing event", body: ev(func(e map[string]any) { delete(e, "event") }), code: 40002, message: "Batch.1.event:"},
		{name: "event_time ms", body: ev(func(e map[string]any) { e["event_time"] = now.UnixMilli() }), code: 40002, message: "Batch.1.event_time:"},
		{name: "event_time ISO", body: ev(func(e map[string]any) { e["event_time"] = now.Format(time.RFC3339) }), code: 40002, message: "Batch.1.event_time:"},
		{name: "event 8 days old", body: ev(func(e map[string]any) { e["event_time"] = now.Add(-8 * 24 * time.Hour).Unix() }), code: 40002, message: "Batch.1.event_time:"},
		{name: "event_id number", body: ev(func(e map[string]any) { e["event_id"] = 12 }), code: 40002, message: "Batch.1.event_id:"},
		{name: "unknown event key", body: ev(func(e map[string]any) { e["timestamp"] = "x" }), code: 40002, message: "Batch.1.timestamp: Unknown field."},
		{name: "no user", body: ev(func(e map[string]any) { delete(e, "user") }), code: 40002, message: "Batch.1.user:"},
		{name: "raw email", body: user(func(u map[string]any) { u["email"] = "person@example.com" }), code: 40002, message: "Batch.1.user.email:"},
		{name: "raw phone in array", body: user(func(u map[string]any) { u["phone"] = []any{"+16505551212"} }), code: 40002, message: "Batch.1.user.phone:"},
		{name: "raw first_name", body: user(func(u map[string]any) { u["first_name"] = "Mary" }), code: 40002, message: "Batch.1.user.first_name:"},
		{name: "unknown user key", body: user(func(u map[string]any) { u["em"] = sha("x") }), code: 40002, message: "Batch.1.user.em: Unknown field."},
		{name: "web without page", body: ev(func(e map[string]any) { delete(e, "page") }), code: 40002, message: "Batch.1.page:"},
		{name: "page url not http", body: ev(func(e map[string]any) { e["page"] = map[string]any{"url": "shop"} }), code: 40002, message: "Batch.1.page.url:"},
		{name: "content_id number", body: ev(func(e map[string]any) {
			e["properties"].(map[string]any)["contents"] = []any{map[string]any{"content_id": 1}}
		}), code: 40002, message: "Batch.1.properties.contents.0.content_id: Not a valid string."},
		{name: "value string", body: ev(func(e map[string]any) { e["properties"].(map[string]any)["value"] = "1" }), code: 40002, message: "Batch.1.properties.value:"},
	}
	s, base := newSim(t, Options{Tokens: map[string]string{TikTok: "tok"}})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := map[string]string{"Content-Type": "application/json", "Access-Token": "tok"}
			switch tc.token {
			case "":
			case "-":
				delete(h, "Access-Token")
			default:
				h["Access-Token"] = tc.token
			}
			path := tc.path
			if path == "" {
				path = "/tiktok/open_api/v1.3/event/track/"
			}
			a := post(t, base+path, h, tc.body)
			status := tc.status
			if status == 0 {
				status = 200
			}
			require.Equal(t, status, a.status, string(a.raw))
			if status != 200 {
				return
			}
			require.Equal(t, tc.code, num(t, a.json, "code"), string(a.raw))
			require.NotEmpty(t, a.json["request_id"])
			if tc.code == 0 {
				require.Equal(t, "OK", a.json["message"])
			}
			require.Contains(t, a.json["message"], tc.message)
		})
	}
	t.Cleanup(func() {
		require.Equal(t, len(cases), len(s.Requests(TikTok)))
		// HTTP 200 is not acceptance: only code 0 is.
		accepted := 0
		for _, r := range s.Requests(TikTok) {
			if r.Accepted {
				accepted++
			}
		}
		require.Equal(t, 4, accepted)
	})
}
