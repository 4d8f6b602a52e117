package proxy_test

import (
	"context"
	"time"

	"github.com/jaraba/pixelgw/store/queue"
)

// queue.Queue.EraseVisitor and ErasedAt for the benchmarks' nopQueue
// (edge_timing_test.go).
func (nopQueue) EraseVisitor(context.Context, string, string, time.Time, time.Duration) (queue.Erasure, error) {
	return queue.Erasure{}, nil
}

func (nopQueue) ErasedAt(context.Context, string, []string) (map[string]time.Time, error) {
	return map[string]time.Time{}, nil
}
