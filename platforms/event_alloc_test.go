//go:build !race

package platforms_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms"
)

func TestCanonicalBytesAllocs(t *testing.T) {
	names := [][]byte{[]byte("Purchase"), []byte("page_view"), []byte("custom:x_1"), []byte("nope")}
	allocs := testing.AllocsPerRun(1000, func() {
		for _, n := range names {
			_, _ = platforms.CanonicalBytes(n)
		}
	})
	require.Zero(t, allocs)
}
