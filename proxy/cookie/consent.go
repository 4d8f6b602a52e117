// Package cookie implements the edge's cookies: the signed consent cookie
// jaraba_consent, the visitor id, Meta's _fbp/_fbc and the click-id cookies,
// and the Set-Cookie header values that carry them.
//
// The consent cookie is readable by the loader (not HttpOnly) and looks like
//
//	1.<kid>.<flags>.<policy>.<unix>.<subject>.<sig>
//
// version 1; kid, the tenant cookie key that signed it; flags, one digit
// (bit 0 analytics, bit 1 marketing, bit 2 functional); policy, the policy
// version ([A-Za-z0-9._-]{1,64}: it may contain dots, so it is the field
// parsed from both ends); unix, the decision time in seconds; subject, the
// visitor id (a lowercase UUID) when analytics or marketing is granted,
// otherwise a random decision id; sig, base64url (no padding) of
// HMAC-SHA256 under the key over "jaraba_consent\n" and everything before
// the last dot. Every byte is in [A-Za-z0-9._-]: cookie-safe, no quoting.
// A cookie is at most MaxLen bytes.
//
// The subject binds the cookie to one browser: when a jaraba_visitor_id
// cookie is present, it must equal the subject (CheckSubject).
package cookie

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"

	"github.com/jaraba/pixelgw/proxy/tenant"
)

// Cookie names.
const (
	ConsentName = "jaraba_consent"
	VisitorName = "jaraba_visitor_id"
)

// Limits of the consent cookie.
const (
	// MaxLen bounds a consent cookie value.
	MaxLen = 200
	// MaxPolicyLen bounds the policy version.
	MaxPolicyLen = 64
	// MaxKeyIDLen bounds the key id.
	MaxKeyIDLen = 16
	// MaxSkew is how far in the future a decision time may be.
	MaxSkew = 5 * time.Minute
)

const (
	formatVersion = '1'
	sigLen        = 43 // base64url of 32 bytes, no padding
	macDomain     = ConsentName + "\n"
)

// Errors Parse and Sign return (unwrapped, so matching never allocates).
var (
	ErrTooLong         = errors.New("consent cookie: too long")
	ErrMalformed       = errors.New("consent cookie: malformed")
	ErrVersion         = errors.New("consent cookie: unknown format version")
	ErrUnknownKey      = errors.New("consent cookie: unknown key id")
	ErrSignature       = errors.New("consent cookie: bad signature")
	ErrFuture          = errors.New("consent cookie: decision time in the future")
	ErrExpired         = errors.New("consent cookie: too old")
	ErrSubject         = errors.New("consent cookie: bad subject")
	ErrSubjectMismatch = errors.New("consent cookie: subject is not this visitor")
	ErrBadPolicy       = errors.New("consent cookie: policy version must be 1-64 of [A-Za-z0-9._-]")
	ErrBadKey          = errors.New("consent cookie: key id must be 1-16 of [A-Za-z0-9_-] and the secret non-empty")
)

// Consent is one decision as the cookie carries it.
type Consent struct {
	Analytics, Marketing, Functional bool
	// Policy is the policy version the visitor decided on. After Parse it
	// aliases the parsed value: copy it to keep it.
	Policy []byte
	// Time is the decision time, unix seconds.
	Time int64
	// Subject is the visitor id (analytics or marketing granted) or a
	// random decision id.
	Subject ID
}

// Tracking reports whether the decision grants analytics or marketing, the
// case where the subject is the visitor id.
func (c Consent) Tracking() bool { return c.Analytics || c.Marketing }

func (c Consent) flags() byte {
	var f byte
	if c.Analytics {
		f |= 1
	}
	if c.Marketing {
		f |= 2
	}
	if c.Functional {
		f |= 4
	}
	return '0' + f
}

// Sign returns the cookie value for c under k.
func Sign(k tenant.Key, c Consent) ([]byte, error) {
	return AppendSign(make([]byte, 0, MaxLen), k, c)
}

// AppendSign appends the cookie value for c under k to dst.
func AppendSign(dst []byte, k tenant.Key, c Consent) ([]byte, error) {
	if !validKID(k.ID) || len(k.Secret) == 0 {
		return dst, ErrBadKey
	}
	if !validPolicy(c.Policy) {
		return dst, ErrBadPolicy
	}
	if c.Time < 0 {
		return dst, ErrMalformed
	}
	start := len(dst)
	dst = append(dst, formatVersion, '.')
	dst = append(dst, k.ID...)
	dst = append(dst, '.', c.flags(), '.')
	dst = append(dst, c.Policy...)
	dst = append(dst, '.')
	dst = appendUint(dst, uint64(c.Time))
	dst = append(dst, '.')
	dst = c.Subject.AppendTo(dst)
	var sum [32]byte
	mac(&sum, k.Secret, dst[start:])
	dst = append(dst, '.')
	var enc [sigLen]byte
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	dst = append(dst, enc[:]...)
	if len(dst)-start > MaxLen {
		return dst[:start], ErrTooLong
	}
	return dst, nil
}

