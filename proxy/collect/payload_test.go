package collect_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/proxy/collect"
)

func decodePayload(t *testing.T, b []byte) map[string]any {
	t.Helper()
	require.True(t, json.Valid(b), "payload must be valid JSON: %s", b)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func TestAppendPayloadMarketing(t *testing.T) {
	t.Parallel()
	body := `{"v":1,"events":[` + ev(`"ref":"https://google.com/","eng":1500,`+
		`"props":{"value":12.5,"currency":"EUR","title":"caf\u00e9 \"q\" \\ \t","items":[{"id":"a","q":2},"x",true]},`+
		`"user":{"em":"Jane@Example.com","ph":"+34 600 12 34 56"}`) +
		`],"ids":{"fbp":"fb.1.1732880000000.1116446470","gclid":"Cj0KCQ"},"sid":"1732889000"}`
	b, err := parse(t, body)
	require.NoError(t, err)
	en := &collect.Enrichment{
		TenantID: "t-1", VisitorID: "v-1", ClientIP: []byte("203.0.113.9"), UserAgent: []byte(`Mozilla "x"`),
		ReceivedMS: 1732890000123, Analytics: true, Marketing: true, Policy: "1",
	}
	got := decodePayload(t, collect.AppendPayload(nil, b, 0, en))
	require.Equal(t, map[string]any{
		"v": 1.0, "src": "client", "tenant": "t-1", "id": uuid1, "name": "purchase", "class": "conversion",
		"ts": 1732890000000.0, "recv": 1732890000123.0, "url": "https://www.shop.com/p", "ref": "https://google.com/",
		"eng": 1500.0, "sid": "1732889000", "visitor": "v-1", "ip": "203.0.113.9", "ua": `Mozilla "x"`,
		"consent": map[string]any{"a": true, "m": true, "f": false, "policy": "1", "gpc": false},
		"ids":     map[string]any{"fbp": "fb.1.1732880000000.1116446470", "gclid": "Cj0KCQ"},
		"props": map[string]any{"value": 12.5, "currency": "EUR", "title": "café \"q\" \\ \t",
			"items": []any{map[string]any{"id": "a", "q": 2.0}, "x", true}},
		"user": map[string]any{"em": "Jane@Example.com", "ph": "+34 600 12 34 56"},
	}, got)
}

func TestAppendPayloadAnalyticsOnlyDropsMarketingData(t *testing.T) {
	t.Parallel()
	body := `{"v":1,"events":[` + ev(`"user":{"em":"jane@example.com"}`) + `],"ids":{"fbp":"fb.1.1732880000000.1116446470"}}`
	b, err := parse(t, body)
	require.NoError(t, err)
	en := &collect.Enrichment{TenantID: "t", VisitorID: "v", Analytics: true, Policy: "1"}
	got := decodePayload(t, collect.AppendPayload(nil, b, 0, en))
	require.NotContains(t, got, "ids", "click ids need marketing consent")
	require.NotContains(t, got, "user", "user data needs marketing consent")
	require.NotContains(t, got, "props")
	require.Equal(t, false, got["consent"].(map[string]any)["m"])
}
