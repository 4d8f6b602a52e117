package storepg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
)

// BenchmarkRollupStatements isolates what the rollups add to an audit batch
// of 1,000 rows (the whole-batch benchmark, BenchmarkAppendBatches, is too
// noisy on a shared machine to show it): BEGIN, the rollup round trip and
// ROLLBACK, without the COPY and the commit both versions pay. "Begin" is
// BEGIN + ROLLBACK alone: the round trips the explicit transaction adds.
func BenchmarkRollupStatements(b *testing.B) {
	dsn := os.Getenv("PIXELGW_TEST_POSTGRES_DSN")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx := b.Context()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Skipf("postgres unreachable: %v", err)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	schema := "pgw_bench_" + hex.EncodeToString(rnd[:])
	_, err = admin.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize())
	require.NoError(b, err)
	b.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = admin.Exec(c, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
		_ = admin.Close(c)
	})
	s, err := OpenConfig(ctx, Config{DSN: dsn, SearchPath: schema, MaxConns: 2})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	_, err = s.Migrate(ctx)
	require.NoError(b, err)

	tenants := make([]pgtype.UUID, 100)
	for i := range tenants {
		id := uuid.NewString()
		_, err := s.CreateTenant(ctx, store.Tenant{ID: id, Slug: "b" + id[:8], Name: "b"})
		require.NoError(b, err)
		tenants[i], _ = parseID(id)
	}
	const size = 1000
	events := func(nTenants int) ([]store.AuditEvent, []pgtype.UUID) {
		evs, tids := make([]store.AuditEvent, size), make([]pgtype.UUID, size)
		for i := range evs {
			tids[i] = tenants[i%nTenants]
			evs[i] = store.AuditEvent{TenantID: uuidString(tids[i]), EventID: uuid.NewString(), EventSource: []string{"client", "server"}[i%2]}
		}
		return evs, tids
	}
	// Each iteration: BEGIN, the rollup statements, ROLLBACK (the commit
	// is paid by the COPY anyway). The rows exist already (one committed
	// run first), so the upserts take their UPDATE path, as in production.
	inTx := func(b *testing.B, fn func(tx pgx.Tx) error) {
		require.NoError(b, pgx.BeginFunc(ctx, s.pool, fn))
		b.ReportAllocs()
		for b.Loop() {
			tx, err := s.pool.Begin(ctx)
			if err != nil {
				b.Fatal(err)
			}
			err = fn(tx)
			_ = tx.Rollback(ctx)
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/row")
	}
	b.Run("Begin", func(b *testing.B) {
		for b.Loop() {
			tx, err := s.pool.Begin(ctx)
			if err != nil {
				b.Fatal(err)
			}
			_ = tx.Rollback(ctx)
		}
	})
	b.Run("Events/1tenant", func(b *testing.B) {
		evs, tids := events(1)
		inTx(b, func(tx pgx.Tx) error { return rollupEvents(ctx, tx, evs, tids, time.Now()) })
	})
	b.Run("Events/100tenants", func(b *testing.B) {
		evs, tids := events(100)
		inTx(b, func(tx pgx.Tx) error { return rollupEvents(ctx, tx, evs, tids, time.Now()) })
	})
	b.Run("Outcomes/1tenant", func(b *testing.B) {
		outs, tids := make([]store.DeliveryOutcome, size), make([]pgtype.UUID, size)
		pixels := []string{uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()}
		for i := range outs {
			status := "delivered"
			switch {
			case i%100 >= 98:
				status = "merged"
			case i%100 >= 95:
				status = "retrying"
			case i%100 >= 90:
				status = "failed"
			}
			tids[i] = tenants[0]
			outs[i] = store.DeliveryOutcome{TenantID: uuidString(tenants[0]), PixelUUID: pixels[i%5], Status: status}
		}
		inTx(b, func(tx pgx.Tx) error {
			for i := range outs {
				if outs[i].Status == "merged" {
					outs[i].EventID = uuid.NewString()
				}
			}
			return rollupOutcomes(ctx, tx, outs, tids, time.Now())
		})
	})
}
