package tag_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/proxy/tenant"
)

// This file is a small static check of the first-party URLs against the
// network rules of EasyList and EasyPrivacy (test/testdata/adblock, a copy of ../shared/adblock). It is not
// a blocker engine: it reads the ||, |, ^ and * pattern syntax, regex
// rules RE2 can compile, and the options third-party/first-party, domain=
// (and from=), resource types and method=; it ignores cosmetic rules,
// exceptions (@@: ignoring them only blocks more, so a pass here is
// conservative), badfilter and non-blocking modifiers (csp, removeparam,
// ...). The browser test with a real engine comes with the edge's browser
// test.

// abRequest is what a rule is matched against.
type abRequest struct {
	url        string // absolute
	typ        string // script, xmlhttprequest, ping, image, ...
	method     string // lowercase
	pageHost   string // the page's host
	thirdParty bool
}

type abRule struct {
	raw         string
	pat         string // lowercase pattern without anchors
	lit         string // a literal part of pat, to skip quickly
	re          *regexp.Regexp
	hostAnchor  bool
	startAnchor bool
	endAnchor   bool
	party       int // 0 any, 1 first-party only, 3 third-party only
	types       map[string]bool
	notTypes    map[string]bool
	domains     []string
	notDomains  []string
	methods     map[string]bool
}

// abTypes maps option names to resource types.
var abTypes = map[string]string{
	"script": "script", "image": "image", "stylesheet": "stylesheet", "css": "stylesheet",
	"xmlhttprequest": "xmlhttprequest", "xhr": "xmlhttprequest", "ping": "ping", "beacon": "ping",
	"subdocument": "subdocument", "frame": "subdocument", "document": "document", "doc": "document",
	"media": "media", "font": "font", "object": "object", "websocket": "websocket", "other": "other",
	"popup": "popup",
}

// parseRule turns one list line into a blocking rule, or nil when the line
// is a comment, a cosmetic rule, an exception or not a blocking rule.
func parseRule(line string) *abRule {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '!' || line[0] == '[' || strings.HasPrefix(line, "@@") {
		return nil
	}
	for _, c := range []string{"##", "#@#", "#?#", "#$#", "#%#", "#@$#", "#@?#", "#+js"} {
		if strings.Contains(line, c) {
			return nil
		}
	}
	r := &abRule{raw: line}
	pat, opts := line, ""
	isRegex := func(p string) bool { return len(p) > 2 && p[0] == '/' && p[len(p)-1] == '/' }
	if !isRegex(line) { // a whole-line /re/ has no options; else the last $ starts them
		if i := strings.LastIndex(line, "$"); i >= 0 {
			pat, opts = line[:i], line[i+1:]
		}
	}
	if opts != "" && !r.options(opts) {
		return nil
	}
	if isRegex(pat) {
		re, err := regexp.Compile("(?i)" + pat[1:len(pat)-1])
		if err != nil {
			return nil // JS-only syntax (lookarounds): out of this matcher's reach
		}
		r.re = re
		return r
	}
	pat = strings.ToLower(pat)
	if strings.HasPrefix(pat, "||") {
		r.hostAnchor, pat = true, pat[2:]
	} else if strings.HasPrefix(pat, "|") {
		r.startAnchor, pat = true, pat[1:]
	}
	if strings.HasSuffix(pat, "|") {
		r.endAnchor, pat = true, pat[:len(pat)-1]
	}
	r.pat = pat
	for _, part := range strings.FieldsFunc(pat, func(c rune) bool { return c == '*' || c == '^' }) {
		if len(part) > len(r.lit) {
			r.lit = part
		}
	}
	return r
}

// options reads a rule's options; false drops a rule that does not block
// a request (csp, removeparam, badfilter, ...).
func (r *abRule) options(opts string) bool {
	for _, o := range strings.Split(opts, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(strings.ToLower(o)), "=")
		neg := strings.HasPrefix(name, "~")
		name = strings.TrimPrefix(name, "~")
		switch {
		case name == "third-party" || name == "3p":
			r.party = map[bool]int{false: 3, true: 1}[neg]
		case name == "first-party" || name == "1p":
			r.party = map[bool]int{false: 1, true: 3}[neg]
		case name == "domain" || name == "from":
			for _, d := range strings.Split(val, "|") {
				if strings.HasPrefix(d, "~") {
					r.notDomains = append(r.notDomains, d[1:])
				} else if d != "" {
					r.domains = append(r.domains, d)
				}
			}
		case name == "method":
			r.methods = map[string]bool{}
			for _, m := range strings.Split(val, "|") {
				r.methods[m] = true
			}
		case abTypes[name] != "":
			if neg {
				if r.notTypes == nil {
					r.notTypes = map[string]bool{}
				}
				r.notTypes[abTypes[name]] = true
			} else {
				if r.types == nil {
					r.types = map[string]bool{}
				}
				r.types[abTypes[name]] = true
			}
		case name == "important" || name == "match-case" || name == "redirect" || name == "redirect-rule" ||
			name == "all" || name == "denyallow" || name == "to" || name == "strict1p" || name == "strict3p":
			// blocking either way (match-case is ignored: case-insensitive only blocks more)
		default:
			return false // csp, removeparam, badfilter, rewrite, header, permissions, ...
		}
	}
	return true
}

