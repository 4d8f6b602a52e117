package test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/proxy/tag"
	"github.com/jaraba/pixelgw/proxy/tenant"
)

// browserSite is the tenant's site in the browser test: the page is on
// www.shop.test, the edge on t.shop.test (Chromium maps both to 127.0.0.1).
const browserSite = "shop.test"

// browserDeps says what the browser test needs and where it is; missing
// names what is not installed.
type browserDeps struct {
	chromium, node, adblockDir string
	missing                    []string
}

func findBrowserDeps() browserDeps {
	d := browserDeps{chromium: os.Getenv("PIXELGW_CHROMIUM")}
	if d.chromium == "" {
		d.chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(d.chromium); err != nil {
		d.missing = append(d.missing, "chromium ("+d.chromium+")")
	}
	var err error
	if d.node, err = exec.LookPath("node"); err != nil {
		d.missing = append(d.missing, "node")
	}
	for _, p := range []string{"playwright-core", "@ghostery/adblocker-playwright"} {
		if _, err := os.Stat(filepath.Join("browser", "node_modules", p, "package.json")); err != nil {
			d.missing = append(d.missing, "test/browser/node_modules/"+p)
		}
	}
	// A copy of ../shared/adblock lives in the repo, so a clone alone runs.
	d.adblockDir, _ = filepath.Abs(filepath.Join("testdata", "adblock"))
	for _, f := range []string{"easylist.txt", "easyprivacy.txt"} {
		if _, err := os.Stat(filepath.Join(d.adblockDir, f)); err != nil {
			d.missing = append(d.missing, filepath.Join(d.adblockDir, f))
		}
	}
	return d
}

// TestBrowser drives the real binary over https with headless Chromium and
// the Ghostery ad-blocker engine (test/browser/browser.test.mjs): no cookie
// and no beacon before the consent decision, the cookies and the beacons
// after it, every event queued, and no first-party request blocked while
// third-party trackers on the same page are.
func TestBrowser(t *testing.T) {
	t.Parallel()
	deps := findBrowserDeps()
	if len(deps.missing) > 0 {
		msg := "browser test needs " + strings.Join(deps.missing, ", ") + "; run `make deps` (scripts/services.sh)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	dir := t.TempDir()
	certFile, keyFile, pool := brWriteCert(t, dir, browserSite, "*."+browserSite, "localhost")
	env := append(embeddedEnv(t, filepath.Join(dir, "data"), newMasterKey(t)),
		"PIXELGW_EDGE_TLS_CERT_FILE="+certFile,
		"PIXELGW_EDGE_TLS_KEY_FILE="+keyFile,
		"PIXELGW_EDGE_DEMO=true",
	)
	_, errOut, code := pixelgw(t, env, "migrate")
	require.Equal(t, 0, code, errOut)
	s := startServer(t, env)
	_, port, err := net.SplitHostPort(s.edge)
	require.NoError(t, err)

	// The tenant, its two hostnames and two pixels, through the admin API.
	opTok := brToken(t, env, "-role", "operator", "-ttl", "10m")
	var created struct {
		ID string `json:"id"`
	}
	brAPI(t, s.api, opTok, "POST", "/api/v1/tenants", map[string]any{
		"slug": "browser-shop", "name": "Browser Shop",
		"settings": map[string]any{
			"default_language": "en", "languages": []string{"en", "es", "pt"}, "policy_version": "1",
			"banner_colors": map[string]string{"background": "#102030", "text": "#f0f0f0", "button": "#ffcc00", "button_text": "#000000"},
			"privacy_url":   "https://www." + browserSite + "/privacy",
			"sites":         []string{"https://www." + browserSite + ":" + port},
		},
	}, http.StatusCreated, &created)
	for _, h := range []string{"t." + browserSite, "www." + browserSite} {
		brAPI(t, s.api, opTok, "POST", "/api/v1/tenants/"+created.ID+"/domains",
			map[string]any{"hostname": h, "cookie_domain": browserSite}, http.StatusCreated, nil)
	}
	adminTok := brToken(t, env, "-tenant", "browser-shop", "-role", "admin", "-ttl", "10m")
	// The demo's five platforms, each with its defaults: client-side too,
	// except google (server-side only: GA4 does not deduplicate).
	for _, p := range []map[string]any{
		{"platform": "meta", "pixel_id": "100000000000042", "credentials": map[string]string{"access_token": "browser-meta-token-not-real"}},
		{"platform": "google", "pixel_id": "G-BROWSER42", "credentials": map[string]string{"api_secret": "browser-ga4-secret-not-real"}},
		{"platform": "linkedin", "pixel_id": "1234567", "credentials": map[string]string{"access_token": "browser-li-token-not-real"},
			"event_map": map[string]string{"purchase": "urn:lla:llaPartnerConversion:1000002"}},
		{"platform": "tiktok", "pixel_id": "CBROWSER000000000042", "credentials": map[string]string{"access_token": "browser-tt-token-not-real"}},
		{"platform": "twitter", "pixel_id": "o8z6j", "credentials": map[string]string{"pixel_token": "browser-x-token-not-real"},
			"event_map": map[string]string{"purchase": "o87nf"}},
	} {
		brAPI(t, s.api, adminTok, "POST", "/api/v1/tracking/pixels", p, http.StatusCreated, nil)
	}

	// The edge serves the new tenant once its snapshot reloads.
	edgeClient := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "www." + browserSite},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, s.edge)
		},
		DisableKeepAlives: true,
	}}
	pageURL := "https://www." + browserSite + ":" + port + "/"
	require.Eventually(t, func() bool {
		resp, err := edgeClient.Get(pageURL)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK && bytes.Contains(b, []byte("t."+browserSite))
	}, 15*time.Second, 50*time.Millisecond, "the edge does not serve the demo page on www.%s:\n%s", browserSite, s.log.String())

	before := brMetrics(t, s.ops)
	// Screenshots of the banner per language: test artefacts (gitignored).
	artifacts, err := filepath.Abs(filepath.Join("browser", "artifacts"))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(artifacts, 0o755))

	cfg, err := json.Marshal(map[string]any{
		"port":             port,
		"api":              "http://" + s.api,
		"adminToken":       adminTok,
		"bannerBackground": "rgb(16, 32, 48)",
		"site":             browserSite,
		"loaderPath":       tenant.DefaultPath(created.ID, tenant.KindLoader),
		"collectPath":      tenant.DefaultPath(created.ID, tenant.KindCollect),
		"consentPath":      tenant.DefaultPath(created.ID, tenant.KindConsent),
		"adblockDir":       deps.adblockDir,
		"chromium":         deps.chromium,
		"timeoutMs":        150_000,
		"verbose":          testing.Verbose(),
		"screenshot":       os.Getenv("PIXELGW_BROWSER_SCREENSHOT"),
		"artifactsDir":     artifacts,
		// the client-side pixels' official tags, requested only after
		// marketing consent (issue 5 §6)
		"tagURLs": []string{
			tag.TagURL("meta", "100000000000042"),
			tag.TagURL("linkedin", "1234567"),
			tag.TagURL("tiktok", "CBROWSER000000000042"),
			tag.TagURL("twitter", "o8z6j"),
		},
	})
	require.NoError(t, err)
	cmd := exec.CommandContext(ctx, deps.node, filepath.Join("browser", "browser.test.mjs"), string(cfg))
	cmd.Env = append(os.Environ(), "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1")
	// On timeout SIGTERM: playwright closes the Chromium it launched, then
	// node exits (SIGKILL after WaitDelay otherwise). The script also
	// bounds itself (timeoutMs) and closes the browser on every path.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	require.NoError(t, err, "browser test failed:\n%s\n--- pixelgw log:\n%s", stderr.String(), s.log.String())
	if testing.Verbose() {
		t.Logf("browser: %s", stderr.String())
	}
	t.Logf("browser summary: %s", brLastLine(stdout.String()))

	var sum struct {
		OK      bool     `json:"ok"`
		Events  []string `json:"events"`
		Blocked []string `json:"blocked"`
		Cookies []string `json:"cookies"`
		// Keyboard is the keyboard-only visitor (analytics only).
		Keyboard struct {
			Events  []string `json:"events"`
			Cookies []string `json:"cookies"`
		} `json:"keyboard"`
		Languages struct {
			Screenshots []string `json:"screenshots"`
		} `json:"languages"`
		// Tags are the client-side tag URLs requested after "accept all".
		Tags []string `json:"tags"`
	}
	require.NoError(t, json.Unmarshal([]byte(brLastLine(stdout.String())), &sum), stdout.String())
	require.True(t, sum.OK)
	// page_view on the first visit, the reload (decision from the cookie),
	// the reloads while the policy bump reached the edge, and the page after
	// it (after the new decision): at least three.
	views := 0
	var others []string
	for _, e := range sum.Events {
		if e == "page_view" {
			views++
		} else {
			others = append(others, e)
		}
	}
	require.GreaterOrEqual(t, views, 3, sum.Events)
	require.ElementsMatch(t, []string{"lead", "add_to_cart", "purchase"}, others)
	require.Subset(t, sum.Cookies, []string{"jaraba_consent", "jaraba_visitor_id"})
	for _, u := range sum.Blocked {
		require.NotContains(t, u, browserSite, "a first-party request was blocked")
	}
	require.NotEmpty(t, sum.Blocked)
	require.Contains(t, sum.Keyboard.Events, "page_view", "the keyboard visitor's analytics consent")
	require.Equal(t, []string{"jaraba_consent", "jaraba_visitor_id"}, sum.Keyboard.Cookies)
	require.Len(t, sum.Tags, 4, "the four client-side pixels' tags after marketing consent")
	require.Len(t, sum.Languages.Screenshots, 3)
	for _, f := range sum.Languages.Screenshots {
		fi, err := os.Stat(f)
		require.NoError(t, err)
		require.Greater(t, fi.Size(), int64(1000), f)
	}

	// The binary's own count: every event the browser sent is queued (204
	// comes only after the enqueue), one "all" consent decision, nothing
	// dropped for lack of consent and nothing refused.
	after := brMetrics(t, s.ops)
	// A name without labels sums every series of that name.
	delta := func(name string) float64 { return brMetricSum(after, name) - brMetricSum(before, name) }
	sent := float64(len(sum.Events) + len(sum.Keyboard.Events))
	require.Equal(t, sent, delta("pixelgw_events_accepted_total"), "events queued")
	require.Equal(t, sent, delta("pixelgw_events_received_total"), "events received")
	require.Equal(t, 0.0, delta("pixelgw_events_consent_blocked_total"))
	require.Equal(t, 0.0, delta("pixelgw_events_deduplicated_total"))
	require.Equal(t, 3.0, delta(`pixelgw_consent_decisions_total{choice="all"}`), "accept all, again after reopening, and under the bumped policy")
	require.Equal(t, 1.0, delta(`pixelgw_consent_decisions_total{choice="none"}`), "the reject-all visitor")
	require.Equal(t, 1.0, delta(`pixelgw_consent_decisions_total{choice="analytics"}`), "the keyboard visitor")
	for name, v := range after {
		if strings.HasPrefix(name, "pixelgw_edge_rejected_total") {
			require.Equal(t, before[name], v, name)
		}
	}
	require.NotContains(t, s.log.String(), "browser-meta-token-not-real", "secrets are never logged")
}

