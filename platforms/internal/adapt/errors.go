package adapt

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"
)

// StripURL drops the URL from a *url.Error (a query string may carry a
// credential), keeping the operation and the cause.
func StripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// RedactErr replaces any secret in err's text, keeping the chain for
// errors.Is (context.Canceled, DeadlineExceeded).
func RedactErr(err error, secrets []string) error {
	msg := err.Error()
	clean := string(Redact([]byte(msg), secrets))
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return errors.Unwrap(e.err) }

// Redact replaces every secret (at least 4 bytes long) in b.
func Redact(b []byte, secrets []string) []byte {
	for _, s := range secrets {
		if len(s) >= 4 && bytes.Contains(b, []byte(s)) {
			b = bytes.ReplaceAll(b, []byte(s), []byte("[REDACTED]"))
		}
	}
	return b
}

// ValidateBaseURL checks an operator-configured platform base URL: http(s),
// a host, no credentials, query or fragment. Errors never echo the value.
func ValidateBaseURL(s string) error {
	if s == "" {
		return fmt.Errorf("required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a valid URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("scheme must be http or https")
	case u.Host == "":
		return fmt.Errorf("host required")
	case u.User != nil:
		return fmt.Errorf("must not carry credentials")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return fmt.Errorf("must not have a query or fragment")
	}
	return nil
}

// MaxAttempts is the largest per-platform attempts setting.
const MaxAttempts = 100

// ValidateAttempts checks a platform's attempts override: 0 (use
// platforms.dispatch.attempts) or 1..MaxAttempts.
func ValidateAttempts(n int) error {
	if n < 0 || n > MaxAttempts {
		return fmt.Errorf("must be 0 (platforms.dispatch.attempts) or between 1 and %d", MaxAttempts)
	}
	return nil
}

// Settings are the operator settings the LinkedIn, TikTok and X configs
// share; each platform brings its own version rule.
type Settings struct {
	// Key is the config path ("platforms.tiktok") that starts each error.
	Key      string
	BaseURL  string
	Version  string
	Timeout  time.Duration
	Attempts int
	// VersionRe is the platform's version format; VersionRule the error
	// when Version does not match ("must be ... like v1.3").
	VersionRe   *regexp.Regexp
	VersionRule string
}

// Validate returns one precise error for the first bad field, in the order
// base_url, version, timeout, attempts.
func (s Settings) Validate() error {
	if err := ValidateBaseURL(s.BaseURL); err != nil {
		return fmt.Errorf("%s.base_url: %w", s.Key, err)
	}
	if !s.VersionRe.MatchString(s.Version) {
		return fmt.Errorf("%s.version: %s", s.Key, s.VersionRule)
	}
	if s.Timeout <= 0 || s.Timeout > 5*time.Minute {
		return fmt.Errorf("%s.timeout: must be > 0 and at most 5m", s.Key)
	}
	if err := ValidateAttempts(s.Attempts); err != nil {
		return fmt.Errorf("%s.attempts: %w", s.Key, err)
	}
	return nil
}
