//go:build !race

package collect_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/proxy/collect"
)

// TestParseAllocs pins the allocations of a parse into a reused Beacon: the
// edge's hot path must not allocate per beacon once warm.
func TestParseAllocs(t *testing.T) {
	p := newParser(t)
	for _, tt := range []struct {
		name string
		body []byte
	}{
		{"1 event", benchBeacon1},
		{"5 events", benchBeacon5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := p.Acquire()
			defer p.Release(b)
			require.NoError(t, p.Parse(b, tt.body, testNow)) // warm the arenas
			allocs := testing.AllocsPerRun(200, func() {
				if err := p.Parse(b, tt.body, testNow); err != nil {
					t.Fatal(err)
				}
			})
			require.Zero(t, allocs)
		})
	}
}

// TestAppendPayloadAllocs pins the queued record's encoding: no allocation
// with a reused buffer.
func TestAppendPayloadAllocs(t *testing.T) {
	p := newParser(t)
	b := p.Acquire()
	defer p.Release(b)
	require.NoError(t, p.Parse(b, benchBeacon5, testNow))
	en := &collect.Enrichment{TenantID: "t", VisitorID: "v", ClientIP: []byte("203.0.113.9"), Analytics: true, Marketing: true, Policy: "1"}
	buf := make([]byte, 0, 16<<10)
	allocs := testing.AllocsPerRun(200, func() {
		for i := range b.Events {
			buf = collect.AppendPayload(buf[:0], b, i, en)
		}
	})
	require.Zero(t, allocs)
}