func hostMatches(host, d string) bool {
	return host == d || strings.HasSuffix(host, "."+d)
}

func (r *abRule) matches(q abRequest) bool {
	if r.party == 3 && !q.thirdParty || r.party == 1 && q.thirdParty {
		return false
	}
	if r.types != nil && !r.types[q.typ] || r.notTypes[q.typ] {
		return false
	}
	if r.methods != nil && !r.methods[q.method] {
		return false
	}
	if len(r.domains) > 0 {
		ok := false
		for _, d := range r.domains {
			ok = ok || hostMatches(q.pageHost, d)
		}
		if !ok {
			return false
		}
	}
	for _, d := range r.notDomains {
		if hostMatches(q.pageHost, d) {
			return false
		}
	}
	if r.re != nil {
		return r.re.MatchString(q.url)
	}
	u := strings.ToLower(q.url)
	if !strings.Contains(u, r.lit) {
		return false
	}
	switch {
	case r.hostAnchor:
		i := strings.Index(u, "://")
		if i < 0 {
			return false
		}
		host := u[i+3:]
		if j := strings.IndexAny(host, "/?#"); j >= 0 {
			host = host[:j]
		}
		for k := i + 3; k < i+3+len(host); k++ {
			if (k == i+3 || u[k-1] == '.') && glob(r.pat, u[k:], r.endAnchor) {
				return true
			}
		}
		return false
	case r.startAnchor:
		return glob(r.pat, u, r.endAnchor)
	default:
		for k := 0; k <= len(u); k++ {
			if glob(r.pat, u[k:], r.endAnchor) {
				return true
			}
		}
		return false
	}
}

// separator is the ^ class: anything but a letter, digit or _-.%.
func separator(c byte) bool {
	return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '%')
}

// glob matches p at the start of s: * any run, ^ a separator or the end;
// end requires s to be consumed.
func glob(p, s string, end bool) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for k := 0; k <= len(s); k++ {
				if glob(p[1:], s[k:], end) {
					return true
				}
			}
			return false
		case '^':
			if s == "" {
				p = p[1:]
				continue
			}
			if !separator(s[0]) {
				return false
			}
		default:
			if s == "" || s[0] != p[0] {
				return false
			}
		}
		p, s = p[1:], s[1:]
	}
	return !end || s == ""
}

func TestAdblockMatcher(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule, url string
		q         abRequest
		want      bool
	}{
		{"||example.com^", "https://example.com/x", abRequest{}, true},
		{"||example.com^", "https://a.example.com/x", abRequest{}, true},
		{"||example.com^", "https://badexample.com/x", abRequest{}, false},
		{"||example.com^", "https://example.community/", abRequest{}, false},
		{"|https://a.b/", "https://a.b/c", abRequest{}, true},
		{"|https://a.b/", "http://x/https://a.b/", abRequest{}, false},
		{"/pixel.gif?", "https://x.y/img/pixel.gif?a=1", abRequest{}, true},
		{"/collect?v=*&tid=", "https://x.y/g/collect?v=2&tid=G-1", abRequest{}, true},
		{"/tr^", "https://x.y/tr?id=1", abRequest{}, true},
		{"/tr^", "https://x.y/tree", abRequest{}, false},
		{"/tr^", "https://x.y/tr", abRequest{}, true},
		{"js|", "https://x.y/a.js", abRequest{}, true},
		{"js|", "https://x.y/a.json", abRequest{}, false},
		{"/ads/*$third-party", "https://x.y/ads/1", abRequest{thirdParty: false}, false},
		{"/ads/*$third-party", "https://x.y/ads/1", abRequest{thirdParty: true}, true},
		{"/ads/*$script", "https://x.y/ads/1", abRequest{typ: "image"}, false},
		{"/ads/*$~script", "https://x.y/ads/1", abRequest{typ: "image"}, true},
		{"/ads/*$domain=shop.example", "https://x.y/ads/1", abRequest{pageHost: "www.shop.example"}, true},
		{"/ads/*$domain=other.example", "https://x.y/ads/1", abRequest{pageHost: "www.shop.example"}, false},
		{"/ads/*$domain=~shop.example", "https://x.y/ads/1", abRequest{pageHost: "www.shop.example"}, false},
		{`/\/[a-z]{3}\.js$/$script`, "https://x.y/abc.js", abRequest{typ: "script"}, true},
		{"/hit$ping,xmlhttprequest,method=post", "https://x.y/hit", abRequest{typ: "ping", method: "post"}, true},
		{"/hit$ping,xmlhttprequest,method=post", "https://x.y/hit", abRequest{typ: "ping", method: "get"}, false},
	}
	for _, tt := range tests {
		r := parseRule(tt.rule)
		require.NotNil(t, r, tt.rule)
		q := tt.q
		q.url = tt.url
		require.Equal(t, tt.want, r.matches(q), "%s vs %s", tt.rule, tt.url)
	}
	for _, skip := range []string{"! comment", "example.com##.ad", "@@||a.b^", "||a.b^$csp=script-src 'none'", "||a.b^$removeparam=x", "[Adblock Plus 2.0]", ""} {
		require.Nil(t, parseRule(skip), skip)
	}
}

