package clientip

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/jaraba/pixelgw/proxy/tenant"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func mustResolver(t testing.TB, cidrs ...string) *Resolver {
	t.Helper()
	r, err := Parse(cidrs)
	require.NoError(t, err)
	return r
}

func TestParse(t *testing.T) {
	t.Parallel()
	_, err := Parse([]string{"10.0.0.0/8", "nope"})
	require.EqualError(t, err, "[1]: not a CIDR like 203.0.113.0/24")
	_, err = Parse([]string{"0.0.0.0/0"})
	require.ErrorIs(t, err, tenant.ErrBadCIDR)
	r := New([]netip.Prefix{netip.MustParsePrefix("::ffff:10.1.0.0/112")})
	require.True(t, r.Trusted(netip.MustParseAddr("10.1.2.3")))
	require.True(t, r.Trusted(netip.MustParseAddr("::ffff:10.1.2.3")))
	require.False(t, r.Trusted(netip.MustParseAddr("10.2.0.1")))
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	r := mustResolver(t, "10.0.0.0/8", "2001:db8:ffff::/48")
	for _, tc := range []struct {
		name, peer, xff, want string
	}{
		{"untrusted peer ignores xff", "198.51.100.7", "1.2.3.4", "198.51.100.7"},
		{"untrusted mapped peer is unmapped", "::ffff:198.51.100.7", "1.2.3.4", "198.51.100.7"},
		{"trusted peer no xff", "10.0.0.1", "", "10.0.0.1"},
		{"trusted peer one hop", "10.0.0.1", "203.0.113.5", "203.0.113.5"},
		{"spoofed left part ignored", "10.0.0.1", "1.1.1.1, 203.0.113.5", "203.0.113.5"},
		{"skips trusted hops", "10.0.0.1", "1.1.1.1, 203.0.113.5, 10.9.9.9,10.8.8.8", "203.0.113.5"},
		{"all trusted: leftmost", "10.0.0.1", "10.1.1.1, 10.2.2.2", "10.1.1.1"},
		{"ipv6 client", "10.0.0.1", "2001:db8::1", "2001:db8::1"},
		{"ipv6 bracket port", "10.0.0.1", "[2001:db8::1]:443", "2001:db8::1"},
		{"ipv6 trusted peer", "2001:db8:ffff::1", "2001:db8::2", "2001:db8::2"},
		{"v4 with port", "10.0.0.1", "203.0.113.5:5555", "203.0.113.5"},
		{"mapped client unmapped", "10.0.0.1", "::ffff:203.0.113.5", "203.0.113.5"},
		{"garbage stops walk", "10.0.0.1", "203.0.113.5, garbage", "10.0.0.1"},
		{"garbage after trusted hop", "10.0.0.1", "203.0.113.5, junk, 10.2.2.2", "10.2.2.2"},
		{"garbage left of client is irrelevant", "10.0.0.1", "junk, 203.0.113.5", "203.0.113.5"},
		{"empty elements skipped", "10.0.0.1", " , 203.0.113.5 ,\t,", "203.0.113.5"},
		{"leading zero refused", "10.0.0.1", "203.0.113.05", "10.0.0.1"},
		{"zone refused", "10.0.0.1", "fe80::1%eth0", "10.0.0.1"},
		{"octet overflow", "10.0.0.1", "256.1.1.1", "10.0.0.1"},
		{"unknown token", "10.0.0.1", "unknown", "10.0.0.1"},
		{"obfuscated node", "10.0.0.1", "_hidden", "10.0.0.1"},
		{"too many hops", "10.0.0.1", strings.Repeat("10.3.3.3,", 40) + "10.4.4.4", "10.3.3.3"},
		{"huge garbage", "10.0.0.1", strings.Repeat("x", 10000), "10.0.0.1"},
		{"huge list untrusted tail", "10.0.0.1", strings.Repeat("1.1.1.1,", 2000) + "203.0.113.9", "203.0.113.9"},
	} {
		got := r.ClientIP(netip.MustParseAddr(tc.peer), []byte(tc.xff))
		require.Equal(t, tc.want, got.String(), tc.name)
	}
}

