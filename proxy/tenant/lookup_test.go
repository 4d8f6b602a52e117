package tenant

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func testSnapshot(hosts ...string) *Snapshot {
	s := &Snapshot{domains: map[string]*Domain{}, tenants: map[string]*Tenant{}}
	for _, h := range hosts {
		t := &Tenant{ID: h}
		s.tenants[h] = t
		s.domains[h] = &Domain{Hostname: h, Tenant: t}
	}
	return s
}

// normalize is the reference for Lookup's host handling.
func normalize(h string) string {
	if strings.HasPrefix(h, "[") {
		return ""
	}
	h, _, _ = strings.Cut(h, ":")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

func FuzzLookup(f *testing.F) {
	for _, s := range []string{"t.a.com", "T.A.COM:8080", "t.a.com.", "[::1]:80", "", ":", ".", "t.b.com:", "T.B.com.:443"} {
		f.Add(s)
	}
	snap := testSnapshot("t.a.com", "t.b.com", "localhost")
	f.Fuzz(func(t *testing.T, host string) {
		d := snap.Lookup([]byte(host))
		want := snap.domains[normalize(host)]
		if len(normalize(host)) > 253 {
			want = nil
		}
		if d != want {
			t.Fatalf("Lookup(%q) = %v, want %v", host, d, want)
		}
	})
}

func TestRegistryConcurrentSwap(t *testing.T) {
	t.Parallel()
	var reg Registry
	a, b := testSnapshot("t.a.com"), testSnapshot("t.b.com")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 2000 {
				if d := reg.Lookup([]byte("t.a.com")); d != nil {
					require.Equal(t, "t.a.com", d.Tenant.ID)
				}
				if d := reg.Lookup([]byte("t.b.com")); d != nil {
					require.Equal(t, "t.b.com", d.Tenant.ID)
				}
			}
		})
	}
	for i := range 2000 {
		if i%2 == 0 {
			reg.Swap(a)
		} else {
			reg.Swap(b)
		}
	}
	wg.Wait()
}

func TestEndpointString(t *testing.T) {
	t.Parallel()
	for e, s := range map[Endpoint]string{EndpointNone: "none", EndpointLoader: "loader", EndpointCollect: "collect", EndpointConsent: "consent"} {
		require.Equal(t, s, e.String())
		if e != EndpointNone {
			require.Equal(t, e, endpointOf(s))
		}
	}
}
