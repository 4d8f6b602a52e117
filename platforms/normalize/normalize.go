// Package normalize turns user-provided data — email, phone, names, address,
// date of birth, gender, external id — into the normalised form the ad
// platforms hash, and hashes it (unsalted SHA-256 of the UTF-8 string,
// lowercase hex). It imports only the standard library.
//
// One set of rules serves every platform (platforms.md §1.4, §2.1, §4.2,
// §5.2); the only difference between them, the `+` of an E.164 phone number,
// is Rules.PhonePlus. Decisions where the platforms are vague:
//
//   - Email: trimmed and lowercased; it must look like an address (exactly
//     one @, a non-empty local part, a domain with a dot and a last label of
//     two or more characters, no spaces or control characters), otherwise it
//     is dropped. Google's gmail dot-removal is not applied: it is a
//     Google-only rule, left to the Google adapter.
//   - Phone: digits only, with the country code. Accepted separators are
//     space, - . ( ) / and a national "(0)" after the country code is
//     dropped (`+44 (0)20 7946 0958` → `442079460958`). The number must start
//     with `+` or the international `00` prefix: a national number
//     (`600 12 34 56`, `(650) 555-1212`) cannot be made E.164 without
//     guessing the country, so it is dropped; so is a digits-only value
//     (`16505551212`), which is indistinguishable from a national one.
//     Letters (extensions, vanity numbers) make the value invalid. 7–15
//     digits, the first not 0. Meta: `34600123456`; PhonePlus: `+34600123456`.
//   - First/last name and city: lowercase letters only — spaces,
//     punctuation, digits and symbols are removed (`Mary-Ann O'Neil` →
//     `maryannoneil`, `Menlo Park` → `menlopark`). Accents are kept, as Meta
//     documents (`Valéry` → `valéry`, `José` → `josé`), after composing
//     decomposed sequences (NFC for Latin scripts), so `Jose\u0301` and
//     `José` hash alike.
//   - State: lowercase letters and digits; a US state, district or
//     territory written in full becomes its 2-letter code (`California` →
//     `ca`, `New York` → `ny`).
//   - Zip: lowercase letters and digits, spaces and dashes removed; a US
//     ZIP+4 (`94025-1234`) keeps its first 5 digits.
//   - Country: an ISO 3166-1 alpha-2 code (`US` → `us`, `UK` → `gb`), or one
//     of a few common English/Spanish names and alpha-3 codes (`Spain`,
//     `España`, `USA`); anything else is dropped.
//   - Date of birth: `YYYYMMDD` from `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYYMMDD`,
//     `DD/MM/YYYY` (also with - or .) and an ISO timestamp's date part. With
//     the year last, day-month order is assumed unless the second number is
//     above 12 (`02/16/1997` is February 16). The date must exist and the
//     year lie in 1900–2099.
//   - Gender: `m` or `f` from m, f, male, female (any case); anything else is
//     dropped.
//   - External id: trimmed and lowercased, as Meta's official SDKs and
//     TikTok integrations do before hashing it.
//
// Hash passes a value that already is a SHA-256 digest through: 64 hex
// digits (after trimming) are returned lowercased — upper-case hex is taken
// as a digest, not as raw data. MD5 digests are not recognised. Values longer
// than MaxLen bytes or not valid UTF-8 are dropped. IP addresses, user
// agents, fbp, fbc and click ids must never be hashed: they have no Field.
package normalize

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Field is the kind of a user-provided value.
type Field uint8

// Fields. The zero value is invalid.
const (
	Email Field = iota + 1
	Phone
	FirstName
	LastName
	City
	State
	Zip
	Country
	DateOfBirth
	Gender
	ExternalID
)

// Rules are the per-platform differences.
type Rules struct {
	// PhonePlus keeps the `+` of E.164 (Google, TikTok, X); without it the
	// phone is digits only (Meta).
	PhonePlus bool
}

// maxLen bounds any input, raw or trimmed: longer values are absurd and are
// dropped rather than hashed.
const maxLen = 512

// Normalize returns v in the normalised form for f, or false when v is empty
// or invalid (the field must then be omitted).
func Normalize(f Field, v string, r Rules) (string, bool) {
	if len(v) > maxLen || !utf8.ValidString(v) {
		return "", false
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return "", false
	}
	var s string
	switch f {
	case Email:
		s = email(v)
	case Phone:
		s = phone(v, r.PhonePlus)
	case FirstName, LastName, City:
		s = lettersOnly(v)
	case State:
		s = state(v)
	case Zip:
		s = zip(v)
	case Country:
		s = country(v)
	case DateOfBirth:
		s = dob(v)
	case Gender:
		s = gender(v)
	case ExternalID:
		s = strings.ToLower(v)
	}
	return s, s != ""
}

// Hash returns the lowercase hex SHA-256 of Normalize(f, v, r), or v itself
// (lowercased) when it already is a SHA-256 hex digest, or false when v is
// empty or invalid.
func Hash(f Field, v string, r Rules) (string, bool) {
	if IsSHA256Hex(v) {
		return v, true
	}
	if t := strings.TrimSpace(v); isHex64(t) {
		return strings.ToLower(t), true
	}
	n, ok := Normalize(f, v, r)
	if !ok {
		return "", false
	}
	return SHA256Hex(n), true
}

