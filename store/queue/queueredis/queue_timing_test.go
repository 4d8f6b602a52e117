package queueredis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jaraba/pixelgw/store/queue"
	"github.com/jaraba/pixelgw/store/queue/queueredis"
	"github.com/jaraba/pixelgw/store/queue/queuetest"
)

// benchQueue is a queue with a generous cap (the benchmark spreads keys over
// 64 tenants) on its own prefix, cleaned up afterwards.
func benchQueue(b *testing.B) *queueredis.Queue {
	rdb := client(b)
	prefix := randomPrefix(b, rdb)
	// The default cap granularity, as in production (the tests' 10 ms
	// would add bookkeeping to every call).
	return queueredis.New(rdb, queueredis.Config{Options: queue.Options{MaxKeysPerTenant: 1 << 40}, Prefix: prefix}, slog.New(slog.DiscardHandler))
}

// BenchmarkAdmitBatcher is the edge's path: many concurrent callers, one
// entry each, micro-batched into shared script calls.
func BenchmarkAdmitBatcher(b *testing.B) {
	for _, c := range []queue.BatcherConfig{
		{}, // the defaults
		{MaxWait: -1},
		{MaxWait: 500 * time.Microsecond},
		{FillCallers: 64},
		{InFlight: 1},
		{InFlight: 2},
		{MaxEntries: 256},
		{MaxEntries: 1024},
	} {
		name := fmt.Sprintf("maxwait=%s/fill=%d/inflight=%d/max=%d", c.MaxWait, c.FillCallers, c.InFlight, c.MaxEntries)
		b.Run(name, func(b *testing.B) {
			q := benchQueue(b)
			bt := queue.NewBatcher(q, c)
			if err := bt.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			defer func() { _ = bt.Stop(context.Background()) }()
			b.SetParallelism(128) // concurrent beacons in flight
			queuetest.BenchAdmit(b, bt)
			st := bt.Stats()
			if st.Batches > 0 {
				b.ReportMetric(float64(st.Entries)/float64(st.Batches), "entries/batch")
			}
		})
	}
}

// BenchmarkAdmitDirect is the same load without the Batcher: one EVALSHA per
// Admit, for comparison.
func BenchmarkAdmitDirect(b *testing.B) {
	q := benchQueue(b)
	b.SetParallelism(128)
	queuetest.BenchAdmit(b, q)
}

// BenchmarkAdmitBatch100 is one caller admitting batches of 100: the script's
// cost per entry without concurrency. Payloads look like the edge's records
// (UUIDs, times, a page URL, ~600 bytes): Redis's Lua hashes every byte of
// every string it makes, so their size is what the script pays for.
func BenchmarkAdmitBatch100(b *testing.B) { benchAdmitBatch(b, 100) }

// BenchmarkAdmitBatch10 is the same with batches of 10, as an open loop at
// moderate rates forms them: the script's per-call cost weighs more.
func BenchmarkAdmitBatch10(b *testing.B) { benchAdmitBatch(b, 10) }

// BenchmarkAdmitBatch20 is the size the edge's Batcher forms in the closed
// loop of scripts/loadtest/run.sh on the 2-core machine (20-21 per call).
func BenchmarkAdmitBatch20(b *testing.B) { benchAdmitBatch(b, 20) }

// BenchmarkAdmitBatch1 is a lone beacon per call, as under light load: the
// script's fixed cost per call.
func BenchmarkAdmitBatch1(b *testing.B) { benchAdmitBatch(b, 1) }

func benchAdmitBatch(b *testing.B, size int) {
	q := benchQueue(b)
	tenant := queuetest.ID()
	entries := make([]queue.Entry, size)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		for j := range entries {
			id := queuetest.ID()
			ms := start.UnixMilli() + int64(i*size+j)
			payload := fmt.Appendf(nil, `{"v":1,"src":"client","tenant":%q,"id":%q,"name":"page_view","ts":%d,"recv":%d,`+
				`"url":"https://www.example.com/products/%d?utm_source=news","ref":"https://www.example.com/","eng":%d,"sid":%q,`+
				`"visitor":%q,"ip":"203.0.113.7","ua":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",`+
				`"consent":{"a":true,"m":true,"f":false,"policy":"1","gpc":false},"ids":{"fbp":"fb.1.%d.123456789"}}`,
				tenant, id, ms, ms+40, j, j*10, id[:8], id[9:], ms)
			// Each from its own consented visitor, as the edge admits them:
			// a revocation check per entry.
			entries[j] = queue.Entry{TenantID: tenant, EventID: id, EventName: "page_view", Window: 10 * time.Minute, Payload: payload,
				VisitorID: queuetest.ID(), DecidedAt: start}
		}
		if _, err := q.Admit(b.Context(), entries); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(entries))/time.Since(start).Seconds(), "events/s")
}

// BenchmarkDedupKeyMemory measures what a dedup mark costs: N marks shaped
// exactly like the queue's (default-length prefix "pgw" → 22-byte key,
// value 1, PX) and the growth of used_memory. Other clients of the shared
// Redis make the delta noisy; MEMORY USAGE of one key is exact but leaves out
// the expires-table entry.
func BenchmarkDedupKeyMemory(b *testing.B) {
	rdb := client(b)
	defer func() { _ = rdb.Close() }()
	ctx := context.Background()
	var r [2]byte
	_, _ = rand.Read(r[:])
	prefix := "m" + hex.EncodeToString(r[:1]) // same length as "pgw"
	const n = 100_000
	used := func() int64 {
		info := rdb.Info(ctx, "memory").Val()
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
				x, _ := strconv.ParseInt(v, 10, 64)
				return x
			}
		}
		return 0
	}
	for b.Loop() {
		keys := make([]string, n)
		for i := range keys {
			var h [16]byte
			_, _ = rand.Read(h[:])
			keys[i] = prefix + ":d:" + string(h[:])
		}
		before := used()
		for i := 0; i < n; i += 1000 {
			_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, k := range keys[i : i+1000] {
					p.SetNX(ctx, k, 1, 10*time.Minute)
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		after := used()
		one := rdb.MemoryUsage(ctx, keys[0]).Val()
		for i := 0; i < n; i += 1000 {
			rdb.Unlink(ctx, keys[i:i+1000]...)
		}
		b.ReportMetric(float64(after-before)/n, "used_memory_B/key")
		b.ReportMetric(float64(one), "memory_usage_B/key")
		b.ReportMetric(float64(len(keys[0])), "key_B")
	}
}

func BenchmarkDeadLetter(b *testing.B) {
	q, _ := newQueue(b, queuetest.Options())
	queuetest.BenchDeadLetter(b, q)
}

func BenchmarkReclaim(b *testing.B) {
	q, _ := newQueue(b, queuetest.Options())
	queuetest.BenchReclaim(b, q)
}
