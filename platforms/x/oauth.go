package x

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // OAuth 1.0a HMAC-SHA1 is what X requires
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// OAuth1 holds the four OAuth 1.0a user-context credentials.
type OAuth1 struct {
	ConsumerKey, ConsumerSecret, Token, TokenSecret string
}

// Header returns the Authorization header value for a request signed with
// HMAC-SHA1 (RFC 5849 §3.4): the base string covers the method, the base
// URL, the URL's query and extra (form-encoded body parameters; a JSON body
// is not signed) and the oauth_* parameters.
func (o OAuth1) Header(method, rawURL string, extra url.Values, nonce string, timestamp int64) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("cannot parse the request URL: %w", err)
	}
	oauth := [][2]string{
		{"oauth_consumer_key", o.ConsumerKey},
		{"oauth_nonce", nonce},
		{"oauth_signature_method", "HMAC-SHA1"},
		{"oauth_timestamp", strconv.FormatInt(timestamp, 10)},
		{"oauth_token", o.Token},
		{"oauth_version", "1.0"},
	}
	params := url.Values{}
	for k, vs := range u.Query() {
		params[k] = append(params[k], vs...)
	}
	for k, vs := range extra {
		params[k] = append(params[k], vs...)
	}
	for _, kv := range oauth {
		params.Add(kv[0], kv[1])
	}
	sig := Signature(BaseString(method, BaseURL(u), params), o.ConsumerSecret, o.TokenSecret)
	var b strings.Builder
	b.WriteString("OAuth ")
	for _, kv := range append(oauth, [2]string{"oauth_signature", sig}) {
		if b.Len() > len("OAuth ") {
			b.WriteString(", ")
		}
		b.WriteString(PercentEncode(kv[0]))
		b.WriteString(`="`)
		b.WriteString(PercentEncode(kv[1]))
		b.WriteString(`"`)
	}
	return b.String(), nil
}

// BaseURL is the base string URI (RFC 5849 §3.4.1.2): lowercase scheme
// and host, the port only when not the scheme's default, the path, no
// query or fragment.
func BaseURL(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if p := u.Port(); p != "" && !(scheme == "http" && p == "80") && !(scheme == "https" && p == "443") {
		host += ":" + p
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}

// BaseString is the signature base string (RFC 5849 §3.4.1): method, base
// URL and the normalised parameters (each name and value percent-encoded,
// sorted by name then value, joined with & and =).
func BaseString(method, baseURL string, params url.Values) string {
	pairs := make([][2]string, 0, len(params))
	for k, vs := range params {
		for _, v := range vs {
			pairs = append(pairs, [2]string{PercentEncode(k), PercentEncode(v)})
		}
	}
	slices.SortFunc(pairs, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	var norm strings.Builder
	for i, p := range pairs {
		if i > 0 {
			norm.WriteByte('&')
		}
		norm.WriteString(p[0])
		norm.WriteByte('=')
		norm.WriteString(p[1])
	}
	return strings.ToUpper(method) + "&" + PercentEncode(baseURL) + "&" + PercentEncode(norm.String())
}

// Signature is the base64 HMAC-SHA1 of the base string keyed with the
// percent-encoded consumer and token secrets joined by "&".
func Signature(baseString, consumerSecret, tokenSecret string) string {
	mac := hmac.New(sha1.New, []byte(PercentEncode(consumerSecret)+"&"+PercentEncode(tokenSecret)))
	mac.Write([]byte(baseString))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// PercentEncode is RFC 3986 encoding as OAuth 1.0a requires: everything
// but ALPHA, DIGIT, "-", ".", "_" and "~" as %XX with upper-case hex.
func PercentEncode(s string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	return b.String()
}

// newNonce returns 32 random hex characters.
func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
