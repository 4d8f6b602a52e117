package queueredis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/jaraba/pixelgw/store/queue"
	"github.com/jaraba/pixelgw/store/queue/queueredis"
	"github.com/jaraba/pixelgw/store/queue/queuetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// client connects to the test Redis (REDIS_ADDR, default 127.0.0.1:6379):
// unreachable fails under CI=..., skips otherwise.
func client(t testing.TB) *redis.Client {
	t.Helper()
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 64})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		if os.Getenv("CI") != "" {
			t.Fatalf("redis at %s is unreachable (CI is set): %v", addr, err)
		}
		t.Skipf("redis at %s is unreachable, skipping (run `make deps`): %v", addr, err)
	}
	return rdb
}

// randomPrefix isolates one test's keys; cleanup unlinks them.
func randomPrefix(t testing.TB, rdb *redis.Client) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "pgwtest:" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
			if len(keys) == 1000 {
				rdb.Unlink(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			rdb.Unlink(ctx, keys...)
		}
		_ = rdb.Close()
	})
	return prefix
}

func newQueue(t testing.TB, opts queue.Options) (*queueredis.Queue, *redis.Client) {
	t.Helper()
	rdb := client(t)
	prefix := randomPrefix(t, rdb)
	q := queueredis.New(rdb, queueredis.Config{Options: opts, Prefix: prefix, CapGranularity: 10 * time.Millisecond}, slog.New(slog.DiscardHandler))
	return q, rdb
}

func newBatcher(t testing.TB, q *queueredis.Queue, cfg queue.BatcherConfig) *queue.Batcher {
	t.Helper()
	b := queue.NewBatcher(q, cfg)
	require.NoError(t, b.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, b.Stop(context.Background())) })
	return b
}

func TestConformance(t *testing.T) {
	t.Parallel()
	queuetest.Exercise(t, func(t *testing.T) queue.Queue {
		q, _ := newQueue(t, queuetest.Options())
		return q
	})
}

func TestConformanceBatcher(t *testing.T) {
	t.Parallel()
	queuetest.Exercise(t, func(t *testing.T) queue.Queue {
		q, _ := newQueue(t, queuetest.Options())
		return newBatcher(t, q, queue.BatcherConfig{})
	})
}

func entry(tenant string) queue.Entry {
	return queue.Entry{TenantID: tenant, EventID: queuetest.ID(), EventName: "purchase", Window: time.Hour, Conversion: true, Payload: []byte("p")}
}

// A failure between dedup and enqueue leaves no mark: the retry is accepted.
func TestFailedEnqueueLeavesNoMark(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	for name, breakStream := range map[string]func(rdb *redis.Client, stream string) error{
		// TYPE check fails before any write.
		"wrong type": func(rdb *redis.Client, stream string) error { return rdb.Set(ctx, stream, "x", 0).Err() },
		// XADD itself fails inside the write phase (the pcall + undo path).
		"exhausted ids": func(rdb *redis.Client, stream string) error {
			return rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, ID: "18446744073709551615-18446744073709551615", Values: []string{"k", "1"}}).Err()
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			q, rdb := newQueue(t, queue.Options{})
			b := newBatcher(t, q, queue.BatcherConfig{})
			tenant := queuetest.ID()
			es := []queue.Entry{entry(tenant), entry(tenant), entry(tenant)}
			require.NoError(t, breakStream(rdb, q.StreamKey()))

			for _, qq := range []queue.Queue{q, b} {
				res, err := qq.Admit(ctx, es)
				require.Error(t, err)
				require.Nil(t, res)
			}
			for i := range es {
				n, err := rdb.Exists(ctx, q.DedupKey(&es[i])).Result()
				require.NoError(t, err)
				require.Zero(t, n, "no dedup mark for entry %d", i)
			}
			require.NoError(t, rdb.Del(ctx, q.StreamKey()).Err()) // Redis is healthy again

			res, err := b.Admit(ctx, es)
			require.NoError(t, err)
			require.Equal(t, []queue.Result{queue.Queued, queue.Queued, queue.Queued}, res, "the retry is accepted")
			n, err := rdb.XLen(ctx, q.StreamKey()).Result()
			require.NoError(t, err)
			require.EqualValues(t, 3, n)
		})
	}
}

