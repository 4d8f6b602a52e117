package adapt

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
	// MaxReadBytes caps how much of an answer is read (a 5,000-element
	// batch answer is about 80 KB); an endless body stops here.
	MaxReadBytes = 1 << 20
	// MaxKeptBytes caps the body kept in platforms.Response for the audit.
	MaxKeptBytes = 8 << 10
	// MaxMessage caps a platform message quoted in an error.
	MaxMessage = 300
)

// NoRedirects copies the injected client so that it never follows a
// redirect, whatever the caller configured: a redirect is classified, not
// followed (SSRF).
func NoRedirects(c *http.Client) *http.Client {
	if c == nil {
		c = &http.Client{}
	}
	cp := *c
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// ReadBody reads at most MaxReadBytes of the answer.
func ReadBody(r io.Reader) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, MaxReadBytes))
}

// Redactor removes a pixel's secrets from text kept or quoted.
type Redactor []string

func NewRedactor(creds map[string]string) Redactor {
	var r Redactor
	for _, v := range creds {
		if len(v) >= 4 {
			r = append(r, v)
		}
	}
	return r
}

func (r Redactor) Bytes(b []byte) []byte {
	for _, s := range r {
		if bytes.Contains(b, []byte(s)) {
			b = bytes.ReplaceAll(b, []byte(s), []byte("[redacted]"))
		}
	}
	return b
}

func (r Redactor) String(s string) string {
	for _, v := range r {
		s = strings.ReplaceAll(s, v, "[redacted]")
	}
	return s
}

// Keep returns the body as stored in platforms.Response: capped, redacted.
func (r Redactor) Keep(b []byte) []byte {
	b = r.Bytes(bytes.Clone(b))
	if len(b) > MaxKeptBytes {
		b = b[:MaxKeptBytes]
	}
	return b
}

// Quote shortens a platform message for an error string.
func (r Redactor) Quote(s string) string {
	s = r.String(strings.TrimSpace(s))
	if len(s) > MaxMessage {
		s = s[:MaxMessage] + "…"
	}
	return strconv.Quote(s)
}

// RetryAfter parses Retry-After (seconds or an HTTP date); 0 when absent.
func RetryAfter(h http.Header, now time.Time) time.Duration {
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

func Retryable(err error, after time.Duration) error {
	return &platforms.RetryableError{Err: err, RetryAfter: after}
}

func Permanent(err error) error { return &platforms.PermanentError{Err: err} }

func AuthError(err error) error { return &platforms.PermanentError{Err: err, Auth: true} }
