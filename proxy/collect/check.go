package collect

import "bytes"

// validEscapes reports whether every backslash in body starts a valid JSON
// escape and every \u escape forms a valid code point (no lone surrogates).
// fastjson keeps invalid escapes as literal text; we reject them. A
// backslash outside a string is a syntax error anyway, so scanning the
// whole body is exact.
func validEscapes(b []byte) bool {
	for {
		// Runs of escapes skip the IndexByte call overhead.
		if len(b) == 0 || b[0] != '\\' {
			i := bytes.IndexByte(b, '\\')
			if i < 0 {
				return true
			}
			b = b[i:]
		}
		b = b[1:]
		if len(b) == 0 {
			return false
		}
		switch b[0] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			b = b[1:]
		case 'u':
			r, ok := hex4(b[1:])
			if !ok {
				return false
			}
			b = b[5:]
			switch {
			case r >= 0xD800 && r <= 0xDBFF:
				if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
					return false
				}
				lo, ok := hex4(b[2:])
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return false
				}
				b = b[6:]
			case r >= 0xDC00 && r <= 0xDFFF:
				return false
			}
		default:
			return false
		}
	}
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		n, ok := unhex(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(n)
	}
	return r, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// validNumber checks the JSON number grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(s []byte) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	switch {
	case len(s) == 0:
		return false
	case s[0] == '0':
		s = s[1:]
	case s[0] >= '1' && s[0] <= '9':
		s = skipDigits(s[1:])
	default:
		return false
	}
	if len(s) > 0 && s[0] == '.' {
		rest := skipDigits(s[1:])
		if len(rest) == len(s)-1 {
			return false
		}
		s = rest
	}
	if len(s) > 0 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
			s = s[1:]
		}
		rest := skipDigits(s)
		if len(rest) == len(s) {
			return false
		}
		s = rest
	}
	return len(s) == 0
}

func skipDigits(s []byte) []byte {
	for len(s) > 0 && s[0] >= '0' && s[0] <= '9' {
		s = s[1:]
	}
	return s
}

func allDigits(s []byte) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(s) > 0
}

// parseUUID accepts the canonical 8-4-4-4-12 form in either case, any
// version, except the nil and max UUIDs (a loader bug, never a real id).
func parseUUID(s []byte, out *[16]byte) bool {
	if len(s) != 36 {
		return false
	}
	j := 0
	var or, and byte = 0, 0xff
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return false
			}
			i++
			continue
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return false
		}
		out[j] = hi<<4 | lo
		or |= out[j]
		and &= out[j]
		j++
		i += 2
	}
	return or != 0 && and != 0xff
}

