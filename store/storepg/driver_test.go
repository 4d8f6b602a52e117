package storepg_test

// Driver-specific tests: what only PostgreSQL has (partitions, advisory
// locks, uuid columns). Behaviour shared by every driver belongs in
// store/storetest.

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/storepg"
)

func newTenant(t *testing.T, s *storepg.Store) store.Tenant {
	t.Helper()
	id := uuid.NewString()
	ten, err := s.CreateTenant(t.Context(), store.Tenant{ID: id, Slug: "t-" + id[:8], Name: "T"})
	require.NoError(t, err)
	return ten
}

func TestInvalidUUIDIsNotFound(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ten := newTenant(t, s)
	ctx := t.Context()
	for _, bad := range []string{"", "not-a-uuid", "1234", "'; DROP TABLE tenant; --"} {
		checks := map[string]error{}
		_, checks["GetTenant"] = s.GetTenant(ctx, bad)
		_, checks["UpdateTenant"] = s.UpdateTenant(ctx, bad, store.TenantPatch{})
		checks["DeleteTenant"] = s.DeleteTenant(ctx, bad)
		_, checks["AddDomain"] = s.AddDomain(ctx, store.TenantDomain{Hostname: "x.example.com", TenantID: bad})
		checks["SetDomainVerification"] = s.SetDomainVerification(ctx, bad, "x.example.com", store.VerificationVerified)
		checks["DeleteDomain"] = s.DeleteDomain(ctx, bad, "x.example.com")
		_, checks["CreatePixel"] = s.CreatePixel(ctx, store.Pixel{TenantID: bad, Platform: store.PlatformMeta, PixelID: "1"})
		_, checks["GetPixel"] = s.GetPixel(ctx, ten.ID, bad)
		_, checks["GetPixel tenant"] = s.GetPixel(ctx, bad, uuid.NewString())
		_, checks["UpdatePixel"] = s.UpdatePixel(ctx, ten.ID, bad, store.PixelPatch{})
		checks["DeletePixel"] = s.DeletePixel(ctx, ten.ID, bad)
		checks["AddCookieKey"] = s.AddCookieKey(ctx, store.CookieKey{TenantID: bad, KeyID: "k"})
		checks["RetireCookieKey"] = s.RetireCookieKey(ctx, bad, "k")
		_, checks["CreateAPIKey"] = s.CreateAPIKey(ctx, store.APIKey{ID: uuid.NewString(), TenantID: bad, Prefix: "p"})
		checks["RevokeAPIKey"] = s.RevokeAPIKey(ctx, ten.ID, bad)
		checks["AppendEvents"] = s.AppendEvents(ctx, []store.AuditEvent{{TenantID: bad, EventID: "e"}})
		checks["AppendOutcomes"] = s.AppendOutcomes(ctx, []store.DeliveryOutcome{{TenantID: bad, EventID: "e"}})
		checks["AppendResponses"] = s.AppendResponses(ctx, []store.PlatformResponse{{TenantID: bad}})
		_, checks["AppendConsent"] = s.AppendConsent(ctx, store.ConsentRecord{TenantID: bad, VisitorID: "v"}, "")
		_, checks["LatestConsent"] = s.LatestConsent(ctx, bad, "v")
		for name, err := range checks {
			require.ErrorIs(t, err, store.ErrNotFound, "%s(%q)", name, bad)
		}

		pxs, err := s.ListPixels(ctx, bad)
		require.NoError(t, err)
		require.Empty(t, pxs)
		doms, err := s.ListDomains(ctx, bad)
		require.NoError(t, err)
		require.Empty(t, doms)
		recent, err := s.RecentEvents(ctx, bad, 10)
		require.NoError(t, err)
		require.Empty(t, recent)
	}
}

func TestUnmigratedSchema(t *testing.T) {
	t.Parallel()
	s := openUnmigrated(t)
	err := s.CheckSchema(t.Context())
	require.ErrorIs(t, err, store.ErrSchemaOutdated)
	require.Contains(t, err.Error(), "001_init")
	applied, latest, err := s.SchemaVersion(t.Context())
	require.NoError(t, err)
	require.Equal(t, 0, applied)
	require.GreaterOrEqual(t, latest, 3) // 003_delivery_flags at least
}