func TestParseEntryMatchesNetip(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"1.2.3.4", "0.0.0.0", "255.255.255.255", "1.2.3", "1.2.3.4.5", "1..2.3", "01.2.3.4", "1.2.3.256",
		"::", "::1", "1::", "2001:db8::1", "2001:DB8::1", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::",
		"::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:1.2.3.4", "::1.2.3.4", "12345::", "1:::2", "1::2::3",
		":1", "1:", "::1:", "", "a", "g::", "fe80::1%1",
	} {
		want, werr := netip.ParseAddr(s)
		got, ok := parseEntry([]byte(s))
		if strings.Contains(s, "%") {
			require.False(t, ok, s)
			continue
		}
		require.Equal(t, werr == nil, ok, s)
		if ok {
			require.Equal(t, want, got, s)
		}
	}
}

func TestRouteForwardedHost(t *testing.T) {
	t.Parallel()
	r := mustResolver(t, "10.0.0.0/8") // the fleet's load balancers
	a := &tenant.Tenant{ID: "a", ForwardedHostCIDRs: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}
	b := &tenant.Tenant{ID: "b", ForwardedHostCIDRs: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}}
	c := &tenant.Tenant{ID: "c"} // no same-origin mode
	l := lookupMap{
		"t.a.com": {Hostname: "t.a.com", Tenant: a}, "www.a.com": {Hostname: "www.a.com", Tenant: a},
		"t.b.com": {Hostname: "t.b.com", Tenant: b}, "www.b.com": {Hostname: "www.b.com", Tenant: b},
		"www.c.com": {Hostname: "www.c.com", Tenant: c},
	}
	for _, tc := range []struct {
		name, peer, host, xfh, xff string
		wantHost, wantIP           string
		sameOrigin                 bool
	}{
		{"plain host routing", "192.0.2.1", "t.a.com", "", "", "t.a.com", "192.0.2.1", false},
		{"unknown host", "192.0.2.1", "evil.com", "", "", "", "192.0.2.1", false},
		{"a's proxy direct", "203.0.113.4", "t.a.com", "www.a.com", "192.0.2.50", "www.a.com", "192.0.2.50", true},
		{"a's proxy behind LB", "10.0.0.1", "t.a.com", "www.a.com", "6.6.6.6, 192.0.2.50, 203.0.113.4", "www.a.com", "192.0.2.50", true},
		{"a's proxy cannot claim b", "203.0.113.4", "t.a.com", "www.b.com", "192.0.2.50", "t.a.com", "203.0.113.4", false},
		{"a's proxy cannot claim c", "203.0.113.4", "t.a.com", "www.c.com", "", "t.a.com", "203.0.113.4", false},
		{"b's proxy cannot claim a via LB", "10.0.0.1", "t.b.com", "www.a.com", "198.51.100.9", "t.b.com", "198.51.100.9", false},
		{"visitor spoofing xfh", "192.0.2.1", "t.a.com", "www.a.com", "203.0.113.4", "t.a.com", "192.0.2.1", false},
		{"visitor spoofing xff through LB", "10.0.0.1", "t.a.com", "www.a.com", "203.0.113.4, 192.0.2.1", "t.a.com", "192.0.2.1", false},
		{"multi-valued xfh ignored", "203.0.113.4", "t.a.com", "www.b.com, www.a.com", "", "t.a.com", "203.0.113.4", false},
		{"xfh with port and case", "203.0.113.4", "t.a.com", " WWW.A.com:443 ", "", "www.a.com", "203.0.113.4", true},
		{"unknown xfh falls back to host", "203.0.113.4", "t.a.com", "nope.com", "", "t.a.com", "203.0.113.4", false},
	} {
		rt := r.Route(l, netip.MustParseAddr(tc.peer), []byte(tc.host), []byte(tc.xfh), []byte(tc.xff))
		if tc.wantHost == "" {
			require.Nil(t, rt.Domain, tc.name)
		} else {
			require.NotNil(t, rt.Domain, tc.name)
			require.Equal(t, tc.wantHost, rt.Domain.Hostname, tc.name)
		}
		require.Equal(t, tc.wantIP, rt.ClientIP.String(), tc.name)
		require.Equal(t, tc.sameOrigin, rt.SameOrigin, tc.name)
	}
	require.True(t, ForwardedHostAllowed(a, netip.MustParseAddr("203.0.113.200")))
	require.False(t, ForwardedHostAllowed(b, netip.MustParseAddr("203.0.113.200")))
	require.False(t, ForwardedHostAllowed(nil, netip.MustParseAddr("203.0.113.200")))
	require.False(t, ForwardedHostAllowed(a, netip.Addr{}))
}

type lookupMap map[string]*tenant.Domain

func (m lookupMap) Lookup(host []byte) *tenant.Domain {
	h := strings.ToLower(strings.TrimSuffix(string(host), "."))
	h, _, _ = strings.Cut(h, ":")
	return m[h]
}