// A dedup key written by someone else: holding another type, the SET fails
// midway through the batch and what the batch wrote before it is undone;
// holding another string, the entry is a duplicate.
func TestDedupKeyWrittenByOthers(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	q, rdb := newQueue(t, queue.Options{})
	tenant := queuetest.ID()

	es := []queue.Entry{entry(tenant), entry(tenant), entry(tenant)}
	require.NoError(t, rdb.HSet(ctx, q.DedupKey(&es[1]), "f", "v").Err())
	res, err := q.Admit(ctx, es)
	require.ErrorIs(t, err, queueredis.ErrWrongType)
	require.Nil(t, res)
	n, err := rdb.Exists(ctx, q.DedupKey(&es[0])).Result()
	require.NoError(t, err)
	require.Zero(t, n, "the first entry's mark is undone")
	l, err := rdb.XLen(ctx, q.StreamKey()).Result()
	require.NoError(t, err)
	require.Zero(t, l, "the first entry's stream entry is undone")

	es = []queue.Entry{entry(tenant), entry(tenant), entry(tenant)}
	require.NoError(t, rdb.Set(ctx, q.DedupKey(&es[1]), "x", 0).Err())
	res, err = q.Admit(ctx, es)
	require.NoError(t, err)
	require.Equal(t, []queue.Result{queue.Queued, queue.Duplicate, queue.Queued}, res)
}

func TestWrongTypeError(t *testing.T) {
	t.Parallel()
	q, rdb := newQueue(t, queue.Options{})
	require.NoError(t, rdb.Set(t.Context(), q.StreamKey(), "x", 0).Err())
	_, err := q.Admit(t.Context(), []queue.Entry{entry(queuetest.ID())})
	require.ErrorIs(t, err, queueredis.ErrWrongType)
}

func TestUnreachableRedis(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	q := queueredis.New(rdb, queueredis.Config{}, slog.New(slog.DiscardHandler))
	b := newBatcher(t, q, queue.BatcherConfig{})
	for _, qq := range []queue.Queue{q, b} {
		res, err := qq.Admit(t.Context(), []queue.Entry{entry("t")})
		require.Error(t, err)
		require.Nil(t, res)
		require.Error(t, qq.Ping(t.Context()))
		_, err = qq.Lag(t.Context())
		require.Error(t, err)
	}
}

func TestTrimOnlyBelowEveryGroupsAck(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	q, rdb := newQueue(t, queue.Options{})
	xlen := func() int64 {
		n, err := rdb.XLen(ctx, q.StreamKey()).Result()
		require.NoError(t, err)
		return n
	}
	tenant := queuetest.ID()
	var es []queue.Entry
	for range 10 {
		es = append(es, entry(tenant))
	}
	_, err := q.Admit(ctx, es)
	require.NoError(t, err)

	n, err := q.Trim(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "no group: nothing trimmed")

	ackAll := func(group string, max int, ackFirst int) []queue.Message {
		msgs, err := q.Read(ctx, group, "c", max, 0)
		require.NoError(t, err)
		for _, m := range msgs[:ackFirst] {
			require.NoError(t, q.Ack(ctx, group, m.ID))
		}
		return msgs
	}
	ackAll("fast", 10, 10)
	slow := ackAll("slow", 5, 3) // entries 4 and 5 stay pending
	_, err = q.Trim(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 7, xlen(), "kept from the slow group's oldest pending entry")

	require.NoError(t, q.Ack(ctx, "slow", slow[3].ID, slow[4].ID))
	_, err = q.Trim(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 6, xlen(), "kept from the slow group's last delivered entry")

	rest := ackAll("slow", 10, 5)
	require.Len(t, rest, 5)
	_, err = q.Trim(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, xlen())
	lag, err := q.Lag(ctx)
	require.NoError(t, err)
	require.Zero(t, lag)
}

func TestTrimLoop(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rdb := client(t)
	prefix := randomPrefix(t, rdb)
	q := queueredis.New(rdb, queueredis.Config{Prefix: prefix, TrimInterval: 5 * time.Millisecond}, slog.New(slog.DiscardHandler))
	require.NoError(t, q.Stop(ctx), "stop before start is fine")
	require.NoError(t, q.Start(ctx))
	require.NoError(t, q.Start(ctx))
	t.Cleanup(func() {
		require.NoError(t, q.Stop(context.Background()))
		require.NoError(t, q.Stop(context.Background()))
	})
	tenant := queuetest.ID()
	_, err := q.Admit(ctx, []queue.Entry{entry(tenant), entry(tenant), entry(tenant)})
	require.NoError(t, err)
	msgs, err := q.Read(ctx, "g", "c", 10, 0)
	require.NoError(t, err)
	for _, m := range msgs {
		require.NoError(t, q.Ack(ctx, "g", m.ID))
	}
	require.Eventually(t, func() bool { return rdb.XLen(ctx, q.StreamKey()).Val() == 1 }, 10*time.Second, 5*time.Millisecond)
}

func TestBatcherLifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	q, _ := newQueue(t, queue.Options{})
	b := queue.NewBatcher(q, queue.BatcherConfig{MaxWait: -1})
	// Not started: goes straight to the queue.
	res, err := b.Admit(ctx, []queue.Entry{entry(queuetest.ID())})
	require.NoError(t, err)
	require.Equal(t, []queue.Result{queue.Queued}, res)
	require.NoError(t, b.Start(ctx))
	require.NoError(t, b.Start(ctx))
	res, err = b.Admit(ctx, []queue.Entry{entry(queuetest.ID())})
	require.NoError(t, err)
	require.Equal(t, []queue.Result{queue.Queued}, res)
	require.NoError(t, b.Stop(ctx))
	require.NoError(t, b.Stop(ctx))
	_, err = b.Admit(ctx, []queue.Entry{entry(queuetest.ID())})
	require.ErrorIs(t, err, queue.ErrClosed)
	require.ErrorIs(t, b.Start(ctx), queue.ErrClosed)
	require.EqualValues(t, 1, b.Stats().Batches)

	// A cancelled context before the hand-off admits nothing.
	b2 := newBatcher(t, q, queue.BatcherConfig{})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	e := entry(queuetest.ID())
	_, err = b2.Admit(cctx, []queue.Entry{e})
	require.ErrorIs(t, err, context.Canceled)
	res, err = b2.Admit(ctx, []queue.Entry{e})
	require.NoError(t, err)
	require.Equal(t, []queue.Result{queue.Queued}, res)
}

// TestDedupKeyMemory records what one dedup mark costs in Redis.
func TestDedupKeyMemory(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	q, rdb := newQueue(t, queue.Options{})
	e := entry(queuetest.ID())
	_, err := q.Admit(ctx, []queue.Entry{e})
	require.NoError(t, err)
	n, err := rdb.MemoryUsage(ctx, q.DedupKey(&e)).Result()
	require.NoError(t, err)
	t.Logf("MEMORY USAGE of one dedup mark (%d-byte key): %d bytes", len(q.DedupKey(&e)), n)
	require.Less(t, n, int64(100))
}

// Two edge instances (own clients, own batchers) sharing one Redis: the same
// ids admitted through both are queued exactly once.
func TestTwoInstancesShareDedup(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rdb1 := client(t)
	prefix := randomPrefix(t, rdb1)
	rdb2 := client(t)
	t.Cleanup(func() { _ = rdb2.Close() })
	log := slog.New(slog.DiscardHandler)
	b1 := newBatcher(t, queueredis.New(rdb1, queueredis.Config{Prefix: prefix}, log), queue.BatcherConfig{})
	b2 := newBatcher(t, queueredis.New(rdb2, queueredis.Config{Prefix: prefix}, log), queue.BatcherConfig{})

	tenant := queuetest.ID()
	es := make([]queue.Entry, 200)
	for i := range es {
		es[i] = entry(tenant)
	}
	queued := make([]int, len(es))
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		b := b1
		if g%2 == 1 {
			b = b2
		}
		wg.Go(func() {
			for i := range es {
				k := (i + g*25) % len(es)
				res, err := b.Admit(ctx, es[k:k+1])
				if err != nil {
					errs <- err
					return
				}
				if res[0] == queue.Queued {
					mu.Lock()
					queued[k]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for i, n := range queued {
		require.Equal(t, 1, n, "entry %d", i)
	}
}

// A cap key of the wrong type for a later tenant of the batch fails the
// batch after earlier tenants' marks were set: those marks are undone.
func TestLaterTenantTypeErrorUndoesMarks(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	q, rdb := newQueue(t, queue.Options{})
	a, b := queuetest.ID(), queuetest.ID()
	prefix := strings.TrimSuffix(q.StreamKey(), ":q")
	require.NoError(t, rdb.RPush(ctx, prefix+":c:"+b, "x").Err())
	es := []queue.Entry{entry(a), entry(a), entry(b)}
	res, err := q.Admit(ctx, es)
	require.ErrorIs(t, err, queueredis.ErrWrongType)
	require.Nil(t, res)
	for i := range es {
		n, err := rdb.Exists(ctx, q.DedupKey(&es[i])).Result()
		require.NoError(t, err)
		require.Zero(t, n, "no dedup mark for entry %d", i)
	}
	n, err := rdb.XLen(ctx, q.StreamKey()).Result()
	require.NoError(t, err)
	require.Zero(t, n)
}
