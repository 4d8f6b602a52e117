package queueredis_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store/queue"
	"github.com/jaraba/pixelgw/store/queue/queuetest"
)

// TestEraseVisitorAcrossChunks: the scan covers a stream longer than one
// XRANGE chunk, and the stream keeps no field of an erased entry.
func TestEraseVisitorAcrossChunks(t *testing.T) {
	t.Parallel()
	q, rdb := newQueue(t, queue.Options{})
	ctx := t.Context()
	tenant, visitor, other := queuetest.ID(), queuetest.ID(), queuetest.ID()
	const n = 1300
	entries := make([]queue.Entry, 0, n)
	for i := range n {
		v := other
		if i%2 == 0 {
			v = visitor
		}
		entries = append(entries, queue.Entry{TenantID: tenant, EventID: queuetest.ID(), EventName: "page_view",
			Window: time.Minute, VisitorID: v, Payload: []byte("canary-" + v)})
	}
	for i := 0; i < n; i += 250 {
		_, err := q.Admit(ctx, entries[i:min(i+250, n)])
		require.NoError(t, err)
	}
	er, err := q.EraseVisitor(ctx, tenant, visitor, time.Now(), time.Hour)
	require.NoError(t, err)
	require.Equal(t, queue.Erasure{Entries: n / 2}, er)

	left, err := rdb.XRange(ctx, q.StreamKey(), "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, left, n/2)
	for _, x := range left {
		require.Equal(t, other, x.Values["u"])
		require.False(t, strings.Contains(x.Values["v"].(string), visitor))
	}
}
