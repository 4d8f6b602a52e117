package normalize_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/jaraba/pixelgw/platforms/normalize"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	meta   = normalize.Rules{}
	google = normalize.Rules{PhonePlus: true}
)

// TestVectors checks every verified vector of platforms.md §0: the
// normalised input hashes to the documented digest, and a raw form of it
// normalises to that input.
func TestVectors(t *testing.T) {
	t.Parallel()
	f := func(field normalize.Field, r normalize.Rules, raw, normalized, digest string) {
		t.Helper()
		require.Equal(t, digest, normalize.SHA256Hex(normalized))
		got, ok := normalize.Normalize(field, raw, r)
		require.True(t, ok, raw)
		require.Equal(t, normalized, got, raw)
		h, ok := normalize.Hash(field, raw, r)
		require.True(t, ok, raw)
		require.Equal(t, digest, h, raw)
		// A digest passes through untouched.
		h, ok = normalize.Hash(field, digest, r)
		require.True(t, ok)
		require.Equal(t, digest, h)
	}
	f(normalize.Email, meta, " John_Smith@Gmail.com ", "john_smith@gmail.com",
		"62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f")
	f(normalize.Phone, meta, "+1 (650) 555-1212", "16505551212",
		"e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176")
	f(normalize.Phone, google, "+1 (650) 555-1212", "+16505551212",
		"1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8")
	f(normalize.Phone, google, "001-650-555-1212", "+16505551212",
		"1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8")
	f(normalize.FirstName, meta, "Mary", "mary",
		"6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec")
	f(normalize.Email, google, "Person@Example.COM", "person@example.com",
		"542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345")
	f(normalize.Phone, meta, "+44 8444 124653", "448444124653",
		"dc008fda46e2e64002cf2f82a4906236282d431c4f75e5b60bfe79fc48546383")
	f(normalize.Gender, meta, "Male", "m",
		"62c66a7a5dd70c3146618063c344e531e6d4b59e379808443ce962b3abd63c5a")
	f(normalize.Gender, meta, "F", "f",
		"252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111")
	f(normalize.Country, meta, "US", "us",
		"79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621")
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	type tc struct {
		field normalize.Field
		plus  bool
		in    string
		want  string // "" = dropped
	}
	const (
		em = normalize.Email
		ph = normalize.Phone
		fn = normalize.FirstName
		ln = normalize.LastName
		ct = normalize.City
		st = normalize.State
		zp = normalize.Zip
		co = normalize.Country
		db = normalize.DateOfBirth
		ge = normalize.Gender
		ex = normalize.ExternalID
	)
	cases := []tc{
		// Email.
		{em, false, "  Ana.Pérez@Example.ES\t", "ana.pérez@example.es"},
		{em, false, "a+tag@sub.example.co.uk", "a+tag@sub.example.co.uk"},
		{em, false, "", ""},
		{em, false, "   ", ""},
		{em, false, "no-at-sign.example.com", ""},
		{em, false, "two@@example.com", ""},
		{em, false, "a@b@example.com", ""},
		{em, false, "@example.com", ""},
		{em, false, "user@", ""},
		{em, false, "user@localhost", ""},
		{em, false, "user@example.c", ""},
		{em, false, "user@.example.com", ""},
		{em, false, "user@example..com", ""},
		{em, false, "user@example.com.", ""},
		{em, false, "us er@example.com", ""},
		{em, false, "user@exa_mple.com", ""},
		{em, false, ".user@example.com", ""},
		{em, false, "\"Ana\" <ana@example.com>", ""},
		{em, false, "ana@example.com\x00", ""},
		{em, false, strings.Repeat("a", 65) + "@example.com", ""},
		// Phone: Meta digits only, Google/TikTok/X E.164 with +.
		{ph, false, "+34 600-12-34-56", "34600123456"},
		{ph, true, "+34 600-12-34-56", "+34600123456"},
		{ph, false, "0034 600 12 34 56", "34600123456"},
		{ph, true, "0034600123456", "+34600123456"},
		{ph, false, "+44 (0)20 7946 0958", "442079460958"},
		{ph, false, "+1.650.555.1212", "16505551212"},
		{ph, false, "+1/650/555/1212", "16505551212"},
		{ph, false, "\u00a0+34\u00a0600123456", "34600123456"},
		{ph, false, "600 12 34 56", ""},   // national: no country code
		{ph, false, "(650) 555-1212", ""}, // national
		{ph, false, "16505551212", ""},    // digits only: cannot tell
		{ph, false, "0600123456", ""},     // trunk prefix
		{ph, false, "+0034600123456", ""}, // country code cannot start with 0
		{ph, false, "+34 600 12 34 56 ext 7", ""},
		{ph, false, "+1-800-FLOWERS", ""},
		{ph, false, "+34 1234", ""},          // too short
		{ph, false, "+1234567890123456", ""}, // 16 digits
		{ph, false, "+", ""},
		{ph, false, "00", ""},
		{ph, false, "", ""},
		{ph, false, "+34 600#123456", ""},
		// Names: lowercase letters, accents kept, composed.
		{fn, false, "  Mary ", "mary"},
		{fn, false, "José", "josé"},
		{fn, false, "Jose\u0301", "josé"},
		{fn, false, "Valéry", "valéry"},
		{ln, false, "O'Neil-García", "oneilgarcía"},
		{ln, false, "van der Berg", "vanderberg"},
		{ln, false, "Müller", "müller"},
		{ln, false, "Mu\u0308ller", "müller"},
		{ln, false, "Nguye\u0323\u0302n", "nguyện"},
		{fn, false, "ŁUKASZ", "łukasz"},
		{fn, false, "Ἀλέξανδρος", "ἀλέξανδρος"},
		{fn, false, "李", "李"},
		{fn, false, "Mary2", "mary"},
		{fn, false, "\u0301", ""},
		{fn, false, "123", ""},
		{fn, false, "...", ""},
		{fn, false, "", ""},
		// City.
		{ct, false, "Menlo Park", "menlopark"},
		{ct, false, "São Paulo", "sãopaulo"},
		{ct, false, "L'Hospitalet de Llobregat", "lhospitaletdellobregat"},
		{ct, false, "Madrid 28001", "madrid"},
		{ct, false, "  ", ""},
		// State.
		{st, false, "California", "ca"},
		{st, false, "CA", "ca"},
		{st, false, "New York", "ny"},
		{st, false, "district of columbia", "dc"},
		{st, false, "Comunidad de Madrid", "comunidaddemadrid"},
		{st, false, "Île-de-France", "îledefrance"},
		{st, false, "ES-M", "esm"},
		{st, false, "-", ""},
		// Zip.
		{zp, false, "94025-1234", "94025"},
		{zp, false, "94025", "94025"},
		{zp, false, "SW1A 1AA", "sw1a1aa"},
		{zp, false, "00-950", "00950"},
		{zp, false, " 28 001 ", "28001"},
		{zp, false, "12345678901234567", ""},
		{zp, false, "--", ""},
		// Country.
		{co, false, "us", "us"},
		{co, false, " ES ", "es"},
		{co, false, "UK", "gb"},
		{co, false, "U.S.A.", "us"},
		{co, false, "United States", "us"},
		{co, false, "España", "es"},
		{co, false, "Espan\u0303a", "es"},
		{co, false, "deu", "de"},
		{co, false, "xx", ""},
		{co, false, "Atlantis", ""},
		{co, false, "", ""},
		// Date of birth.
		{db, false, "1997-02-16", "19970216"},
		{db, false, "1997/2/6", "19970206"},
		{db, false, "1997.02.16", "19970216"},
		{db, false, "19970216", "19970216"},
		{db, false, "16/02/1997", "19970216"},
		{db, false, "16-02-1997", "19970216"},
		{db, false, "16.02.1997", "19970216"},
		{db, false, "02/16/1997", "19970216"}, // only month/day order fits
		{db, false, "03/04/1997", "19970403"}, // ambiguous: day first
		{db, false, "1997-02-16T10:20:30Z", "19970216"},
		{db, false, "1997-02-16 10:20", "19970216"},
		{db, false, "2000-02-29", "20000229"},
		{db, false, "1999-02-29", ""},
		{db, false, "1997-04-31", ""},
		{db, false, "1997-13-01", ""},
		{db, false, "1997-00-10", ""},
		{db, false, "13/13/1997", ""},
		{db, false, "1899-12-31", ""},
		{db, false, "97-02-16", ""},
		{db, false, "1997-02", ""},
		{db, false, "1997-02-16-01", ""},
		{db, false, "abcd-ef-gh", ""},
		{db, false, "1997-+2-16", ""},
		{db, false, "1997-002-16", ""},
		{db, false, "", ""},
		// Gender.
		{ge, false, "m", "m"},
		{ge, false, " FEMALE ", "f"},
		{ge, false, "male", "m"},
		{ge, false, "x", ""},
		{ge, false, "other", ""},
		{ge, false, "", ""},
		// External id.
		{ex, false, "  User-42 ", "user-42"},
		{ex, false, "", ""},
		// Unknown field.
		{0, false, "x", ""},
		{normalize.ExternalID + 1, false, "x", ""},
	}
	for _, c := range cases {
		got, ok := normalize.Normalize(c.field, c.in, normalize.Rules{PhonePlus: c.plus})
		require.Equal(t, c.want, got, "field %d input %q", c.field, c.in)
		require.Equal(t, c.want != "", ok, "field %d input %q", c.field, c.in)
	}
}

