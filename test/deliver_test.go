package test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// TestDemoDeliversToEveryPlatform is the whole flow on the real binary in
// embedded mode with the in-process simulator: consent, a purchase beacon,
// and one delivery to each of the demo tenant's five pixels.
func TestDemoDeliversToEveryPlatform(t *testing.T) {
	t.Parallel()
	env := append(embeddedEnv(t, t.TempDir(), newMasterKey(t)), "PIXELGW_PLATFORMS_SIMULATOR=true",
		"PIXELGW_PLATFORMS_DISPATCH_MERGE_WINDOW=1s")
	_, errOut, code := pixelgw(t, env, "migrate")
	require.Equal(t, 0, code, errOut)
	_, errOut, code = pixelgw(t, env, "seed-demo")
	require.Equal(t, 0, code, errOut)
	s := startServer(t, env)
	tok, errOut, code := pixelgw(t, env, "token", "-tenant", "demo", "-ttl", "10m")
	require.Equal(t, 0, code, errOut)
	status, ten := apiReq(t, s.api, "GET", "/api/v1/tenant", strings.TrimSpace(tok), nil)
	require.Equal(t, 200, status)
	paths := ten["edge_paths"].(map[string]any)

	st, _, cookies := edgeReq(t, s.edge, "POST", "t.demo.localhost", paths["consent"].(string),
		`{"v":1,"analytics":true,"marketing":true,"functional":false,"policy":"1"}`,
		"Origin", demoOrigin, "Content-Type", "text/plain")
	require.Equal(t, 204, st)
	body := `{"v":1,"events":[{"name":"purchase","id":"` + uuid.NewString() + `","ts":` + strconv.FormatInt(time.Now().UnixMilli(), 10) +
		`,"url":"http://www.demo.localhost:8080/","props":{"value":49.9,"currency":"EUR"},"user":{"em":"jane@example.com"}}],` +
		`"ids":{"fbp":"fb.1.1732880000000.1116446470","ttclid":"E.C.P.abc","twclid":"tw123","li_fat_id":"li-1"}}`
	st, _, _ = edgeReq(t, s.edge, "POST", "t.demo.localhost", paths["collect"].(string), body,
		"Origin", demoOrigin, "Content-Type", "text/plain", "Cookie", cookieHdr(cookies), "User-Agent", "Mozilla/5.0 e2e")
	require.Equal(t, 204, st)

	delivered := regexp.MustCompile(`(?m)^pixelgw_deliveries_total\{outcome="delivered",platform="(\w+)"\} (\d+)$`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, metrics := httpGet(t, "http://"+s.ops+"/metrics", "", "")
		got := map[string]string{}
		for _, m := range delivered.FindAllStringSubmatch(metrics, -1) {
			got[m[1]] = m[2]
		}
		want := map[string]string{"meta": "1", "google": "1", "linkedin": "1", "tiktok": "1", "twitter": "1"}
		if len(got) == 5 && func() bool {
			for k, v := range want {
				if got[k] != v {
					return false
				}
			}
			return true
		}() {
			break
		}
		require.True(t, time.Now().Before(deadline), "deliveries so far: %v\n%s", got, s.log.String())
		time.Sleep(100 * time.Millisecond)
	}
	require.NotContains(t, s.log.String(), "jane@example.com", "personal data is never logged")

	// The verify button on the demo's Meta pixel: a test event the
	// simulator accepts.
	status, list := apiReq(t, s.api, "GET", "/api/v1/tracking/pixels", strings.TrimSpace(tok), nil)
	require.Equal(t, 200, status)
	var metaUUID string
	for _, p := range list["pixels"].([]any) {
		if m := p.(map[string]any); m["platform"] == "meta" {
			metaUUID = m["uuid"].(string)
		}
	}
	status, ver := apiReq(t, s.api, "POST", "/api/v1/tracking/pixels/"+metaUUID+"/verify", strings.TrimSpace(tok), nil)
	require.Equal(t, 200, status, ver)
	require.Equal(t, true, ver["ok"], ver)

	// Right to erasure: revoking through the API clears the visitor's audit
	// rows (written by the engine's audit group, so poll).
	visitor := cookies["jaraba_visitor_id"]
	require.NotEmpty(t, visitor)
	admin := strings.TrimSpace(tok)
	var erased float64
	for erased == 0 {
		status, out := apiReq(t, s.api, "DELETE", "/api/v1/tracking/consent/"+visitor, admin, nil)
		require.Equal(t, 200, status, out)
		erased, _ = out["erased"].(map[string]any)["tracking_events"].(float64)
		require.True(t, time.Now().Before(deadline.Add(10*time.Second)), "audit rows of the visitor never erased: %v", out)
		if erased == 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
}
