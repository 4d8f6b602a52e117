package queuesqlite_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jaraba/pixelgw/store/queue"
	"github.com/jaraba/pixelgw/store/queue/queuesqlite"
	"github.com/jaraba/pixelgw/store/queue/queuetest"
)

// BenchmarkAdmit: concurrent callers, one entry each, one transaction each.
func BenchmarkAdmit(b *testing.B) {
	q := open(b, filepath.Join(b.TempDir(), "queue.db"), queuesqlite.Options{Options: queue.Options{MaxKeysPerTenant: 1 << 40}})
	b.SetParallelism(16)
	queuetest.BenchAdmit(b, q)
}

// BenchmarkAdmitBatcher: the same load through queue.Batcher (group commit).
func BenchmarkAdmitBatcher(b *testing.B) {
	q := open(b, filepath.Join(b.TempDir(), "queue.db"), queuesqlite.Options{Options: queue.Options{MaxKeysPerTenant: 1 << 40}})
	bt := queue.NewBatcher(q, queue.BatcherConfig{})
	if err := bt.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = bt.Stop(context.Background()) }()
	b.SetParallelism(64)
	queuetest.BenchAdmit(b, bt)
	if st := bt.Stats(); st.Batches > 0 {
		b.ReportMetric(float64(st.Entries)/float64(st.Batches), "entries/batch")
	}
}

// BenchmarkAdmitBatch100: one caller, batches of 100 in one transaction.
func BenchmarkAdmitBatch100(b *testing.B) {
	q := open(b, filepath.Join(b.TempDir(), "queue.db"), queuesqlite.Options{Options: queue.Options{MaxKeysPerTenant: 1 << 40}})
	tenant := queuetest.ID()
	entries := make([]queue.Entry, 100)
	payload := make([]byte, 300)
	b.ReportAllocs()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		for j := range entries {
			entries[j] = queue.Entry{TenantID: tenant, EventID: strconv.Itoa(i*100 + j), EventName: "page_view", Window: 10 * time.Minute, Payload: payload}
		}
		if _, err := q.Admit(b.Context(), entries); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(entries))/time.Since(start).Seconds(), "events/s")
}

func BenchmarkDeadLetter(b *testing.B) {
	q := open(b, filepath.Join(b.TempDir(), "queue.db"), queuesqlite.Options{Options: queuetest.Options()})
	queuetest.BenchDeadLetter(b, q)
}

func BenchmarkReclaim(b *testing.B) {
	q := open(b, filepath.Join(b.TempDir(), "queue.db"), queuesqlite.Options{Options: queuetest.Options()})
	queuetest.BenchReclaim(b, q)
}
