package proxy_test

import (
	"context"

	"github.com/jaraba/pixelgw/store/queue"
)

// queue.Queue.EraseVisitor for the benchmarks' nopQueue (edge_timing_test.go).
func (nopQueue) EraseVisitor(context.Context, string, string) (queue.Erasure, error) {
	return queue.Erasure{}, nil
}
