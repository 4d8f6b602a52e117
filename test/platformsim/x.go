package platformsim

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // OAuth 1.0a HMAC-SHA1 is what X requires
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// X Conversion API (platforms.md §5).
//
// POST /12/measurement/conversions/{pixel_id}. Auth is either
//   - OAuth 1.0a: "Authorization: OAuth …" with oauth_consumer_key,
//     oauth_nonce, oauth_signature, oauth_signature_method=HMAC-SHA1,
//     oauth_timestamp (integer), oauth_token and, if present,
//     oauth_version=1.0; a nonce may not be reused. When
//     Options.XOAuth.ConsumerSecret is set the HMAC-SHA1 signature is
//     verified (base string: method, scheme://host/path of the request URI,
//     query + oauth_* parameters; the JSON body is not signed) and so are
//     the consumer key and token when configured. The timestamp window is
//     not checked (tests may run a fake clock);
//   - a pixel token: "X-Pixel-Token: <t>" or "Authorization: Bearer <t>"
//     (UNCONFIRMED header), checked against Tokens["x"].
//
// 401 {"errors":[{"code":"UNAUTHORIZED_ACCESS",…}],"request":{"params":{}}}
// without valid auth. 400 {"errors":[{"code","message","parameter"}],…}
// (envelope UNCONFIRMED) for: a body that is not a JSON object, unknown
// keys, conversions missing/empty/over 500 ("Conversion count limit is
// 500"), conversion_time not ISO-8601, event_id missing or not a tag id,
// no identifiers ("At least one user identifier must be provided"),
// hashed_email/hashed_phone_number not 64 lowercase hex ("Hashed_email is
// not a valid SHA-256 hash"), ip_address/user_agent alone, number_items not
// a positive integer, value not a number, price_currency not ISO 4217,
// bad contents. Success: 200 {"data":{"conversions_processed":N},
// "request":{"params":{"pixel_id":…}}}.

var (
	xPathRE     = regexp.MustCompile(`^/12/measurement/conversions/([a-z0-9]+)$`)
	xEventID    = regexp.MustCompile(`^([a-z0-9]+|tw-[a-z0-9]+-[a-z0-9]+)$`)
	xConversion = keys("conversion_time", "event_id", "identifiers", "conversion_id", "number_items",
		"price_currency", "value", "description", "search_string", "contents")
	xIdentifier = keys("twclid", "hashed_email", "hashed_phone_number", "ip_address", "user_agent")
	xContent    = keys("content_id", "content_group_id", "content_name", "content_type", "content_price", "num_items")
	xOAuthNeed  = []string{"oauth_consumer_key", "oauth_nonce", "oauth_signature", "oauth_signature_method", "oauth_timestamp", "oauth_token"}
)

const xMaxConversions = 500

func xError(status int, code, msg, param string) result {
	e := map[string]any{"code": code, "message": msg}
	if param != "" {
		e["parameter"] = param
	}
	return jsonResult(status, map[string]any{"errors": []any{e}, "request": map[string]any{"params": map[string]any{}}},
		fmt.Sprintf("%d %s: %s", status, code, msg))
}

func xInvalid(msg, param string) result {
	return xError(http.StatusBadRequest, "INVALID_PARAMETER", msg, param)
}

func (s *Sim) x(r *http.Request, rest string, body []byte, now time.Time, _ []int) result {
	m := xPathRE.FindStringSubmatch(rest)
	if m == nil {
		return xError(http.StatusNotFound, "ROUTE_NOT_FOUND", "The requested resource could not be found", "")
	}
	if r.Method != http.MethodPost {
		return xError(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "Method not allowed", "")
	}
	if why := s.xAuth(r); why != "" {
		res := xError(http.StatusUnauthorized, "UNAUTHORIZED_ACCESS", "This request is not properly authenticated", "")
		res.errs = append(res.errs, why)
		return res
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		return xInvalid("Content-Type must be application/json", "")
	}
	root, ok := decodeObject(body)
	if !ok {
		return xInvalid("The request body is not a JSON object", "")
	}
	if u := keys("conversions").unknown(root); len(u) > 0 {
		return xInvalid("Unknown parameter "+u[0], u[0])
	}
	convs, isArr := root["conversions"].([]any)
	switch {
	case !isArr || len(convs) == 0:
		return xInvalid("Missing required parameter conversions", "conversions")
	case len(convs) > xMaxConversions:
		return xInvalid("Conversion count limit is 500", "conversions")
	}
	for i, c := range convs {
		if why := xConversionCheck(c, now); why != "" {
			return xInvalid(fmt.Sprintf("conversions[%d]: %s", i, why), "conversions")
		}
	}
	res := jsonResult(http.StatusOK, map[string]any{
		"data":    map[string]any{"conversions_processed": len(convs)},
		"request": map[string]any{"params": map[string]any{"pixel_id": m[1]}},
	})
	res.accepted = true
	return res
}

