package cookie

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/jaraba/pixelgw/proxy/tenant"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	testKey  = tenant.Key{ID: "a1b2c3d4", Secret: bytes.Repeat([]byte{0x42}, 32)}
	testKeys = map[string][]byte{"a1b2c3d4": testKey.Secret, "old": bytes.Repeat([]byte{0x17}, 32)}
	testNow  = time.Unix(1_800_000_000, 0)
	testID   = ID{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0x4d, 0xef, 0x81, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}
)

func sign(t testing.TB, k tenant.Key, c Consent) []byte {
	t.Helper()
	v, err := Sign(k, c)
	require.NoError(t, err)
	return v
}

func TestSignParseRoundTrip(t *testing.T) {
	t.Parallel()
	for _, c := range []Consent{
		{Analytics: true, Marketing: true, Functional: true, Policy: []byte("1"), Time: testNow.Unix(), Subject: testID},
		{Policy: []byte("2024.06-b_x"), Time: testNow.Unix() - 100, Subject: NewID()},
		{Marketing: true, Policy: []byte(strings.Repeat("p", MaxPolicyLen)), Time: testNow.Unix(), Subject: NewID()},
		{Functional: true, Policy: []byte("v.1.2"), Time: 0, Subject: testID},
	} {
		v := sign(t, testKey, c)
		require.LessOrEqual(t, len(v), MaxLen)
		require.Regexp(t, `^1\.a1b2c3d4\.[0-7]\.[A-Za-z0-9._-]{1,64}\.[0-9]+\.[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$`, string(v))
		got, err := Parse(v, testKeys, testNow, 0)
		require.NoError(t, err)
		require.Equal(t, c, got)
		// Canonical: re-signing the parsed decision gives the same bytes.
		require.Equal(t, v, sign(t, testKey, got))
	}
	// The previous key still verifies (rotation).
	v := sign(t, tenant.Key{ID: "old", Secret: testKeys["old"]}, Consent{Policy: []byte("1"), Time: testNow.Unix(), Subject: testID})
	_, err := Parse(v, testKeys, testNow, 0)
	require.NoError(t, err)
	// Example layout.
	v = sign(t, testKey, Consent{Analytics: true, Policy: []byte("3"), Time: 1_800_000_000, Subject: testID})
	require.True(t, strings.HasPrefix(string(v), "1.a1b2c3d4.1.3.1800000000.12345678-9abc-4def-8123-456789abcdef."), string(v))
}

