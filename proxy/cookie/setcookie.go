package cookie

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strconv"
	"time"

	"github.com/jaraba/pixelgw/proxy/tenant"
)

// Lifetimes.
const (
	// VisitorMaxAge is 13 months (395 days), under Chromium's 400-day cap.
	VisitorMaxAge = 395 * 24 * time.Hour
	// ConsentMaxAge is how long a decision is remembered before the banner
	// asks again: 13 months, the usual maximum (CNIL).
	ConsentMaxAge = 395 * 24 * time.Hour
	// MetaMaxAge is the lifetime of _fbp and _fbc (Meta tooling: 90 days).
	MetaMaxAge = 90 * 24 * time.Hour
)

// Meta cookie names.
const (
	FBPName = "_fbp"
	FBCName = "_fbc"
)

// MaxClickIDLen bounds a click id (and fbclid) kept in a cookie.
const MaxClickIDLen = 512

// ErrBadClickID: a click id is empty, too long or has bytes a cookie cannot
// carry unquoted.
var ErrBadClickID = errors.New("click id: 1-512 of [A-Za-z0-9._~+/=-] required")

// ClickID describes one platform click id: the landing-URL parameter the
// loader reads, the first-party cookie it is kept in and for how long.
type ClickID struct {
	Param  string
	Cookie string
	MaxAge time.Duration
}

// ClickIDs lists the click ids kept as first-party cookies (marketing
// consent only), with each platform's usual lifetime: Google gclid, gbraid
// and wbraid 90 days; TikTok ttclid 30 days; LinkedIn li_fat_id 90 days; X
// twclid 90 days. fbclid is not here: it becomes _fbc (AppendFBC).
func ClickIDs() []ClickID {
	const day = 24 * time.Hour
	return []ClickID{
		{Param: "gclid", Cookie: "gclid", MaxAge: 90 * day},
		{Param: "gbraid", Cookie: "gbraid", MaxAge: 90 * day},
		{Param: "wbraid", Cookie: "wbraid", MaxAge: 90 * day},
		{Param: "ttclid", Cookie: "ttclid", MaxAge: 30 * day},
		{Param: "li_fat_id", Cookie: "li_fat_id", MaxAge: 90 * day},
		{Param: "twclid", Cookie: "twclid", MaxAge: 90 * day},
	}
}

// Attrs are the attributes shared by every cookie the edge sets.
type Attrs struct {
	// Domain is the Domain attribute: the tenant's cookie domain
	// (registrable domain). Empty means a host-only cookie.
	Domain string
	// Insecure omits the Secure attribute. Only for a *.localhost host
	// served over plain http (the demo, `make run`): a Secure cookie set
	// over http is kept only by browsers that treat localhost as a secure
	// context, so the demo drops it; a production host never qualifies
	// (see AttrsFor).
	Insecure bool
}

// AttrsFor returns the attributes for a request to host (the Host the
// browser used, any case, optional port) on domain d, over TLS or not.
// Secure is dropped only for localhost hosts over plain http.
func AttrsFor(d *tenant.Domain, host []byte, tls bool) Attrs {
	a := Attrs{}
	if d != nil {
		a.Domain = d.CookieDomain
	}
	if !tls && isLocalhost(host) {
		a.Insecure = true
	}
	return a
}

