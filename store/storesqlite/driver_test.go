package storesqlite_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/storesqlite"
	"github.com/jaraba/pixelgw/store/storetest"
)

func openRaw(t *testing.T, path string) *storesqlite.Store {
	t.Helper()
	s, err := storesqlite.Open(t.Context(), path)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestCheckSchemaRefusesUnmigrated(t *testing.T) {
	t.Parallel()
	s := openRaw(t, filepath.Join(t.TempDir(), "db.sqlite"))

	err := s.CheckSchema(t.Context())
	require.ErrorIs(t, err, store.ErrSchemaOutdated)
	applied, latest, err := s.SchemaVersion(t.Context())
	require.NoError(t, err)
	require.Zero(t, applied)
	require.GreaterOrEqual(t, latest, 3) // 003_delivery_flags at least

	versions, err := s.Migrate(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, versions[0])
	require.Contains(t, versions, 3)
	require.Equal(t, latest, versions[len(versions)-1])
	require.NoError(t, s.CheckSchema(t.Context()))
}

func TestOpenRejectsBadPaths(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"", ":memory:", "a?mode=memory", "b#frag"} {
		_, err := storesqlite.Open(t.Context(), path)
		require.Error(t, err, path)
	}
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "dir", "pixelgw.db")
	openRaw(t, path)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
}

// Data survives a close and a reopen, and a reopened file needs no migration.
func TestReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pixelgw.db")
	s, err := storesqlite.Open(t.Context(), path)
	require.NoError(t, err)
	_, err = s.Migrate(t.Context())
	require.NoError(t, err)
	ten := storetest.NewTenant(t, s)
	px := storetest.NewPixel(t, s, ten.ID, store.PlatformMeta)
	require.NoError(t, s.Close())

	s2 := openRaw(t, path)
	require.NoError(t, s2.CheckSchema(t.Context()))
	got, err := s2.GetPixel(t.Context(), ten.ID, px.UUID)
	require.NoError(t, err)
	require.Equal(t, px.Credentials, got.Credentials)
}

// Two stores on one file stand for two processes (server and CLI): they
// migrate once between them and write concurrently without SQLITE_BUSY.
func TestTwoProcessesShareOneFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pixelgw.db")
	a, b := openRaw(t, path), openRaw(t, path)

	var (
		wg      sync.WaitGroup
		applied [2][]int
		errs    [2]error
	)
	for i, s := range []*storesqlite.Store{a, b} {
		wg.Go(func() { applied[i], errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	all, err := a.Migrate(t.Context()) // nothing left: every version once
	require.NoError(t, err)
	require.Empty(t, all)
	got := append(applied[0], applied[1]...)
	require.Contains(t, got, 1)
	require.Contains(t, got, 3)
	require.Len(t, got, len(slices.Compact(slices.Sorted(slices.Values(got)))), "each migration applies exactly once")

	ten := storetest.NewTenant(t, a)
	const perWriter = 30
	for i, s := range []*storesqlite.Store{a, b} {
		wg.Go(func() {
			for range perWriter {
				if err := s.AppendEvents(t.Context(), []store.AuditEvent{{
					TenantID: ten.ID, EventID: uuid.NewString(), EventName: "page_view", EventSource: store.SourceClient,
				}}); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	recent, err := b.RecentEvents(t.Context(), ten.ID, 1000)
	require.NoError(t, err)
	require.Len(t, recent, 2*perWriter)
}

// Every up migration has a down migration, and the PostgreSQL driver uses the
// same numbered names.
func TestMigrationFiles(t *testing.T) {
	t.Parallel()
	names := func(dir string) []string {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		var out []string
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".sql") {
				out = append(out, e.Name())
			}
		}
		sort.Strings(out)
		return out
	}
	own := names("migration")
	require.NotEmpty(t, own)
	for _, n := range own {
		if up, ok := strings.CutSuffix(n, ".up.sql"); ok {
			require.Contains(t, own, up+".down.sql")
		}
	}
	if _, err := os.Stat("../storepg/migration"); err != nil {
		t.Skip("store/storepg/migration not present yet")
	}
	require.Equal(t, own, names("../storepg/migration"), "sqlite and postgres migrations must share numbers and names")
}
