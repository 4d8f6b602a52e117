// Package livetest is the conformance suite every live hub runs
// (store/live/livemem, store/live/liveredis). Test-only.
package livetest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store/live"
)

// Hubs are the hubs of one test: Pub publishes, Sub is subscribed to (the
// same hub in one process; two hubs on one broker for a distributed one).
type Hubs struct {
	Pub, Sub live.Hub
	// StopSub stops Sub (server shutdown).
	StopSub func()
}

// NewHubs starts fresh hubs buffering at most maxBuffered updates per
// subscription; the factory stops them at cleanup.
type NewHubs func(t *testing.T, maxBuffered int) Hubs

// wait bounds every wait of the suite (never an assertion on timing).
const wait = 10 * time.Second

// Exercise runs the suite.
func Exercise(t *testing.T, newHubs NewHubs) {
	t.Run("DeliversInOrder", func(t *testing.T) { t.Parallel(); deliversInOrder(t, newHubs) })
	t.Run("TenantIsolation", func(t *testing.T) { t.Parallel(); tenantIsolation(t, newHubs) })
	t.Run("SlowSubscriberDropped", func(t *testing.T) { t.Parallel(); slowDropped(t, newHubs) })
	t.Run("CloseAndStop", func(t *testing.T) { t.Parallel(); closeAndStop(t, newHubs) })
}

// Subscribe subscribes and waits until the publishing hub knows a stream
// of the tenant is open.
func Subscribe(t *testing.T, h Hubs, tenant string) *live.Subscription {
	t.Helper()
	sub, err := h.Sub.Subscribe(context.Background(), tenant)
	require.NoError(t, err)
	t.Cleanup(sub.Close)
	require.True(t, h.Sub.Listening(tenant), "a subscribed tenant is listened to at once where it was subscribed")
	deadline := time.Now().Add(wait)
	for !h.Pub.Listening(tenant) {
		require.True(t, time.Now().Before(deadline), "the publishing hub never learned of the stream")
		time.Sleep(5 * time.Millisecond)
	}
	return sub
}

// Collect takes from sub until it holds n updates (failing on an end or
// after a generous deadline).
func Collect(t *testing.T, sub *live.Subscription, n int) []live.Update {
	t.Helper()
	var got []live.Update
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for len(got) < n {
		select {
		case <-sub.Ready():
		case <-timer.C:
			t.Fatalf("got %d of %d updates: %+v", len(got), n, got)
		}
		ups, err := sub.Take()
		require.NoError(t, err)
		got = append(got, ups...)
	}
	return got
}

// Ended waits until sub ended and returns its error.
func Ended(t *testing.T, sub *live.Subscription) error {
	t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		if _, err := sub.Take(); err != nil {
			return err
		}
		select {
		case <-sub.Ready():
		case <-timer.C:
			t.Fatal("the subscription never ended")
		}
	}
}

func accepted(id string) live.Update {
	return live.Update{
		Kind: live.KindAccepted, EventID: id, At: time.Now().UTC().Truncate(time.Millisecond),
		EventName: "purchase", Source: "both", URL: "https://shop.example/ok", ClientIP: "203.0.113.9",
		UserAgent: "Mozilla/5.0", FBP: "fb.1.1700000000000.1234567890", FBC: "fb.1.1700000000000.AbC", GCLID: "gclid-1", HasUserData: true,
	}
}

func delivery(id, status string, code int) live.Update {
	return live.Update{
		Kind: live.KindDelivery, EventID: id, At: time.Now().UTC().Truncate(time.Millisecond), EventName: "purchase", Source: "both",
		Pixel: uuid.NewString(), Platform: "meta", Status: status, Attempts: 2, HTTPStatus: code, Test: true,
	}
}

func deliversInOrder(t *testing.T, newHubs NewHubs) {
	h := newHubs(t, 0)
	tenant := uuid.NewString()
	require.False(t, h.Pub.Listening(uuid.NewString()), "nobody listens to a tenant without streams")
	a, b := Subscribe(t, h, tenant), Subscribe(t, h, tenant)

	id := uuid.NewString()
	want := []live.Update{accepted(id), delivery(id, "retrying", 503), delivery(id, "delivered", 200)}
	h.Pub.Publish(tenant, append([]live.Update(nil), want[:1]...))
	h.Pub.Publish(tenant, append([]live.Update(nil), want[1:]...))
	h.Pub.Publish(tenant, nil)
	require.Equal(t, want, Collect(t, a, 3), "every field, in order")
	require.Equal(t, want, Collect(t, b, 3), "every stream of the tenant gets them")
	require.Equal(t, 2, h.Sub.Stats().Subscriptions)
}

func tenantIsolation(t *testing.T, newHubs NewHubs) {
	h := newHubs(t, 0)
	ta, tb := uuid.NewString(), uuid.NewString()
	subA, subB := Subscribe(t, h, ta), Subscribe(t, h, tb)
	for i := range 5 {
		h.Pub.Publish(tb, []live.Update{accepted("b-" + strconv.Itoa(i))})
	}
	h.Pub.Publish(ta, []live.Update{accepted("a-last")})
	gotA := Collect(t, subA, 1)
	require.Len(t, gotA, 1)
	require.Equal(t, "a-last", gotA[0].EventID, "A's stream holds nothing of B, though B's were published first")
	gotB := Collect(t, subB, 5)
	for _, u := range gotB {
		require.NotEqual(t, "a-last", u.EventID)
	}
	ups, err := subA.Take()
	require.NoError(t, err)
	require.Empty(t, ups)
}

func slowDropped(t *testing.T, newHubs NewHubs) {
	const max = 4
	h := newHubs(t, max)
	tenant := uuid.NewString()
	slow, fast := Subscribe(t, h, tenant), Subscribe(t, h, tenant)
	before := h.Sub.Stats().Dropped
	// The fast subscriber takes each update before the next is published;
	// the slow one never reads and is dropped once it holds more than max.
	for i := range max + 2 {
		h.Pub.Publish(tenant, []live.Update{accepted("e-" + strconv.Itoa(i))})
		got := Collect(t, fast, 1)
		require.Equal(t, "e-"+strconv.Itoa(i), got[0].EventID)
	}
	require.ErrorIs(t, Ended(t, slow), live.ErrTooSlow)
	require.Equal(t, before+1, h.Sub.Stats().Dropped, "counted")

	// A burst larger than the buffer drops the fast one too, and Publish
	// returns at once: it never waits for a subscriber.
	burst := make([]live.Update, 10*max)
	for i := range burst {
		burst[i] = accepted("burst")
	}
	h.Pub.Publish(tenant, burst)
	require.ErrorIs(t, Ended(t, fast), live.ErrTooSlow)
	require.Equal(t, 0, h.Sub.Stats().Subscriptions, "no stream left")
}

func closeAndStop(t *testing.T, newHubs NewHubs) {
	h := newHubs(t, 0)
	tenant := uuid.NewString()
	a, b := Subscribe(t, h, tenant), Subscribe(t, h, tenant)
	a.Close()
	a.Close()
	require.ErrorIs(t, Ended(t, a), live.ErrUnsubscribed)
	h.Pub.Publish(tenant, []live.Update{accepted("after-close")})
	require.Equal(t, "after-close", Collect(t, b, 1)[0].EventID, "the other stream stays")

	h.StopSub()
	require.ErrorIs(t, Ended(t, b), live.ErrClosed, "shutdown ends every stream")
	_, err := h.Sub.Subscribe(context.Background(), tenant)
	require.Error(t, err)
	require.Equal(t, 0, h.Sub.Stats().Subscriptions)
}
