package platformsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// decodeObject decodes one JSON object (numbers kept as json.Number);
// trailing data or any other JSON type fails.
func decodeObject(body []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if dec.More() {
		return nil, false
	}
	m, ok := v.(map[string]any)
	return m, ok
}

type keySet map[string]struct{}

func keys(names ...string) keySet {
	s := make(keySet, len(names))
	for _, n := range names {
		s[n] = struct{}{}
	}
	return s
}

func (s keySet) has(k string) bool { _, ok := s[k]; return ok }

// unknown returns m's keys not in s, sorted.
func (s keySet) unknown(m map[string]any) []string {
	var out []string
	for k := range m {
		if !s.has(k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// asInt reports whether v is a JSON integer (no fraction, no exponent).
func asInt(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok || strings.ContainsAny(string(n), ".eE") {
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	return i, err == nil
}

// asNumber reports whether v is a JSON number.
func asNumber(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

var phoneLike = regexp.MustCompile(`^\+?[0-9 ()\-.]{6,}$`)

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// isHash: 64 lowercase hex (a SHA-256 digest as the platforms want it).
func isHash(s string) bool { return hex64.MatchString(s) }

// hashedValues checks a string-or-array-of-strings field whose values must
// be SHA-256 hex; it returns a reason when not.
func hashedValues(v any, allowArray bool) string {
	switch t := v.(type) {
	case string:
		if !isHash(t) {
			return fmt.Sprintf("value %s is not a SHA-256 hash (64 lowercase hex)", describe(t))
		}
		return ""
	case []any:
		if !allowArray {
			return "must be a string"
		}
		if len(t) == 0 {
			return "must not be empty"
		}
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return "must be an array of strings"
			}
			if !isHash(s) {
				return fmt.Sprintf("value %s is not a SHA-256 hash (64 lowercase hex)", describe(s))
			}
		}
		return ""
	}
	return "must be a string"
}

// describe names a rejected value without echoing PII.
func describe(s string) string {
	switch {
	case s == "":
		return "(empty)"
	case strings.Contains(s, "@"):
		return "(looks like a raw email)"
	case phoneLike.MatchString(s):
		return "(looks like a raw phone number)"
	}
	return fmt.Sprintf("(%d characters)", len(s))
}

var currencyRE = regexp.MustCompile(`^[A-Za-z]{3}$`)

func isCurrency(v any) bool {
	s, ok := v.(string)
	return ok && currencyRE.MatchString(s)
}

func isHTTPURL(v any) bool {
	s, ok := v.(string)
	return ok && (strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")) && len(s) > len("https://")
}
