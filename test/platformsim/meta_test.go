package platformsim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func validMetaEvent() map[string]any {
	return map[string]any{
		"event_name":       "Purchase",
		"event_time":       now.Unix(),
		"event_id":         "evt-1",
		"action_source":    "website",
		"event_source_url": "https://shop.example/thanks",
		"user_data": map[string]any{
			"em":                []any{sha("john_smith@gmail.com")},
			"ph":                sha("16505551212"),
			"client_user_agent": "Mozilla/5.0",
			"client_ip_address": "203.0.113.1",
			"fbp":               "fb.1.1596403881668.1116446470",
		},
		"custom_data": map[string]any{"value": 12.5, "currency": "EUR"},
	}
}

func metaRequest(events ...map[string]any) map[string]any {
	data := make([]any, len(events))
	for i, e := range events {
		data[i] = e
	}
	return map[string]any{"data": data, "test_event_code": "TEST123"}
}

func TestMetaRejectList(t *testing.T) {
	t.Parallel()
	ev := func(f func(e map[string]any)) map[string]any {
		e := clone(validMetaEvent())
		f(e)
		return metaRequest(e)
	}
	ud := func(f func(u map[string]any)) map[string]any {
		return ev(func(e map[string]any) { f(e["user_data"].(map[string]any)) })
	}
	many := func(n int) map[string]any {
		evs := make([]map[string]any, n)
		for i := range evs {
			evs[i] = validMetaEvent()
		}
		return metaRequest(evs...)
	}
	cases := []struct {
		name    string
		path    string // default /v21.0/1234567890/events
		query   string // default access_token=tok
		body    any
		status  int
		code    int64
		subcode int64
	}{
		{name: "valid", body: metaRequest(validMetaEvent()), status: 200},
		{name: "valid 1000 events", body: many(1000), status: 200},
		{name: "token in body", query: "-", body: func() map[string]any { r := metaRequest(validMetaEvent()); r["access_token"] = "tok"; return r }(), status: 200},
		{name: "physical_store 30 days old", body: ev(func(e map[string]any) {
			e["action_source"] = "physical_store"
			e["event_time"] = now.Add(-30 * 24 * time.Hour).Unix()
		}), status: 200},
		{name: "no token", query: "-", body: metaRequest(validMetaEvent()), status: 400, code: 104},
		{name: "wrong token", query: "access_token=nope", body: metaRequest(validMetaEvent()), status: 400, code: 190},
		{name: "bad path", path: "/21.0/1234567890/events", body: metaRequest(validMetaEvent()), status: 400, code: 2500},
		{name: "no data", body: map[string]any{"test_event_code": "X"}, status: 400, code: 100},
		{name: "empty data", body: map[string]any{"data": []any{}}, status: 400, code: 100},
		{name: "data not array", body: map[string]any{"data": "x"}, status: 400, code: 100},
		{name: "1001 events", body: many(1001), status: 400, code: 100},
		{name: "not json", body: "data=[", status: 400, code: 100},
		{name: "stale event fails the batch", body: metaRequest(validMetaEvent(), func() map[string]any {
			e := validMetaEvent()
			e["event_time"] = now.Add(-8 * 24 * time.Hour).Unix()
			return e
		}()), status: 400, code: 100, subcode: 2804003},
		{name: "event_time in ms", body: ev(func(e map[string]any) { e["event_time"] = now.UnixMilli() }), status: 400, code: 100},
		{name: "event_time float", body: ev(func(e map[string]any) { e["event_time"] = 1.5e9 + 0.5 }), status: 400, code: 100},
		{name: "event_time string", body: ev(func(e map[string]any) { e["event_time"] = "1700000000" }), status: 400, code: 100},
		{name: "unknown top key", body: func() map[string]any { r := metaRequest(validMetaEvent()); r["pixel"] = 1; return r }(), status: 400, code: 100},
		{name: "unknown event key", body: ev(func(e map[string]any) { e["advertiser_tracking_enabled"] = true }), status: 400, code: 100},
		{name: "unknown user_data key", body: ud(func(u map[string]any) { u["email"] = sha("a@b.c") }), status: 400, code: 100},
		{name: "missing event_name", body: ev(func(e map[string]any) { delete(e, "event_name") }), status: 400, code: 100},
		{name: "missing event_time", body: ev(func(e map[string]any) { delete(e, "event_time") }), status: 400, code: 100},
		{name: "missing action_source", body: ev(func(e map[string]any) { delete(e, "action_source") }), status: 400, code: 100},
		{name: "bad action_source", body: ev(func(e map[string]any) { e["action_source"] = "web" }), status: 400, code: 100},
		{name: "missing user_data", body: ev(func(e map[string]any) { delete(e, "user_data") }), status: 400, code: 100},
		{name: "website without event_source_url", body: ev(func(e map[string]any) { delete(e, "event_source_url") }), status: 400, code: 100},
		{name: "event_source_url not http", body: ev(func(e map[string]any) { e["event_source_url"] = "shop.example" }), status: 400, code: 100},
		{name: "website without user agent", body: ud(func(u map[string]any) { delete(u, "client_user_agent") }), status: 400, code: 100},
		{name: "raw email", body: ud(func(u map[string]any) { u["em"] = "john@example.com" }), status: 400, code: 100},
		{name: "raw email in array", body: ud(func(u map[string]any) { u["em"] = []any{sha("a@b.c"), "john@example.com"} }), status: 400, code: 100},
		{name: "raw phone", body: ud(func(u map[string]any) { u["ph"] = "+16505551212" }), status: 400, code: 100},
		{name: "upper-case hash", body: ud(func(u map[string]any) { u["fn"] = "6915771BE1C5AA0C886870B6951B03D7EAFC121FEA0E80A5EA83BEB7C449F4EC" }), status: 400, code: 100},
		{name: "raw gender", body: ud(func(u map[string]any) { u["ge"] = "m" }), status: 400, code: 100},
		{name: "bad ip", body: ud(func(u map[string]any) { u["client_ip_address"] = "999.1.1.1" }), status: 400, code: 100},
		{name: "no customer information", body: ud(func(u map[string]any) {
			for k := range u {
				if k != "client_user_agent" {
					delete(u, k)
				}
			}
		}), status: 400, code: 100},
		{name: "purchase without value", body: ev(func(e map[string]any) { delete(e["custom_data"].(map[string]any), "value") }), status: 400, code: 100, subcode: 2804009},
		{name: "purchase without currency", body: ev(func(e map[string]any) { delete(e["custom_data"].(map[string]any), "currency") }), status: 400, code: 100},
		{name: "value as string", body: ev(func(e map[string]any) { e["custom_data"].(map[string]any)["value"] = "12.5" }), status: 400, code: 100},
		{name: "lead without custom_data", body: ev(func(e map[string]any) { e["event_name"] = "Lead"; delete(e, "custom_data") }), status: 200},
		{name: "bad data_processing_options", body: ev(func(e map[string]any) { e["data_processing_options"] = []any{"GDPR"} }), status: 400, code: 100},
	}
	s, base := newSim(t, Options{Tokens: map[string]string{Meta: "tok"}})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := tc.path
			if path == "" {
				path = "/v21.0/1234567890/events"
			}
			q := tc.query
			switch q {
			case "":
				q = "?access_token=tok"
			case "-":
				q = ""
			default:
				q = "?" + q
			}
			a := post(t, base+"/meta"+path+q, map[string]string{"Content-Type": "application/json"}, tc.body)
			require.Equal(t, tc.status, a.status, string(a.raw))
			if tc.status == 200 {
				n := len(tc.body.(map[string]any)["data"].([]any))
				require.EqualValues(t, n, num(t, a.json, "events_received"))
				require.NotEmpty(t, a.json["fbtrace_id"])
				return
			}
			e, ok := a.json["error"].(map[string]any)
			require.True(t, ok, string(a.raw))
			require.Equal(t, "OAuthException", e["type"])
			require.NotEmpty(t, e["message"])
			require.NotEmpty(t, e["fbtrace_id"])
			require.Equal(t, tc.code, num(t, e, "code"), string(a.raw))
			require.Equal(t, tc.subcode, num(t, e, "error_subcode"), string(a.raw))
		})
	}
	t.Cleanup(func() {
		// Every request was recorded, raw.
		require.Equal(t, len(cases), len(s.Requests(Meta)))
	})
}

