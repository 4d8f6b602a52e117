package test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/proxy/tenant"
	"github.com/jaraba/pixelgw/store/queue"
	"github.com/jaraba/pixelgw/store/queue/queueredis"
)

const demoOrigin = "http://www.demo.localhost:8080"

// edgeReq sends a request to an edge address with a Host, returning status,
// body and the Set-Cookie name=value pairs.
func edgeReq(t *testing.T, addr, method, host, path, body string, hdr ...string) (int, string, map[string]string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	cookies := map[string]string{}
	for _, ck := range resp.Cookies() {
		cookies[ck.Name] = ck.Value
	}
	return resp.StatusCode, string(b), cookies
}

func apiReq(t *testing.T, addr, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, "http://"+addr+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func pageBeacon(name, id string) string {
	return fmt.Sprintf(`{"v":1,"events":[{"name":%q,"id":%q,"ts":%d,"url":"https://www.demo.localhost/p"}]}`, name, id, time.Now().UnixMilli())
}

func cookieHdr(cs map[string]string) string {
	var parts []string
	for k, v := range cs {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, "; ")
}

// TestTwoEdgesShareOneRedis runs two scaled instances on one PostgreSQL
// schema and one Redis prefix: a conversion sent through both is queued
// once, a tenant added through one is served by the other within a second,
// and a flood of random ids hits one tenant's cap without touching another.
func TestTwoEdgesShareOneRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema, prefix, rdb := scaledStores(t)
	env := append(scaledEnv(t, schema, prefix),
		"PIXELGW_EDGE_MAX_LIVE_IDS_PER_TENANT=40",
		"PIXELGW_EDGE_RATE_LIMIT_PER_IP=100000", "PIXELGW_EDGE_RATE_LIMIT_BURST_IP=100000",
	)
	_, errOut, code := pixelgw(t, env, "migrate")
	require.Equal(t, 0, code, errOut)
	_, errOut, code = pixelgw(t, env, "seed-demo")
	require.Equal(t, 0, code, errOut)
	a, b := startServer(t, env), startServer(t, env)

	tok, errOut, code := pixelgw(t, env, "token", "-role", "operator", "-ttl", "10m")
	require.Equal(t, 0, code, errOut)
	tok = strings.TrimSpace(tok)
	status, tenants := apiReq(t, a.api, "GET", "/api/v1/tenants", tok, nil)
	require.Equal(t, 200, status)
	demoID := tenants["tenants"].([]any)[0].(map[string]any)["id"].(string)
	collect, consentPath := tenant.DefaultPath(demoID, tenant.KindCollect), tenant.DefaultPath(demoID, tenant.KindConsent)

	post := func(addr, host, path, body, origin string, cookies map[string]string) (int, map[string]string) {
		st, _, cs := edgeReq(t, addr, "POST", host, path, body,
			"Origin", origin, "Content-Type", "text/plain;charset=UTF-8", "Cookie", cookieHdr(cookies))
		return st, cs
	}
	consentJSON := `{"v":1,"analytics":true,"marketing":true,"functional":false,"policy":"1"}`
	st, cookies := post(a.edge, "t.demo.localhost", consentPath, consentJSON, demoOrigin, nil)
	require.Equal(t, 204, st)
	require.NotEmpty(t, cookies["jaraba_visitor_id"])

	// One conversion, its browser copy through A and a retry through B.
	id := uuid.NewString()
	st, _ = post(a.edge, "t.demo.localhost", collect, pageBeacon("purchase", id), demoOrigin, cookies)
	require.Equal(t, 204, st)
	st, _ = post(b.edge, "t.demo.localhost", collect, pageBeacon("Purchase", id), demoOrigin, cookies)
	require.Equal(t, 204, st)
	q := queueredis.New(rdb, queueredis.Config{Prefix: prefix}, nil)
	msgs, err := q.Read(ctx, "e2e", "c1", 1000, 0)
	require.NoError(t, err)
	kinds := map[queue.Kind]int{}
	for _, m := range msgs {
		if m.EventID == id {
			kinds[m.Kind]++
		}
	}
	require.Equal(t, map[queue.Kind]int{queue.KindEvent: 1, queue.KindMerge: 1}, kinds, "queued once across instances")

	// A tenant created through A is served by B within a second.
	status, created := apiReq(t, a.api, "POST", "/api/v1/tenants", tok, map[string]any{
		"slug": "other", "name": "Other", "settings": map[string]any{"sites": []string{"https://www.other.example"}},
	})
	require.Equal(t, 201, status, created)
	otherID := created["id"].(string)
	status, _ = apiReq(t, a.api, "POST", "/api/v1/tenants/"+otherID+"/domains", tok, map[string]any{"hostname": "t.other.example"})
	require.Equal(t, 201, status)
	added := time.Now()
	// The API tells the tenant admin the paths to paste; the edge serves them.
	paths := created["edge_paths"].(map[string]any)
	loader := paths["loader"].(string)
	require.Equal(t, tenant.DefaultPath(otherID, tenant.KindLoader), loader)
	for {
		if st, _, _ := edgeReq(t, b.edge, "GET", "t.other.example", loader, ""); st == 200 {
			break
		}
		require.Less(t, time.Since(added), 2*time.Second, "instance B must serve the new tenant within ~1s")
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("new tenant served by the other instance after %s", time.Since(added).Round(time.Millisecond))

	// A flood of random ids on "other" hits its cap (40); demo is untouched.
	otherOrigin := "https://www.other.example"
	st, otherCookies := post(b.edge, "t.other.example", paths["consent"].(string), consentJSON, otherOrigin, nil)
	require.Equal(t, 204, st)
	codes := map[int]int{}
	for i := 0; i < 60; i++ {
		st, _ := post(b.edge, "t.other.example", paths["collect"].(string), pageBeacon("page_view", uuid.NewString()), otherOrigin, otherCookies)
		codes[st]++
	}
	require.Equal(t, 40, codes[204], "%v", codes)
	require.Equal(t, 20, codes[429], "%v", codes)
	st, _ = post(a.edge, "t.demo.localhost", collect, pageBeacon("lead", uuid.NewString()), demoOrigin, cookies)
	require.Equal(t, 204, st, "another tenant still admits")
}
