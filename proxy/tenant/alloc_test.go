//go:build !race

package tenant_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/proxy/tenant"
)

// Not parallel: AllocsPerRun refuses parallel tests.
func TestLookupEndpointAllocs(t *testing.T) { //nolint:paralleltest
	reg, tn := benchRegistry(t, 3)
	now := time.Now()
	for _, h := range []string{"t.shop-2.com", "T.SHOP-2.com:443", "t.shop-2.com.", "unknown.example"} {
		host := []byte(h)
		n := testing.AllocsPerRun(200, func() {
			if d := reg.Lookup(host); d != nil {
				_ = d.Tenant.Endpoint([]byte("/a/9f2c"), now)
				_ = d.Tenant.OriginAllowed([]byte("https://www.shop.com"))
			}
		})
		require.Zero(t, n, h)
	}
	require.Equal(t, tenant.EndpointCollect, tn.Endpoint([]byte("/a/9f2c"), now))
}
