package clientip

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzClientIP checks the X-Forwarded-For walk never panics, that the
// result is the peer or an address literally present in the header, and
// that the address parser agrees with netip.ParseAddr.
func FuzzClientIP(f *testing.F) {
	for _, s := range []string{
		"", "1.2.3.4", "1.1.1.1, 203.0.113.5, 10.9.9.9", "[2001:db8::1]:443", "::ffff:1.2.3.4",
		"junk, 10.2.2.2", "01.2.3.4", "fe80::1%eth0", "1:2:3:4:5:6:1.2.3.4", ", ,\t,", "::", "1::2::3",
	} {
		f.Add(s)
	}
	r := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")})
	peer := netip.MustParseAddr("10.0.0.1")
	f.Fuzz(func(t *testing.T, xff string) {
		got := r.ClientIP(peer, []byte(xff))
		if !got.IsValid() {
			t.Fatalf("invalid result for %q", xff)
		}
		if got != peer {
			found := false
			for _, e := range strings.Split(xff, ",") {
				if a, ok := parseEntry(trim([]byte(e))); ok && a.Unmap() == got {
					found = true
					break
				}
			}
			if !found {
				t.Fatalf("%s is not in %q", got, xff)
			}
		}
		if !strings.ContainsAny(xff, "%[],") {
			s := strings.TrimSpace(xff)
			a, ok := parseEntry([]byte(s))
			if strings.Count(s, ":") == 1 && strings.Contains(s, ".") {
				return // v4:port form, netip has no equivalent
			}
			want, err := netip.ParseAddr(s)
			if (err == nil) != ok || (ok && a != want) {
				if len(s) <= maxEntryLen {
					t.Fatalf("parseEntry(%q) = %v,%v; netip: %v,%v", s, a, ok, want, err)
				}
			}
		}
	})
}