func xConversionCheck(c any, _ time.Time) string {
	cv, ok := c.(map[string]any)
	if !ok {
		return "must be an object"
	}
	if u := xConversion.unknown(cv); len(u) > 0 {
		return "Unknown parameter " + u[0]
	}
	ts, _ := cv["conversion_time"].(string)
	if ts == "" {
		return "Missing required parameter conversion_time"
	}
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		return "conversion_time must be an ISO-8601 timestamp"
	}
	ev, isStr := cv["event_id"].(string)
	switch {
	case !isStr || ev == "":
		return "Missing required parameter event_id"
	case !xEventID.MatchString(ev):
		return "event_id must be the id of a single event tag"
	}
	if v, ok := cv["conversion_id"]; ok {
		if s, isStr := v.(string); !isStr || s == "" {
			return "conversion_id must be a non-empty string"
		}
	}
	ids, _ := cv["identifiers"].([]any)
	if len(ids) == 0 {
		return "At least one user identifier must be provided"
	}
	primary := 0
	for _, idv := range ids {
		id, isObj := idv.(map[string]any)
		if !isObj || len(id) == 0 {
			return "identifiers must be objects"
		}
		if u := xIdentifier.unknown(id); len(u) > 0 {
			return "Unknown identifier " + u[0]
		}
		for k, v := range id {
			s, isStr := v.(string)
			if !isStr || s == "" {
				return k + " must be a non-empty string"
			}
			switch k {
			case "hashed_email":
				if !isHash(s) {
					return "Hashed_email is not a valid SHA-256 hash"
				}
				primary++
			case "hashed_phone_number":
				if !isHash(s) {
					return "Hashed_phone_number is not a valid SHA-256 hash"
				}
				primary++
			case "twclid":
				primary++
			}
		}
	}
	if primary == 0 {
		return "At least one user identifier must be provided (ip_address and user_agent must accompany another identifier)"
	}
	if v, ok := cv["number_items"]; ok {
		if n, isInt := asInt(v); !isInt || n <= 0 {
			return "number_items must be a positive integer"
		}
	}
	if v, ok := cv["value"]; ok {
		if _, isNum := asNumber(v); !isNum {
			return "value must be a number"
		}
	}
	if v, ok := cv["price_currency"]; ok && !isCurrency(v) {
		return "price_currency must be an ISO-4217 code"
	}
	for _, k := range []string{"description", "search_string"} {
		if v, ok := cv[k]; ok {
			if _, isStr := v.(string); !isStr {
				return k + " must be a string"
			}
		}
	}
	if v, ok := cv["contents"]; ok {
		arr, isArr := v.([]any)
		if !isArr {
			return "contents must be an array"
		}
		for j, e := range arr {
			ct, isObj := e.(map[string]any)
			if !isObj {
				return fmt.Sprintf("contents[%d] must be an object", j)
			}
			if u := xContent.unknown(ct); len(u) > 0 {
				return fmt.Sprintf("contents[%d]: unknown parameter %s", j, u[0])
			}
			if v, ok := ct["content_price"]; ok {
				if _, isNum := asNumber(v); !isNum {
					return fmt.Sprintf("contents[%d].content_price must be a number", j)
				}
			}
			if v, ok := ct["num_items"]; ok {
				if n, isInt := asInt(v); !isInt || n <= 0 {
					return fmt.Sprintf("contents[%d].num_items must be a positive integer", j)
				}
			}
		}
	}
	return ""
}