func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	const instances = 4
	results := make([][]int, instances)
	errs := make([]error, instances)
	var wg sync.WaitGroup
	for i := range instances {
		s, err := storepg.OpenConfig(t.Context(), storepg.Config{DSN: testDSN(), SearchPath: schema, MaxConns: 2})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		wg.Go(func() { results[i], errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	appliedBy := 0
	for i := range instances {
		require.NoError(t, errs[i], "instance %d", i)
		if len(results[i]) > 0 {
			require.Equal(t, migrationVersions(t), results[i])
			appliedBy++
		}
	}
	require.Equal(t, 1, appliedBy, "exactly one instance applies the migrations")
}

func TestMigrateDownUp(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	newTenant(t, s)
	reverted, err := s.MigrateDown(t.Context(), 0)
	require.NoError(t, err)
	want := migrationVersions(t)
	slices.Reverse(want)
	require.Equal(t, want, reverted)
	require.ErrorIs(t, s.CheckSchema(t.Context()), store.ErrSchemaOutdated)
	_, err = s.ListTenants(t.Context())
	require.Error(t, err, "tables are gone")

	applied, err := s.Migrate(t.Context())
	require.NoError(t, err)
	require.Equal(t, migrationVersions(t), applied)
	require.NoError(t, s.CheckSchema(t.Context()))
	list, err := s.ListTenants(t.Context())
	require.NoError(t, err)
	require.Empty(t, list)
}

func TestOpenErrorHidesPassword(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, dsn := range []string{
		"postgres://user:sup3r-s3cret@127.0.0.1:1/db?sslmode=disable&connect_timeout=1",
		"postgres://user:sup3r-s3cret@127.0.0.1:5432/db?sslmode=bogus",
		"host=127.0.0.1 port=1 password=sup3r-s3cret connect_timeout=1",
	} {
		_, err := storepg.Open(ctx, dsn)
		require.Error(t, err)
		require.NotContains(t, err.Error(), "sup3r-s3cret")
	}
}

func TestConsentRecordIsAppendOnly(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	s, err := storepg.OpenConfig(t.Context(), storepg.Config{DSN: testDSN(), SearchPath: schema})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	_, err = s.Migrate(t.Context())
	require.NoError(t, err)
	ten := newTenant(t, s)
	rec, err := s.AppendConsent(t.Context(), store.ConsentRecord{TenantID: ten.ID, VisitorID: "v", Marketing: true, Source: store.ConsentSourceBanner}, "192.0.2.1")
	require.NoError(t, err)

	conn := schemaConn(t, schema)
	_, err = conn.Exec(t.Context(), `UPDATE consent_record SET marketing = false WHERE id = $1`, rec.ID)
	require.ErrorContains(t, err, "append-only")
	got, err := s.LatestConsent(t.Context(), ten.ID, "v")
	require.NoError(t, err)
	require.True(t, got.Marketing)

	// Erasure still works: the tenant's consents go with it.
	require.NoError(t, s.DeleteTenant(t.Context(), ten.ID))
	var n int
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(*) FROM consent_record`).Scan(&n))
	require.Zero(t, n)
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT count(*) FROM consent_ip`).Scan(&n))
	require.Zero(t, n)
}

