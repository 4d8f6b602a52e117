package storesqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/jaraba/pixelgw/store/storesqlite"
	"github.com/jaraba/pixelgw/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func openMigrated(t testing.TB) *storesqlite.Store {
	t.Helper()
	s, err := storesqlite.Open(t.Context(), filepath.Join(t.TempDir(), "pixelgw.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	applied, err := s.Migrate(t.Context())
	require.NoError(t, err)
	require.NotEmpty(t, applied)
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, func(t *testing.T) storetest.Store { return openMigrated(t) })
}

func BenchmarkAppendEvents(b *testing.B) {
	storetest.BenchAppendEvents(b, openMigrated(b))
}
