package queuesqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/jaraba/pixelgw/store/queue"
	"github.com/jaraba/pixelgw/store/queue/queuesqlite"
	"github.com/jaraba/pixelgw/store/queue/queuetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func open(t testing.TB, path string, opts queuesqlite.Options) *queuesqlite.Queue {
	t.Helper()
	q, err := queuesqlite.Open(context.Background(), path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, q.Close()) })
	return q
}

func TestConformance(t *testing.T) {
	t.Parallel()
	queuetest.Exercise(t, func(t *testing.T) queue.Queue {
		return open(t, filepath.Join(t.TempDir(), "queue.db"), queuesqlite.Options{Options: queuetest.Options()})
	})
}

func TestConformanceBatcher(t *testing.T) {
	t.Parallel()
	queuetest.Exercise(t, func(t *testing.T) queue.Queue {
		q := open(t, filepath.Join(t.TempDir(), "queue.db"), queuesqlite.Options{Options: queuetest.Options()})
		b := queue.NewBatcher(q, queue.BatcherConfig{})
		require.NoError(t, b.Start(t.Context()))
		t.Cleanup(func() { require.NoError(t, b.Stop(context.Background())) })
		return b
	})
}

func entry(tenant string) queue.Entry {
	return queue.Entry{TenantID: tenant, EventID: queuetest.ID(), EventName: "purchase", Window: time.Hour, Conversion: true, Payload: []byte("p")}
}

// A restart keeps the dedup window, the revocations, the queue and the
// groups' positions.
func TestRestartKeepsState(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "queue.db")
	tenant, visitor := queuetest.ID(), queuetest.ID()
	e1, e2 := entry(tenant), entry(tenant)

	q, err := queuesqlite.Open(ctx, path, queuesqlite.Options{})
	require.NoError(t, err)
	_, err = q.Admit(ctx, []queue.Entry{e1, e2})
	require.NoError(t, err)
	require.NoError(t, q.SetDecision(ctx, tenant, visitor, time.Now(), time.Hour))
	msgs, err := q.Read(ctx, "g", "c", 1, 0)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.NoError(t, q.Ack(ctx, "g", msgs[0].ID))
	require.NoError(t, q.Close())

	q = open(t, path, queuesqlite.Options{})
	e3 := entry(tenant)
	e3.VisitorID, e3.DecidedAt = visitor, time.Now().Add(-time.Hour)
	res, err := q.Admit(ctx, []queue.Entry{e1, e3})
	require.NoError(t, err)
	require.Equal(t, []queue.Result{queue.Duplicate, queue.Revoked}, res)
	msgs, err = q.Read(ctx, "g", "c", 10, 0)
	require.NoError(t, err)
	require.Len(t, msgs, 2, "the second entry and the merge of e1")
	require.Equal(t, e2.EventID, msgs[0].EventID)
	require.Equal(t, queue.KindMerge, msgs[1].Kind)
}

// A failure inside the transaction leaves no dedup mark: the retry is
// accepted.
func TestFailedEnqueueLeavesNoMark(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "queue.db")
	q := open(t, path, queuesqlite.Options{})
	// Make the enqueue fail after the dedup insert, from another connection.
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.ExecContext(ctx, `CREATE TRIGGER fail_enqueue BEFORE INSERT ON entry BEGIN SELECT RAISE(ABORT, 'enqueue broken'); END`)
	require.NoError(t, err)

	tenant := queuetest.ID()
	es := []queue.Entry{entry(tenant), entry(tenant)}
	res, err := q.Admit(ctx, es)
	require.ErrorContains(t, err, "enqueue broken")
	require.Nil(t, res)

	_, err = db.ExecContext(ctx, `DROP TRIGGER fail_enqueue`)
	require.NoError(t, err)
	res, err = q.Admit(ctx, es)
	require.NoError(t, err)
	require.Equal(t, []queue.Result{queue.Queued, queue.Queued}, res, "the retry is accepted")
}

// Purge deletes expired keys and revocations and keeps the count exact.
func TestPurge(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	var clock atomicTime
	clock.set(time.Now())
	q := open(t, filepath.Join(t.TempDir(), "queue.db"), queuesqlite.Options{
		Options: queue.Options{MaxKeysPerTenant: 3}, Now: clock.get, PurgeInterval: time.Millisecond,
	})
	tenant := queuetest.ID()
	var es []queue.Entry
	for range 3 {
		e := entry(tenant)
		e.Window = time.Minute
		es = append(es, e)
	}
	_, err := q.Admit(ctx, es)
	require.NoError(t, err)
	res, err := q.Admit(ctx, []queue.Entry{entry(tenant)})
	require.NoError(t, err)
	require.Equal(t, []queue.Result{queue.OverCap}, res)

	clock.set(clock.get().Add(2 * time.Minute))
	require.NoError(t, q.Purge(ctx))
	// All three slots are free again.
	res, err = q.Admit(ctx, []queue.Entry{entry(tenant), entry(tenant), entry(tenant), entry(tenant)})
	require.NoError(t, err)
	require.Equal(t, []queue.Result{queue.Queued, queue.Queued, queue.Queued, queue.OverCap}, res)

	// The loop runs and stops cleanly.
	require.NoError(t, q.Stop(ctx))
	require.NoError(t, q.Start(ctx))
	require.NoError(t, q.Start(ctx))
	require.NoError(t, q.Stop(ctx))
	require.NoError(t, q.Stop(ctx))
}

func TestOpenRejectsBadPath(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"", ":memory:", "x.db?mode=ro"} {
		_, err := queuesqlite.Open(t.Context(), p, queuesqlite.Options{})
		require.Error(t, err, p)
	}
}
