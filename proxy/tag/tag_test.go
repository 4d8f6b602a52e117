package tag_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
	"go.uber.org/goleak"

	"github.com/jaraba/pixelgw/proxy/collect"
	"github.com/jaraba/pixelgw/proxy/tag"
	"github.com/jaraba/pixelgw/proxy/tenant"
	"github.com/jaraba/pixelgw/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// shopConfig is a realistic tenant: 5 pixels, 3 languages, SPA, custom
// colours and a Spanish text override.
func shopConfig() tag.LoaderConfig {
	return tag.LoaderConfig{
		LoaderPaths:     []string{"/s/k4f9q2.js", "/old/x8a1.js"},
		CollectPath:     "/k4/q7mz",
		ConsentPath:     "/k4/c8xw",
		PolicyVersion:   "2026-01",
		DefaultLanguage: "es",
		Languages:       []string{"es", "en", "pt"},
		Texts:           map[string]map[string]string{"es": {"body": "Usamos cookies propias para medir y, si lo permites, para publicidad personalizada."}},
		Colors:          map[string]string{"background": "#0b1f33", "text": "#ffffff", "button": "#ffcc00", "button_text": "#000"},
		PrivacyURL:      "https://www.shop.example/privacidad",
		SPA:             true,
		Platforms:       []string{"meta", "google", "linkedin", "tiktok", "twitter"},
		ClientSide: []tag.ClientPixel{
			{Platform: "meta", ID: "1234567890", Custom: true, Events: map[string]string{
				"page_view": "PageView", "view_content": "ViewContent", "add_to_cart": "AddToCart", "purchase": "Purchase", "custom:zz_skip": "",
			}},
			{Platform: "google", ID: "G-ABC123XYZ", Custom: true, Events: map[string]string{
				"page_view": "page_view", "view_content": "view_item", "add_to_cart": "add_to_cart", "purchase": "purchase", "custom:zz_skip": "",
			}},
			{Platform: "linkedin", ID: "7654321", Events: map[string]string{"purchase": "222"}},
			{Platform: "tiktok", ID: "CDEMO0000000000000AB", Events: map[string]string{"view_content": "ViewContent", "purchase": "Purchase"}},
			{Platform: "twitter", ID: "o8z6j", Events: map[string]string{"purchase": "tw-o8z6j-o87nf"}},
		},
	}
}

func build(t testing.TB) *tag.Asset {
	t.Helper()
	a, err := tag.Build(shopConfig())
	require.NoError(t, err)
	return a
}

// TestLoaderSize is the budget of the edge issue: the real loader of a
// tenant with 5 pixels and 3 languages is at most 8 KB brotli, the consent
// banner (three languages of texts, toggles, CSS) included.
func TestLoaderSize(t *testing.T) {
	t.Parallel()
	raw, gz, br := build(t).Sizes()
	t.Logf("loader sizes: raw %d B, gzip %d B, brotli %d B (budget 8192 B brotli)", raw, gz, br)
	require.LessOrEqual(t, br, 8192)
	require.Less(t, br, gz)
	require.Less(t, gz, raw)
}

func TestBuildDeterministicETag(t *testing.T) {
	t.Parallel()
	a, b := build(t), build(t)
	require.Equal(t, a.ETag(), b.ETag())
	require.Regexp(t, `^"[0-9a-f]{32}"$`, a.ETag())
	c := shopConfig()
	c.PolicyVersion = "2026-02"
	other, err := tag.Build(c)
	require.NoError(t, err)
	require.NotEqual(t, a.ETag(), other.ETag())
}

func TestBuildInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(*tag.LoaderConfig)
		field string
	}{
		{"no loader path", func(c *tag.LoaderConfig) { c.LoaderPaths = nil }, "loader_paths"},
		{"fingerprint loader", func(c *tag.LoaderConfig) { c.LoaderPaths = []string{"/gtm.js"} }, "loader_paths[0]"},
		{"fingerprint collect", func(c *tag.LoaderConfig) { c.CollectPath = "/g/collect" }, "collect_path"},
		{"track consent", func(c *tag.LoaderConfig) { c.ConsentPath = "/Track/c" }, "consent_path"},
		{"relative", func(c *tag.LoaderConfig) { c.CollectPath = "k4" }, "collect_path"},
		{"protocol-relative", func(c *tag.LoaderConfig) { c.CollectPath = "//evil.example/x" }, "collect_path"},
		{"query", func(c *tag.LoaderConfig) { c.CollectPath = "/k4?x=1" }, "collect_path"},
		{"same paths", func(c *tag.LoaderConfig) { c.ConsentPath = c.CollectPath }, "collect_path"},
		{"policy", func(c *tag.LoaderConfig) { c.PolicyVersion = "a b" }, "policy_version"},
		{"default not in languages", func(c *tag.LoaderConfig) { c.DefaultLanguage = "fr" }, "default_language"},
		{"language without texts", func(c *tag.LoaderConfig) { c.Languages = []string{"fr"}; c.DefaultLanguage = "" }, "texts.fr.title"},
		{"bad language", func(c *tag.LoaderConfig) { c.Languages = []string{"EN"}; c.DefaultLanguage = "" }, "languages[0]"},
		{"color value", func(c *tag.LoaderConfig) { c.Colors = map[string]string{"text": "red;position:absolute"} }, "colors.text"},
		{"long text", func(c *tag.LoaderConfig) {
			c.Texts = map[string]map[string]string{"en": {"body": strings.Repeat("é", 2001)}}
		}, "texts.en.body"},
		{"privacy scheme", func(c *tag.LoaderConfig) { c.PrivacyURL = "javascript:alert(1)" }, "privacy_url"},
		{"platform", func(c *tag.LoaderConfig) { c.Platforms = []string{"snap"} }, "platforms[0]"},
		{"client platform", func(c *tag.LoaderConfig) { c.ClientSide[1].Platform = "snap" }, "client_side[1].platform"},
		{"client id", func(c *tag.LoaderConfig) { c.ClientSide[0].ID = "1&x=<script>" }, "client_side[0].id"},
		{"client event", func(c *tag.LoaderConfig) { c.ClientSide[2].Events = map[string]string{"purchase": "a'b"} }, "client_side[2].events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := shopConfig()
			tt.edit(&c)
			_, err := tag.Build(c)
			require.ErrorIs(t, err, tag.ErrInvalidConfig)
			require.Contains(t, err.Error(), tt.field+":")
		})
	}
}

func TestBuildDefaults(t *testing.T) {
	t.Parallel()
	a, err := tag.Build(tag.LoaderConfig{
		LoaderPaths: []string{"/a.js"}, CollectPath: "/b", ConsentPath: "/c",
		// keys for the full banner are ignored, not refused
		Texts:  map[string]map[string]string{"en": {"footer": "Zzfooter"}, "de": {"title": "Zztitel"}},
		Colors: map[string]string{"border": "#abcdef"},
	})
	require.NoError(t, err)
	s := string(a.Script())
	for _, absent := range []string{"Zzfooter", "Zztitel", "abcdef"} {
		require.NotContains(t, s, absent)
	}
	require.Contains(t, s, `"Your privacy"`)
	require.NotContains(t, s, "Tu privacidad", "only configured languages ship")
	require.Contains(t, s, `"1"`, "default policy version")
	require.NotContains(t, s, configPlaceholder)
	require.NotContains(t, s, `"rl"`, "no reopen link by default")
}