// schemaConn is a raw connection on schema, for checks the store API does
// not expose.
func schemaConn(t *testing.T, schema string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(testDSN())
	require.NoError(t, err)
	cfg.RuntimeParams["search_path"] = schema
	conn, err := pgx.ConnectConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func partitionRows(t *testing.T, conn *pgx.Conn, table string) map[string]int {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT tableoid::regclass::text, count(*) FROM `+pgx.Identifier{table}.Sanitize()+` GROUP BY 1`)
	require.NoError(t, err)
	out := map[string]int{}
	for rows.Next() {
		var name string
		var n int
		require.NoError(t, rows.Scan(&name, &n))
		out[name] = n
	}
	require.NoError(t, rows.Err())
	return out
}

func TestPartitions(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	s, err := storepg.OpenConfig(t.Context(), storepg.Config{DSN: testDSN(), SearchPath: schema})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	_, err = s.Migrate(t.Context())
	require.NoError(t, err)
	conn := schemaConn(t, schema)
	ten := newTenant(t, s)
	ctx := t.Context()

	d1 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	d2 := d1.AddDate(0, 0, 1)
	ev := func(id string, at time.Time) store.AuditEvent {
		return store.AuditEvent{TenantID: ten.ID, EventID: id, EventName: "purchase", EventSource: store.SourceServer,
			UserData: store.Sealed{KeyID: "k1", Ciphertext: []byte("ud-" + id)}, ClientIP: "203.0.113.1", CreatedAt: at}
	}
	// Before any partition exists, rows land in DEFAULT.
	require.NoError(t, s.AppendEvents(ctx, []store.AuditEvent{ev("a", d1), ev("b", d2)}))
	require.NoError(t, s.AppendOutcomes(ctx, []store.DeliveryOutcome{{TenantID: ten.ID, EventID: "a", Platform: "meta", Status: "delivered", CreatedAt: d1}}))
	require.Equal(t, map[string]int{"tracking_event_default": 2}, partitionRows(t, conn, "tracking_event"))

	created, err := s.EnsurePartitions(ctx, d1, d2)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{
		"tracking_event_p20260301", "delivery_outcome_p20260301", "platform_response_p20260301",
		"tracking_event_p20260302", "delivery_outcome_p20260302", "platform_response_p20260302",
	}, created)
	// Existing rows moved out of DEFAULT.
	require.Equal(t, map[string]int{"tracking_event_p20260301": 1, "tracking_event_p20260302": 1}, partitionRows(t, conn, "tracking_event"))
	require.Equal(t, map[string]int{"delivery_outcome_p20260301": 1}, partitionRows(t, conn, "delivery_outcome"))

	again, err := s.EnsurePartitions(ctx, d1, d2)
	require.NoError(t, err)
	require.Empty(t, again, "idempotent")

	// New rows are routed; reads, purge and reseal cross partitions.
	require.NoError(t, s.AppendEvents(ctx, []store.AuditEvent{ev("c", d2.Add(time.Hour)), ev("d", d2.AddDate(0, 0, 5))}))
	require.Equal(t, map[string]int{"tracking_event_p20260301": 1, "tracking_event_p20260302": 2, "tracking_event_default": 1},
		partitionRows(t, conn, "tracking_event"))
	recent, err := s.RecentEvents(ctx, ten.ID, 10)
	require.NoError(t, err)
	require.Len(t, recent, 4)
	require.Equal(t, "d", recent[0].Event.EventID)
	require.Len(t, recent[3].Outcomes, 1)
	n, err := s.PurgeClientIPs(ctx, d2.Add(2*time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 3, n)
	resealed, err := s.ResealAll(ctx, func(v store.Sealed) (store.Sealed, error) {
		return store.Sealed{KeyID: "k2", Ciphertext: v.Ciphertext}, nil
	})
	require.NoError(t, err)
	require.Equal(t, 4, resealed)

	// Retention: whole days before the cut-off are dropped, the rest stays.
	dropped, err := s.DropPartitionsBefore(ctx, d2.Add(30*time.Minute))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"tracking_event_p20260301", "delivery_outcome_p20260301", "platform_response_p20260301"}, dropped)
	require.Equal(t, map[string]int{"tracking_event_p20260302": 2, "tracking_event_default": 1}, partitionRows(t, conn, "tracking_event"))

	// Tenant deletion cascades into partitions.
	require.NoError(t, s.DeleteTenant(ctx, ten.ID))
	require.Empty(t, partitionRows(t, conn, "tracking_event"))
}

// migrationVersions lists the numbers of the migration files, ascending.
func migrationVersions(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("migration")
	require.NoError(t, err)
	var out []int
	for _, e := range entries {
		num, _, _ := strings.Cut(e.Name(), "_")
		if !strings.HasSuffix(e.Name(), ".up.sql") {
			continue
		}
		v, err := strconv.Atoi(num)
		require.NoError(t, err)
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}
