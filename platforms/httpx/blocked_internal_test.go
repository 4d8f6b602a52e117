package httpx

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBlocked(t *testing.T) {
	t.Parallel()
	f := func(addr string, want bool) {
		t.Helper()
		require.Equal(t, want, blocked(netip.MustParseAddr(addr)), addr)
		err := refusePrivate("tcp", netip.AddrPortFrom(netip.MustParseAddr(addr), 443).String(), nil)
		if want {
			require.ErrorIs(t, err, ErrBlockedAddress, addr)
		} else {
			require.NoError(t, err, addr)
		}
	}
	for _, a := range []string{
		"127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"169.254.169.254", "169.254.0.1", "100.64.0.1", "100.127.255.255", "0.0.0.0", "0.1.2.3",
		"224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "192.0.0.170", "198.18.0.1",
		"192.0.2.1", "198.51.100.1", "203.0.113.1",
		"::1", "::", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "ff02::1", "ff05::2",
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a00:1",
		"64:ff9b::7f00:1", "2002:7f00:1::1", "2002:a9fe:a9fe::1", "2001:db8::1", "fec0::1", "100::1",
	} {
		f(a, true)
	}
	for _, a := range []string{
		"8.8.8.8", "1.1.1.1", "157.240.1.35", "142.250.184.14", "100.63.255.255", "100.128.0.1",
		"172.15.255.255", "172.32.0.1", "2606:4700:4700::1111", "2a03:2880:f12f::1", "::ffff:8.8.8.8",
		"64:ff9b::808:808", "2002:808:808::1",
	} {
		f(a, false)
	}
	require.ErrorIs(t, refusePrivate("tcp", "not-an-address", nil), ErrBlockedAddress)
}
