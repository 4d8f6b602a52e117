package test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/test/platformsim"
)

// keyReq sends a JSON body to the API with a tenant API key (X-API-Key)
// and returns the status and the raw body.
func keyReq(t *testing.T, addr, method, path, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("X-API-Key", key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestBrowserAndServerCopiesMeet is issue 6's end-to-end case on the real
// binary in scaled mode (PostgreSQL + Redis), delivering to the strict
// simulator: a beacon (fbp and the other platforms' click ids) and a
// server-side event (hashed email) with the same event_id produce exactly
// one 2xx-answered delivery per pixel, each carrying the identifiers of
// both copies; the recent view shows event_source "both", the platform's
// answer and the debug mark; the same with "Purchase" on the server side
// and "purchase" in the browser. API keys send events but cannot manage
// pixels, and a revoked key is refused at once.
func TestBrowserAndServerCopiesMeet(t *testing.T) {
	t.Parallel()
	sim := platformsim.New(platformsim.Options{Tokens: map[string]string{
		platformsim.Meta: "demo-meta-access-token-not-real", platformsim.Google: "demo-ga4-api-secret-not-real",
		platformsim.LinkedIn: "demo-linkedin-token-not-real", platformsim.TikTok: "demo-tiktok-token-not-real",
		platformsim.X: "demo-x-pixel-token-not-real",
	}})

	env := append(scaledTestEnv(t),
		// Long enough for both copies to meet on a loaded machine.
		"PIXELGW_PLATFORMS_DISPATCH_MERGE_WINDOW=4s",
	)
	env = append(env, serveSimulator(t, sim)...)
	_, errOut, code := pixelgw(t, env, "migrate")
	require.Equal(t, 0, code, errOut)
	_, errOut, code = pixelgw(t, env, "seed-demo")
	require.Equal(t, 0, code, errOut)
	s := startServer(t, env)
	tok, errOut, code := pixelgw(t, env, "token", "-tenant", "demo", "-ttl", "10m")
	require.Equal(t, 0, code, errOut)
	tok = strings.TrimSpace(tok)
	status, ten := apiReq(t, s.api, "GET", "/api/v1/tenant", tok, nil)
	require.Equal(t, 200, status)
	paths := ten["edge_paths"].(map[string]any)
	status, created := apiReq(t, s.api, "POST", "/api/v1/api-keys", tok, map[string]any{"name": "backend"})
	require.Equal(t, 201, status, created)
	key := created["key"].(string)

	st, _, cookies := edgeReq(t, s.edge, "POST", "t.demo.localhost", paths["consent"].(string),
		`{"v":1,"analytics":true,"marketing":true,"functional":false,"policy":"1"}`,
		"Origin", demoOrigin, "Content-Type", "text/plain")
	require.Equal(t, 204, st)
	visitor := cookies["jaraba_visitor_id"]
	require.NotEmpty(t, visitor)

	sum := sha256.Sum256([]byte("jane.doe@example.com"))
	emHash := hex.EncodeToString(sum[:])
	const (
		fbp     = "fb.1.1732880000000.1116446470"
		ttclid  = "E.C.P.e2e-ttclid"
		twclid  = "e2e-twclid-1"
		liFatID = "e2e-li-fat-id"
	)
	for _, names := range [][2]string{{"purchase", "purchase"}, {"purchase", "Purchase"}} {
		id := uuid.NewString()
		beacon := `{"v":1,"events":[{"name":"` + names[0] + `","id":"` + id + `","ts":` + strconv.FormatInt(time.Now().UnixMilli(), 10) +
			`,"url":"http://www.demo.localhost:8080/thanks","props":{"value":49.9,"currency":"EUR"}}],` +
			`"ids":{"fbp":"` + fbp + `","ttclid":"` + ttclid + `","twclid":"` + twclid + `","li_fat_id":"` + liFatID + `"}}`
		st, _, _ := edgeReq(t, s.edge, "POST", "t.demo.localhost", paths["collect"].(string), beacon,
			"Origin", demoOrigin, "Content-Type", "text/plain", "Cookie", cookieHdr(cookies), "User-Agent", "Mozilla/5.0 e2e")
		require.Equal(t, 204, st)
		status, body := keyReq(t, s.api, "POST", "/api/v1/tracking/events", key, `{"event_name":"`+names[1]+`","event_id":"`+id+
			`","visitor_id":"`+visitor+`","user_data":{"em":"`+emHash+`"},"custom_data":{"value":49.9,"currency":"EUR"}}`)
		require.Equal(t, 202, status, body)
		require.JSONEq(t, `{"status":"duplicate"}`, body, "the browser copy came first: the server copy meets it")

		// The recent view: one event, seen from both sides, delivered to
		// each of the five pixels.
		var ev map[string]any
		deadline := time.Now().Add(45 * time.Second)
		for {
			ev = recentEvent(t, s.api, tok, id)
			if ev != nil && countStatus(ev, "delivered") == 5 {
				break
			}
			require.True(t, time.Now().Before(deadline), "%s/%s: not delivered to the five pixels: %v\n%s", names[0], names[1], ev, s.log.String())
			time.Sleep(100 * time.Millisecond)
		}
		require.Equal(t, "both", ev["source"], "%s/%s", names[0], names[1])
		require.Equal(t, 5, countStatus(ev, "merged"), "the server copy folded in for each pixel")
		for _, d := range ev["deliveries"].([]any) {
			d := d.(map[string]any)
			if d["status"] != "delivered" {
				continue
			}
			resp := d["response"].(map[string]any)
			require.GreaterOrEqual(t, resp["http_status"].(float64), 200.0, d)
			require.Less(t, resp["http_status"].(float64), 300.0, d)
			require.Contains(t, resp, "body", d) // GA4 answers 204 with no body
			if d["platform"] == "meta" {
				require.Contains(t, resp["body"], "events_received", "Meta's answer as stored")
			}
			isTest, _ := d["test"].(bool)
			require.Equal(t, d["platform"] == "meta" || d["platform"] == "tiktok", isTest, "the demo's Meta and TikTok pixels have a test_event_code: %v", d)
			require.Equal(t, "both", d["source"], d)
		}
		require.Contains(t, recentIDs(t, s.api, tok, "?source=both"), id)
		require.NotContains(t, recentIDs(t, s.api, tok, "?source=client"), id)

		// The simulator's raw log: exactly one accepted request per
		// platform carried the event, with the identifiers of both copies.
		for platform, want := range map[string][]string{
			platformsim.Meta:     {emHash, fbp},
			platformsim.Google:   {emHash, visitor},
			platformsim.LinkedIn: {emHash, liFatID},
			platformsim.TikTok:   {emHash, ttclid},
			platformsim.X:        {emHash, twclid},
		} {
			var carrying []platformsim.Request
			for _, r := range sim.Requests(platform) {
				for _, got := range platformsim.EventIDs(platform, r.Body) {
					if got == id {
						carrying = append(carrying, r)
					}
				}
			}
			require.Len(t, carrying, 1, "%s: %s/%s delivered once", platform, names[0], names[1])
			r := carrying[0]
			require.True(t, r.Accepted && r.Status >= 200 && r.Status < 300, "%s: answered %d: %s", platform, r.Status, r.Response)
			for _, w := range want {
				require.True(t, bytes.Contains(r.Body, []byte(w)), "%s: the request lacks %q: %s", platform, w, r.Body)
			}
		}
	}

	// Both paths count into the same metric families.
	_, metrics := httpGet(t, "http://"+s.ops+"/metrics", "", "")
	for _, re := range []string{
		`(?m)^pixelgw_events_received_total\{source="client"\} 2$`,
		`(?m)^pixelgw_events_received_total\{source="server"\} 2$`,
		`(?m)^pixelgw_events_accepted_total\{source="client"\} 2$`,
		`(?m)^pixelgw_events_deduplicated_total\{source="server"\} 2$`,
	} {
		require.Regexp(t, regexp.MustCompile(re), metrics)
	}

	// An API key sends events and nothing else; revoking it refuses it at
	// once.
	status, _ = keyReq(t, s.api, "GET", "/api/v1/tracking/pixels", key, "")
	require.Equal(t, 401, status)
	status, _ = keyReq(t, s.api, "POST", "/api/v1/tracking/pixels", key, `{"platform":"meta","pixel_id":"123456","credentials":{"access_token":"x"}}`)
	require.Equal(t, 401, status)
	status, _ = apiReq(t, s.api, "DELETE", "/api/v1/api-keys/"+created["id"].(string), tok, nil)
	require.Equal(t, 204, status)
	status, body := keyReq(t, s.api, "POST", "/api/v1/tracking/events", key, `{"event_name":"lead","event_id":"`+uuid.NewString()+`","visitor_id":"`+visitor+`"}`)
	require.Equal(t, 401, status, body)
	require.NotContains(t, s.log.String(), "jane.doe@example.com")
	require.NotContains(t, s.log.String(), key)
}

// recentEvent is the recent view's entry for id (nil if absent).
func recentEvent(t *testing.T, api, tok, id string) map[string]any {
	t.Helper()
	status, out := apiReq(t, api, "GET", "/api/v1/tracking/events/recent", tok, nil)
	require.Equal(t, 200, status, out)
	for _, e := range out["events"].([]any) {
		if m := e.(map[string]any); m["event_id"] == id {
			return m
		}
	}
	return nil
}

func recentIDs(t *testing.T, api, tok, query string) []string {
	t.Helper()
	status, out := apiReq(t, api, "GET", "/api/v1/tracking/events/recent"+query, tok, nil)
	require.Equal(t, 200, status, out)
	var ids []string
	for _, e := range out["events"].([]any) {
		ids = append(ids, e.(map[string]any)["event_id"].(string))
	}
	return ids
}

func countStatus(ev map[string]any, status string) int {
	n := 0
	for _, d := range ev["deliveries"].([]any) {
		if d.(map[string]any)["status"] == status {
			n++
		}
	}
	return n
}