func isLocalhost(host []byte) bool {
	// Strip the port, lowercase-compare the suffix.
	n := len(host)
	for i := 0; i < len(host); i++ {
		if host[i] == ':' {
			n = i
			break
		}
	}
	h := host[:n]
	if len(h) > 0 && h[len(h)-1] == '.' {
		h = h[:len(h)-1]
	}
	const suf = "localhost"
	if len(h) < len(suf) {
		return false
	}
	for i := 0; i < len(suf); i++ {
		c := h[len(h)-len(suf)+i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != suf[i] {
			return false
		}
	}
	return len(h) == len(suf) || h[len(h)-len(suf)-1] == '.'
}

// AppendSetCookie appends a Set-Cookie header value:
// name=value; Max-Age=N; Domain=D; Path=/; Secure; HttpOnly; SameSite=Lax.
// A maxAge ≤ 0 deletes the cookie (Max-Age=0). name and value must already
// be cookie-safe (the helpers below guarantee it).
func AppendSetCookie(dst []byte, name string, value []byte, maxAge time.Duration, httpOnly bool, a Attrs) []byte {
	dst = append(dst, name...)
	dst = append(dst, '=')
	dst = append(dst, value...)
	dst = append(dst, "; Max-Age="...)
	dst = strconv.AppendInt(dst, max(int64(maxAge/time.Second), 0), 10)
	if a.Domain != "" {
		dst = append(dst, "; Domain="...)
		dst = append(dst, a.Domain...)
	}
	dst = append(dst, "; Path=/"...)
	if !a.Insecure {
		dst = append(dst, "; Secure"...)
	}
	if httpOnly {
		dst = append(dst, "; HttpOnly"...)
	}
	return append(dst, "; SameSite=Lax"...)
}

// AppendDelete appends a Set-Cookie value that removes the cookie (same
// Domain and Path as when it was set).
func AppendDelete(dst []byte, name string, a Attrs) []byte {
	return AppendSetCookie(dst, name, nil, 0, false, a)
}

// AppendConsent appends the Set-Cookie value of jaraba_consent (readable by
// the loader: not HttpOnly) carrying a value from Sign.
func AppendConsent(dst, value []byte, a Attrs) []byte {
	return AppendSetCookie(dst, ConsentName, value, ConsentMaxAge, false, a)
}

// AppendVisitor appends the Set-Cookie value of jaraba_visitor_id
// (HttpOnly, 13 months). Set it only when analytics or marketing is granted.
func AppendVisitor(dst []byte, id ID, a Attrs) []byte {
	var b [36]byte
	return AppendSetCookie(dst, VisitorName, id.AppendTo(b[:0]), VisitorMaxAge, true, a)
}

// AppendFBPValue appends a freshly minted _fbp value:
// fb.1.<unix ms>.<random 31-bit int>.
func AppendFBPValue(dst []byte, now time.Time) []byte {
	var r [4]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	dst = append(dst, "fb.1."...)
	dst = strconv.AppendInt(dst, now.UnixMilli(), 10)
	dst = append(dst, '.')
	return strconv.AppendUint(dst, uint64(binary.BigEndian.Uint32(r[:])&0x7fffffff), 10)
}

// AppendFBP appends the Set-Cookie value of a newly minted _fbp (marketing
// consent only; mint it only when the request has none). Not HttpOnly:
// Meta's own pixel reads it when the tenant also runs it.
func AppendFBP(dst []byte, now time.Time, a Attrs) []byte {
	var b [48]byte
	return AppendSetCookie(dst, FBPName, AppendFBPValue(b[:0], now), MetaMaxAge, false, a)
}

// AppendFBCValue appends fb.1.<unix ms>.<fbclid>, the fbclid's case
// preserved.
func AppendFBCValue(dst []byte, now time.Time, fbclid []byte) ([]byte, error) {
	if !validClickID(fbclid) {
		return dst, ErrBadClickID
	}
	dst = append(dst, "fb.1."...)
	dst = strconv.AppendInt(dst, now.UnixMilli(), 10)
	dst = append(dst, '.')
	return append(dst, fbclid...), nil
}

// KeepFBC reports whether an existing _fbc cookie already carries fbclid
// (its last dot-separated segment equals it): then it is kept unchanged,
// otherwise a new one is written.
func KeepFBC(existing, fbclid []byte) bool {
	if len(fbclid) == 0 || len(existing) <= len(fbclid) {
		return false
	}
	cut := len(existing) - len(fbclid)
	return existing[cut-1] == '.' && string(existing[cut:]) == string(fbclid) && hasPrefix(existing, "fb.")
}

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

// AppendFBC appends the Set-Cookie value of _fbc built from a landing
// URL's fbclid (marketing consent only).
func AppendFBC(dst []byte, now time.Time, fbclid []byte, a Attrs) ([]byte, error) {
	var b [600]byte
	v, err := AppendFBCValue(b[:0], now, fbclid)
	if err != nil {
		return dst, err
	}
	return AppendSetCookie(dst, FBCName, v, MetaMaxAge, false, a), nil
}

// AppendClickID appends the Set-Cookie value keeping a click id (marketing
// consent only) with its platform's lifetime. Not HttpOnly, like the
// platforms' own first-party cookies.
func AppendClickID(dst []byte, c ClickID, value []byte, a Attrs) ([]byte, error) {
	if !validClickID(value) {
		return dst, ErrBadClickID
	}
	return AppendSetCookie(dst, c.Cookie, value, c.MaxAge, false, a), nil
}

func validClickID(v []byte) bool {
	if len(v) == 0 || len(v) > MaxClickIDLen {
		return false
	}
	for _, c := range v {
		if !(safeByte(c) || c == '~' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}
