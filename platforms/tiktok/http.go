package tiktok

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jaraba/pixelgw/platforms"
)

const (
	// maxReadBytes caps how much of an answer is read (a 5,000-element
	// batch answer is about 80 KB); an endless body stops here.
	maxReadBytes = 1 << 20
	// maxKeptBytes caps the body kept in platforms.Response for the audit.
	maxKeptBytes = 8 << 10
	// maxMessage caps a platform message quoted in an error.
	maxMessage = 300
)

// noRedirects copies the injected client so that it never follows a
// redirect, whatever the caller configured: a redirect is classified, not
// followed (SSRF).
func noRedirects(c *http.Client) *http.Client {
	if c == nil {
		c = &http.Client{}
	}
	cp := *c
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// readBody reads at most maxReadBytes of the answer.
func readBody(r io.Reader) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, maxReadBytes))
}

// redactor removes a pixel's secrets from text kept or quoted.
type redactor []string

func newRedactor(creds map[string]string) redactor {
	var r redactor
	for _, v := range creds {
		if len(v) >= 4 {
			r = append(r, v)
		}
	}
	return r
}

func (r redactor) bytes(b []byte) []byte {
	for _, s := range r {
		if bytes.Contains(b, []byte(s)) {
			b = bytes.ReplaceAll(b, []byte(s), []byte("[redacted]"))
		}
	}
	return b
}

func (r redactor) string(s string) string {
	for _, v := range r {
		s = strings.ReplaceAll(s, v, "[redacted]")
	}
	return s
}

// keep returns the body as stored in platforms.Response: capped, redacted.
func (r redactor) keep(b []byte) []byte {
	b = r.bytes(bytes.Clone(b))
	if len(b) > maxKeptBytes {
		b = b[:maxKeptBytes]
	}
	return b
}

// quote shortens a platform message for an error string.
func (r redactor) quote(s string) string {
	s = r.string(strings.TrimSpace(s))
	if len(s) > maxMessage {
		s = s[:maxMessage] + "…"
	}
	return strconv.Quote(s)
}

// retryAfter parses Retry-After (seconds or an HTTP date); 0 when absent.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(min(s, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}

func retryable(err error, after time.Duration) error {
	return &platforms.RetryableError{Err: err, RetryAfter: after}
}

func permanent(err error) error { return &platforms.PermanentError{Err: err} }

func authError(err error) error { return &platforms.PermanentError{Err: err, Auth: true} }
