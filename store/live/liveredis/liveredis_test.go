package liveredis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/jaraba/pixelgw/store/live"
	"github.com/jaraba/pixelgw/store/live/liveredis"
	"github.com/jaraba/pixelgw/store/live/livetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// client connects to the test Redis (REDIS_ADDR, default 127.0.0.1:6379):
// unreachable fails under CI=..., skips otherwise.
func client(t testing.TB, name string) *redis.Client {
	t.Helper()
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, ClientName: name})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		if os.Getenv("CI") != "" {
			t.Fatalf("redis at %s is unreachable (CI is set): %v", addr, err)
		}
		t.Skipf("redis at %s is unreachable, skipping (run `make deps`): %v", addr, err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// randomPrefix isolates one test's channels (pub/sub keeps no keys).
func randomPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "pgwtest:" + hex.EncodeToString(b[:])
}

// newHub starts a hub on its own client (a process of the fleet).
func newHub(t *testing.T, prefix string, maxBuffered int) (*liveredis.Hub, func()) {
	t.Helper()
	h := liveredis.New(client(t, ""), liveredis.Config{Prefix: prefix, MaxBuffered: maxBuffered}, nil)
	require.NoError(t, h.Start(context.Background()))
	stop := func() { require.NoError(t, h.Stop(context.Background())) }
	t.Cleanup(stop)
	return h, stop
}

// TestConformance runs the suite across two hubs on one Redis: what one
// instance publishes reaches the streams of another.
func TestConformance(t *testing.T) {
	t.Parallel()
	livetest.Exercise(t, func(t *testing.T, maxBuffered int) livetest.Hubs {
		prefix := randomPrefix()
		pub, _ := newHub(t, prefix, maxBuffered)
		sub, stopSub := newHub(t, prefix, maxBuffered)
		return livetest.Hubs{Pub: pub, Sub: sub, StopSub: stopSub}
	})
}

// TestPrefixesDoNotMix: two fleets on one Redis never see each other's
// updates.
func TestPrefixesDoNotMix(t *testing.T) {
	t.Parallel()
	a, _ := newHub(t, randomPrefix(), 0)
	b, _ := newHub(t, randomPrefix(), 0)
	tenant := uuid.NewString()
	subB := livetest.Subscribe(t, livetest.Hubs{Pub: b, Sub: b}, tenant)
	require.False(t, a.Listening(tenant), "another fleet's stream is not a listener")
	a.Publish(tenant, []live.Update{{Kind: live.KindAccepted, EventID: "other-fleet"}})
	b.Publish(tenant, []live.Update{{Kind: live.KindAccepted, EventID: "own"}})
	got := livetest.Collect(t, subB, 1)
	require.Equal(t, "own", got[0].EventID)
}

// TestReconnects kills the hub's pub/sub connection: go-redis reconnects
// and subscribes again, the stream gets a gap notice, then updates again.
func TestReconnects(t *testing.T) {
	t.Parallel()
	prefix := randomPrefix()
	pub, _ := newHub(t, prefix, 0)
	name := "pgwtest-live-" + hex.EncodeToString([]byte(prefix[len(prefix)-6:]))
	rdb := client(t, name)
	sub := liveredis.New(rdb, liveredis.Config{Prefix: prefix}, nil)
	require.NoError(t, sub.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, sub.Stop(context.Background())) })
	tenant := uuid.NewString()
	s := livetest.Subscribe(t, livetest.Hubs{Pub: pub, Sub: sub}, tenant)

	// Kill the subscribed connection (named after this test, sub > 0).
	ctx := context.Background()
	admin := client(t, "")
	list, err := admin.ClientList(ctx).Result()
	require.NoError(t, err)
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if field(line, "name") == name && field(line, "sub") != "0" {
			require.NoError(t, admin.Do(ctx, "CLIENT", "KILL", "ID", field(line, "id")).Err())
			killed++
		}
	}
	require.Equal(t, 1, killed, "one pub/sub connection per hub:\n%s", list)

	// Updates published while it reconnects may be lost; publish until
	// one arrives after the gap notice.
	var sawGap bool
	deadline := time.Now().Add(30 * time.Second)
	for {
		pub.Publish(tenant, []live.Update{{Kind: live.KindAccepted, EventID: "after"}})
		select {
		case <-s.Ready():
		case <-time.After(100 * time.Millisecond):
		}
		ups, err := s.Take()
		require.NoError(t, err, "a reconnect does not end the stream")
		for _, u := range ups {
			if u.Kind == live.KindGap {
				sawGap = true
			}
			if u.EventID == "after" && sawGap {
				return
			}
		}
		require.True(t, time.Now().Before(deadline), "no update after the reconnect (gap seen: %v)", sawGap)
	}
}

func field(line, name string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			return v
		}
	}
	return ""
}
