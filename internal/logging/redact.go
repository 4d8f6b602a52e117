package logging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Handler wraps another slog.Handler and redacts before it formats:
//   - attributes whose key looks secret (token, secret, password, passwd,
//     authorization, api_key, apikey, access_token, dsn, cookie, credential,
//     or a key ending in "key") become "[redacted]", whatever their value,
//     also inside groups;
//   - every string, error, fmt.Stringer and *url.URL value, and the message,
//     has URL credentials, query strings and fragments, key=value secrets and
//     bearer tokens stripped (see Sanitize); *url.Error URLs included;
//   - records logged with the *Context methods get request_id from the
//     context (WithRequestID), at the top level even under WithGroup.
//
// Values of other types (maps, structs) are passed through as they are: do
// not log them when they may hold secrets.
type Handler struct {
	inner slog.Handler
	// goas are the WithGroup/WithAttrs calls in order, applied at Handle
	// time so that request_id stays at the top level.
	goas []groupOrAttrs
}

type groupOrAttrs struct {
	group string      // WithGroup name, or ""
	attrs []slog.Attr // WithAttrs attributes, already redacted
}

// NewHandler wraps inner with redaction and request ids.
func NewHandler(inner slog.Handler) *Handler {
	return &Handler{inner: inner}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = redactAttr(a)
	}
	return h.with(groupOrAttrs{attrs: red})
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(groupOrAttrs{group: name})
}

func (h *Handler) with(g groupOrAttrs) *Handler {
	return &Handler{inner: h.inner, goas: append(slices.Clip(h.goas), g)}
}

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	attrs := make([]slog.Attr, 0, r.NumAttrs()+1)
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, redactAttr(a))
		return true
	})
	for i := len(h.goas) - 1; i >= 0; i-- {
		g := h.goas[i]
		if g.group == "" {
			attrs = append(slices.Clip(g.attrs), attrs...)
			continue
		}
		if len(attrs) > 0 {
			attrs = []slog.Attr{{Key: g.group, Value: slog.GroupValue(attrs...)}}
		}
	}
	if id := RequestID(ctx); id != "" {
		attrs = append([]slog.Attr{slog.String(RequestIDKey, Sanitize(id))}, attrs...)
	}
	nr := slog.NewRecord(r.Time, r.Level, Sanitize(r.Message), r.PC)
	nr.AddAttrs(attrs...)
	return h.inner.Handle(ctx, nr)
}

func redactAttr(a slog.Attr) slog.Attr {
	if IsSecretKey(a.Key) {
		return slog.String(a.Key, RedactedValue)
	}
	a.Value = redactValue(a.Value.Resolve())
	return a
}

func redactValue(v slog.Value) slog.Value {
	switch v.Kind() {
	case slog.KindString:
		return slog.StringValue(Sanitize(v.String()))
	case slog.KindGroup:
		in := v.Group()
		out := make([]slog.Attr, len(in))
		for i, a := range in {
			out[i] = redactAttr(a)
		}
		return slog.GroupValue(out...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case nil:
			return v
		case error:
			return slog.StringValue(safeString(func() string { return SanitizeError(x) }))
		case *url.URL:
			if x == nil {
				return v
			}
			return slog.StringValue(SanitizeURL(x.String()))
		case url.URL:
			return slog.StringValue(SanitizeURL(x.String()))
		case fmt.Stringer:
			return slog.StringValue(Sanitize(fmt.Sprint(x)))
		}
	}
	return v
}

// safeString turns a panic (a typed nil error, say) into a placeholder, as
// fmt does, instead of crashing the logging goroutine.
func safeString(f func() string) (s string) {
	defer func() {
		if p := recover(); p != nil {
			s = fmt.Sprintf("!PANIC(%v)", p)
		}
	}()
	return f()
}

// secretSubstrings mark a key as secret wherever they appear in it.
var secretSubstrings = []string{
	"token", "secret", "password", "passwd", "authorization", "api_key",
	"apikey", "access_token", "dsn", "cookie", "credential", "private",
}

// secretWords mark a key as secret when they are its last word
// ("key", "master_key", "signingKey"; not "key_id").
var secretWords = []string{"key", "keys", "pwd", "auth"}

// IsSecretKey reports whether an attribute key looks like it names a secret.
func IsSecretKey(key string) bool {
	lower := strings.ToLower(key)
	for _, s := range secretSubstrings {
		if strings.Contains(lower, s) {
			return true
		}
	}
	words := splitWords(key)
	return len(words) > 0 && slices.Contains(secretWords, words[len(words)-1])
}