func TestSignRejects(t *testing.T) {
	t.Parallel()
	c := Consent{Policy: []byte("1"), Time: 1, Subject: testID}
	for _, k := range []tenant.Key{{ID: "", Secret: []byte("s")}, {ID: "a.b", Secret: []byte("s")}, {ID: "k", Secret: nil}, {ID: strings.Repeat("k", 17), Secret: []byte("s")}} {
		_, err := Sign(k, c)
		require.ErrorIs(t, err, ErrBadKey, k.ID)
	}
	for _, p := range []string{"", "a b", "a;b", strings.Repeat("p", 65), "é"} {
		_, err := Sign(testKey, Consent{Policy: []byte(p), Time: 1, Subject: testID})
		require.ErrorIs(t, err, ErrBadPolicy, p)
	}
	_, err := Sign(testKey, Consent{Policy: []byte("1"), Time: -1, Subject: testID})
	require.ErrorIs(t, err, ErrMalformed)
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	good := sign(t, testKey, Consent{Analytics: true, Policy: []byte("1"), Time: testNow.Unix(), Subject: testID})
	parts := strings.Split(string(good), ".")
	join := func(p ...string) []byte { return []byte(strings.Join(p, ".")) }
	resign := func(kid, flags, policy, unix, subject string) []byte {
		body := strings.Join([]string{"1", kid, flags, policy, unix, subject}, ".")
		var sum [32]byte
		mac(&sum, testKey.Secret, []byte(body))
		var enc [sigLen]byte
		b64().Encode(enc[:], sum[:])
		return []byte(body + "." + string(enc[:]))
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)-5] ^= 1
	if !safeByte(flipped[len(flipped)-5]) {
		flipped[len(flipped)-5] = 'A'
	}
	otherKey := map[string][]byte{"a1b2c3d4": bytes.Repeat([]byte{1}, 32)}
	future := sign(t, testKey, Consent{Policy: []byte("1"), Time: testNow.Add(MaxSkew + time.Second).Unix(), Subject: testID})
	skewOK := sign(t, testKey, Consent{Policy: []byte("1"), Time: testNow.Add(MaxSkew).Unix(), Subject: testID})
	old := sign(t, testKey, Consent{Policy: []byte("1"), Time: testNow.Add(-48 * time.Hour).Unix(), Subject: testID})

	for _, tc := range []struct {
		name   string
		value  []byte
		keys   map[string][]byte
		maxAge time.Duration
		err    error
	}{
		{"empty", nil, testKeys, 0, ErrMalformed},
		{"oversized", bytes.Repeat([]byte("a"), MaxLen+1), testKeys, 0, ErrTooLong},
		{"semicolon", append(bytes.Clone(good[:10]), ';'), testKeys, 0, ErrMalformed},
		{"space", []byte("1.a 1"), testKeys, 0, ErrMalformed},
		{"quote", []byte(`"` + string(good) + `"`), testKeys, 0, ErrMalformed},
		{"too few fields", join(parts[0], parts[1], parts[2], parts[4], parts[5], parts[6]), testKeys, 0, ErrMalformed},
		{"version 2", join(append([]string{"2"}, parts[1:]...)...), testKeys, 0, ErrVersion},
		{"unknown kid", join(parts[0], "zzzz", parts[2], parts[3], parts[4], parts[5], parts[6]), testKeys, 0, ErrUnknownKey},
		{"no keys", good, nil, 0, ErrUnknownKey},
		{"flipped sig", flipped, testKeys, 0, ErrSignature},
		{"short sig", good[:len(good)-1], testKeys, 0, ErrMalformed},
		{"wrong key", good, otherKey, 0, ErrSignature},
		{"flags changed", join(parts[0], parts[1], "3", parts[3], parts[4], parts[5], parts[6]), testKeys, 0, ErrSignature},
		{"policy changed", join(parts[0], parts[1], parts[2], "2", parts[4], parts[5], parts[6]), testKeys, 0, ErrSignature},
		{"subject moved", join(parts[0], parts[1], parts[2], parts[3], parts[4], NewID().String(), parts[6]), testKeys, 0, ErrSignature},
		{"flags 8", resign("a1b2c3d4", "8", "1", "1800000000", testID.String()), testKeys, 0, ErrMalformed},
		{"flags 2 digits", resign("a1b2c3d4", "11", "1", "1800000000", testID.String()), testKeys, 0, ErrMalformed},
		{"leading zero time", resign("a1b2c3d4", "1", "1", "01800000000", testID.String()), testKeys, 0, ErrMalformed},
		{"huge time", resign("a1b2c3d4", "1", "1", "9999999999999", testID.String()), testKeys, 0, ErrMalformed},
		{"upper subject", resign("a1b2c3d4", "1", "1", "1800000000", strings.ToUpper(testID.String())), testKeys, 0, ErrSubject},
		{"nil subject", resign("a1b2c3d4", "1", "1", "1800000000", ID{}.String()), testKeys, 0, ErrSubject},
		{"short subject", resign("a1b2c3d4", "1", "1", "1800000000", "abc"), testKeys, 0, ErrSubject},
		{"future", future, testKeys, 0, ErrFuture},
		{"skew ok", skewOK, testKeys, 0, nil},
		{"too old", old, testKeys, 24 * time.Hour, ErrExpired},
		{"old ok without max age", old, testKeys, 0, nil},
		{"old ok within max age", old, testKeys, 49 * time.Hour, nil},
	} {
		_, err := Parse(tc.value, tc.keys, testNow, tc.maxAge)
		if tc.err == nil {
			require.NoError(t, err, tc.name)
		} else {
			require.ErrorIs(t, err, tc.err, tc.name)
		}
	}
}

func TestCheckSubject(t *testing.T) {
	t.Parallel()
	c := Consent{Analytics: true, Policy: []byte("1"), Time: 1, Subject: testID}
	require.NoError(t, CheckSubject(c, nil))
	require.NoError(t, CheckSubject(c, []byte(testID.String())))
	require.ErrorIs(t, CheckSubject(c, []byte(NewID().String())), ErrSubjectMismatch)
	require.ErrorIs(t, CheckSubject(c, []byte("garbage")), ErrSubjectMismatch)
	require.ErrorIs(t, CheckSubject(c, []byte(strings.ToUpper(testID.String()))), ErrSubjectMismatch)
	require.True(t, c.Tracking())
	require.False(t, Consent{Functional: true}.Tracking())
}

func TestID(t *testing.T) {
	t.Parallel()
	seen := map[ID]bool{}
	for range 100 {
		id := NewID()
		require.False(t, seen[id])
		seen[id] = true
		require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, id.String())
		got, ok := ParseID([]byte(id.String()))
		require.True(t, ok)
		require.Equal(t, id, got)
	}
	for _, s := range []string{"", "12345678-9abc-4def-8123-456789abcde", "12345678-9abc-4def-8123-456789abcdeg", "12345678_9abc-4def-8123-456789abcdef", "{2345678-9abc-4def-8123-456789abcdef}"} {
		_, ok := ParseID([]byte(s))
		require.False(t, ok, s)
	}
}

