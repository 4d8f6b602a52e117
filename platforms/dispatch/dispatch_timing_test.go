package dispatch_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms/dispatch"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/queue"
)

// BenchmarkDeliver measures deliveries (event × pixel) per second through
// the queue, the simulator (Meta + GA4 pixel per tenant) and the audit
// (event rows, outcomes, responses): embedded mode (SQLite queue and
// store) and scaled mode (Redis queue, PostgreSQL store).
func BenchmarkDeliver(b *testing.B) {
	b.Run("embedded", func(b *testing.B) { benchDeliver(b, newEnv) })
	b.Run("scaled", func(b *testing.B) { benchDeliver(b, newScaledEnv) })
}

func benchDeliver(b *testing.B, newEnv func(testing.TB, dispatch.Config) *env) {
	const tenants, perRound = 10, 2000
	cfg := dispatch.Defaults()
	cfg.MaxWait = 20 * time.Millisecond
	cfg.MergeWindow = 0 // throughput, not the window's wait
	e := newEnv(b, cfg)
	var ids []string
	for range tenants {
		ten := e.tenant()
		e.pixel(ten, store.PlatformMeta, true, nil)
		e.pixel(ten, store.PlatformGoogle, true, nil)
		ids = append(ids, ten)
	}
	e.start()
	now := time.Now()
	b.ResetTimer()
	for range b.N {
		entries := make([]queue.Entry, 0, perRound)
		for i := range perRound {
			ten := ids[i%tenants]
			id := uuid.NewString()
			entries = append(entries, queue.Entry{TenantID: ten, EventID: id, EventName: "lead",
				Window: time.Hour, Conversion: true, Payload: payload(ten, id, "lead", now)})
		}
		for i := 0; i < len(entries); i += 500 {
			_, err := e.q.Admit(b.Context(), entries[i:min(i+500, len(entries))])
			require.NoError(b, err)
		}
		eventually(b, func() bool { return e.lag() == 0 }, "delivered")
	}
	b.ReportMetric(float64(b.N*perRound*2)/b.Elapsed().Seconds(), "deliveries/s")
}
