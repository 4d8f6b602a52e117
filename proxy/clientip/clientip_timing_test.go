package clientip

import (
	"net/netip"
	"testing"
)

func BenchmarkClientIP(b *testing.B) {
	r := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	peer := netip.MustParseAddr("10.0.0.1")
	for _, bc := range []struct{ name, xff string }{
		{"v4", "1.1.1.1, 203.0.113.5, 10.9.9.9"},
		{"v6", "2001:db8::1, 10.9.9.9"},
	} {
		xff := []byte(bc.xff)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !r.ClientIP(peer, xff).IsValid() {
					b.Fatal("invalid")
				}
			}
		})
	}
}
