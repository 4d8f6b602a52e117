package queueredis_test

import (
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store/queue"
	"github.com/jaraba/pixelgw/store/queue/queueredis"
	"github.com/jaraba/pixelgw/store/queue/queuetest"
)

// Pending entries deleted from the stream are skipped, even when a whole
// XAUTOCLAIM page (COUNT×10 attempts) holds nothing else: the cursor loop
// goes on to the live ones.
func TestReclaimSkipsDeletedEntries(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	q, rdb := newQueue(t, queue.Options{})
	tenant := queuetest.ID()
	es := make([]queue.Entry, 30)
	for i := range es {
		es[i] = entry(tenant)
	}
	_, err := q.Admit(ctx, es)
	require.NoError(t, err)
	msgs, err := q.Read(ctx, "g", "dead", 30, 0)
	require.NoError(t, err)
	require.Len(t, msgs, 30)
	for _, m := range msgs[:25] {
		require.NoError(t, rdb.XDel(ctx, q.StreamKey(), m.ID).Err())
	}
	got, err := q.Reclaim(ctx, "g", "alive", 0, 2)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, msgs[25].ID, got[0].ID)
	require.Equal(t, msgs[26].ID, got[1].ID)
	pending, err := rdb.XPending(ctx, q.StreamKey(), "g").Result()
	require.NoError(t, err)
	require.EqualValues(t, 5, pending.Count, "deleted entries left the pending list")
}

// An entry for another group still pending here (the reader died between
// reading it and passing over it) is acknowledged by Reclaim, not returned.
func TestReclaimPassesOverOtherGroupsEntries(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	q, rdb := newQueue(t, queue.Options{})
	_, err := q.Read(ctx, "google", "c", 1, 0)
	require.NoError(t, err)
	m := queue.Message{Kind: queue.KindEvent, TenantID: queuetest.ID(), EventID: queuetest.ID(), EventName: "purchase"}
	require.NoError(t, q.DeadLetter(ctx, "meta", m, "r"))
	letters, err := q.DeadLetters(ctx, m.TenantID, 10)
	require.NoError(t, err)
	n, err := q.Replay(ctx, m.TenantID, []string{letters[0].ID})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	// Read it raw, as a reader that dies before acknowledging.
	raw, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "google", Consumer: "dead", Streams: []string{q.StreamKey(), ">"}, Count: 10, Block: -1}).Result()
	require.NoError(t, err)
	require.Len(t, raw[0].Messages, 1)
	require.Equal(t, "meta", raw[0].Messages[0].Values["g"])

	got, err := q.Reclaim(ctx, "google", "alive", 0, 10)
	require.NoError(t, err)
	require.Empty(t, got)
	pending, err := rdb.XPending(ctx, q.StreamKey(), "google").Result()
	require.NoError(t, err)
	require.Zero(t, pending.Count)
}

func TestDeadLetterWrongType(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	q, rdb := newQueue(t, queue.Options{})
	m := queue.Message{Kind: queue.KindEvent, TenantID: queuetest.ID(), EventID: queuetest.ID(), EventName: "lead"}
	require.NoError(t, q.DeadLetter(ctx, "meta", m, "r"))
	letters, err := q.DeadLetters(ctx, m.TenantID, 10)
	require.NoError(t, err)
	// The queue stream is broken: the replay fails and the letter stays.
	require.NoError(t, rdb.Set(ctx, q.StreamKey(), "x", 0).Err())
	_, err = q.Replay(ctx, m.TenantID, []string{letters[0].ID})
	require.ErrorIs(t, err, queueredis.ErrWrongType)
	left, err := q.DeadLetters(ctx, m.TenantID, 10)
	require.NoError(t, err)
	require.Len(t, left, 1)
}