func TestNormalizeLimits(t *testing.T) {
	t.Parallel()
	_, ok := normalize.Normalize(normalize.ExternalID, strings.Repeat("a", 513), meta)
	require.False(t, ok)
	_, ok = normalize.Normalize(normalize.ExternalID, strings.Repeat("a", 512), meta)
	require.True(t, ok)
	_, ok = normalize.Normalize(normalize.FirstName, "Jos\xe9", meta) // Latin-1, not UTF-8
	require.False(t, ok)
}

func TestHash(t *testing.T) {
	t.Parallel()
	const digest = "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"
	f := func(field normalize.Field, in, want string) {
		t.Helper()
		got, ok := normalize.Hash(field, in, meta)
		require.Equal(t, want, got, in)
		require.Equal(t, want != "", ok, in)
	}
	// Already hashed: untouched; upper case or padded hex is lowercased.
	f(normalize.Email, digest, digest)
	f(normalize.Phone, digest, digest)
	f(normalize.Email, strings.ToUpper(digest), digest)
	f(normalize.Email, " "+digest+"\n", digest)
	// Not a digest: 63 or 65 hex digits, or a non-hex letter, are raw data.
	f(normalize.ExternalID, digest[:63], normalize.SHA256Hex(digest[:63]))
	f(normalize.ExternalID, digest+"0", normalize.SHA256Hex(digest+"0"))
	f(normalize.ExternalID, digest[:63]+"g", normalize.SHA256Hex(digest[:63]+"g"))
	f(normalize.Email, digest[:63]+"g", "") // and invalid as an email
	// MD5 is not a SHA-256 digest.
	f(normalize.Email, "5d41402abc4b2a76b9719d911017c592", "")
	// Invalid or empty: dropped.
	f(normalize.Email, "", "")
	f(normalize.Email, "not an email", "")
	f(normalize.Phone, "600 123 456", "")
	// Normalised then hashed.
	f(normalize.Email, "JOHN_SMITH@GMAIL.COM", digest)
	f(normalize.FirstName, "José", normalize.SHA256Hex("josé"))
	f(normalize.FirstName, "Jose\u0301", normalize.SHA256Hex("josé"))
}

