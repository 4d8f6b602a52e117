package storesqlite_test

import (
	"testing"

	"github.com/jaraba/pixelgw/store/storetest"
)

// BenchmarkAppendBatches: batched audit writes with their rollup upserts
// (scripts/bench-stats.sh compares them with the commit before the rollups).
func BenchmarkAppendBatches(b *testing.B) {
	storetest.BenchAppendBatches(b, openMigrated(b))
}