// TestBuildTexts: every key has a built-in text in es, en and pt; a
// tenant overrides one key of one language (an empty override keeps the
// built-in text); a text of 2000 characters, what the admin API accepts,
// builds.
func TestBuildTexts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		texts     map[string]map[string]string
		has, hasn []string
	}{
		{"built-in", nil, []string{`"Accept all"`, `"Aceptar todo"`, `"Aceitar tudo"`, `"Save choices"`, `"Guardar selección"`, `"Guardar escolhas"`, `functional_desc:`, `"Definições de privacidade"`}, nil},
		{"override", map[string]map[string]string{"pt": {"accept": "Zzaceitar", "title": ""}}, []string{`"Zzaceitar"`, `"A sua privacidade"`, `"Aceptar todo"`}, []string{`"Aceitar tudo"`}},
		{"long", map[string]map[string]string{"en": {"body": strings.Repeat("é", 2000)}}, []string{strings.Repeat("é", 2000)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := shopConfig()
			c.Texts = tt.texts
			a, err := tag.Build(c)
			require.NoError(t, err)
			s := string(a.Script())
			for _, x := range tt.has {
				require.Contains(t, s, x)
			}
			for _, x := range tt.hasn {
				require.NotContains(t, s, x)
			}
		})
	}
}

// TestBannerMarkup pins what the node harness cannot see: the banner's
// CSS animates only without a reduced-motion preference, is fixed (no
// layout shift) and lives in a shadow root; the tenant's colours ship.
func TestBannerMarkup(t *testing.T) {
	t.Parallel()
	s := string(build(t).Script())
	i := strings.Index(s, "@media (prefers-reduced-motion:no-preference){#pgw-banner{animation:")
	require.Positive(t, i, "the animation is behind prefers-reduced-motion: no-preference")
	require.Equal(t, 1, strings.Count(s, "animation"), "no other animation")
	require.Contains(t, s, "position:fixed")
	require.Contains(t, s, "attachShadow")
	require.Contains(t, s, `"aria-modal","true"`)
	require.Contains(t, s, `"role","dialog"`)
	for _, c := range []string{`bg:"#0b1f33"`, `fg:"#ffffff"`, `btn:"#ffcc00"`, `btnfg:"#000"`} {
		require.Contains(t, s, c)
	}
}

const configPlaceholder = "__PGW_CONFIG__"

func TestFromSettings(t *testing.T) {
	t.Parallel()
	s := shopSettings()
	c := tag.FromSettings(s, []string{"google"})
	require.Equal(t, []string{"/s/k4f9q2.js", "/old/x8a1.js"}, c.LoaderPaths)
	require.Equal(t, "/k4/q7mz", c.CollectPath)
	require.Equal(t, "/k4/c8xw", c.ConsentPath)
	require.Equal(t, "2026-01", c.PolicyVersion)
	_, err := tag.Build(c)
	require.NoError(t, err)
}

func get(a *tag.Asset, method string, hdr ...string) *fasthttp.Response {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI("/s/k4f9q2.js")
	for i := 0; i+1 < len(hdr); i += 2 {
		ctx.Request.Header.Set(hdr[i], hdr[i+1])
	}
	a.Serve(&ctx)
	var r fasthttp.Response
	ctx.Response.CopyTo(&r)
	return &r
}

func decode(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	case "gzip":
		z, err := gzip.NewReader(bytes.NewReader(b))
		require.NoError(t, err)
		r = z
	default:
		return b
	}
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	return out
}

