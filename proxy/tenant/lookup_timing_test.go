package tenant_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/proxy/tenant"
	"github.com/jaraba/pixelgw/store"
)

// benchRegistry builds a registry of n tenants with one host each.
func benchRegistry(b testing.TB, n int) (*tenant.Registry, *tenant.Tenant) {
	e := newEnv(b)
	var last store.Tenant
	for i := range n {
		last = e.tenant(b, fmt.Sprintf("shop-%d", i), store.TenantSettings{CollectPath: "/a/9f2c"}, fmt.Sprintf("t.shop-%d.com", i))
	}
	s, err := tenant.Build(context.Background(), e.st, e.kr, time.Now())
	require.NoError(b, err)
	var reg tenant.Registry
	reg.Swap(s)
	return &reg, s.Tenant(last.ID)
}

func BenchmarkLookupEndpoint(b *testing.B) {
	reg, _ := benchRegistry(b, 50)
	now := time.Now()
	for _, bc := range []struct{ name, host string }{
		{"clean", "t.shop-7.com"},
		{"port+case", "T.Shop-7.com:8080"},
	} {
		host, path := []byte(bc.host), []byte("/a/9f2c")
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d := reg.Lookup(host)
				if d == nil || d.Tenant.Endpoint(path, now) != tenant.EndpointCollect {
					b.Fatal("miss")
				}
			}
		})
	}
}
