package queue_test

import (
	"testing"

	"github.com/jaraba/pixelgw/store/queue"
)

func BenchmarkDedupKey(b *testing.B) {
	e := queue.Entry{TenantID: "0b6c2a5e-8d0f-4b8e-9d3a-2f1e4c5b6a7d", EventID: "5f0e4c1a-7b2d-4e3f-8a9b-0c1d2e3f4a5b", EventName: "purchase"}
	b.ReportAllocs()
	for b.Loop() {
		_ = e.DedupKey()
	}
}