func TestServeEncoding(t *testing.T) {
	t.Parallel()
	a := build(t)
	etag := strings.Trim(a.ETag(), `"`)
	tests := []struct{ accept, enc, etag string }{
		{"", "", `"` + etag + `"`},
		{"gzip, deflate, br, zstd", "br", `"` + etag + `-br"`},
		{"gzip, deflate", "gzip", `"` + etag + `-gz"`},
		{"br;q=0, gzip", "gzip", `"` + etag + `-gz"`},
		{"BR;Q=0.000, GZIP;q=0", "", `"` + etag + `"`},
		{"br;q=0.1", "br", `"` + etag + `-br"`},
		{"*", "br", `"` + etag + `-br"`},
		{"identity", "", `"` + etag + `"`},
		{"x-gzip", "gzip", `"` + etag + `-gz"`},
		{"deflate,,;;=, br ; q=1", "br", `"` + etag + `-br"`},
	}
	for _, tt := range tests {
		t.Run(tt.accept, func(t *testing.T) {
			t.Parallel()
			r := get(a, fasthttp.MethodGet, "Accept-Encoding", tt.accept)
			require.Equal(t, 200, r.StatusCode())
			require.Equal(t, tt.enc, string(r.Header.ContentEncoding()))
			require.Equal(t, tt.etag, string(r.Header.Peek("ETag")))
			require.Equal(t, "text/javascript; charset=utf-8", string(r.Header.ContentType()))
			require.Equal(t, "public, max-age=300, stale-while-revalidate=86400", string(r.Header.Peek("Cache-Control")))
			require.Equal(t, "Accept-Encoding", string(r.Header.Peek("Vary")))
			require.Equal(t, "nosniff", string(r.Header.Peek("X-Content-Type-Options")))
			require.Equal(t, a.Script(), decode(t, tt.enc, r.Body()))
		})
	}
}

func TestServeConditional(t *testing.T) {
	t.Parallel()
	a := build(t)
	h := strings.Trim(a.ETag(), `"`)
	tests := []struct {
		inm    string
		status int
	}{
		{`"` + h + `"`, 304},
		{`"` + h + `-br"`, 304},
		{`W/"` + h + `-gz"`, 304},
		{`"nope", "` + h + `"`, 304},
		{`*`, 304},
		{`"` + h[:31] + `"`, 200},
		{`"nope"`, 200},
		{h, 200},
		{`,,`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.inm, func(t *testing.T) {
			t.Parallel()
			r := get(a, fasthttp.MethodGet, "If-None-Match", tt.inm, "Accept-Encoding", "br")
			require.Equal(t, tt.status, r.StatusCode())
			require.Equal(t, `"`+h+`-br"`, string(r.Header.Peek("ETag")))
			require.Equal(t, "Accept-Encoding", string(r.Header.Peek("Vary")))
			require.NotEmpty(t, r.Header.Peek("Cache-Control"))
			if tt.status == 304 {
				require.Empty(t, r.Body())
			}
		})
	}
}

func TestServeMethods(t *testing.T) {
	t.Parallel()
	a := build(t)
	r := get(a, fasthttp.MethodPost)
	require.Equal(t, 405, r.StatusCode())
	require.Equal(t, "GET, HEAD", string(r.Header.Peek("Allow")))
	r = get(a, fasthttp.MethodHead)
	require.Equal(t, 200, r.StatusCode())
}

// node finds node, or skips (outside CI) or fails (in CI) without it.
func node(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is required in CI (apt-get install -y nodejs)")
		}
		t.Skip("node not installed: skipping the JavaScript tests")
	}
	return p
}

func writeLoader(t *testing.T, a *tag.Asset) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "loader.js")
	require.NoError(t, os.WriteFile(f, a.Script(), 0o600))
	return f
}

func TestLoaderParses(t *testing.T) {
	t.Parallel()
	n := node(t)
	out, err := exec.Command(n, "--check", writeLoader(t, build(t))).CombinedOutput()
	require.NoError(t, err, string(out))
}

type call struct {
	Kind string `json:"kind"`
	URL  string `json:"url"`
	Body string `json:"body"`
}