func TestIsSHA256Hex(t *testing.T) {
	t.Parallel()
	d := normalize.SHA256Hex("x")
	require.True(t, normalize.IsSHA256Hex(d))
	require.False(t, normalize.IsSHA256Hex(strings.ToUpper(d)))
	require.False(t, normalize.IsSHA256Hex(d[:63]))
	require.False(t, normalize.IsSHA256Hex(d+"a"))
	require.False(t, normalize.IsSHA256Hex(""))
	require.False(t, normalize.IsSHA256Hex(strings.Repeat("g", 64)))
	require.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", normalize.SHA256Hex(""))
}

var allFields = []normalize.Field{
	normalize.Email, normalize.Phone, normalize.FirstName, normalize.LastName, normalize.City,
	normalize.State, normalize.Zip, normalize.Country, normalize.DateOfBirth, normalize.Gender,
	normalize.ExternalID,
}

// FuzzHash: Hash never panics and returns 64 lowercase hex or false;
// Normalize is idempotent except for Meta's phone form (no +, so not
// re-parsable by design).
func FuzzHash(f *testing.F) {
	for _, s := range []string{
		"", " ", "John_Smith@Gmail.com", "+34 600-12-34-56", "0034600123456", "José", "Jose\u0301",
		"16/02/1997", "94025-1234", "UK", "Female", strings.Repeat("A", 64), "\xff\xfe", "(0)", "+",
		"e\u0323\u0302", "1997-02-16T00:00:00Z", "a@b.co",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, field := range allFields {
			for _, r := range []normalize.Rules{meta, google} {
				h, ok := normalize.Hash(field, s, r)
				if ok {
					require.True(t, normalize.IsSHA256Hex(h), "field %d %q -> %q", field, s, h)
				} else {
					require.Empty(t, h)
				}
				n, ok := normalize.Normalize(field, s, r)
				if !ok {
					require.Empty(t, n)
					continue
				}
				require.NotEmpty(t, n)
				if field == normalize.Phone && !r.PhonePlus {
					continue
				}
				n2, ok2 := normalize.Normalize(field, n, r)
				require.True(t, ok2, "field %d %q -> %q not re-normalisable", field, s, n)
				require.Equal(t, n, n2, "field %d %q", field, s)
			}
		}
	})
}
