package tenant

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestCheckPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{"/k7/c", true},
		{"/a/9f2c", true},
		{"/s/4b1d.js", true},
		{"/x-y_z.1", true},
		{"", false},
		{"/", false},
		{"k7", false},
		{"/K7", false},
		{"/a b", false},
		{"/a//b", false},
		{"/a/../b", false},
		{"/a/./b", false},
		{"/a/", false},
		{"/a?b", false},
		{"/a~b", false},
		{"/gtag/js", false},
		{"/gtm.js", false},
		{"/x/fbevents.js", false},
		{"/collect", false},
		{"/g/collect", false},
		{"/px/pixel.gif", false},
		{"/trackme", false},
		{"/analytics.js", false},
		{"/beacon.js", false},
		{"/tr", false},
		{"/tr.gif", false},
		{"/x/tr/y", false},
		{"/g/x", false},
		{"/api/events", false},
		{"/hit", false},
		{"/healthz", false},
		{"/readyz/x", false},
		{"/" + strings.Repeat("a", MaxPathLen), false},
		{"/travel", true}, // "tr" only as a whole segment
		{"/gx/y", true},
	} {
		err := CheckPath(tc.path)
		if tc.ok {
			require.NoError(t, err, tc.path)
		} else {
			require.Error(t, err, tc.path)
			require.True(t, errors.Is(err, ErrBadPath), tc.path)
		}
	}
}

func TestCheckPrefix(t *testing.T) {
	t.Parallel()
	for p, ok := range map[string]bool{
		"/m": true, "/edge-1": true, "/" + strings.Repeat("a", 32): true,
		"": false, "/": false, "m": false, "/M": false, "/a/b": false, "/a.b": false,
		"/" + strings.Repeat("a", 33): false, "/gtm": false, "/tr": false,
	} {
		require.Equal(t, ok, CheckPrefix(p) == nil, p)
	}
}

func TestDefaultAndGeneratedPaths(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i := range 200 {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		for _, k := range []string{KindLoader, KindCollect, KindConsent} {
			p := DefaultPath(id, k)
			require.Equal(t, p, DefaultPath(id, k), "deterministic")
			require.NoError(t, CheckPath(p))
			require.Equal(t, k == KindLoader, strings.HasSuffix(p, ".js"), p)
			seen[p] = true
			g := GeneratePath(k)
			require.NoError(t, CheckPath(g))
			require.Equal(t, k == KindLoader, strings.HasSuffix(g, ".js"), g)
			require.Regexp(t, `^/[a-z][a-z0-9]{7,9}(\.js)?$`, g)
		}
	}
	require.Len(t, seen, 600, "default paths differ per tenant and kind")
	require.NotEqual(t, GeneratePath(KindCollect), GeneratePath(KindCollect))
}

func TestParseCIDR(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"203.0.113.0/24", "203.0.113.0/24"},
		{"203.0.113.7", "203.0.113.7/32"},
		{"2001:db8::/48", "2001:db8::/48"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8"},
		{"10.0.0.1/8", ""},
		{"0.0.0.0/0", ""},
		{"::/0", ""},
		{"10.0.0.0/33", ""},
		{"fe80::1%eth0", ""},
		{"banana", ""},
		{"", ""},
	} {
		p, err := ParseCIDR(tc.in)
		if tc.want == "" {
			require.ErrorIs(t, err, ErrBadCIDR, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, p.String())
	}
	_, err := ParseCIDRs(make([]string, MaxForwardedHostCIDRs+1))
	require.ErrorIs(t, err, ErrBadCIDR)
}

func TestParseSite(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"https://www.shop.com", "https://www.shop.com"},
		{"https://WWW.Shop.com/", "https://www.shop.com"},
		{"https://www.shop.com:443", "https://www.shop.com"},
		{"https://www.shop.com:8443", "https://www.shop.com:8443"},
		{"http://www.demo.localhost:8080", "http://www.demo.localhost:8080"},
		{"http://localhost:3000", "http://localhost:3000"},
		{"http://www.shop.com", ""},
		{"https://www.shop.com/path", ""},
		{"https://www.shop.com?q", ""},
		{"https://user@www.shop.com", ""},
		{"https://1.2.3.4", ""},
		{"https://www.shop.com:0", ""},
		{"https://www.shop.com:99999", ""},
		{"ftp://www.shop.com", ""},
		{"www.shop.com", ""},
		{"javascript:alert(1)", ""},
	} {
		got, err := ParseSite(tc.in)
		if tc.want == "" {
			require.ErrorIs(t, err, ErrBadSite, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got)
	}
}