// TestLoaderInNode runs the built loader in a fake browser
// (testdata/harness.js) per scenario; the harness asserts the behaviour,
// and every collect body it saw must pass the real beacon parser.
func TestLoaderInNode(t *testing.T) {
	t.Parallel()
	n := node(t)
	file := writeLoader(t, build(t))
	rc := shopConfig()
	rc.ReopenLink = true
	ra, err := tag.Build(rc)
	require.NoError(t, err)
	reopen := writeLoader(t, ra)
	parser, err := collect.NewParser(collect.DefaultLimits())
	require.NoError(t, err)
	for _, sc := range []string{
		"consent", "reject", "analytics", "cookie", "restored", "nostatus", "oldpolicy", "retry", "solo", "split", "spa", "nofetch", "prefix", "ids",
		// client-side pixels
		"tags", "tagscookie", "tagsanalytics", "tagsreject", "tagsrevoked", "tagsrevoke",
		// the banner
		"lang", "langnav", "langdefault", "accept", "rejectbtn", "granular", "granular2", "keyboard", "reopenlink",
	} {
		t.Run(sc, func(t *testing.T) {
			t.Parallel()
			f := file
			if sc == "reopenlink" {
				f = reopen
			}
			cmd := exec.Command(n, "testdata/harness.js", f, sc)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			require.NoError(t, err, stderr.String())
			var res struct{ Calls []call }
			require.NoError(t, json.Unmarshal(out, &res))
			for _, c := range res.Calls {
				require.NotContains(t, c.URL, "?")
				require.Empty(t, tag.Fingerprint(strings.TrimPrefix(c.URL, "https://")), c.URL)
				if !strings.HasSuffix(c.URL, "/k4/q7mz") {
					continue
				}
				b := parser.Acquire()
				err := parser.Parse(b, []byte(c.Body), time.Now())
				parser.Release(b)
				if sc == "solo" && err != nil {
					continue // the harness answered 400 on purpose
				}
				require.NoError(t, err, c.Body)
			}
		})
	}
}

// TestNoVendorFingerprint: neither the tenant paths the loader uses, nor
// the edge's default and generated paths, nor any URL the built script
// spells out carries a fingerprint ad blockers match.
func TestNoVendorFingerprint(t *testing.T) {
	t.Parallel()
	c := shopConfig()
	paths := append([]string{c.CollectPath, c.ConsentPath}, c.LoaderPaths...)
	for _, kind := range []string{tenant.KindLoader, tenant.KindCollect, tenant.KindConsent} {
		for _, id := range []string{"demo", "00000000-0000-4000-8000-000000000001", "shop"} {
			paths = append(paths, tenant.DefaultPath(id, kind))
		}
		for range 1000 {
			paths = append(paths, tenant.GeneratePath(kind))
		}
	}
	for _, p := range paths {
		require.Empty(t, tag.Fingerprint(p), p)
	}
	for _, p := range []string{"/gtag/js", "/gtm.js", "/fbevents.js", "/collect", "/g/collect", "/tr", "/tr/x", "/a/tr.gif", "/x/trab/tr", "/api/events", "/pixel.gif", "/analytics.js", "/track", "/beacon", "/Pixel"} {
		require.NotEmpty(t, tag.Fingerprint(p), p)
	}
	for _, p := range []string{"/trx8a1", "/a/tr9", "/str/x", "/k4/q7mz"} {
		require.Empty(t, tag.Fingerprint(p), p)
	}
	// A tenant without client-side pixels: the vendors' tag URLs come only
	// from the config of tenants that enable them.
	c.ClientSide = nil
	a, err := tag.Build(c)
	require.NoError(t, err)
	s := string(a.Script())
	s = strings.ReplaceAll(s, c.PrivacyURL, "")
	for _, f := range []string{"gtag", "gtm", "fbevents", "/collect", "/g/collect", "/api/events", "pixel.gif", "http://", "https://", "//t."} {
		require.False(t, strings.Contains(s, f), "the script spells out %q", f)
	}
}

func shopSettings() store.TenantSettings {
	return store.TenantSettings{
		DefaultLanguage: "es",
		Languages:       []string{"es", "en"},
		PolicyVersion:   "2026-01",
		LoaderPath:      "/s/k4f9q2.js",
		CollectPath:     "/k4/q7mz",
		ConsentPath:     "/k4/c8xw",
		PreviousPaths: []store.PreviousPath{
			{Kind: "collect", Path: "/old/c1", Until: time.Now().Add(time.Hour)},
			{Kind: "loader", Path: "/old/x8a1.js", Until: time.Now().Add(time.Hour)},
		},
	}
}
