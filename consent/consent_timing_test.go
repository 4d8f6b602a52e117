package consent_test

import (
	"testing"

	"github.com/jaraba/pixelgw/consent"
	"github.com/jaraba/pixelgw/store"
)

// BenchmarkAllowed decides for the five platforms per iteration.
func BenchmarkAllowed(b *testing.B) {
	s := consent.State{Analytics: true, Marketing: true, HasRecord: true, GPC: true}
	p := consent.DefaultPolicy()
	platforms := store.Platforms()
	b.ReportAllocs()
	for b.Loop() {
		for _, pl := range platforms {
			_ = consent.Allowed(pl, s, p)
		}
	}
}