func loadLists(t *testing.T) []*abRule {
	t.Helper()
	dir := filepath.Join("..", "..", "test", "testdata", "adblock")
	var rules []*abRule
	for _, name := range []string{"easylist.txt", "easyprivacy.txt"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("cannot open the filter lists: %v", err)
			}
			t.Skipf("filter lists not found beside the checkout: %v", err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			if r := parseRule(sc.Text()); r != nil {
				rules = append(rules, r)
			}
		}
		require.NoError(t, sc.Err())
		require.NoError(t, f.Close())
	}
	return rules
}

func blockedBy(rules []*abRule, q abRequest) string {
	for _, r := range rules {
		if r.matches(q) {
			return r.raw
		}
	}
	return ""
}

// TestFirstPartyURLsPassFilterLists: the loader, collect and consent URLs
// (the test tenant's, the default paths of a few tenants, and generated
// ones) on a first-party host are matched by no EasyList/EasyPrivacy
// network rule, as script, fetch or sendBeacon; while known tracker URLs
// are (which shows the matcher reads the lists).
func TestFirstPartyURLsPassFilterLists(t *testing.T) {
	t.Parallel()
	rules := loadLists(t)
	require.Greater(t, len(rules), 20000)

	must := []abRequest{
		{url: "https://t.shop.example/gtag/js?id=G-ABC123", typ: "script"},
		{url: "https://t.shop.example/gtm.js?id=GTM-ABC", typ: "script"},
		{url: "https://connect.facebook.net/en_US/fbevents.js", typ: "script", thirdParty: true},
		{url: "https://www.google-analytics.com/g/collect?v=2&tid=G-ABC123", typ: "ping", thirdParty: true},
		{url: "https://t.shop.example/collect?v=2&tid=G-ABC123&cid=1", typ: "xmlhttprequest", method: "post"},
		{url: "https://t.shop.example/api/events", typ: "ping", method: "post"},
		{url: "https://t.shop.example/js/beacon.js", typ: "script", method: "get"},
	}
	for _, q := range must {
		q.pageHost = "www.shop.example"
		require.NotEmpty(t, blockedBy(rules, q), "the matcher should block %s", q.url)
	}

	c := shopConfig()
	loaders := append([]string{}, c.LoaderPaths...)
	posts := []string{c.CollectPath, c.ConsentPath}
	for _, id := range []string{"demo", "shop", "00000000-0000-4000-8000-000000000001"} {
		loaders = append(loaders, tenant.DefaultPath(id, tenant.KindLoader))
		posts = append(posts, tenant.DefaultPath(id, tenant.KindCollect), tenant.DefaultPath(id, tenant.KindConsent))
	}
	for range 20 {
		loaders = append(loaders, tenant.GeneratePath(tenant.KindLoader))
		posts = append(posts, tenant.GeneratePath(tenant.KindCollect), tenant.GeneratePath(tenant.KindConsent))
	}
	var reqs []abRequest
	for _, origin := range []string{"https://t.shop.example", "https://www.shop.example/m"} {
		for _, p := range loaders {
			reqs = append(reqs, abRequest{url: origin + p, typ: "script", method: "get"})
		}
		for _, p := range posts {
			reqs = append(reqs,
				abRequest{url: origin + p, typ: "xmlhttprequest", method: "post"},
				abRequest{url: origin + p, typ: "ping", method: "post"})
		}
	}
	for _, q := range reqs {
		q.pageHost = "www.shop.example"
		require.Empty(t, blockedBy(rules, q), "%s (%s) is blocked", q.url, q.typ)
	}
}
