package storepg_test

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store/storepg"
)

// statsBenchRows is how many tracking_event rows BenchmarkTenantStats seeds:
// PIXELGW_BENCH_STATS_ROWS, default 100,000 (10,000,000 takes minutes to
// seed: scripts/bench-stats.sh).
func statsBenchRows(b *testing.B) int {
	v := os.Getenv("PIXELGW_BENCH_STATS_ROWS")
	if v == "" {
		return 100_000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1000 {
		b.Fatalf("PIXELGW_BENCH_STATS_ROWS=%q: want an integer >= 1000", v)
	}
	return n
}

// BenchmarkTenantStats measures the stats query on a PostgreSQL seeded with
// PIXELGW_BENCH_STATS_ROWS audit events over 30 days (daily partitions),
// as many delivery outcomes, 1,000 tenants with 5 pixels each, and the
// rollups those rows produce (computed from them with one GROUP BY per
// table), plus consent rollups for every tenant and hour. Each iteration
// reads the stats of another tenant. It reports the mean (ns/op) and the
// p50/p99/max of the iterations.
func BenchmarkTenantStats(b *testing.B) {
	rows := statsBenchRows(b)
	const tenants, days = 1000, 30
	ctx := b.Context()
	schema := newSchema(b)
	s, err := storepg.OpenConfig(ctx, storepg.Config{DSN: testDSN(), SearchPath: schema, MaxConns: 4})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	_, err = s.Migrate(ctx)
	require.NoError(b, err)
	now := time.Now().UTC()
	_, err = s.EnsurePartitions(ctx, now.AddDate(0, 0, -days), now.AddDate(0, 0, 1))
	require.NoError(b, err)

	conn := adminConn(b)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `SET search_path TO `+pgx.Identifier{schema}.Sanitize())
	require.NoError(b, err)
	// Seed without the per-row foreign-key triggers (the rows are built
	// from the tenant table; the test user is a superuser).
	_, err = conn.Exec(ctx, `SET session_replication_role = replica`)
	require.NoError(b, err)
	start := time.Now()
	seed := []struct{ what, sql string }{
		{"tenants", `INSERT INTO tenant (id, slug, name, created_at, updated_at)
			SELECT gen_random_uuid(), 'bench-' || i, 'Bench ' || i, now(), now() FROM generate_series(1, $1) i`},
		{"pixels", `INSERT INTO tracking_pixel (uuid, tenant_id, platform, pixel_id, status, created_at, updated_at)
			SELECT gen_random_uuid(), t.id, (ARRAY['meta','google','linkedin','tiktok','twitter'])[p], 'px' || p, 'green', now(), now()
			FROM tenant t, generate_series(1, 5) p`},
		{"tenant numbering", `CREATE TEMP TABLE bench_tenant AS SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM tenant`},
		{"pixel numbering", `CREATE TEMP TABLE bench_pixel AS
			SELECT t.n, row_number() OVER (PARTITION BY p.tenant_id ORDER BY p.id) - 1 AS k, p.uuid::text AS uuid
			FROM tracking_pixel p JOIN bench_tenant t ON t.id = p.tenant_id`},
		{"index", `CREATE INDEX ON bench_pixel (n, k)`},
		{"events", `INSERT INTO tracking_event (tenant_id, event_id, event_name, event_source, visitor_id,
				event_source_url, client_ip, client_user_agent, fbp, created_at)
			SELECT t.id, 'ev-' || i, (ARRAY['page_view','purchase','lead','add_to_cart'])[1 + i % 4],
				(ARRAY['client','client','client','server','both'])[1 + i % 5], 'v-' || (i % 100000),
				'https://www.example.com/p/' || (i % 1000), '203.0.113.' || (i % 250), 'Mozilla/5.0 (X11; Linux x86_64)',
				'fb.1.1700000000.' || i, now() - make_interval(secs => (i::float8 / $1) * $2 * 86400)
			FROM generate_series(1, $1) i JOIN bench_tenant t ON t.n = i % $3`},
		{"outcomes", `INSERT INTO delivery_outcome (tenant_id, event_id, pixel_uuid, platform, status, attempts, created_at)
			SELECT t.id, 'ev-' || i, p.uuid, 'meta', (ARRAY['delivered','delivered','delivered','delivered','delivered',
				'delivered','delivered','delivered','failed','dead','retrying','skipped','merged'])[1 + i % 13], 1,
				now() - make_interval(secs => (i::float8 / $1) * $2 * 86400)
			FROM generate_series(1, $1) i JOIN bench_tenant t ON t.n = i % $3 JOIN bench_pixel p ON p.n = t.n AND p.k = i % 5`},
		{"event rollups", `INSERT INTO stats_event_hourly (tenant_id, hour, client, server, src_both)
			SELECT tenant_id, date_trunc('hour', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
				count(*) FILTER (WHERE event_source = 'client'), count(*) FILTER (WHERE event_source = 'server'),
				count(*) FILTER (WHERE event_source = 'both')
			FROM tracking_event GROUP BY 1, 2`},
		{"delivery rollups", `INSERT INTO stats_delivery_hourly (tenant_id, pixel_uuid, hour, delivered, failed, dead)
			SELECT tenant_id, pixel_uuid, date_trunc('hour', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
				count(*) FILTER (WHERE status = 'delivered'), count(*) FILTER (WHERE status = 'failed'),
				count(*) FILTER (WHERE status = 'dead')
			FROM delivery_outcome WHERE status IN ('delivered', 'failed', 'dead') GROUP BY 1, 2, 3`},
		{"merge rollups", `INSERT INTO stats_merge_hourly (tenant_id, hour, merged)
			SELECT tenant_id, date_trunc('hour', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', count(*)
			FROM delivery_outcome WHERE status = 'merged' GROUP BY 1, 2`},
		{"consent rollups", `INSERT INTO stats_consent_hourly (tenant_id, hour, decided, marketing)
			SELECT t.id, date_trunc('hour', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - make_interval(hours => h), 40, 25
			FROM tenant t, generate_series(0, $1 * 24 - 1) h`},
		{"analyze", `ANALYZE`},
	}
	for _, q := range seed {
		t0 := time.Now()
		args := []any{}
		switch q.what {
		case "tenants":
			args = []any{tenants}
		case "events", "outcomes":
			args = []any{rows, days, tenants}
		case "consent rollups":
			args = []any{days}
		}
		_, err := conn.Exec(ctx, q.sql, args...)
		require.NoError(b, err, q.what)
		b.Logf("seeded %s in %s", q.what, time.Since(t0).Round(time.Millisecond))
	}
	var evs, outs, rollups int64
	require.NoError(b, conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM tracking_event), (SELECT count(*) FROM delivery_outcome),
		(SELECT (SELECT count(*) FROM stats_event_hourly) + (SELECT count(*) FROM stats_delivery_hourly)
			+ (SELECT count(*) FROM stats_merge_hourly) + (SELECT count(*) FROM stats_consent_hourly))`).Scan(&evs, &outs, &rollups))
	b.Logf("seeded %d events, %d outcomes, %d rollup rows in %s", evs, outs, rollups, time.Since(start).Round(time.Second))
	idRows, err := conn.Query(ctx, `SELECT id::text FROM tenant ORDER BY id`)
	require.NoError(b, err)
	ids, err := pgx.CollectRows(idRows, pgx.RowTo[string])
	require.NoError(b, err)

	// Warm the pool and check the answer is the seeded one.
	st, err := s.TenantStats(ctx, ids[0], time.Now())
	require.NoError(b, err)
	require.Len(b, st.Pixels, 5)
	require.Positive(b, st.Events.Total())

	var durs []time.Duration
	i := 0
	for b.Loop() {
		t0 := time.Now()
		if _, err := s.TenantStats(ctx, ids[i%len(ids)], time.Now()); err != nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(t0))
		i++
	}
	slices.Sort(durs)
	q := func(p float64) float64 {
		return float64(durs[min(len(durs)-1, int(p*float64(len(durs))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(durs[len(durs)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(evs), "events")
	fmt.Fprintf(os.Stderr, "BenchmarkTenantStats: %d events, %d outcomes, %d rollup rows; p50 %.2f ms, p99 %.2f ms, max %.2f ms over %d queries\n",
		evs, outs, rollups, q(0.5), q(0.99), float64(durs[len(durs)-1].Microseconds())/1000, len(durs))
}