// validURL accepts an absolute http or https URL of printable ASCII (what
// browsers serialise: non-ASCII is percent-encoded, hosts are punycode)
// with a non-empty host of [A-Za-z0-9.-:[]] (so no userinfo).
func validURL(s []byte, maxLen int) bool {
	if len(s) > maxLen {
		return false
	}
	var rest []byte
	switch {
	case hasPrefixFold(s, "https://"):
		rest = s[len("https://"):]
	case hasPrefixFold(s, "http://"):
		rest = s[len("http://"):]
	default:
		return false
	}
	host := rest
	if n := bytes.IndexAny(rest, "/?#"); n >= 0 {
		host = rest[:n]
	}
	if len(host) == 0 {
		return false
	}
	for _, c := range host {
		if !alnum(c) && c != '.' && c != '-' && c != ':' && c != '[' && c != ']' {
			return false
		}
	}
	for _, c := range s {
		if c <= 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

func hasPrefixFold(s []byte, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := range len(prefix) {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

func alnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// validPropKey: ^[A-Za-z_][A-Za-z0-9_]{0,39}$
func validPropKey(k []byte) bool {
	if len(k) == 0 || len(k) > 40 {
		return false
	}
	if !(k[0] == '_' || (k[0] >= 'a' && k[0] <= 'z') || (k[0] >= 'A' && k[0] <= 'Z')) {
		return false
	}
	for _, c := range k[1:] {
		if !alnum(c) && c != '_' {
			return false
		}
	}
	return true
}

// printable rejects C0 control characters and DEL; with ws, tab, CR and LF
// are allowed (product descriptions). The input is already valid UTF-8.
func printable(s []byte, ws bool) bool {
	for _, c := range s {
		if c < 0x20 {
			if ws && (c == '\t' || c == '\n' || c == '\r') {
				continue
			}
			return false
		}
		if c == 0x7f {
			return false
		}
	}
	return true
}

// tokenChars: [A-Za-z0-9._:-]+ (policy versions such as "2026-01" or "v3").
func tokenChars(s []byte) bool {
	for _, c := range s {
		if !alnum(c) && c != '.' && c != '_' && c != '-' && c != ':' {
			return false
		}
	}
	return len(s) > 0
}

// clickIDChar is the URL-safe and base64 alphabet: click ids are URL
// query values (gclid, ttclid "E.C.P.…", twclid, li_fat_id) or cookie
// values.
func clickIDChar(c byte) bool {
	return alnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '+' || c == '/' || c == '='
}

func validClickID(s []byte) bool {
	for _, c := range s {
		if !clickIDChar(c) {
			return false
		}
	}
	return len(s) > 0
}

// fbPrefix consumes "fb.<digit>.<1..16 digits>." and returns the rest.
func fbPrefix(s []byte) ([]byte, bool) {
	if len(s) < 7 || string(s[:3]) != "fb." || s[3] < '0' || s[3] > '9' || s[4] != '.' {
		return nil, false
	}
	s = s[5:]
	rest := skipDigits(s)
	n := len(s) - len(rest)
	if n == 0 || n > 16 || len(rest) < 2 || rest[0] != '.' {
		return nil, false
	}
	return rest[1:], true
}

// validFBP: fb.<n>.<ms>.<random digits>[.<appendix>] (platforms.md §1.6;
// Meta's param builder may append a base64url appendix).
func validFBP(s []byte) bool {
	rest, ok := fbPrefix(s)
	if !ok {
		return false
	}
	tail := skipDigits(rest)
	n := len(rest) - len(tail)
	if n == 0 || n > 20 {
		return false
	}
	if len(tail) == 0 {
		return true
	}
	return tail[0] == '.' && validClickID(tail[1:])
}

// validFBC: fb.<n>.<ms>.<fbclid>[.<appendix>], the fbclid case preserved.
func validFBC(s []byte) bool {
	rest, ok := fbPrefix(s)
	return ok && validClickID(rest)
}

// maxDepth bounds nesting before the parser runs. A valid beacon nests 6
// deep (beacon, events, event, props, array, item); a little slack keeps
// the precise ErrInvalidProps for near misses, while a body of 300 "["
// never reaches the parser (fastjson's depth error costs O(depth²)).
const maxDepth = 8

// prescan walks body's structure without building anything, so hostile
// bodies are rejected before the parser builds a tree for them. It reports
// nesting deeper than maxDepth, a top-level "events" array of more than
// maxEvents elements (10,000 empty events), and any other array or object
// of more than maxWidth elements (no valid beacon has one anywhere). It is
// exact for valid JSON; for invalid JSON its answer does not matter (the
// parser rejects the body either way, and every outcome is a 400).
func prescan(b []byte, maxEvents, maxWidth int) prescanResult {
	var width [maxDepth + 1]int
	depth := 0
	pending, inEvents := false, false
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			j, ok := stringEnd(b, i)
			if !ok {
				return prescanOK
			}
			pending = depth == 1 && string(b[i+1:j]) == "events"
			i = j
		case '{', '[':
			depth++
			if depth > maxDepth {
				return prescanTooDeep
			}
			width[depth] = 0
			if b[i] == '[' && depth == 2 && pending {
				inEvents = true
			}
			pending = false
		case '}', ']':
			if depth == 2 {
				inEvents = false
			}
			if depth > 0 {
				depth--
			}
			pending = false
		case ',':
			pending = false
			if depth == 0 {
				continue
			}
			width[depth]++
			switch {
			case inEvents && depth == 2 && width[depth] >= maxEvents:
				return prescanTooManyEvents
			case width[depth] >= maxWidth:
				return prescanTooWide
			}
		}
	}
	return prescanOK
}

type prescanResult uint8

const (
	prescanOK prescanResult = iota
	prescanTooDeep
	prescanTooManyEvents
	prescanTooWide
)

// stringEnd returns the index of the quote closing the string that opens
// at b[start]. Beacon strings are short, so a plain loop beats
// bytes.IndexByte's call overhead here.
func stringEnd(b []byte, start int) (int, bool) {
	for j := start + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j, true
		}
	}
	return 0, false
}
