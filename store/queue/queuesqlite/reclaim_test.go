package queuesqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store/queue"
	"github.com/jaraba/pixelgw/store/queue/queuesqlite"
	"github.com/jaraba/pixelgw/store/queue/queuetest"
)

// minIdle on an injected clock: an entry becomes reclaimable exactly when
// it has been pending minIdle, and a reclaim restarts its idle time.
func TestReclaimMinIdle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	var clock atomicTime
	clock.set(time.Now())
	q := open(t, filepath.Join(t.TempDir(), "queue.db"), queuesqlite.Options{Now: clock.get})
	tenant := queuetest.ID()
	_, err := q.Admit(ctx, []queue.Entry{entry(tenant), entry(tenant)})
	require.NoError(t, err)
	taken, err := q.Read(ctx, "g", "dead", 10, 0)
	require.NoError(t, err)
	require.Len(t, taken, 2)

	const minIdle = 30 * time.Second
	advance := func(d time.Duration) { clock.set(clock.get().Add(d)) }
	reclaim := func(consumer string) []queue.Message {
		msgs, err := q.Reclaim(ctx, "g", consumer, minIdle, 10)
		require.NoError(t, err)
		return msgs
	}
	advance(minIdle - time.Millisecond)
	require.Empty(t, reclaim("alive"))
	advance(time.Millisecond)
	got := reclaim("alive")
	require.Len(t, got, 2)
	require.Equal(t, taken[0].ID, got[0].ID)
	require.Empty(t, reclaim("third"), "idle time restarts at the reclaim")
	advance(minIdle)
	require.Len(t, reclaim("third"), 2)
}

// A pending row whose entry is gone is dropped and skipped.
func TestReclaimSkipsDeletedEntries(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "queue.db")
	q := open(t, path, queuesqlite.Options{})
	tenant := queuetest.ID()
	_, err := q.Admit(ctx, []queue.Entry{entry(tenant), entry(tenant), entry(tenant)})
	require.NoError(t, err)
	taken, err := q.Read(ctx, "g", "dead", 10, 0)
	require.NoError(t, err)
	require.Len(t, taken, 3)

	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.ExecContext(ctx, `DELETE FROM entry WHERE id = ?`, taken[0].ID)
	require.NoError(t, err)

	got, err := q.Reclaim(ctx, "g", "alive", 0, 10)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, taken[1].ID, got[0].ID)
	var pending int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM pending`).Scan(&pending))
	require.Equal(t, 2, pending)
}

// A queue file from before dead letters (no entry.target_group) is
// upgraded by Open and keeps its entries.
func TestOpenUpgradesOldFile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "queue.db")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `CREATE TABLE entry (
		id INTEGER PRIMARY KEY AUTOINCREMENT, kind INTEGER NOT NULL, tenant_id TEXT NOT NULL,
		event_id TEXT NOT NULL, event_name TEXT NOT NULL, payload BLOB NOT NULL);
		INSERT INTO entry (kind, tenant_id, event_id, event_name, payload) VALUES (1, 't', 'e', 'lead', x'01')`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	q := open(t, path, queuesqlite.Options{})
	msgs, err := q.Read(ctx, "g", "c", 10, 0)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Equal(t, "e", msgs[0].EventID)
	require.Empty(t, msgs[0].Group)
	// Opening again finds the column in place.
	q2 := open(t, path, queuesqlite.Options{})
	require.NoError(t, q2.Ping(ctx))
}
