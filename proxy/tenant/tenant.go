// Package tenant is the edge's view of the fleet's configuration: an
// immutable per-tenant snapshot (paths, allowed origins, active pixels without
// secrets, cookie keys, same-origin CIDRs) and a Registry that maps a request's
// Host to it without touching the store. A Reloader polls the store's config
// version and swaps in a freshly built snapshot, so a change made through any
// instance is served by every instance within a second.
//
// Everything reachable from a Snapshot is read-only once built: callers must
// not modify the maps or slices they get.
package tenant

import (
	"net/netip"
	"time"

	"github.com/jaraba/pixelgw/consent"
	"github.com/jaraba/pixelgw/store"
)

// Endpoint is which edge endpoint a request path names.
type Endpoint uint8

// Edge endpoints.
const (
	EndpointNone Endpoint = iota
	EndpointLoader
	EndpointCollect
	EndpointConsent
)

// String names the endpoint (for logs and metrics).
func (e Endpoint) String() string {
	switch e {
	case EndpointLoader:
		return KindLoader
	case EndpointCollect:
		return KindCollect
	case EndpointConsent:
		return KindConsent
	default:
		return "none"
	}
}

func endpointOf(kind string) Endpoint {
	switch kind {
	case KindLoader:
		return EndpointLoader
	case KindCollect:
		return EndpointCollect
	case KindConsent:
		return EndpointConsent
	default:
		return EndpointNone
	}
}

// Key is a consent-cookie HMAC key, opened.
type Key struct {
	ID     string
	Secret []byte
}

// route is one path the tenant answers on. until is zero for current paths,
// else the end of a rotated path's grace period.
type route struct {
	path  string
	ep    Endpoint
	until time.Time
}

// Tenant is one tenant's immutable edge configuration.
type Tenant struct {
	ID       string
	Slug     string
	Settings store.TenantSettings
	// Paths are the current loader/collect/consent paths (configured, or
	// the tenant's deterministic defaults).
	LoaderPath, CollectPath, ConsentPath string
	// Origins are the exact Origin header values allowed to send beacons:
	// each site of Settings.Sites and https://<domain> for each active
	// pixel's Domains (http:// too for *.localhost domains).
	Origins map[string]struct{}
	// Pixels are the active pixels, with Credentials and CredentialHints
	// zeroed: the edge never needs secrets.
	Pixels []store.Pixel
	// SignKey is the newest active cookie key; VerifyKeys holds every
	// non-retired key by id.
	SignKey    Key
	VerifyKeys map[string][]byte
	// ForwardedHostCIDRs are the peers whose X-Forwarded-Host is trusted for
	// this tenant's hostnames (same-origin mode).
	ForwardedHostCIDRs []netip.Prefix
	// Policy is the tenant's consent policy (PolicyOf(Settings)), applied
	// by the edge to every beacon without a store read.
	Policy consent.Policy
	// Version is the config version the snapshot was built from.
	Version int64

	routes []route
}

// Endpoint reports which edge endpoint path names: a current path, or a
// rotated one whose grace period has not ended at now. It does not allocate.
func (t *Tenant) Endpoint(path []byte, now time.Time) Endpoint {
	for i := range t.routes {
		r := &t.routes[i]
		if string(path) != r.path {
			continue
		}
		if r.until.IsZero() || now.Before(r.until) {
			return r.ep
		}
	}
	return EndpointNone
}

// StripPrefix removes the tenant's same-origin prefix from path: it reports
// the rest ("/m/abc" → "/abc") and true, or path and false when the tenant
// has no prefix or path does not start with it followed by '/'.
func (t *Tenant) StripPrefix(path []byte) ([]byte, bool) {
	p := t.Settings.SameOriginPrefix
	if p == "" || len(path) <= len(p) || string(path[:len(p)]) != p || path[len(p)] != '/' {
		return path, false
	}
	return path[len(p):], true
}

// OriginAllowed reports whether origin (the Origin header, exact) may send
// beacons to this tenant. It does not allocate.
func (t *Tenant) OriginAllowed(origin []byte) bool {
	_, ok := t.Origins[string(origin)]
	return ok
}

// ForwardedHostAllowed reports whether peer is one of the tenant's proxies
// allowed to set X-Forwarded-Host for its hostnames.
func (t *Tenant) ForwardedHostAllowed(peer netip.Addr) bool {
	if !peer.IsValid() {
		return false
	}
	peer = peer.Unmap()
	for _, p := range t.ForwardedHostCIDRs {
		if p.Contains(peer) {
			return true
		}
	}
	return false
}

// Domain is one hostname the edge answers on.
type Domain struct {
	Hostname     string
	CookieDomain string
	Verified     bool
	Tenant       *Tenant
}

// Snapshot is an immutable view of every tenant, built by Build.
type Snapshot struct {
	// Version is the store's config version read before the data.
	Version int64
	// BuiltAt is the time passed to Build.
	BuiltAt time.Time
	// Skipped lists the tenants left out because their configuration is
	// invalid (each error names the tenant); their hostnames answer 404.
	Skipped []error

	domains map[string]*Domain
	tenants map[string]*Tenant
}

// Tenant returns a tenant by id, or nil.
func (s *Snapshot) Tenant(id string) *Tenant {
	if s == nil {
		return nil
	}
	return s.tenants[id]
}

// Tenants returns how many tenants the snapshot serves.
func (s *Snapshot) Tenants() int {
	if s == nil {
		return 0
	}
	return len(s.tenants)
}

// Domains returns how many hostnames the snapshot serves.
func (s *Snapshot) Domains() int {
	if s == nil {
		return 0
	}
	return len(s.domains)
}

// lookup finds an exact, already-normalized hostname.
func (s *Snapshot) lookup(host []byte) *Domain {
	if s == nil {
		return nil
	}
	return s.domains[string(host)]
}

// Lookup finds host (a Host header: any case, optional port, optional
// trailing dot). It returns nil for unknown hosts. It does not allocate.
func (s *Snapshot) Lookup(host []byte) *Domain {
	if s == nil || len(host) == 0 {
		return nil
	}
	// Fast path: already lowercase, no port, no trailing dot.
	clean := true
	for _, c := range host {
		if c >= 'A' && c <= 'Z' || c == ':' {
			clean = false
			break
		}
	}
	if clean && host[len(host)-1] != '.' {
		return s.lookup(host)
	}
	if host[0] == '[' { // IPv6 literal: never a tenant hostname
		return nil
	}
	var buf [253]byte
	n := 0
	for _, c := range host {
		if c == ':' {
			break
		}
		if n == len(buf) {
			return nil
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	if n > 0 && buf[n-1] == '.' {
		n--
	}
	return s.lookup(buf[:n])
}

// PolicyOf is the consent policy of a tenant's settings: each setting the
// tenant left out takes its default (consent.DefaultPolicy).
func PolicyOf(s store.TenantSettings) consent.Policy {
	p := consent.DefaultPolicy()
	if s.HonorGPC != nil {
		p.HonorGPC = *s.HonorGPC
	}
	if s.GA4AnalyticsOnly != nil {
		p.AnalyticsOnlyGA4 = *s.GA4AnalyticsOnly
	}
	if s.ServerLegalBasis != nil {
		p.ServerLegalBasis = *s.ServerLegalBasis
	}
	return p
}
