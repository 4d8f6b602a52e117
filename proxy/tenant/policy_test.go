package tenant_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/consent"
	"github.com/jaraba/pixelgw/proxy/tenant"
	"github.com/jaraba/pixelgw/store"
)

func TestPolicyOf(t *testing.T) {
	t.Parallel()
	require.Equal(t, consent.DefaultPolicy(), tenant.PolicyOf(store.TenantSettings{}), "nothing set: the defaults")
	require.Equal(t, consent.Policy{HonorGPC: false, AnalyticsOnlyGA4: false, ServerLegalBasis: true},
		tenant.PolicyOf(store.TenantSettings{HonorGPC: new(false), GA4AnalyticsOnly: new(false), ServerLegalBasis: new(true)}))
	require.Equal(t, consent.Policy{HonorGPC: true, AnalyticsOnlyGA4: true, ServerLegalBasis: false},
		tenant.PolicyOf(store.TenantSettings{HonorGPC: new(true), GA4AnalyticsOnly: new(true), ServerLegalBasis: new(false)}))
}

// TestSnapshotCarriesPolicy: the edge reads the policy from its snapshot,
// per tenant.
func TestSnapshotCarriesPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a := e.tenant(t, "strict", store.TenantSettings{HonorGPC: new(false), GA4AnalyticsOnly: new(false)}, "t.strict.com")
	b := e.tenant(t, "plain", store.TenantSettings{}, "t.plain.com")
	s, err := tenant.Build(ctx, e.st, e.kr, time.Now())
	require.NoError(t, err)
	var reg tenant.Registry
	reg.Swap(s)
	da, db := reg.Lookup([]byte("t.strict.com")), reg.Lookup([]byte("t.plain.com"))
	require.Equal(t, a.ID, da.Tenant.ID)
	require.Equal(t, b.ID, db.Tenant.ID)
	require.Equal(t, consent.Policy{}, da.Tenant.Policy)
	require.Equal(t, consent.DefaultPolicy(), db.Tenant.Policy)
}
