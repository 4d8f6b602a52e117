package storetest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jaraba/pixelgw/store"
)

// BenchAppendBatches measures the batched audit writes the stats rollups
// ride on (README "Measured": their cost per row), with batches of 1,000:
//
//   - Events/1tenant: every event of one tenant (one rollup row per batch);
//   - Events/100tenants: 10 events each of 100 tenants (100 rollup rows);
//   - Outcomes/1tenant: 5 pixels, 90% delivered, 5% failed, 3% retrying, 2%
//     merged (ledger inserts).
//
// It uses only AppendEvents and AppendOutcomes, so it runs unchanged on a
// store without rollups (the "before").
func BenchAppendBatches(b *testing.B, s store.Store) {
	const size = 1000
	one := NewTenant(b, s)
	many := make([]store.Tenant, 100)
	for i := range many {
		many[i] = NewTenant(b, s)
	}
	event := func(tenant string) store.AuditEvent {
		e := sampleEvent(tenant, time.Time{})
		e.EventSource = []string{store.SourceClient, store.SourceServer}[len(e.EventID)%2]
		return e
	}
	run := func(b *testing.B, write func() error) {
		b.ReportAllocs()
		for b.Loop() {
			if err := write(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "rows/s")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/row")
	}
	b.Run("Events/1tenant", func(b *testing.B) {
		batch := make([]store.AuditEvent, size)
		for i := range batch {
			batch[i] = event(one.ID)
		}
		run(b, func() error { return s.AppendEvents(b.Context(), batch) })
	})
	b.Run("Events/100tenants", func(b *testing.B) {
		batch := make([]store.AuditEvent, size)
		for i := range batch {
			batch[i] = event(many[i%len(many)].ID)
		}
		run(b, func() error { return s.AppendEvents(b.Context(), batch) })
	})
	b.Run("Outcomes/1tenant", func(b *testing.B) {
		pixels := make([]string, 5)
		for i := range pixels {
			pixels[i] = uuid.NewString()
		}
		batch := make([]store.DeliveryOutcome, size)
		for i := range batch {
			status := "delivered"
			switch i % 100 {
			case 90, 91, 92, 93, 94:
				status = "failed"
			case 95, 96, 97:
				status = "retrying"
			case 98, 99:
				status = "merged"
			}
			batch[i] = store.DeliveryOutcome{
				TenantID: one.ID, EventID: uuid.NewString(), PixelUUID: pixels[i%len(pixels)], Platform: store.PlatformMeta,
				Status: status, Attempts: 1,
			}
		}
		run(b, func() error {
			// Fresh event ids for the merged ones, as in production (a
			// ledger hit would skip the count).
			for i := 98; i < size; i += 100 {
				batch[i].EventID, batch[i+1].EventID = uuid.NewString(), uuid.NewString()
			}
			return s.AppendOutcomes(b.Context(), batch)
		})
	})
}
