package ratelimit

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPerIPBucket(t *testing.T) {
	t.Parallel()
	cfg := Defaults()
	cfg.PerIP, cfg.BurstIP = 1, 3
	l, err := New(cfg)
	require.NoError(t, err)
	now := time.Unix(1000, 0)
	a, b := netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("2001:db8::1")
	for i := 0; i < 3; i++ {
		v, _ := l.Allow(now, "t1", a)
		require.Equal(t, Allowed, v)
	}
	v, d := l.Allow(now, "t1", a)
	require.Equal(t, LimitedIP, v)
	require.Greater(t, d, time.Duration(0))
	require.LessOrEqual(t, d, time.Second)
	// Another IP of the same tenant is unaffected.
	v, _ = l.Allow(now, "t1", b)
	require.Equal(t, Allowed, v)
	// Tokens come back with time.
	v, _ = l.Allow(now.Add(1100*time.Millisecond), "t1", a)
	require.Equal(t, Allowed, v)
}

func TestPerTenantBucketIsolatesTenants(t *testing.T) {
	t.Parallel()
	cfg := Defaults()
	cfg.PerTenant, cfg.BurstTenant = 1, 5
	l, err := New(cfg)
	require.NoError(t, err)
	now := time.Unix(1000, 0)
	for i := 0; i < 5; i++ {
		v, _ := l.Allow(now, "flooded", netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}))
		require.Equal(t, Allowed, v)
	}
	v, d := l.Allow(now, "flooded", netip.MustParseAddr("198.51.100.200"))
	require.Equal(t, LimitedTenant, v)
	require.Greater(t, d, time.Duration(0))
	v, _ = l.Allow(now, "quiet", netip.MustParseAddr("198.51.100.200"))
	require.Equal(t, Allowed, v, "a flooded tenant never limits another")

	l.Forget(func(id string) bool { return id == "quiet" })
	v, _ = l.Allow(now, "flooded", netip.MustParseAddr("198.51.100.201"))
	require.Equal(t, Allowed, v, "a forgotten tenant starts with a full bucket")
}

func TestIPTableIsBounded(t *testing.T) {
	t.Parallel()
	cfg := Defaults()
	cfg.MaxIPs = 100
	l, err := New(cfg)
	require.NoError(t, err)
	now := time.Unix(1000, 0)
	for i := 0; i < 1000; i++ {
		l.Allow(now, "t", netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
	}
	require.Equal(t, 100, l.ips.Len())
}

func TestValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, Defaults().Validate())
	c := Defaults()
	c.PerIP = 0
	require.EqualError(t, c.Validate(), "edge.rate_limit.per_ip: 0 is outside (0, 1e6]")
	c = Defaults()
	c.MaxIPs = 5
	require.EqualError(t, c.Validate(), "edge.rate_limit.max_ips: 5 is outside 100..10000000")
	_, err := New(c)
	require.Error(t, err)
}

func BenchmarkAllow(b *testing.B) {
	l, err := New(Defaults())
	require.NoError(b, err)
	ip := netip.MustParseAddr("203.0.113.7")
	now := time.Unix(1000, 0)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow(now.Add(time.Hour), "t", ip)
		}
	})
}
