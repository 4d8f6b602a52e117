//go:build !race

package clientip

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/proxy/tenant"
)

// Not parallel: AllocsPerRun refuses parallel tests.
func TestClientIPAllocs(t *testing.T) { //nolint:paralleltest
	r := New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	peer := netip.MustParseAddr("10.0.0.1")
	a := &tenant.Tenant{ForwardedHostCIDRs: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}
	l := lookupMap{"www.a.com": {Hostname: "www.a.com", Tenant: a}}
	xff, host, xfh := []byte("1.1.1.1, [2001:db8::1]:80, 203.0.113.5, 10.9.9.9"), []byte("t.a.com"), []byte("www.a.com")
	require.Zero(t, testing.AllocsPerRun(200, func() { _ = r.ClientIP(peer, xff) }))
	require.Zero(t, testing.AllocsPerRun(200, func() { _ = r.Route(fastLookup{l}, peer, host, xfh, xff) }))
}

// fastLookup avoids lookupMap's string building.
type fastLookup struct{ m lookupMap }

func (f fastLookup) Lookup(h []byte) *tenant.Domain { return f.m[string(h)] }
