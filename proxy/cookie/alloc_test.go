//go:build !race

package cookie

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Not parallel: AllocsPerRun refuses parallel tests.
func TestParseAllocs(t *testing.T) { //nolint:paralleltest
	v := sign(t, testKey, Consent{Analytics: true, Policy: []byte("2024.06"), Time: testNow.Unix(), Subject: testID})
	visitor := []byte(testID.String())
	buf := make([]byte, 0, 512)
	require.Zero(t, testing.AllocsPerRun(200, func() {
		c, err := Parse(v, testKeys, testNow, ConsentMaxAge)
		if err != nil || CheckSubject(c, visitor) != nil {
			panic("parse")
		}
	}))
	require.Zero(t, testing.AllocsPerRun(200, func() {
		_, _ = Parse([]byte("1.zz.1.1.1.x.y"), testKeys, testNow, 0)
	}))
	require.Zero(t, testing.AllocsPerRun(200, func() {
		buf, _ = AppendSign(buf[:0], testKey, Consent{Policy: []byte("1"), Time: 1, Subject: testID})
		buf = AppendConsent(buf[:0], v, Attrs{Domain: "shop.com"})
		buf = AppendVisitor(buf[:0], testID, Attrs{Domain: "shop.com"})
	}))
}