// Parse verifies a consent cookie value against keys (key id → secret, the
// tenant's VerifyKeys) and returns the decision. It rejects oversized or
// malformed values, unknown key ids, bad signatures (compared in constant
// time), decision times more than MaxSkew in the future and, when maxAge >
// 0, older than maxAge. It does not allocate; the returned Policy aliases
// value.
func Parse(value []byte, keys map[string][]byte, now time.Time, maxAge time.Duration) (Consent, error) {
	if len(value) > MaxLen {
		return Consent{}, ErrTooLong
	}
	for _, c := range value {
		if !safeByte(c) {
			return Consent{}, ErrMalformed
		}
	}
	// Three fields from the left, three from the right; the policy is what
	// remains in the middle.
	var left [3]int
	pos := 0
	for i := 0; i < 3; i++ {
		j := indexDot(value, pos)
		if j < 0 {
			return Consent{}, ErrMalformed
		}
		left[i] = j
		pos = j + 1
	}
	var right [3]int
	end := len(value)
	for i := 0; i < 3; i++ {
		j := lastIndexDot(value, end)
		if j < 0 {
			return Consent{}, ErrMalformed
		}
		right[i] = j
		end = j
	}
	// right[2] is the dot before unix; it must come after left[2].
	if right[2] <= left[2] {
		return Consent{}, ErrMalformed
	}
	version := value[:left[0]]
	kid := value[left[0]+1 : left[1]]
	flags := value[left[1]+1 : left[2]]
	policy := value[left[2]+1 : right[2]]
	unix := value[right[2]+1 : right[1]]
	subject := value[right[1]+1 : right[0]]
	sig := value[right[0]+1:]

	if len(version) != 1 || version[0] != formatVersion {
		return Consent{}, ErrVersion
	}
	if len(kid) == 0 || len(kid) > MaxKeyIDLen {
		return Consent{}, ErrMalformed
	}
	if len(flags) != 1 || flags[0] < '0' || flags[0] > '7' {
		return Consent{}, ErrMalformed
	}
	if !validPolicy(policy) {
		return Consent{}, ErrMalformed
	}
	t, ok := parseUint(unix)
	if !ok {
		return Consent{}, ErrMalformed
	}
	if len(sig) != sigLen {
		return Consent{}, ErrMalformed
	}
	secret, ok := keys[string(kid)]
	if !ok || len(secret) == 0 {
		return Consent{}, ErrUnknownKey
	}
	var sum [32]byte
	mac(&sum, secret, value[:right[0]])
	var enc [sigLen]byte
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	if !hmac.Equal(enc[:], sig) {
		return Consent{}, ErrSignature
	}
	id, ok := ParseID(subject)
	if !ok {
		return Consent{}, ErrSubject
	}
	n := now.Unix()
	if int64(t) > n+int64(MaxSkew/time.Second) {
		return Consent{}, ErrFuture
	}
	if maxAge > 0 && n-int64(t) > int64(maxAge/time.Second) {
		return Consent{}, ErrExpired
	}
	f := flags[0] - '0'
	return Consent{
		Analytics:  f&1 != 0,
		Marketing:  f&2 != 0,
		Functional: f&4 != 0,
		Policy:     policy,
		Time:       int64(t),
		Subject:    id,
	}, nil
}

// CheckSubject binds a parsed consent to the browser: when the request
// carries a jaraba_visitor_id cookie, it must be a valid id equal to the
// consent's subject. An absent visitor cookie passes.
func CheckSubject(c Consent, visitorCookie []byte) error {
	if len(visitorCookie) == 0 {
		return nil
	}
	id, ok := ParseID(visitorCookie)
	if !ok || !hmac.Equal(id[:], c.Subject[:]) {
		return ErrSubjectMismatch
	}
	return nil
}

// mac computes HMAC-SHA256(secret, macDomain || msg) into out without
// allocating (msg is at most MaxLen bytes).
func mac(out *[32]byte, secret, msg []byte) {
	var k [64]byte
	if len(secret) > len(k) {
		s := sha256.Sum256(secret)
		copy(k[:], s[:])
	} else {
		copy(k[:], secret)
	}
	var in [64 + len(macDomain) + MaxLen]byte
	for i := range k {
		in[i] = k[i] ^ 0x36
	}
	n := 64 + copy(in[64:], macDomain)
	n += copy(in[n:], msg)
	inner := sha256.Sum256(in[:n])
	var o [64 + 32]byte
	for i := range k {
		o[i] = k[i] ^ 0x5c
	}
	copy(o[64:], inner[:])
	*out = sha256.Sum256(o[:])
}

func safeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

func validKID(s string) bool {
	if len(s) == 0 || len(s) > MaxKeyIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !safeByte(c) || c == '.' {
			return false
		}
	}
	return true
}

func validPolicy(p []byte) bool {
	if len(p) == 0 || len(p) > MaxPolicyLen {
		return false
	}
	for _, c := range p {
		if !safeByte(c) {
			return false
		}
	}
	return true
}

func indexDot(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		if b[i] == '.' {
			return i
		}
	}
	return -1
}

func lastIndexDot(b []byte, end int) int {
	for i := end - 1; i >= 0; i-- {
		if b[i] == '.' {
			return i
		}
	}
	return -1
}

// parseUint parses 1-12 decimal digits without a leading zero (or "0").
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 12 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

func appendUint(dst []byte, n uint64) []byte {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}