func TestMetaFormBodies(t *testing.T) {
	t.Parallel()
	s, base := newSim(t, Options{Tokens: map[string]string{Meta: "tok"}})
	data, err := json.Marshal([]any{validMetaEvent()})
	require.NoError(t, err)
	u := base + "/meta/v21.0/1234567890/events"

	form := url.Values{"data": {string(data)}, "access_token": {"tok"}}
	a := post(t, u, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, form.Encode())
	require.Equal(t, 200, a.status, string(a.raw))

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	require.NoError(t, mw.WriteField("data", string(data)))
	require.NoError(t, mw.Close())
	a = post(t, u+"?access_token=tok", map[string]string{"Content-Type": mw.FormDataContentType()}, buf.Bytes())
	require.Equal(t, 200, a.status, string(a.raw))

	a = post(t, u+"?access_token=tok", map[string]string{"Content-Type": "text/plain"}, data)
	require.Equal(t, 400, a.status)

	a, err = send(t, t.Context(), http.MethodGet, u+"?access_token=tok", nil, nil)
	require.NoError(t, err)
	require.Equal(t, 400, a.status)
	require.EqualValues(t, 33, num(t, a.json, "error", "error_subcode"))

	rs := s.Requests(Meta)
	require.Len(t, rs, 4)
	require.True(t, rs[0].Accepted)
	require.Equal(t, form.Encode(), string(rs[0].Body))
	require.False(t, rs[2].Accepted)
	require.NotEmpty(t, rs[2].Errors)
}

func TestMetaAppSecretProof(t *testing.T) {
	t.Parallel()
	_, base := newSim(t, Options{MetaAppSecret: "appsecret"})
	mac := hmac.New(sha256.New, []byte("appsecret"))
	mac.Write([]byte("tok"))
	proof := hex.EncodeToString(mac.Sum(nil))
	u := base + "/meta/v21.0/1234567890/events?access_token=tok"
	ct := map[string]string{"Content-Type": "application/json"}
	require.Equal(t, 200, post(t, u+"&appsecret_proof="+proof, ct, metaRequest(validMetaEvent())).status)
	a := post(t, u, ct, metaRequest(validMetaEvent()))
	require.Equal(t, 400, a.status)
	require.EqualValues(t, 100, num(t, a.json, "error", "code"))
}