// brWriteCert writes a self-signed certificate (ECDSA P-256) for names
// and 127.0.0.1 into dir and returns its files and a pool trusting it.
func brWriteCert(t *testing.T, dir string, names ...string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[0], Organization: []string{"pixelgw browser test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "edge.crt"), filepath.Join(dir, "edge.key")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// brToken signs an admin token with `pixelgw token`.
func brToken(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, errOut, code := pixelgw(t, env, append([]string{"token"}, args...)...)
	require.Equal(t, 0, code, errOut)
	return strings.TrimSpace(out)
}

// brAPI sends a JSON request to the admin API, requires the status and
// decodes the answer into out (when not nil).
func brAPI(t *testing.T, api, token, method, path string, body any, want int, out any) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(method, "http://"+api+path, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, want, resp.StatusCode, "%s %s: %s", method, path, rb)
	if out != nil {
		require.NoError(t, json.Unmarshal(rb, out))
	}
}

// brMetrics reads the ops listener's /metrics into name{labels} → value.
func brMetrics(t *testing.T, ops string) map[string]float64 {
	t.Helper()
	code, body := httpGet(t, "http://"+ops+"/metrics", "", "")
	require.Equal(t, http.StatusOK, code, body)
	m := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	require.NoError(t, sc.Err())
	return m
}

// brMetricSum returns the series key's value, or, for a bare metric name, the
// sum over all its label sets.
func brMetricSum(m map[string]float64, key string) float64 {
	if strings.Contains(key, "{") {
		return m[key]
	}
	sum := 0.0
	for k, v := range m {
		if k == key || strings.HasPrefix(k, key+"{") {
			sum += v
		}
	}
	return sum
}

func brLastLine(s string) string {
	ls := lines(s)
	return ls[len(ls)-1]
}