// xAuth returns why the request is not authenticated, or "".
func (s *Sim) xAuth(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if pt := r.Header.Get("X-Pixel-Token"); pt != "" {
		if !s.validToken(X, pt) {
			return "invalid X-Pixel-Token"
		}
		return ""
	}
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
		if !s.validToken(X, tok) {
			return "invalid bearer pixel token"
		}
		return ""
	}
	rest, ok := strings.CutPrefix(auth, "OAuth ")
	if !ok {
		return "no OAuth 1.0a Authorization header nor pixel token"
	}
	params, err := parseOAuthHeader(rest)
	if err != nil {
		return err.Error()
	}
	for _, k := range xOAuthNeed {
		if params[k] == "" {
			return "missing " + k
		}
	}
	if params["oauth_signature_method"] != "HMAC-SHA1" {
		return "oauth_signature_method must be HMAC-SHA1"
	}
	if v, ok := params["oauth_version"]; ok && v != "1.0" {
		return "oauth_version must be 1.0"
	}
	if _, err := strconv.ParseInt(params["oauth_timestamp"], 10, 64); err != nil {
		return "oauth_timestamp must be an integer"
	}
	cfg := s.opts.XOAuth
	if cfg.ConsumerKey != "" && params["oauth_consumer_key"] != cfg.ConsumerKey {
		return "unknown oauth_consumer_key"
	}
	if cfg.Token != "" && params["oauth_token"] != cfg.Token {
		return "unknown oauth_token"
	}
	if cfg.ConsumerSecret != "" {
		want := OAuthSignature(r.Method, requestBaseURL(r), r.URL.Query(), params, cfg.ConsumerSecret, cfg.TokenSecret)
		if !hmac.Equal([]byte(want), []byte(params["oauth_signature"])) {
			return "bad oauth_signature"
		}
	}
	if s.seenNonce(params["oauth_nonce"]) {
		return "oauth_nonce reused"
	}
	return ""
}

// parseOAuthHeader parses `k="v", k2="v2"` (values percent-encoded).
func parseOAuthHeader(h string) (map[string]string, error) {
	out := map[string]string{}
	for part := range strings.SplitSeq(h, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return nil, fmt.Errorf("malformed OAuth parameter %q", k)
		}
		dk, err1 := url.PathUnescape(k)
		dv, err2 := url.PathUnescape(v[1 : len(v)-1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("malformed OAuth parameter %q", k)
		}
		out[dk] = dv
	}
	return out, nil
}

// requestBaseURL is the base string URI the client signed: scheme, host
// and the path of the request URI (before any prefix stripping).
func requestBaseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := strings.ToLower(r.Host)
	if h, p, ok := strings.Cut(host, ":"); ok && ((scheme == "http" && p == "80") || (scheme == "https" && p == "443")) {
		host = h
	}
	path := r.URL.EscapedPath()
	if r.RequestURI != "" {
		if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
			path = u.EscapedPath()
		}
	}
	return scheme + "://" + host + path
}

// OAuthSignature computes the OAuth 1.0a HMAC-SHA1 signature (RFC 5849
// §3.4) of a request: method, base URL (scheme://host/path), the query
// parameters and the oauth_* parameters (oauth_signature and realm are
// ignored). Exported so tests can sign hand-written requests.
func OAuthSignature(method, baseURL string, query url.Values, oauth map[string]string, consumerSecret, tokenSecret string) string {
	type pair struct{ k, v string }
	var pairs []pair
	for k, vs := range query {
		for _, v := range vs {
			pairs = append(pairs, pair{PercentEncode(k), PercentEncode(v)})
		}
	}
	for k, v := range oauth {
		if k == "oauth_signature" || k == "realm" {
			continue
		}
		pairs = append(pairs, pair{PercentEncode(k), PercentEncode(v)})
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	joined := make([]string, len(pairs))
	for i, p := range pairs {
		joined[i] = p.k + "=" + p.v
	}
	base := strings.ToUpper(method) + "&" + PercentEncode(baseURL) + "&" + PercentEncode(strings.Join(joined, "&"))
	mac := hmac.New(sha1.New, []byte(PercentEncode(consumerSecret)+"&"+PercentEncode(tokenSecret)))
	mac.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// PercentEncode is RFC 3986 percent-encoding as OAuth 1.0a requires
// (everything but A-Z a-z 0-9 - . _ ~).
func PercentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
