package proxy_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/jaraba/pixelgw/admin"
	"github.com/jaraba/pixelgw/proxy"
	"github.com/jaraba/pixelgw/proxy/tenant"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/queue"
	"github.com/jaraba/pixelgw/store/queue/queuesqlite"
	"github.com/jaraba/pixelgw/store/secret"
	"github.com/jaraba/pixelgw/store/storesqlite"
)

// fixture is a running edge on 127.0.0.1 with two tenants: shop (sites
// https://www.shop.example, edge host t.shop.example) and other.
type fixture struct {
	addr  string
	st    *storesqlite.Store
	q     *queuesqlite.Queue
	reg   *tenant.Registry
	shop  *tenant.Tenant
	other *tenant.Tenant
	api   *admin.API
	kr    *secret.Keyring
}

func newFixture(t *testing.T, mutate func(*proxy.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := storesqlite.Open(ctx, filepath.Join(dir, "db.sqlite"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	kr, err := secret.NewKeyring("k1", map[string][]byte{"k1": key})
	require.NoError(t, err)
	api, err := admin.New(admin.Defaults(), admin.Deps{Store: st, Keyring: kr, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)

	mk := func(slug, site, edgeHost string) {
		tn, err := api.CreateTenant(ctx, admin.TenantInput{Slug: slug, Name: slug, Settings: store.TenantSettings{
			PolicyVersion: "2", Sites: []string{site}, Languages: []string{"en", "es", "pt"}, SPAHistory: slug == "shop", ReopenLink: slug == "shop",
		}})
		require.NoError(t, err)
		_, err = api.AddDomain(ctx, tn.ID, admin.DomainInput{Hostname: edgeHost})
		require.NoError(t, err)
		_, err = api.CreatePixel(ctx, tn.ID, admin.PixelInput{Platform: "meta", PixelID: "1234567890", Credentials: map[string]string{"access_token": "EAAB-canary-token-value"}})
		require.NoError(t, err)
	}
	mk("shop", "https://www.shop.example", "t.shop.example")
	mk("other", "https://www.other.example", "t.other.example")

	snap, err := tenant.Build(ctx, st, kr, time.Now())
	require.NoError(t, err)
	require.Empty(t, snap.Skipped)
	reg := &tenant.Registry{}
	reg.Swap(snap)

	q, err := queuesqlite.Open(ctx, filepath.Join(dir, "queue.sqlite"), queuesqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { q.Close() })

	cfg := proxy.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.TrustedProxies = []string{"10.9.0.0/16"} // not 127.0.0.1: the test client is untrusted
	if mutate != nil {
		mutate(&cfg)
	}
	edge, err := proxy.NewEdge(cfg, proxy.Deps{Registry: reg, Queue: q, Consents: st, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	srv := proxy.New(cfg, slog.New(slog.DiscardHandler), edge)
	require.NoError(t, srv.Start(ctx))
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })

	return &fixture{
		addr: srv.Addr().String(), st: st, q: q, reg: reg, api: api, kr: kr,
		shop:  snap.Lookup([]byte("t.shop.example")).Tenant,
		other: snap.Lookup([]byte("t.other.example")).Tenant,
	}
}

type resp struct {
	status  int
	body    string
	header  map[string][]string
	cookies map[string]string // Set-Cookie name -> value
}

// do sends a request to the edge with the given Host.
func (f *fixture) do(t *testing.T, method, host, path, body string, hdr ...string) resp {
	t.Helper()
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.SetRequestURI("http://" + host + path) // sent over our own connection to f.addr
	req.Header.SetMethod(method)
	if body != "" {
		req.SetBodyString(body)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	// One connection per request, written and read by hand: no client
	// goroutines outlive the test (goleak).
	conn, err := net.DialTimeout("tcp", f.addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	w := bufio.NewWriter(conn)
	require.NoError(t, req.Write(w))
	require.NoError(t, w.Flush())
	if method == "HEAD" {
		res.SkipBody = true
	}
	require.NoError(t, res.Read(bufio.NewReader(conn)))
	r := resp{status: res.StatusCode(), body: string(res.Body()), header: map[string][]string{}, cookies: map[string]string{}}
	for k, v := range res.Header.All() {
		r.header[string(k)] = append(r.header[string(k)], string(v))
	}
	for _, sc := range r.header["Set-Cookie"] {
		kv := strings.SplitN(strings.SplitN(sc, ";", 2)[0], "=", 2)
		r.cookies[kv[0]] = kv[1]
	}
	return r
}

func cookieHeader(cs map[string]string) string {
	var parts []string
	for k, v := range cs {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, "; ")
}

const shopOrigin = "https://www.shop.example"

func consentBody(a, m bool) string {
	b, _ := json.Marshal(map[string]any{"v": 1, "analytics": a, "marketing": m, "functional": false, "policy": "2", "ids": map[string]string{"fbclid": "IwAR-Case", "gclid": "Cj0KCQ"}})
	return string(b)
}

func beacon(name, id string) string {
	return `{"v":1,"events":[{"name":"` + name + `","id":"` + id + `","ts":` +
		itoa(time.Now().UnixMilli()) + `,"url":"https://www.shop.example/p","props":{"value":10,"currency":"EUR"},"user":{"em":"jane@example.com"}}],` +
		`"ids":{"fbp":"fb.1.1732880000000.1116446470"}}`
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// readAll drains every queued message of a fresh consumer group.
func readAll(t *testing.T, q queue.Queue) []queue.Message {
	t.Helper()
	msgs, err := q.Read(context.Background(), "test-"+uuid.NewString()[:8], "c1", 1000, 0)
	require.NoError(t, err)
	return msgs
}

func consent(t *testing.T, f *fixture, a, m bool) map[string]string {
	t.Helper()
	r := f.do(t, "POST", "t.shop.example", f.shop.ConsentPath, consentBody(a, m),
		"Origin", shopOrigin, "Content-Type", "text/plain;charset=UTF-8")
	require.Equal(t, 204, r.status, r.body)
	require.Equal(t, []string{shopOrigin}, r.header["Access-Control-Allow-Origin"])
	require.Equal(t, []string{"true"}, r.header["Access-Control-Allow-Credentials"])
	return r.cookies
}

func TestUnknownHostIs404(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	r := f.do(t, "GET", "t.nobody.example", f.shop.LoaderPath, "")
	require.Equal(t, 404, r.status)
	r = f.do(t, "GET", "t.shop.example", "/not-a-path", "")
	require.Equal(t, 404, r.status)
	require.Equal(t, "not found\n", r.body)
}

func TestLoaderServedPerTenant(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	r := f.do(t, "GET", "t.shop.example", f.shop.LoaderPath, "", "Accept-Encoding", "br, gzip")
	require.Equal(t, 200, r.status)
	require.Equal(t, []string{"br"}, r.header["Content-Encoding"])
	etag := r.header["Etag"]
	require.Len(t, etag, 1)
	r = f.do(t, "GET", "t.shop.example", f.shop.LoaderPath, "", "If-None-Match", etag[0], "Accept-Encoding", "br")
	require.Equal(t, 304, r.status)
	// Another tenant's loader path is not served on this host.
	r = f.do(t, "GET", "t.shop.example", f.other.LoaderPath, "")
	require.Equal(t, 404, r.status)
	plain := f.do(t, "GET", "t.shop.example", f.shop.LoaderPath, "")
	require.Contains(t, plain.body, f.shop.CollectPath)
	require.Contains(t, plain.body, `spa:!0`, "the tenant's SPA setting reaches its loader")
	require.Contains(t, plain.body, `rl:!0`, "and its reopen-link setting")
	require.NotContains(t, plain.body, f.other.CollectPath)
}

func TestConsentThenCollectQueuesOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)

	// Before any decision: the beacon is accepted but nothing is kept.
	id := uuid.NewString()
	r := f.do(t, "POST", "t.shop.example", f.shop.CollectPath, beacon("purchase", id),
		"Origin", shopOrigin, "Content-Type", "text/plain;charset=UTF-8")
	require.Equal(t, 204, r.status, r.body)
	require.Empty(t, r.cookies, "no cookie before a decision")
	require.Empty(t, readAll(t, f.q))

	cs := consent(t, f, true, true)
	require.NotEmpty(t, cs["jaraba_consent"])
	require.NotEmpty(t, cs["jaraba_visitor_id"])
	require.True(t, strings.HasPrefix(cs["_fbp"], "fb.1."))
	require.True(t, strings.HasSuffix(cs["_fbc"], ".IwAR-Case"), "fbclid case preserved")
	require.Equal(t, "Cj0KCQ", cs["gclid"])
	visitor := cs["jaraba_visitor_id"]
	hist, err := f.st.ConsentHistory(context.Background(), f.shop.ID, visitor)
	require.NoError(t, err)
	require.Len(t, hist, 1)
	require.True(t, hist[0].Marketing)

	send := func() resp {
		return f.do(t, "POST", "t.shop.example", f.shop.CollectPath, beacon("Purchase", id),
			"Origin", shopOrigin, "Content-Type", "text/plain", "Cookie", cookieHeader(cs),
			"X-Forwarded-For", "198.51.100.77", "User-Agent", "TestBrowser/1.0")
	}
	r = send()
	require.Equal(t, 204, r.status, r.body)
	r = send() // the loader's retry, or the same conversion again
	require.Equal(t, 204, r.status, r.body)

	msgs := readAll(t, f.q)
	var events, merges int
	for _, m := range msgs {
		switch m.Kind {
		case queue.KindEvent:
			events++
			var p map[string]any
			require.NoError(t, json.Unmarshal(m.Payload, &p))
			require.Equal(t, "purchase", p["name"], "canonical name")
			require.Equal(t, visitor, p["visitor"])
			require.Equal(t, "127.0.0.1", p["ip"], "X-Forwarded-For from an untrusted peer is ignored")
			require.Equal(t, "TestBrowser/1.0", p["ua"])
			require.Equal(t, f.shop.ID, p["tenant"])
		case queue.KindMerge:
			merges++
		}
	}
	require.Equal(t, 1, events, "queued once")
	require.Equal(t, 1, merges, "the repeat of a conversion is a merge entry")
}

func TestRejectAllKeepsNoVisitorID(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	cs := consent(t, f, false, false)
	require.NotEmpty(t, cs["jaraba_consent"])
	require.NotContains(t, cs, "jaraba_visitor_id")
	require.NotContains(t, cs, "_fbp")
	require.NotContains(t, cs, "gclid")
	r := f.do(t, "POST", "t.shop.example", f.shop.CollectPath, beacon("lead", uuid.NewString()),
		"Origin", shopOrigin, "Content-Type", "text/plain", "Cookie", cookieHeader(cs))
	require.Equal(t, 204, r.status)
	require.Empty(t, readAll(t, f.q), "nothing queued without consent")
}

func TestCollectBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	cs := consent(t, f, true, true)
	good := beacon("lead", uuid.NewString())
	many := `{"v":1,"events":[` + strings.Repeat(`{"name":"lead"},`, 9999) + `{"name":"lead"}]}`
	forged := map[string]string{"jaraba_consent": "1.k1.3.2.1732890000.0b6c8f43-5a1e-4c4e-9b7d-3f0e2f1a9c11.AAAA", "jaraba_visitor_id": cs["jaraba_visitor_id"]}
	for _, tc := range []struct {
		name   string
		host   string
		body   string
		hdr    []string
		status int
	}{
		{"wrong origin", "t.shop.example", good, []string{"Origin", "https://evil.example", "Content-Type", "text/plain"}, 403},
		{"other tenant's site", "t.shop.example", good, []string{"Origin", "https://www.other.example", "Content-Type", "text/plain"}, 403},
		{"no origin or referer", "t.shop.example", good, []string{"Content-Type", "text/plain"}, 403},
		{"json content type", "t.shop.example", good, []string{"Origin", shopOrigin, "Content-Type", "application/json"}, 415},
		{"malformed", "t.shop.example", `{"v":1,"events":[`, []string{"Origin", shopOrigin, "Content-Type", "text/plain"}, 400},
		{"invalid utf-8", "t.shop.example", "{\"v\":1,\"events\":[{\"name\":\"\xff\"}]}", []string{"Origin", shopOrigin, "Content-Type", "text/plain"}, 400},
		{"10000 events", "t.shop.example", many, []string{"Origin", shopOrigin, "Content-Type", "text/plain"}, 413},
		{"over 32 KB", "t.shop.example", strings.Repeat(" ", 33<<10), []string{"Origin", shopOrigin, "Content-Type", "text/plain"}, 413},
		{"unknown event", "t.shop.example", strings.Replace(good, `"lead"`, `"hack_me"`, 1), []string{"Origin", shopOrigin, "Content-Type", "text/plain"}, 400},
		{"unknown host", "t.evil.example", good, []string{"Origin", shopOrigin, "Content-Type", "text/plain"}, 404},
		{"GET collect", "t.shop.example", "", []string{"Origin", shopOrigin}, 405},
		{"forged cookie", "t.shop.example", good, []string{"Origin", shopOrigin, "Content-Type", "text/plain", "Cookie", cookieHeader(forged)}, 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := "POST"
			if tc.body == "" {
				method = "GET"
			}
			hdr := tc.hdr
			if tc.name != "forged cookie" {
				hdr = append(hdr, "Cookie", cookieHeader(cs))
			}
			r := f.do(t, method, tc.host, f.shop.CollectPath, tc.body, hdr...)
			require.Equal(t, tc.status, r.status, r.body)
			require.NotContains(t, r.body, "panic")
		})
	}
	require.Empty(t, readAll(t, f.q), "no bad request queued anything")
}

func TestRefererFallbackAndPreflight(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	r := f.do(t, "OPTIONS", "t.shop.example", f.shop.CollectPath, "", "Origin", shopOrigin)
	require.Equal(t, 204, r.status)
	require.Equal(t, []string{shopOrigin}, r.header["Access-Control-Allow-Origin"])
	r = f.do(t, "POST", "t.shop.example", f.shop.CollectPath, beacon("lead", uuid.NewString()),
		"Referer", shopOrigin+"/cart?x=1", "Content-Type", "text/plain")
	require.Equal(t, 204, r.status)
}

func TestRateLimitPerIP(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *proxy.Config) { c.RateLimit.PerIP, c.RateLimit.BurstIP = 0.001, 3 })
	cs := consent(t, f, true, true) // 1 token
	codes := map[int]int{}
	var retry []string
	for i := 0; i < 4; i++ {
		r := f.do(t, "POST", "t.shop.example", f.shop.CollectPath, beacon("lead", uuid.NewString()),
			"Origin", shopOrigin, "Content-Type", "text/plain", "Cookie", cookieHeader(cs))
		codes[r.status]++
		if r.status == 429 {
			retry = r.header["Retry-After"]
		}
	}
	require.Equal(t, map[int]int{204: 2, 429: 2}, codes)
	require.Len(t, retry, 1)
}

func TestPolicyMismatchAndBadConsentBody(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	for body, status := range map[string]int{
		`{"v":1,"analytics":true,"marketing":true,"functional":false,"policy":"1"}`: 409,
		`{"v":1,"analytics":true}`: 400,
		`{"v":1,"analytics":true,"marketing":true,"functional":false,"policy":"2","x":1}`: 400,
		`not json`: 400,
	} {
		r := f.do(t, "POST", "t.shop.example", f.shop.ConsentPath, body, "Origin", shopOrigin, "Content-Type", "text/plain")
		require.Equal(t, status, r.status, body)
		require.Empty(t, r.cookies)
	}
}

func TestRotatedPathsKeepWorking(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	cs := consent(t, f, true, true)
	oldCollect := f.shop.CollectPath
	_, err := f.api.RotatePaths(context.Background(), f.shop.ID)
	require.NoError(t, err)
	snap, err := tenant.Build(context.Background(), f.st, f.kr, time.Now())
	require.NoError(t, err)
	f.reg.Swap(snap)
	shop := snap.Tenant(f.shop.ID)
	require.NotEqual(t, oldCollect, shop.CollectPath)
	for _, path := range []string{oldCollect, shop.CollectPath} {
		r := f.do(t, "POST", "t.shop.example", path, beacon("lead", uuid.NewString()),
			"Origin", shopOrigin, "Content-Type", "text/plain", "Cookie", cookieHeader(cs))
		require.Equal(t, 204, r.status, path)
	}
	require.Len(t, readAll(t, f.q), 2, "both paths queue during the grace period")
	plain := f.do(t, "GET", "t.shop.example", shop.LoaderPath, "")
	require.Contains(t, plain.body, shop.CollectPath, "the loader posts to the new path")
}

func TestConsentStatusRestoresCappedCookie(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	cs := consent(t, f, true, false)
	visitor := cs["jaraba_visitor_id"]
	status := func(cookies string, hdr ...string) resp {
		h := append([]string{"Origin", shopOrigin}, hdr...)
		if cookies != "" {
			h = append(h, "Cookie", cookies)
		}
		return f.do(t, "GET", "t.shop.example", f.shop.ConsentPath, "", h...)
	}

	// The browser capped jaraba_consent but kept the HttpOnly visitor id.
	r := status("jaraba_visitor_id=" + visitor)
	require.Equal(t, 200, r.status, r.body)
	require.Equal(t, visitor, r.cookies["jaraba_visitor_id"])
	restored := r.cookies["jaraba_consent"]
	require.NotEmpty(t, restored)
	require.Contains(t, restored, ".1.2.", "analytics only, policy 2")
	// The restored cookie is accepted by collect.
	b := f.do(t, "POST", "t.shop.example", f.shop.CollectPath, beacon("page_view", uuid.NewString()),
		"Origin", shopOrigin, "Content-Type", "text/plain", "Cookie", "jaraba_visitor_id="+visitor+"; jaraba_consent="+restored)
	require.Equal(t, 204, b.status)
	require.Len(t, readAll(t, f.q), 1)

	for name, tc := range map[string]struct {
		cookies string
		status  int
	}{
		"no visitor cookie": {"", 204},
		"unknown visitor":   {"jaraba_visitor_id=" + uuid.NewString(), 204},
		"garbage visitor":   {"jaraba_visitor_id=../../etc", 204},
	} {
		r := status(tc.cookies)
		require.Equal(t, tc.status, r.status, name)
		require.Empty(t, r.cookies, name)
	}
	// Wrong origin: 403, nothing set.
	r = f.do(t, "GET", "t.shop.example", f.shop.ConsentPath, "", "Origin", "https://evil.example", "Cookie", "jaraba_visitor_id="+visitor)
	require.Equal(t, 403, r.status)
	require.Empty(t, r.cookies)

	// A later revocation (a newer all-false record) is the state: no restore.
	_, err := f.st.AppendConsent(context.Background(), store.ConsentRecord{TenantID: f.shop.ID, VisitorID: visitor,
		PolicyVersion: "2", Source: store.ConsentSourceAPI}, "")
	require.NoError(t, err)
	r = status("jaraba_visitor_id=" + visitor)
	require.Equal(t, 204, r.status)
	require.Empty(t, r.cookies)
}

func TestGlobalPrivacyControlRemovesMarketing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	cs := consent(t, f, true, true)
	r := f.do(t, "POST", "t.shop.example", f.shop.CollectPath, beacon("purchase", uuid.NewString()),
		"Origin", shopOrigin, "Content-Type", "text/plain", "Cookie", cookieHeader(cs), "Sec-GPC", "1")
	require.Equal(t, 204, r.status)
	msgs := readAll(t, f.q)
	require.Len(t, msgs, 1, "analytics consent still allows the event")
	var p map[string]any
	require.NoError(t, json.Unmarshal(msgs[0].Payload, &p))
	require.Equal(t, false, p["consent"].(map[string]any)["m"], "GPC is a marketing opt-out")
	require.Equal(t, true, p["consent"].(map[string]any)["gpc"])
	require.NotContains(t, p, "user", "no user data without marketing")
	require.NotContains(t, p, "ids", "no click ids without marketing")
}
