package tenant

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/jaraba/pixelgw/store"
)

// MaxForwardedHostCIDRs bounds settings.forwarded_host_cidrs.
const MaxForwardedHostCIDRs = 32

// ErrBadCIDR: a forwarded-host CIDR is malformed or too broad.
var ErrBadCIDR = errors.New("bad CIDR")

// ErrBadSite: a site is not an absolute http(s) origin.
var ErrBadSite = errors.New("bad site origin")

// ParseCIDR parses one forwarded-host CIDR ("203.0.113.0/24",
// "2001:db8::/48"; a bare address means that one address). Host bits must be
// zero, zones are refused, and /0 is refused: it would let any peer claim the
// tenant's hostnames.
func ParseCIDR(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, invalid(ErrBadCIDR, "not a CIDR like 203.0.113.0/24")
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, invalid(ErrBadCIDR, "not a CIDR like 203.0.113.0/24")
		}
		a = a.Unmap()
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		a := p.Addr().Unmap()
		bits := p.Bits() - 96
		if bits < 0 {
			return netip.Prefix{}, invalid(ErrBadCIDR, "IPv4-mapped prefix shorter than /96")
		}
		p = netip.PrefixFrom(a, bits)
	}
	if p.Masked() != p {
		return netip.Prefix{}, invalid(ErrBadCIDR, "host bits set (did you mean %s?)", p.Masked())
	}
	if p.Bits() == 0 {
		return netip.Prefix{}, invalid(ErrBadCIDR, "/0 would trust every peer")
	}
	return p, nil
}

// ParseCIDRs parses a list with ParseCIDR; at most MaxForwardedHostCIDRs.
// The error names the bad item's index.
func ParseCIDRs(list []string) ([]netip.Prefix, error) {
	if len(list) > MaxForwardedHostCIDRs {
		return nil, invalid(ErrBadCIDR, "%d CIDRs, at most %d", len(list), MaxForwardedHostCIDRs)
	}
	out := make([]netip.Prefix, 0, len(list))
	for i, s := range list {
		p, err := ParseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// IsLocalhost reports whether host (lowercase, no port) is localhost or a
// *.localhost name: those resolve to loopback in browsers, which treat them as
// secure contexts even over http (the demo).
func IsLocalhost(host string) bool {
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// ParseSite checks a site origin and returns it as browsers send it in the
// Origin header: lowercase scheme and host, no default port, no trailing
// slash ("https://www.shop.com", "http://www.demo.localhost:8080"). Plain
// http is accepted only for localhost hosts.
func ParseSite(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return "", invalid(ErrBadSite, "must be an origin like https://www.example.com")
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	switch scheme {
	case "https":
	case "http":
		if !IsLocalhost(host) {
			return "", invalid(ErrBadSite, "plain http is allowed only for *.localhost hosts; use https")
		}
	default:
		return "", invalid(ErrBadSite, "scheme must be https")
	}
	if !validHost(host) {
		return "", invalid(ErrBadSite, "host must be a DNS hostname")
	}
	if port != "" {
		n := 0
		for _, c := range port {
			if c < '0' || c > '9' || n > 65535 {
				n = -1
				break
			}
			n = n*10 + int(c-'0')
		}
		if n < 1 || n > 65535 || port[0] == '0' {
			return "", invalid(ErrBadSite, "bad port")
		}
		if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
			port = ""
		}
	}
	if port != "" {
		return scheme + "://" + host + ":" + port, nil
	}
	return scheme + "://" + host, nil
}

// validHost reports whether h is a lowercase ASCII DNS name of at least two
// labels (or "localhost"), not an IP address.
func validHost(h string) bool {
	if h == "localhost" {
		return true
	}
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return false
	}
	labels := strings.Split(h, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return strings.TrimLeft(labels[len(labels)-1], "0123456789") != ""
}

// CheckSettings validates the edge fields of a tenant's settings: edge paths
// (CheckPath, pairwise distinct), the same-origin prefix (CheckPrefix), the
// forwarded-host CIDRs (ParseCIDRs) and the sites (ParseSite). The error
// names the settings field ("settings.collect_path: ...").
func CheckSettings(s store.TenantSettings) error {
	paths := map[string]string{}
	for _, p := range []struct{ field, v string }{
		{"settings.loader_path", s.LoaderPath},
		{"settings.collect_path", s.CollectPath},
		{"settings.consent_path", s.ConsentPath},
	} {
		if p.v == "" {
			continue
		}
		if err := CheckPath(p.v); err != nil {
			return &FieldError{Field: p.field, Err: err}
		}
		if other, dup := paths[p.v]; dup {
			return &FieldError{Field: p.field, Err: invalid(ErrBadPath, "same path as %s", other)}
		}
		paths[p.v] = p.field
	}
	if s.SameOriginPrefix != "" {
		if err := CheckPrefix(s.SameOriginPrefix); err != nil {
			return &FieldError{Field: "settings.same_origin_prefix", Err: err}
		}
	}
	if len(s.ForwardedHostCIDRs) > MaxForwardedHostCIDRs {
		return &FieldError{Field: "settings.forwarded_host_cidrs", Err: invalid(ErrBadCIDR, "at most %d CIDRs", MaxForwardedHostCIDRs)}
	}
	for i, c := range s.ForwardedHostCIDRs {
		if _, err := ParseCIDR(c); err != nil {
			return &FieldError{Field: fmt.Sprintf("settings.forwarded_host_cidrs[%d]", i), Err: err}
		}
	}
	for i, site := range s.Sites {
		if _, err := ParseSite(site); err != nil {
			return &FieldError{Field: fmt.Sprintf("settings.sites[%d]", i), Err: err}
		}
	}
	return nil
}

// FieldError names the settings field a validation error is about.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// invalidError is a validation failure: Error is the human message (no
// prefix), Unwrap the sentinel callers match.
type invalidError struct {
	kind error
	msg  string
}

func (e *invalidError) Error() string { return e.msg }
func (e *invalidError) Unwrap() error { return e.kind }

func invalid(kind error, format string, args ...any) error {
	return &invalidError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
