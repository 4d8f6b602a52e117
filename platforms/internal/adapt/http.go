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
// Both are capped at 24 hours.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	d, date := retryAfter(h, now)
	if date {
		return min(d, 24*time.Hour)
	}
	return d
}

// RetryAfterRounded is RetryAfter as the Meta and GA4 adapters read it: an
// HTTP date is rounded to the second and not capped.
func RetryAfterRounded(h http.Header, now time.Time) time.Duration {
	d, date := retryAfter(h, now)
	if date {
		return d.Round(time.Second)
	}
	return d
}

// retryAfter reads delta-seconds (capped at a day) or, date true, the time
// until an HTTP date; 0 when absent, unreadable or past.
func retryAfter(h http.Header, now time.Time) (d time.Duration, date bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0, false
		}
		return time.Duration(min(s, 24*3600)) * time.Second, false
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now), true
	}
	return 0, false
}

func Retryable(err error, after time.Duration) error {
	return &platforms.RetryableError{Err: err, RetryAfter: after}
}

func Permanent(err error) error { return &platforms.PermanentError{Err: err} }

func AuthError(err error) error { return &platforms.PermanentError{Err: err, Auth: true} }

// EventTime is the event time the Meta and GA4 adapters send and check:
// the page's clock, but never later than when the gateway received the
// event (a fast browser clock).
func EventTime(e *platforms.Event) time.Time {
	if !e.Received.IsZero() && e.Time.After(e.Received) {
		return e.Received
	}
	return e.Time
}
