package platformsim

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEventIDs(t *testing.T) {
	t.Parallel()
	js := func(v any) []byte {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return b
	}
	m2 := validMetaEvent()
	m2["event_id"] = "evt-2"
	m3 := validMetaEvent()
	delete(m3, "event_id")
	metaData, err := json.Marshal([]any{validMetaEvent(), m2})
	require.NoError(t, err)

	ga := validGA4()
	ga["events"] = append(ga["events"].([]any), map[string]any{"name": "page_view"})

	li2 := validLinkedInElement()
	li2["eventId"] = "evt-2"
	x2 := validXConversion()
	x2["conversion_id"] = "evt-2"
	tt2 := validTikTokEvent()
	tt2["event_id"] = "evt-2"

	cases := []struct {
		name     string
		platform string
		body     []byte
		want     []string
	}{
		{"meta json", Meta, js(metaRequest(validMetaEvent(), m2, m3)), []string{"evt-1", "evt-2", ""}},
		{"meta form", Meta, []byte(url.Values{"data": {string(metaData)}, "access_token": {"t"}}.Encode()), []string{"evt-1", "evt-2"}},
		{"google", Google, js(ga), []string{"evt-1", "1234567890.1700000000/page_view"}},
		{"linkedin batch", LinkedIn, js(map[string]any{"elements": []any{validLinkedInElement(), li2}}), []string{"evt-1", "evt-2"}},
		{"linkedin single", LinkedIn, js(validLinkedInElement()), []string{"evt-1"}},
		{"tiktok", TikTok, js(tiktokRequest(validTikTokEvent(), tt2)), []string{"evt-1", "evt-2"}},
		{"x", "twitter", js(xRequest(validXConversion(), x2)), []string{"evt-1", "evt-2"}},
		{"garbage", TikTok, []byte("<html>"), nil},
		{"unknown platform", "snap", js(map[string]any{}), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, EventIDs(tc.platform, tc.body))
		})
	}
}
