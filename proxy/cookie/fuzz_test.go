package cookie

import (
	"bytes"
	"testing"
	"time"

	"github.com/jaraba/pixelgw/proxy/tenant"
)

// FuzzParse: Parse never panics, and whatever it accepts is canonical (the
// same key re-signs it to the same bytes), bounded and within the time rules.
// Seed corpus: testdata/fuzz/FuzzParse (signed with testKey at testNow).
func FuzzParse(f *testing.F) {
	f.Add([]byte(nil))
	now := testNow
	maxAge := 24 * time.Hour * 365
	f.Fuzz(func(t *testing.T, v []byte) {
		c, err := Parse(v, testKeys, now, maxAge)
		if err != nil {
			return
		}
		if len(v) > MaxLen {
			t.Fatalf("accepted %d bytes", len(v))
		}
		if c.Time > now.Add(MaxSkew).Unix() || c.Time < now.Add(-maxAge).Unix() {
			t.Fatalf("accepted time %d", c.Time)
		}
		if c.Subject.IsZero() {
			t.Fatal("accepted nil subject")
		}
		kid := v[2 : bytes.IndexByte(v[2:], '.')+2]
		re, err := Sign(tenant.Key{ID: string(kid), Secret: testKeys[string(kid)]}, c)
		if err != nil {
			t.Fatalf("cannot re-sign accepted %q: %v", v, err)
		}
		if !bytes.Equal(re, v) {
			t.Fatalf("not canonical: %q re-signs to %q", v, re)
		}
	})
}
