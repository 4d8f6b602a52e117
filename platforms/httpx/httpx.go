// Package httpx is the outbound HTTP client of the platform adapters. It
// follows no redirects, bounds every wait and every response body, and
// (unless the operator allows it) refuses to connect to loopback, private,
// link-local and other non-public addresses, checked on the resolved IP at
// connect time so a DNS answer that changes between lookups (rebinding)
// cannot reach them. RedactURL and RedactError keep tokens carried in query
// strings or userinfo (GA4 api_secret, Meta access_token) out of logs and
// API responses.
//
// Adapters use it like this:
//
//	resp, err := client.Do(req)
//	if err != nil {
//		err = httpx.RedactError(err) // errors.Is and Timeout survive
//		if errors.Is(err, httpx.ErrBlockedAddress) {
//			return &platforms.PermanentError{Err: err} // base URL misconfigured
//		}
//		return &platforms.RetryableError{Err: err} // network error, timeout
//	}
//	body, err := httpx.ReadBody(resp, maxKept) // always closes the body
//	// err wraps ErrBodyTooLarge when the platform answered more than
//	// maxKept bytes (body holds the first maxKept); any other err is a
//	// read error or timeout.
//
// A 3xx comes back as a response (never followed): classify it like any
// unexpected status.
package httpx

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Defaults used for zero Config fields.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxResponseBytes = 64 << 10
	// dialTimeout and tlsTimeout cap connecting and the TLS handshake
	// (lower when Config.Timeout is lower).
	dialTimeout = 5 * time.Second
	tlsTimeout  = 5 * time.Second
	// drainLimit is how much of an over-long or unread body ReadBody
	// discards so the connection can be reused; beyond it the connection
	// is closed instead.
	drainLimit = 64 << 10
)

// ErrBlockedAddress is returned (wrapped, inside a *url.Error) when a
// connection to a non-public address is refused.
var ErrBlockedAddress = errors.New("blocked address")

// ErrBodyTooLarge is returned when a response body exceeds the limit.
var ErrBodyTooLarge = errors.New("response body too large")

// Config is the outbound client's configuration.
type Config struct {
	// Timeout bounds a whole request: connecting, sending, waiting for the
	// headers and reading the body. Zero means DefaultTimeout.
	Timeout time.Duration
	// AllowPrivate lets the client connect to loopback, private and
	// link-local addresses: an operator setting for the simulators, tests
	// and the demo. Never derive it from tenant input.
	AllowPrivate bool
	// MaxResponseBytes is a hard cap on every response body: reading past
	// it fails with ErrBodyTooLarge. Zero means DefaultMaxResponseBytes.
	MaxResponseBytes int64
}

// NewClient returns the client adapters use. It returns 3xx responses as
// they are (no redirect is followed), ignores HTTP(S)_PROXY from the
// environment (the address check must apply to the platform itself), and
// keeps a bounded connection pool.
func NewClient(cfg Config) *http.Client {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	maxBody := cfg.MaxResponseBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxResponseBytes
	}
	dialer := &net.Dialer{
		Timeout:   min(timeout, dialTimeout),
		KeepAlive: 30 * time.Second,
	}
	if !cfg.AllowPrivate {
		dialer.Control = refusePrivate
	}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    min(timeout, tlsTimeout),
		ResponseHeaderTimeout:  timeout,
		ExpectContinueTimeout:  time.Second,
		IdleConnTimeout:        90 * time.Second,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    16,
		MaxConnsPerHost:        64,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport: &cappedTransport{rt: tr, max: maxBody},
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// ReadBody reads at most max bytes of r's body (max <= 0 means
// DefaultMaxResponseBytes), discards a bounded rest so the connection can be
// reused, and closes the body. When the body is longer than max it returns
// the first max bytes and an error wrapping ErrBodyTooLarge; on a read error
// it returns what was read and the error.
func ReadBody(r *http.Response, max int64) ([]byte, error) {
	if r == nil || r.Body == nil {
		return nil, nil
	}
	defer r.Body.Close()
	if max <= 0 {
		max = DefaultMaxResponseBytes
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		if errors.Is(err, ErrBodyTooLarge) {
			return b, err
		}
		return b, RedactError(err)
	}
	if int64(len(b)) > max {
		_, _ = io.CopyN(io.Discard, r.Body, drainLimit)
		return b[:max], fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, max)
	}
	return b, nil
}

// cappedTransport limits every response body to max bytes.
type cappedTransport struct {
	rt  http.RoundTripper
	max int64
}

func (t *cappedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &cappedBody{rc: resp.Body, left: t.max}
	return resp, nil
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// wrapped transport.
func (t *cappedTransport) CloseIdleConnections() {
	if c, ok := t.rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

type cappedBody struct {
	rc   io.ReadCloser
	left int64 // bytes still allowed; -1 once the cap was exceeded
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, ErrBodyTooLarge
	}
	// Read one byte more than allowed to tell "exactly max" from "more".
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		n, b.left = int(b.left), -1
		return n, ErrBodyTooLarge
	}
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }

// refusePrivate is the net.Dialer Control hook: it runs on the resolved
// address of every connection attempt.
func refusePrivate(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse %q", ErrBlockedAddress, address)
	}
	if blocked(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrBlockedAddress, ap.Addr())
	}
	return nil
}

// Non-public ranges not covered by the netip predicates.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // CGNAT shared address space
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
}

// Prefixes of IPv6 addresses that embed an IPv4 address a gateway may
// forward to: NAT64 (RFC 6052) and 6to4 (RFC 3056).
var (
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	sixTo = netip.MustParsePrefix("2002::/16")
)

// blocked reports whether a is not a public unicast address.
func blocked(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() ||
		a.IsMulticast() || a.Zone() != "" {
		return true
	}
	for _, p := range blockedPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			return blocked(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		case sixTo.Contains(a):
			return blocked(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
	}
	return false
}

// Interface guards
var (
	_ http.RoundTripper = (*cappedTransport)(nil)
	_ io.ReadCloser     = (*cappedBody)(nil)
)
