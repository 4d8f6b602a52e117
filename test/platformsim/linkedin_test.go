package platformsim

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func validLinkedInElement() map[string]any {
	return map[string]any{
		"conversion":           "urn:lla:llaPartnerConversion:12345",
		"conversionHappenedAt": now.UnixMilli(),
		"conversionValue":      map[string]any{"currencyCode": "USD", "amount": "1500.0"},
		"eventId":              "evt-1",
		"user": map[string]any{
			"userIds": []any{
				map[string]any{"idType": "SHA256_EMAIL", "idValue": sha("person@example.com")},
				map[string]any{"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": "abc-123"},
			},
			"userInfo": map[string]any{"firstName": "Mary", "lastName": "Smith", "countryCode": "US"},
		},
	}
}

func linkedInHeaders() map[string]string {
	return map[string]string{
		"Authorization":             "Bearer tok",
		"LinkedIn-Version":          "202610",
		"X-Restli-Protocol-Version": "2.0.0",
		"X-RestLi-Method":           "BATCH_CREATE",
		"Content-Type":              "application/json",
	}
}

func TestLinkedInRejectList(t *testing.T) {
	t.Parallel()
	batch := func(els ...map[string]any) map[string]any {
		arr := make([]any, len(els))
		for i, e := range els {
			arr[i] = e
		}
		return map[string]any{"elements": arr}
	}
	el := func(f func(e map[string]any)) map[string]any {
		e := clone(validLinkedInElement())
		f(e)
		return batch(validLinkedInElement(), e)
	}
	user := func(f func(u map[string]any)) map[string]any {
		return el(func(e map[string]any) { f(e["user"].(map[string]any)) })
	}
	hdr := func(k, v string) map[string]string {
		h := linkedInHeaders()
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
		return h
	}
	many := func(n int) map[string]any {
		els := make([]map[string]any, n)
		for i := range els {
			els[i] = validLinkedInElement()
		}
		return batch(els...)
	}
	cases := []struct {
		name    string
		hdr     map[string]string
		body    any
		status  int
		code    string // top-level code
		service int64
		message string // substring of the message
	}{
		{name: "valid batch", body: batch(validLinkedInElement(), validLinkedInElement()), status: 200},
		{name: "valid 5000", body: many(5000), status: 200},
		{name: "valid single", hdr: hdr("X-RestLi-Method", ""), body: validLinkedInElement(), status: 201},
		{name: "no user info", body: user(func(u map[string]any) { delete(u, "userInfo") }), status: 200},
		{name: "no amount needed without value", body: el(func(e map[string]any) { delete(e, "conversionValue") }), status: 200},
		{name: "no token", hdr: hdr("Authorization", ""), body: batch(validLinkedInElement()), status: 401, code: "EMPTY_ACCESS_TOKEN", service: 65604},
		{name: "wrong token", hdr: hdr("Authorization", "Bearer nope"), body: batch(validLinkedInElement()), status: 401, code: "INVALID_ACCESS_TOKEN", service: 65600},
		{name: "basic auth", hdr: hdr("Authorization", "Basic dG9rOg=="), body: batch(validLinkedInElement()), status: 401, code: "EMPTY_ACCESS_TOKEN", service: 65604},
		{name: "no version", hdr: hdr("LinkedIn-Version", ""), body: batch(validLinkedInElement()), status: 400, code: "VERSION_MISSING"},
		{name: "bad version", hdr: hdr("LinkedIn-Version", "2026-10"), body: batch(validLinkedInElement()), status: 400, code: "INVALID_VERSION"},
		{name: "sunset version", hdr: hdr("LinkedIn-Version", "202511"), body: batch(validLinkedInElement()), status: 426, code: "NONEXISTENT_VERSION"},
		{name: "future version", hdr: hdr("LinkedIn-Version", "202701"), body: batch(validLinkedInElement()), status: 426, code: "NONEXISTENT_VERSION"},
		{name: "no protocol version", hdr: hdr("X-Restli-Protocol-Version", ""), body: batch(validLinkedInElement()), status: 400},
		{name: "protocol 1.0.0", hdr: hdr("X-Restli-Protocol-Version", "1.0.0"), body: batch(validLinkedInElement()), status: 400},
		{name: "bad method", hdr: hdr("X-RestLi-Method", "BATCH_UPDATE"), body: batch(validLinkedInElement()), status: 400},
		{name: "not json content type", hdr: hdr("Content-Type", "text/plain"), body: batch(validLinkedInElement()), status: 415},
		{name: "batch without elements", body: validLinkedInElement(), status: 400},
		{name: "batch body on single create", hdr: hdr("X-RestLi-Method", ""), body: batch(validLinkedInElement()), status: 422, message: "/elements :: unrecognized field"},
		{name: "5001 elements", body: many(5001), status: 400},
		{name: "empty elements", body: batch(), status: 400},
		{name: "bad urn", body: el(func(e map[string]any) { e["conversion"] = "12345" }), status: 422, message: "Index: 1, ERROR :: /conversion ::"},
		{name: "missing conversion", body: el(func(e map[string]any) { delete(e, "conversion") }), status: 422, message: "Index: 1, ERROR :: /conversion :: field is required"},
		{name: "91 days old", body: el(func(e map[string]any) { e["conversionHappenedAt"] = now.Add(-91 * 24 * time.Hour).UnixMilli() }), status: 422, message: "/conversionHappenedAt"},
		{name: "seconds instead of ms", body: el(func(e map[string]any) { e["conversionHappenedAt"] = now.Unix() }), status: 422, message: "/conversionHappenedAt"},
		{name: "amount as number", body: el(func(e map[string]any) { e["conversionValue"].(map[string]any)["amount"] = 1500.0 }), status: 422, message: "/conversionValue/amount :: must be a string"},
		{name: "amount missing", body: el(func(e map[string]any) { delete(e["conversionValue"].(map[string]any), "amount") }), status: 422, message: "/conversionValue/amount :: field is required but not found and has no default value"},
		{name: "currency lower", body: el(func(e map[string]any) { e["conversionValue"].(map[string]any)["currencyCode"] = "usd" }), status: 422, message: "/conversionValue/currencyCode"},
		{name: "eventId too long", body: el(func(e map[string]any) { e["eventId"] = strings.Repeat("e", 65) }), status: 422, message: "/eventId"},
		{name: "unknown field", body: el(func(e map[string]any) { e["value"] = 1 }), status: 422, message: "/value :: unrecognized field"},
		{name: "no user", body: el(func(e map[string]any) { delete(e, "user") }), status: 422, message: "/user ::"},
		{name: "no userIds", body: user(func(u map[string]any) { delete(u, "userIds") }), status: 422, message: "/user/userIds"},
		{name: "raw email", body: user(func(u map[string]any) {
			u["userIds"] = []any{map[string]any{"idType": "SHA256_EMAIL", "idValue": "person@example.com"}}
		}), status: 422, message: "/user/userIds/0/idValue"},
		{name: "bad idType", body: user(func(u map[string]any) {
			u["userIds"] = []any{map[string]any{"idType": "EMAIL", "idValue": sha("a@b.c")}}
		}), status: 422, message: "/user/userIds/0/idType"},
		{name: "userInfo without lastName", body: user(func(u map[string]any) {
			delete(u["userInfo"].(map[string]any), "lastName")
		}), status: 422, message: "Index: 1, ERROR :: /user/userInfo/lastName :: field is required"},
		{name: "firstName too long", body: user(func(u map[string]any) {
			u["userInfo"].(map[string]any)["firstName"] = strings.Repeat("a", 36)
		}), status: 422, message: "/user/userInfo/firstName"},
	}
	s, base := newSim(t, Options{Tokens: map[string]string{LinkedIn: "tok"}})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := tc.hdr
			if h == nil {
				h = linkedInHeaders()
			}
			a := post(t, base+"/linkedin/rest/conversionEvents", h, tc.body)
			require.Equal(t, tc.status, a.status, string(a.raw))
			switch tc.status {
			case 200:
				els := a.json["elements"].([]any)
				require.Len(t, els, len(tc.body.(map[string]any)["elements"].([]any)))
				for _, e := range els {
					require.EqualValues(t, 201, num(t, e.(map[string]any), "status"))
				}
				return
			case 201:
				require.Empty(t, a.raw)
				return
			}
			require.EqualValues(t, tc.status, num(t, a.json, "status"), string(a.raw))
			if tc.code != "" {
				require.Equal(t, tc.code, a.json["code"], string(a.raw))
			}
			require.Equal(t, tc.service, num(t, a.json, "serviceErrorCode"))
			require.Contains(t, a.json["message"], tc.message)
		})
	}
	t.Cleanup(func() { require.Equal(t, len(cases), len(s.Requests(LinkedIn))) })
}