func TestSetCookieValues(t *testing.T) {
	t.Parallel()
	a := Attrs{Domain: "shop.com"}
	v := sign(t, testKey, Consent{Policy: []byte("1"), Time: 1, Subject: testID})
	require.Equal(t, ConsentName+"="+string(v)+"; Max-Age=34128000; Domain=shop.com; Path=/; Secure; SameSite=Lax", string(AppendConsent(nil, v, a)))
	require.Equal(t, "jaraba_visitor_id=12345678-9abc-4def-8123-456789abcdef; Max-Age=34128000; Domain=shop.com; Path=/; Secure; HttpOnly; SameSite=Lax", string(AppendVisitor(nil, testID, a)))
	require.Equal(t, "jaraba_visitor_id=; Max-Age=0; Domain=shop.com; Path=/; Secure; SameSite=Lax", string(AppendDelete(nil, VisitorName, a)))
	require.Equal(t, "x=y; Max-Age=60; Path=/; SameSite=Lax", string(AppendSetCookie(nil, "x", []byte("y"), time.Minute, false, Attrs{Insecure: true})))

	fbp := string(AppendFBP(nil, testNow, a))
	require.Regexp(t, `^_fbp=fb\.1\.1800000000000\.[0-9]{1,10}; Max-Age=7776000; Domain=shop\.com; Path=/; Secure; SameSite=Lax$`, fbp)

	fbc, err := AppendFBC(nil, testNow, []byte("IwAR2F4-dbP0l7Mn1_IawQ"), a)
	require.NoError(t, err)
	require.Equal(t, "_fbc=fb.1.1800000000000.IwAR2F4-dbP0l7Mn1_IawQ; Max-Age=7776000; Domain=shop.com; Path=/; Secure; SameSite=Lax", string(fbc))
	for _, bad := range []string{"", "a;b", "a b", `a"b`, "a,b", strings.Repeat("x", MaxClickIDLen+1)} {
		_, err := AppendFBC(nil, testNow, []byte(bad), a)
		require.ErrorIs(t, err, ErrBadClickID, bad)
	}
	require.True(t, KeepFBC([]byte("fb.1.1700000000000.AbC"), []byte("AbC")))
	require.False(t, KeepFBC([]byte("fb.1.1700000000000.AbC"), []byte("abc")), "case preserved")
	require.False(t, KeepFBC([]byte("fb.1.1700000000000.XAbC"), []byte("AbC")))
	require.False(t, KeepFBC(nil, []byte("AbC")))

	want := map[string]time.Duration{"gclid": 90, "gbraid": 90, "wbraid": 90, "ttclid": 30, "li_fat_id": 90, "twclid": 90}
	ids := ClickIDs()
	require.Len(t, ids, len(want))
	for _, c := range ids {
		require.Equal(t, want[c.Param]*24*time.Hour, c.MaxAge, c.Param)
		out, err := AppendClickID(nil, c, []byte("E.C.P.Cq+/=_-~9"), a)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(out), c.Cookie+"=E.C.P.Cq+/=_-~9; Max-Age="), string(out))
		require.NotContains(t, string(out), "HttpOnly")
		_, err = AppendClickID(nil, c, []byte("x;y"), a)
		require.ErrorIs(t, err, ErrBadClickID)
	}
}

func TestAttrsFor(t *testing.T) {
	t.Parallel()
	d := &tenant.Domain{Hostname: "t.shop.com", CookieDomain: "shop.com"}
	for _, tc := range []struct {
		host     string
		tls      bool
		insecure bool
	}{
		{"t.shop.com", true, false},
		{"t.shop.com", false, false}, // production over http still Secure
		{"t.demo.localhost:8080", false, true},
		{"T.DEMO.LOCALHOST", false, true},
		{"localhost", false, true},
		{"t.demo.localhost", true, false},
		{"evillocalhost", false, false},
		{"localhost.evil.com", false, false},
	} {
		a := AttrsFor(d, []byte(tc.host), tc.tls)
		require.Equal(t, tc.insecure, a.Insecure, tc.host)
		require.Equal(t, "shop.com", a.Domain)
	}
	require.Empty(t, AttrsFor(nil, []byte("x.com"), true).Domain)
}

// Every Set-Cookie value is made of cookie-safe bytes.
func TestSetCookieIsSafe(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^[A-Za-z0-9_]+=[!#-+\--:<-\[\]-~]*(; [A-Za-z-]+(=[A-Za-z0-9./=-]+)?)*$`)
	v := sign(t, testKey, Consent{Policy: []byte("2024.1"), Time: 1, Subject: testID})
	require.Regexp(t, re, string(AppendConsent(nil, v, Attrs{Domain: "shop.com"})))
	require.Regexp(t, re, string(AppendVisitor(nil, NewID(), Attrs{Domain: "shop.com"})))
	require.Regexp(t, re, string(AppendFBP(nil, time.Now(), Attrs{})))
}

// The committed seed corpus holds real cookies: the valid-* seeds parse.
func TestSeedCorpusValid(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/fuzz/FuzzParse/valid-*")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		require.Len(t, lines, 2, f)
		v, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		require.NoError(t, err, f)
		_, err = Parse([]byte(v), testKeys, testNow, ConsentMaxAge)
		require.NoError(t, err, f)
	}
}
