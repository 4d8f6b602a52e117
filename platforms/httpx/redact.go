package httpx

import (
	"errors"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// RedactURL returns u without userinfo, query string and fragment, the
// places where platform credentials travel (GA4 `api_secret`, Meta
// `access_token`). A string that does not parse as a URL is cut at its first
// '?' or '#' and loses anything before an '@' in its authority.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return scrub(cutQuery(u))
	}
	p.User = nil
	p.RawQuery, p.ForceQuery = "", false
	p.Fragment, p.RawFragment = "", ""
	return p.String()
}

func cutQuery(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	rest, scheme := u, ""
	if i := strings.Index(u, "://"); i >= 0 {
		scheme, rest = u[:i+3], u[i+3:]
	}
	auth := rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		auth = rest[:i]
	}
	if i := strings.LastIndexByte(auth, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	return scheme + rest
}

// RedactError returns err with every URL in it stripped as RedactURL does,
// and the value of any credential-looking `name=value` pair replaced. A
// *url.Error comes back as a *url.Error carrying the redacted URL (its
// Unwrap, Timeout and Temporary still work). Any other error whose message
// had to change comes back as an error that still answers errors.Is for
// everything in the original chain (context.DeadlineExceeded,
// ErrBlockedAddress, ...) and net.Error's Timeout, but from which errors.As
// cannot dig the unredacted *url.Error out. Errors with nothing to hide are
// returned as they are.
func RedactError(err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue == err {
		return &url.Error{Op: ue.Op, URL: RedactURL(ue.URL), Err: RedactError(ue.Err)}
	}
	msg := err.Error()
	red := scrub(msg)
	if red == msg && ue == nil {
		return err
	}
	if ue != nil {
		if full, short := ue.URL, RedactURL(ue.URL); full != "" {
			red = strings.ReplaceAll(red, scrub(full), short)
		}
	}
	return &redactedError{msg: red, cause: err}
}

var (
	// urlInText matches absolute http(s) URLs in free text: scheme,
	// optional userinfo, host and path, optional query and fragment.
	urlInText = regexp.MustCompile(`(https?://)(?:[^/\s"'<>@?#]*@)?([^\s"'<>?#]*)(?:\?[^\s"'<>#]*)?(?:#[^\s"'<>]*)?`)
	// secretParam matches credential-looking parameters outside a URL
	// (a form body, a query string quoted alone).
	secretParam = regexp.MustCompile(`(?i)(access_token|api_secret|appsecret_proof|client_secret|oauth_signature|oauth_token|pixel_token|token|secret|password)=(?:"[^"]*"|[^&\s"'<>,;]+)`)
)

// scrub strips userinfo, query and fragment from the URLs in s and redacts
// credential-looking parameters.
func scrub(s string) string {
	s = urlInText.ReplaceAllString(s, "$1$2")
	return secretParam.ReplaceAllString(s, "$1=REDACTED")
}

// redactedError is an error whose message was redacted; it keeps errors.Is
// and Timeout from its cause but hides the cause from errors.As.
type redactedError struct {
	msg   string
	cause error
}

func (e *redactedError) Error() string { return e.msg }

// Is reports whether target is in the original chain.
func (e *redactedError) Is(target error) bool { return errors.Is(e.cause, target) }

// Timeout reports whether the original error was a timeout.
func (e *redactedError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.cause, &t) && t.Timeout()
}

// Temporary completes net.Error (deprecated upstream; kept for errors.As).
func (e *redactedError) Temporary() bool {
	var t interface{ Temporary() bool }
	return errors.As(e.cause, &t) && t.Temporary()
}

// Interface guards
var _ net.Error = (*redactedError)(nil)
