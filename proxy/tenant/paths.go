package tenant

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
)

// Path kinds, as stored in store.PreviousPath.Kind.
const (
	KindLoader  = "loader"
	KindCollect = "collect"
	KindConsent = "consent"
)

// MaxPathLen bounds an edge path.
const MaxPathLen = 128

// ErrBadPath: an edge path is malformed or carries a vendor fingerprint.
var ErrBadPath = errors.New("bad edge path")

// fingerprints are substrings that ad-blocker filter lists (EasyList,
// EasyPrivacy) match in first-party URLs: vendor file and endpoint names.
// Edge paths are lowercase, so the match is on lowercase text.
var fingerprints = [...]string{
	"gtag", "gtm", "fbevents", "fbq", "collect", "pixel", "track", "analytics",
	"beacon", "matomo", "piwik", "posthog", "/api/events", "/g/", "ga.js",
}

// fingerprintSegments are whole path segments (before their first '.')
// that the lists block as beacon endpoints (/tr?, /tr/, /hit, /event?...).
var fingerprintSegments = [...]string{
	"tr", "g", "hit", "hits", "event", "events", "ads", "ad", "ga", "stats", "log",
}

// reservedPaths are answered by the edge itself for any Host.
var reservedPaths = [...]string{"/healthz", "/readyz"}

// CheckPath reports why p cannot be an edge path, or nil: it must start with
// '/', use only [a-z0-9/._-], have no empty, "." or ".." segment, be at most
// MaxPathLen bytes, and carry no vendor fingerprint (gtag, gtm, fbevents,
// collect, pixel, track, analytics, beacon, /tr, /g/, /api/events, ...).
// The returned error wraps ErrBadPath and says what is wrong.
func CheckPath(p string) error {
	if len(p) < 2 || p[0] != '/' {
		return invalid(ErrBadPath, "must start with / and name something")
	}
	if len(p) > MaxPathLen {
		return invalid(ErrBadPath, "%d bytes, at most %d", len(p), MaxPathLen)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '/' || c == '.' || c == '_' || c == '-') {
			return invalid(ErrBadPath, "only lowercase [a-z0-9/._-] allowed")
		}
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return invalid(ErrBadPath, "empty, \".\" or \"..\" segment")
		}
		base, _, _ := strings.Cut(seg, ".")
		for _, f := range fingerprintSegments {
			if base == f {
				return invalid(ErrBadPath, "segment %q looks like a tracker endpoint to ad blockers", seg)
			}
		}
	}
	for _, f := range fingerprints {
		if strings.Contains(p, f) {
			return invalid(ErrBadPath, "contains %q, a vendor fingerprint ad blockers match", strings.Trim(f, "/"))
		}
	}
	for _, r := range reservedPaths {
		if p == r || strings.HasPrefix(p, r+"/") {
			return invalid(ErrBadPath, "%s is reserved for health checks", r)
		}
	}
	return nil
}

// CheckPrefix reports why p cannot be a same-origin prefix: "/" followed by
// 1-32 of [a-z0-9-].
func CheckPrefix(p string) error {
	if len(p) < 2 || len(p) > 33 || p[0] != '/' {
		return invalid(ErrBadPath, "must be / followed by 1-32 of [a-z0-9-]")
	}
	for i := 1; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return invalid(ErrBadPath, "must be / followed by 1-32 of [a-z0-9-]")
		}
	}
	if err := CheckPath(p); err != nil {
		return err
	}
	return nil
}

const base36 = "abcdefghijklmnopqrstuvwxyz0123456789"

// pathFrom shapes random bytes into an edge path of the kind: "/" + 10 of
// [a-z0-9] (the first a letter), plus ".js" for the loader.
func pathFrom(kind string, b []byte) string {
	var sb strings.Builder
	sb.Grow(16)
	sb.WriteByte('/')
	sb.WriteByte(base36[int(b[0])%26])
	n := 10
	if kind == KindLoader {
		n = 8
	}
	for i := 1; i < n; i++ {
		sb.WriteByte(base36[int(b[i])%36])
	}
	if kind == KindLoader {
		sb.WriteString(".js")
	}
	return sb.String()
}

// defaultPathKey separates default-path derivation from every other use of
// HMAC in pixelgw. It is not a secret: default paths only need to look
// random and differ per tenant, not to be unguessable.
const defaultPathKey = "pixelgw/edge-default-path/v1"

// DefaultPath is the deterministic, random-looking path a tenant without a
// configured one is served on: derived from the tenant id with HMAC-SHA256,
// so every instance agrees without storing it. The loader path ends in ".js".
func DefaultPath(tenantID, kind string) string {
	for ctr := byte(0); ; ctr++ {
		m := hmac.New(sha256.New, []byte(defaultPathKey))
		m.Write([]byte(kind))
		m.Write([]byte{0, ctr})
		m.Write([]byte(tenantID))
		if p := pathFrom(kind, m.Sum(nil)); CheckPath(p) == nil {
			return p
		}
	}
}

// GeneratePath returns a fresh random path of the kind (crypto/rand), for
// rotations: "/" + 10 of [a-z0-9], or 8 plus ".js" for the loader. It never
// carries a vendor fingerprint.
func GeneratePath(kind string) string {
	var b [16]byte
	for {
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
		if p := pathFrom(kind, b[:]); CheckPath(p) == nil {
			return p
		}
	}
}
