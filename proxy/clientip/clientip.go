// Package clientip finds a request's client address behind the fleet's
// load balancers and decides whose X-Forwarded-Host to believe.
//
// X-Forwarded-For is read only when the connecting peer is a trusted proxy
// (edge config: the fleet's load balancers), walking the list right to left
// and skipping trusted hops: the first untrusted address is the client. A
// malformed element stops the walk (the last trusted hop is returned), so a
// client can never inject an address a trusted proxy did not see.
//
// X-Forwarded-Host (same-origin mode) is believed only when the address that
// reached the fleet belongs to the CIDRs of the tenant that owns the named
// host: one tenant's proxy can never claim another tenant's hostname.
package clientip

import (
	"net/netip"

	"github.com/jaraba/pixelgw/proxy/tenant"
)

// MaxHops bounds how many X-Forwarded-For elements are examined.
const MaxHops = 16

// Resolver is immutable and safe for concurrent use.
type Resolver struct {
	trusted []netip.Prefix
}

// New builds a resolver trusting the given proxy prefixes (IPv4-mapped
// prefixes are unmapped).
func New(trusted []netip.Prefix) *Resolver {
	r := &Resolver{trusted: make([]netip.Prefix, 0, len(trusted))}
	for _, p := range trusted {
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		r.trusted = append(r.trusted, p.Masked())
	}
	return r
}

// Parse builds a resolver from CIDR strings (tenant.ParseCIDR rules: a bare
// address is one host, /0 is refused). The error names the bad index.
func Parse(cidrs []string) (*Resolver, error) {
	ps := make([]netip.Prefix, 0, len(cidrs))
	for i, s := range cidrs {
		p, err := tenant.ParseCIDR(s)
		if err != nil {
			return nil, &IndexError{Index: i, Err: err}
		}
		ps = append(ps, p)
	}
	return New(ps), nil
}

// IndexError names the bad element of a CIDR list.
type IndexError struct {
	Index int
	Err   error
}

func (e *IndexError) Error() string { return "[" + itoa(e.Index) + "]: " + e.Err.Error() }
func (e *IndexError) Unwrap() error { return e.Err }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// Trusted reports whether a is one of the fleet's proxies.
func (r *Resolver) Trusted(a netip.Addr) bool {
	return contains(r.trusted, a.Unmap())
}

func contains(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP returns the client address of a request that arrived from peer
// with the given X-Forwarded-For value (nil if absent; several headers
// joined with ","). It does not allocate.
func (r *Resolver) ClientIP(peer netip.Addr, xff []byte) netip.Addr {
	return r.walk(peer, xff, nil)
}

// ClientIPVia is ClientIP that also skips hops in extra: the tenant's own
// proxies in same-origin mode, whose X-Forwarded-For element names the
// visitor.
func (r *Resolver) ClientIPVia(peer netip.Addr, xff []byte, extra []netip.Prefix) netip.Addr {
	return r.walk(peer, xff, extra)
}

func (r *Resolver) walk(peer netip.Addr, xff []byte, extra []netip.Prefix) netip.Addr {
	peer = peer.Unmap()
	if len(xff) == 0 || !r.trustedHop(peer, extra) {
		return peer
	}
	last := peer
	end := len(xff)
	for hops := 0; end > 0 && hops < MaxHops; hops++ {
		start := end - 1
		for start >= 0 && xff[start] != ',' {
			start--
		}
		entry := trim(xff[start+1 : end])
		end = start
		if len(entry) == 0 {
			continue // ", ," carries nothing
		}
		a, ok := parseEntry(entry)
		if !ok {
			return last
		}
		a = a.Unmap()
		if !r.trustedHop(a, extra) {
			return a
		}
		last = a
	}
	return last
}

func (r *Resolver) trustedHop(a netip.Addr, extra []netip.Prefix) bool {
	return contains(r.trusted, a) || contains(extra, a)
}

func trim(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// ForwardedHostAllowed reports whether peer (the address that reached the
// fleet, i.e. ClientIP before same-origin handling) may name t's hostnames
// in X-Forwarded-Host.
func ForwardedHostAllowed(t *tenant.Tenant, peer netip.Addr) bool {
	return t != nil && t.ForwardedHostAllowed(peer)
}

// Lookuper finds the domain for a host (tenant.Registry, tenant.Snapshot).
type Lookuper interface {
	Lookup(host []byte) *tenant.Domain
}

// Route is where a request goes and who sent it.
type Route struct {
	// Domain is the tenant hostname the request is for; nil = unknown (404).
	Domain *tenant.Domain
	// ClientIP is the visitor's address.
	ClientIP netip.Addr
	// SameOrigin is set when X-Forwarded-Host was honoured: the path then
	// carries the tenant's same-origin prefix (tenant.Tenant.StripPrefix).
	SameOrigin bool
}

// Route resolves a request: its client address and the domain it is for.
// X-Forwarded-Host (xfh) is honoured only when it names exactly one host
// that resolves to a tenant and the address that reached the fleet is in
// that tenant's ForwardedHostCIDRs; otherwise it is ignored and the Host
// header decides. It does not allocate.
func (r *Resolver) Route(l Lookuper, peer netip.Addr, host, xfh, xff []byte) Route {
	hop := r.walk(peer, xff, nil)
	if xfh = trim(xfh); len(xfh) > 0 && !hasComma(xfh) {
		if d := l.Lookup(xfh); d != nil && d.Tenant.ForwardedHostAllowed(hop) {
			return Route{Domain: d, ClientIP: r.walk(peer, xff, d.Tenant.ForwardedHostCIDRs), SameOrigin: true}
		}
	}
	return Route{Domain: l.Lookup(host), ClientIP: hop}
}

func hasComma(b []byte) bool {
	for _, c := range b {
		if c == ',' {
			return true
		}
	}
	return false
}