// IsSHA256Hex reports whether s is exactly 64 lowercase hex digits.
func IsSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// SHA256Hex returns the lowercase hex SHA-256 of s.
func SHA256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// isHex64 reports whether s is 64 hex digits of any case.
func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

func email(v string) string {
	s := strings.ToLower(v)
	if len(s) > 254 {
		return ""
	}
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') || at > 64 {
		return ""
	}
	for _, c := range s {
		switch c {
		case ' ', ',', ';', ':', '<', '>', '(', ')', '[', ']', '\\', '"':
			return ""
		}
		if c < 0x20 || (c >= 0x7f && (unicode.IsSpace(c) || unicode.IsControl(c))) {
			return ""
		}
	}
	domain := s[at+1:]
	dot := strings.LastIndexByte(domain, '.')
	if dot <= 0 || len(domain)-dot-1 < 2 || domain[0] == '.' || domain[0] == '-' ||
		domain[len(domain)-1] == '-' || strings.Contains(domain, "..") {
		return ""
	}
	for _, c := range domain {
		if c != '.' && c != '-' && !unicode.IsLetter(c) && !unicode.IsDigit(c) && !unicode.Is(unicode.Mn, c) {
			return ""
		}
	}
	if local := s[:at]; local[0] == '.' || local[len(local)-1] == '.' {
		return ""
	}
	return s
}

func phone(v string, plus bool) string {
	v = strings.ReplaceAll(v, "(0)", "")
	intl := false
	if strings.HasPrefix(v, "+") {
		intl, v = true, v[1:]
	}
	digits := make([]byte, 0, 16)
	for _, c := range v {
		switch {
		case c >= '0' && c <= '9':
			digits = append(digits, byte(c))
		case strings.ContainsRune(" -.()/\u00a0", c):
		default:
			return ""
		}
		if len(digits) > 17 {
			return ""
		}
	}
	if !intl {
		if len(digits) < 2 || digits[0] != '0' || digits[1] != '0' {
			return ""
		}
		digits = digits[2:]
	}
	if len(digits) < 7 || len(digits) > 15 || digits[0] == '0' {
		return ""
	}
	if plus {
		return "+" + string(digits)
	}
	return string(digits)
}

// lettersOnly keeps the letters (and combining marks) of v, lowercased and
// composed.
func lettersOnly(v string) string {
	return filter(v, false)
}

// filter keeps letters, combining marks and, when digits is true, decimal
// digits, lowercased and composed.
func filter(v string, digits bool) string {
	var b strings.Builder
	var prev rune = -1
	for _, c := range v {
		keep := unicode.IsLetter(c) || (digits && unicode.IsDigit(c))
		if unicode.Is(unicode.Mn, c) {
			if prev >= 0 {
				if comp, ok := compose(prev, c); ok {
					prev = comp
					continue
				}
			}
			keep = prev >= 0
		}
		if !keep {
			continue
		}
		if prev >= 0 {
			b.WriteRune(prev)
		}
		prev = unicode.ToLower(c)
	}
	if prev >= 0 {
		b.WriteRune(prev)
	}
	return b.String()
}

func state(v string) string {
	s := filter(v, true)
	if code, ok := usStates[s]; ok {
		return code
	}
	return s
}

func zip(v string) string {
	if len(v) == 10 && v[5] == '-' && allDigits(v[:5]) && allDigits(v[6:]) {
		return v[:5]
	}
	s := filter(v, true)
	if len(s) > 16 {
		return ""
	}
	return s
}

func country(v string) string {
	s := lettersOnly(v)
	if len(s) == 2 {
		if s == "uk" {
			return "gb"
		}
		if strings.Contains(iso3166, " "+s+" ") {
			return s
		}
		return ""
	}
	return countryNames[s]
}

func dob(v string) string {
	if len(v) > 10 && (v[10] == 'T' || v[10] == ' ') {
		v = v[:10]
	}
	var y, m, d string
	parts := strings.FieldsFunc(v, func(c rune) bool { return c == '-' || c == '/' || c == '.' || c == ' ' })
	switch {
	case len(parts) == 1 && len(v) == 8:
		y, m, d = v[:4], v[4:6], v[6:]
	case len(parts) != 3:
		return ""
	case len(parts[0]) == 4:
		y, m, d = parts[0], parts[1], parts[2]
	case len(parts[2]) == 4:
		y, d, m = parts[2], parts[0], parts[1]
		if atoi(m) > 12 && atoi(d) <= 12 {
			d, m = m, d
		}
	default:
		return ""
	}
	if len(m) > 2 || len(d) > 2 || !allDigits(y+m+d) {
		return ""
	}
	yi, mi, di := atoi(y), atoi(m), atoi(d)
	if yi < 1900 || yi > 2099 || mi < 1 || mi > 12 || di < 1 {
		return ""
	}
	if t := time.Date(yi, time.Month(mi), di, 0, 0, 0, 0, time.UTC); t.Day() != di {
		return "" // 31 April, 29 February of a common year
	}
	const digits = "0123456789"
	return y + string(digits[mi/10]) + string(digits[mi%10]) + string(digits[di/10]) + string(digits[di%10])
}

func gender(v string) string {
	switch strings.ToLower(v) {
	case "m", "male":
		return "m"
	case "f", "female":
		return "f"
	}
	return ""
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// atoi parses a short run of ASCII digits (callers check allDigits).
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s) && i < 9; i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}
