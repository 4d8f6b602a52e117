package proxy_test

import (
	"context"
	"time"

	"github.com/jaraba/pixelgw/store/queue"
)

// The queue.Queue methods added with reclaim and dead letters, for the
// benchmarks' nopQueue (edge_timing_test.go). Fold into that file at will.

func (nopQueue) Reclaim(context.Context, string, string, time.Duration, int) ([]queue.Message, error) {
	return nil, nil
}
func (nopQueue) DeadLetter(context.Context, string, queue.Message, string) error { return nil }
func (nopQueue) DeadLetters(context.Context, string, int) ([]queue.DeadLetter, error) {
	return nil, nil
}
func (nopQueue) DeadLettersDropped(context.Context, string) (int64, error) { return 0, nil }
func (nopQueue) Replay(context.Context, string, []string) (int, error)     { return 0, nil }
