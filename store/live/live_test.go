package live_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store/live"
)

func TestFanout(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var emptied []string
	f := live.NewFanout(3, func(tenant string) {
		mu.Lock()
		defer mu.Unlock()
		emptied = append(emptied, tenant)
	})
	a1, err := f.Add("a")
	require.NoError(t, err)
	a2, err := f.Add("a")
	require.NoError(t, err)
	b, err := f.Add("b")
	require.NoError(t, err)
	require.True(t, f.Has("a"))
	require.False(t, f.Has("c"))

	// Batches accumulate up to the limit; Take empties.
	f.Deliver("a", []live.Update{{EventID: "1"}, {EventID: "2"}})
	<-a1.Ready()
	ups, err := a1.Take()
	require.NoError(t, err)
	require.Len(t, ups, 2)
	f.Deliver("a", []live.Update{{EventID: "3"}})
	ups, err = a1.Take()
	require.NoError(t, err)
	require.Equal(t, "3", ups[0].EventID)

	// a2 never took: 2 + 1 + 1 > 3 drops it, a1 stays.
	f.Deliver("a", []live.Update{{EventID: "4"}})
	_, err = a2.Take()
	require.ErrorIs(t, err, live.ErrTooSlow)
	_, err = a1.Take()
	require.NoError(t, err)
	require.Equal(t, live.Stats{Subscriptions: 2, Dropped: 1}, f.Stats())

	// The gap notice reaches every tenant.
	f.Broadcast([]live.Update{{Kind: live.KindGap}})
	ups, _ = b.Take()
	require.Equal(t, live.KindGap, ups[0].Kind)

	a1.Close()
	a1.Close()
	_, err = a1.Take()
	require.ErrorIs(t, err, live.ErrUnsubscribed)
	mu.Lock()
	require.Equal(t, []string{"a"}, emptied, "once, when a's last subscription left")
	mu.Unlock()

	f.Close()
	_, err = b.Take()
	require.ErrorIs(t, err, live.ErrClosed)
	_, err = f.Add("a")
	require.ErrorIs(t, err, live.ErrClosed)
	require.Equal(t, 0, f.Stats().Subscriptions)
}