// splitWords splits on non-alphanumerics and lower-to-upper case changes,
// returning lower-case words.
func splitWords(s string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	prevLower := false
	for _, r := range s {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
			prevLower = false
			continue
		case unicode.IsUpper(r) && prevLower:
			flush()
		}
		cur = append(cur, r)
		prevLower = unicode.IsLower(r) || unicode.IsDigit(r)
	}
	flush()
	return words
}

var (
	schemeRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)
	// urlRe finds absolute URLs in free text.
	urlRe = regexp.MustCompile("(?i)\\b[a-z][a-z0-9+.-]*://[^\\s\"'<>`]+")
	// kvSecretRe finds key=value secrets (DSN key/value form, form bodies).
	kvSecretRe = regexp.MustCompile(`(?i)\b(password|passwd|pwd|secret|client_secret|token|access_token|refresh_token|api_key|apikey|sslpassword|sig|signature)=("[^"]*"|'[^']*'|[^\s&,;"']+)`)
	// jsonSecretRe finds "key":"value" secrets in logged JSON bodies.
	jsonSecretRe = regexp.MustCompile(`(?i)"(password|passwd|secret|client_secret|token|access_token|refresh_token|api_key|apikey|authorization)"\s*:\s*"(?:[^"\\]|\\.)*"`)
	// bearerRe finds bearer credentials (Authorization header values).
	bearerRe = regexp.MustCompile(`(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+`)
)

// Sanitize strips credentials from free text: URL user info is removed, URL
// query strings and fragments become "?[redacted]", key=value and JSON
// secrets become "[redacted]", and bearer tokens are replaced.
//
//	Post "https://user:pw@host/p?access_token=x": EOF
//	→ Post "https://host/p?[redacted]": EOF
func Sanitize(s string) string {
	if strings.Contains(s, "://") {
		s = urlRe.ReplaceAllStringFunc(s, SanitizeURL)
	}
	if strings.Contains(s, "=") {
		s = kvSecretRe.ReplaceAllString(s, "$1="+RedactedValue)
	}
	if strings.Contains(s, `"`) {
		s = jsonSecretRe.ReplaceAllString(s, `"$1":"`+RedactedValue+`"`)
	}
	if len(s) >= 6 {
		s = bearerRe.ReplaceAllString(s, "Bearer "+RedactedValue)
	}
	return s
}

// SanitizeURL removes user info and replaces the query string and fragment
// of one URL (absolute or not) with "?[redacted]". It works on malformed
// URLs too and never returns the removed parts.
func SanitizeURL(raw string) string {
	scheme, rest := "", raw
	if i := strings.Index(raw, "://"); i > 0 && schemeRe.MatchString(raw[:i]) {
		scheme, rest = raw[:i+3], raw[i+3:]
	}
	query := ""
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest, query = rest[:i], "?"+RedactedValue
	}
	// User info ends at the last '@' of the authority. A password holding
	// '/' makes the authority look short ("user:p/w@host"), so when the
	// authority has a non-numeric port, strip up to the last '@' anyway.
	authEnd := strings.IndexByte(rest, '/')
	if authEnd < 0 {
		authEnd = len(rest)
	}
	if at := strings.LastIndexByte(rest[:authEnd], '@'); at >= 0 {
		rest = rest[at+1:]
	} else if at := strings.LastIndexByte(rest, '@'); at >= 0 && !hasNumericPort(rest[:authEnd]) && strings.Contains(rest[:authEnd], ":") {
		rest = rest[at+1:]
	}
	return scheme + rest + query
}

func hasNumericPort(authority string) bool {
	i := strings.LastIndexByte(authority, ':')
	if i < 0 || i == len(authority)-1 {
		return false
	}
	for _, r := range authority[i+1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// SanitizeError returns err's message with Sanitize applied; a *url.Error
// anywhere in the chain has its URL sanitized even without a scheme.
func SanitizeError(err error) string {
	msg := err.Error()
	if ue, ok := errors.AsType[*url.Error](err); ok && ue.URL != "" {
		msg = strings.ReplaceAll(msg, ue.URL, SanitizeURL(ue.URL))
		if q := fmt.Sprintf("%q", ue.URL); q != `"`+ue.URL+`"` {
			msg = strings.ReplaceAll(msg, q, fmt.Sprintf("%q", SanitizeURL(ue.URL)))
		}
	}
	return Sanitize(msg)
}

// Interface guards
var _ slog.Handler = (*Handler)(nil)
