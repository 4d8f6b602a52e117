// Package queuetest is the conformance suite every queue.Queue implementation
// runs (queueredis, queuesqlite). It is imported only from tests.
package queuetest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store/queue"
)

// Cap is the per-tenant live-key cap the suite expects: open must return a
// queue built with Options().
const Cap = 64

// DeadLetterCap is the per-tenant dead-letter cap the suite expects.
const DeadLetterCap = 5

// Options returns the options the opened queue must use.
func Options() queue.Options {
	return queue.Options{MaxKeysPerTenant: Cap, DeadLetterCap: DeadLetterCap}
}

// Windows used by the suite.
const (
	long  = 48 * time.Hour
	short = 10 * time.Minute
	// tiny is the window of the expiry tests; they poll with a deadline.
	tiny = 50 * time.Millisecond
)

// pollDeadline bounds every "eventually" loop of the suite.
const pollDeadline = 10 * time.Second

// Exercise runs the suite. open must return a fresh, empty queue (its own
// stream or file) configured with Options(), and close it in t.Cleanup.
func Exercise(t *testing.T, open func(t *testing.T) queue.Queue) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, q queue.Queue)
	}{
		{"DuplicateAcrossCalls", testDuplicateAcrossCalls},
		{"DuplicateInsideBatch", testDuplicateInsideBatch},
		{"KeyIsTenantNameAndID", testKeyParts},
		{"WindowExpiry", testWindowExpiry},
		{"Revocation", testRevocation},
		{"RevocationKeepsNewest", testRevocationKeepsNewest},
		{"Cap", testCap},
		{"CapRecoversAfterExpiry", testCapRecovers},
		{"InvalidEntryAdmitsNothing", testInvalidEntry},
		{"PayloadRoundTrip", testPayloadRoundTrip},
		{"TwoGroupsSeeEveryEntryOnce", testTwoGroups},
		{"Lag", testLag},
		{"ReadBlocksUntilAdmit", testReadBlocks},
		{"ConcurrentAdmitSameIDs", testConcurrentAdmit},
		{"EmptyBatch", testEmptyBatch},
		{"ReclaimAfterConsumerDies", testReclaim},
		{"ReclaimLimitAndUnknownGroup", testReclaimLimit},
		{"DeadLettersPerTenant", testDeadLetters},
		{"DeadLetterInvalid", testDeadLetterInvalid},
		{"DeadLetterCapDropsOldest", testDeadLetterCap},
		{"ReplayReachesOnlyItsGroup", testReplay},
		{"ReplayIgnoresOtherTenants", testReplayIsolation},
		{"EraseVisitor", testEraseVisitor},
		{"EraseVisitorKeepsReplayedVisitor", testEraseReplayed},
		{"ErasedAtMarkers", testErasedAt},
		{"Ping", func(t *testing.T, q queue.Queue) { require.NoError(t, q.Ping(t.Context())) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// ID returns a random UUID-shaped string.
func ID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func pageView(tenant, id string) queue.Entry {
	return queue.Entry{TenantID: tenant, EventID: id, EventName: "page_view", Window: short, Payload: []byte("pv:" + id)}
}

func purchase(tenant, id string) queue.Entry {
	return queue.Entry{TenantID: tenant, EventID: id, EventName: "purchase", Window: long, Conversion: true, Payload: []byte("buy:" + id)}
}

func admit(t *testing.T, q queue.Queue, entries ...queue.Entry) []queue.Result {
	t.Helper()
	res, err := q.Admit(t.Context(), entries)
	require.NoError(t, err)
	require.Len(t, res, len(entries))
	return res
}

// drain reads everything currently available to group, acknowledging it.
func drain(t *testing.T, q queue.Queue, group string) []queue.Message {
	t.Helper()
	var out []queue.Message
	for {
		msgs, err := q.Read(t.Context(), group, "c1", 7, 0)
		require.NoError(t, err)
		if len(msgs) == 0 {
			return out
		}
		ids := make([]string, len(msgs))
		for i, m := range msgs {
			ids[i] = m.ID
		}
		require.NoError(t, q.Ack(t.Context(), group, ids...))
		out = append(out, msgs...)
	}
}

type kindID struct {
	Kind    queue.Kind
	Tenant  string
	Name    string
	EventID string
}

func summarize(msgs []queue.Message) []kindID {
	out := make([]kindID, len(msgs))
	for i, m := range msgs {
		out[i] = kindID{m.Kind, m.TenantID, m.EventName, m.EventID}
	}
	return out
}

func testDuplicateAcrossCalls(t *testing.T, q queue.Queue) {
	tenant, pv, buy := ID(), ID(), ID()
	require.Equal(t, []queue.Result{queue.Queued, queue.Queued}, admit(t, q, pageView(tenant, pv), purchase(tenant, buy)))
	require.Equal(t, []queue.Result{queue.Duplicate, queue.Duplicate}, admit(t, q, pageView(tenant, pv), purchase(tenant, buy)))
	// A third copy of the conversion is again a merge.
	require.Equal(t, []queue.Result{queue.Duplicate}, admit(t, q, purchase(tenant, buy)))

	got := drain(t, q, "g")
	require.Equal(t, []kindID{
		{queue.KindEvent, tenant, "page_view", pv},
		{queue.KindEvent, tenant, "purchase", buy},
		{queue.KindMerge, tenant, "purchase", buy},
		{queue.KindMerge, tenant, "purchase", buy},
	}, summarize(got))
	require.Equal(t, []byte("buy:"+buy), got[2].Payload, "a merge entry carries the repeat's payload")
}

func testDuplicateInsideBatch(t *testing.T, q queue.Queue) {
	tenant, pv, buy := ID(), ID(), ID()
	res := admit(t, q, pageView(tenant, pv), pageView(tenant, pv), purchase(tenant, buy), purchase(tenant, buy))
	require.Equal(t, []queue.Result{queue.Queued, queue.Duplicate, queue.Queued, queue.Duplicate}, res)
	require.Equal(t, []kindID{
		{queue.KindEvent, tenant, "page_view", pv},
		{queue.KindEvent, tenant, "purchase", buy},
		{queue.KindMerge, tenant, "purchase", buy},
	}, summarize(drain(t, q, "g")))
}

func testKeyParts(t *testing.T, q queue.Queue) {
	t1, t2, id := ID(), ID(), ID()
	// Same event id: other tenant, other name → independent keys.
	res := admit(t, q, purchase(t1, id), purchase(t2, id), pageView(t1, id))
	require.Equal(t, []queue.Result{queue.Queued, queue.Queued, queue.Queued}, res)
	res = admit(t, q, purchase(t2, id), purchase(t1, id), pageView(t1, id))
	require.Equal(t, []queue.Result{queue.Duplicate, queue.Duplicate, queue.Duplicate}, res)
	// Separator: ("ab","c") and ("a","bc") are different keys.
	a := queue.Entry{TenantID: t1 + "ab", EventName: "c", EventID: id, Window: long}
	b := queue.Entry{TenantID: t1 + "a", EventName: "bc", EventID: id, Window: long}
	require.Equal(t, []queue.Result{queue.Queued, queue.Queued}, admit(t, q, a, b))
}

func testWindowExpiry(t *testing.T, q queue.Queue) {
	tenant, id := ID(), ID()
	e := queue.Entry{TenantID: tenant, EventID: id, EventName: "page_view", Window: tiny}
	require.Equal(t, []queue.Result{queue.Queued}, admit(t, q, e))
	// Polled, not slept: the key must lapse within the deadline.
	require.Eventually(t, func() bool { return admit(t, q, e)[0] == queue.Queued }, pollDeadline, 10*time.Millisecond)
	// A long-window event next to it does not lapse.
	buy := purchase(tenant, ID())
	require.Equal(t, []queue.Result{queue.Queued}, admit(t, q, buy))
	require.Equal(t, []queue.Result{queue.Duplicate}, admit(t, q, buy))
}

func testRevocation(t *testing.T, q queue.Queue) {
	ctx := t.Context()
	tenant, other, visitor := ID(), ID(), ID()
	decided := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	revokedAt := decided.Add(time.Second)
	require.NoError(t, q.SetDecision(ctx, tenant, visitor, revokedAt, time.Hour))

	withVisitor := func(e queue.Entry, v string, at time.Time) queue.Entry {
		e.VisitorID, e.DecidedAt = v, at
		return e
	}
	id := ID()
	res := admit(t, q,
		withVisitor(purchase(tenant, id), visitor, decided),     // cookie older than the revocation
		withVisitor(pageView(tenant, ID()), visitor, decided),   // any event of that cookie
		withVisitor(pageView(tenant, ID()), visitor, revokedAt), // same instant: not newer
		withVisitor(pageView(tenant, ID()), visitor, time.Time{}),
		withVisitor(pageView(tenant, ID()), ID(), decided),   // another visitor
		withVisitor(pageView(other, ID()), visitor, decided), // the same visitor id in another tenant
		withVisitor(pageView(tenant, ID()), "", decided),     // no visitor
	)
	require.Equal(t, []queue.Result{queue.Revoked, queue.Revoked, queue.Queued, queue.Queued, queue.Queued, queue.Queued, queue.Queued}, res)

	// The revoked entry left no dedup mark: a copy under a newer decision is queued.
	res = admit(t, q, withVisitor(purchase(tenant, id), visitor, revokedAt.Add(time.Second)))
	require.Equal(t, []queue.Result{queue.Queued}, res)

	msgs := drain(t, q, "g")
	require.Len(t, msgs, 6)
	for _, m := range msgs {
		require.Equal(t, queue.KindEvent, m.Kind)
	}
	require.Equal(t, id, msgs[5].EventID)
}

func testRevocationKeepsNewest(t *testing.T, q queue.Queue) {
	ctx := t.Context()
	tenant, visitor := ID(), ID()
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	require.NoError(t, q.SetDecision(ctx, tenant, visitor, base.Add(10*time.Second), time.Hour))
	require.NoError(t, q.SetDecision(ctx, tenant, visitor, base, time.Hour)) // older: ignored
	e := pageView(tenant, ID())
	e.VisitorID, e.DecidedAt = visitor, base.Add(5*time.Second)
	require.Equal(t, []queue.Result{queue.Revoked}, admit(t, q, e))

	// A newer decision (the visitor consented again) moves the bar up.
	require.NoError(t, q.SetDecision(ctx, tenant, visitor, base.Add(20*time.Second), time.Hour))
	e.DecidedAt = base.Add(15 * time.Second)
	require.Equal(t, []queue.Result{queue.Revoked}, admit(t, q, e))
	e.DecidedAt = base.Add(20 * time.Second)
	require.Equal(t, []queue.Result{queue.Queued}, admit(t, q, e))

	// A decision expires with its ttl.
	v2 := ID()
	require.NoError(t, q.SetDecision(ctx, tenant, v2, base.Add(time.Minute), tiny))
	e2 := pageView(tenant, ID())
	e2.VisitorID, e2.DecidedAt = v2, base
	require.Eventually(t, func() bool { return admit(t, q, e2)[0] == queue.Queued }, pollDeadline, 10*time.Millisecond)
}

func testCap(t *testing.T, q queue.Queue) {
	full, other := ID(), ID()
	var batch []queue.Entry
	for range Cap {
		batch = append(batch, purchase(full, ID()))
	}
	for _, r := range admit(t, q, batch...) {
		require.Equal(t, queue.Queued, r)
	}
	over := purchase(full, ID())
	res := admit(t, q, over, pageView(other, ID()), batch[0], pageView(full, ID()))
	require.Equal(t, []queue.Result{queue.OverCap, queue.Queued, queue.Duplicate, queue.OverCap}, res,
		"over the cap: new keys refused for that tenant only; duplicates still recognised")
	// OverCap left nothing behind: still refused, never Duplicate.
	require.Equal(t, []queue.Result{queue.OverCap}, admit(t, q, over))
	// The other tenant still admits a whole batch.
	batch = batch[:0]
	for range Cap / 2 {
		batch = append(batch, pageView(other, ID()))
	}
	for _, r := range admit(t, q, batch...) {
		require.Equal(t, queue.Queued, r)
	}
	// A batch crossing the cap is cut exactly at the cap.
	mixed := ID()
	batch = batch[:0]
	for range Cap + 3 {
		batch = append(batch, pageView(mixed, ID()))
	}
	res = admit(t, q, batch...)
	for i, r := range res {
		want := queue.Queued
		if i >= Cap {
			want = queue.OverCap
		}
		require.Equal(t, want, r, "entry %d", i)
	}
	got := drain(t, q, "g")
	require.Len(t, got, Cap+1+Cap/2+1+Cap) // merge of batch[0] included
}

func testCapRecovers(t *testing.T, q queue.Queue) {
	tenant := ID()
	batch := make([]queue.Entry, Cap)
	for i := range batch {
		batch[i] = queue.Entry{TenantID: tenant, EventID: ID(), EventName: "page_view", Window: tiny}
	}
	for _, r := range admit(t, q, batch...) {
		require.Equal(t, queue.Queued, r)
	}
	// Once the keys lapse, the tenant admits again (the accounting may lag
	// the keys by its documented granularity).
	require.Eventually(t, func() bool {
		return admit(t, q, pageView(tenant, ID()))[0] == queue.Queued
	}, pollDeadline, 10*time.Millisecond)
}

func testInvalidEntry(t *testing.T, q queue.Queue) {
	tenant := ID()
	good := purchase(tenant, ID())
	for name, bad := range map[string]queue.Entry{
		"no tenant": {EventID: ID(), EventName: "lead", Window: long},
		"no id":     {TenantID: tenant, EventName: "lead", Window: long},
		"no name":   {TenantID: tenant, EventID: ID(), Window: long},
		"no window": {TenantID: tenant, EventID: ID(), EventName: "lead"},
	} {
		res, err := q.Admit(t.Context(), []queue.Entry{good, bad})
		require.ErrorIs(t, err, queue.ErrInvalidEntry, name)
		require.Nil(t, res, name)
	}
	require.Empty(t, drain(t, q, "g"))
	require.Equal(t, []queue.Result{queue.Queued}, admit(t, q, good), "nothing of the failed batch was marked")
}

func testPayloadRoundTrip(t *testing.T, q queue.Queue) {
	tenant := ID()
	big := bytes.Repeat([]byte{0, 1, 2, 0xff, '"', '\\', '\n'}, 5000)
	payloads := [][]byte{nil, {0}, []byte("{\"a\":\"ñ\"}"), big}
	var batch []queue.Entry
	for _, p := range payloads {
		e := purchase(tenant, ID())
		e.Payload = p
		batch = append(batch, e)
	}
	admit(t, q, batch...)
	got := drain(t, q, "g")
	require.Len(t, got, len(payloads))
	for i, m := range got {
		require.Equal(t, len(payloads[i]), len(m.Payload), "payload %d", i)
		if len(payloads[i]) > 0 {
			require.Equal(t, payloads[i], m.Payload, "payload %d", i)
		}
		require.Equal(t, batch[i].EventID, m.EventID)
		require.Equal(t, tenant, m.TenantID)
	}
}

func testTwoGroups(t *testing.T, q queue.Queue) {
	tenant := ID()
	var batch []queue.Entry
	for range 23 {
		batch = append(batch, pageView(tenant, ID()))
	}
	// The groups exist before the entries: a group sees what is retained
	// when it is created, and what every existing group has acknowledged
	// may be gone.
	for _, g := range []string{"meta", "google"} {
		msgs, err := q.Read(t.Context(), g, "a", 10, 0)
		require.NoError(t, err)
		require.Empty(t, msgs)
	}
	admit(t, q, batch[:10]...)
	// Two groups, two consumers each, reading in small claims.
	seen := map[string][]string{}
	read := func(group, consumer string) int {
		msgs, err := q.Read(t.Context(), group, consumer, 4, 0)
		require.NoError(t, err)
		for _, m := range msgs {
			seen[group] = append(seen[group], m.EventID)
			require.NoError(t, q.Ack(t.Context(), group, m.ID))
		}
		return len(msgs)
	}
	for read("meta", "a")+read("google", "a") > 0 {
	}
	admit(t, q, batch[10:]...)
	for read("meta", "b")+read("google", "b")+read("meta", "a") > 0 {
	}
	want := make([]string, len(batch))
	for i, e := range batch {
		want[i] = e.EventID
	}
	require.Equal(t, want, seen["meta"], "in order, each once")
	require.Equal(t, want, seen["google"])
	// Acknowledged entries are not delivered again.
	msgs, err := q.Read(t.Context(), "meta", "c", 100, 10*time.Millisecond)
	require.NoError(t, err)
	require.Empty(t, msgs)
}

func testLag(t *testing.T, q queue.Queue) {
	ctx := t.Context()
	lag := func() int64 {
		n, err := q.Lag(ctx)
		require.NoError(t, err)
		return n
	}
	require.Zero(t, lag())
	tenant := ID()
	admit(t, q, pageView(tenant, ID()), pageView(tenant, ID()), pageView(tenant, ID()), pageView(tenant, ID()), pageView(tenant, ID()))
	require.Zero(t, lag(), "no group yet")

	m1, err := q.Read(ctx, "g1", "c", 2, 0)
	require.NoError(t, err)
	require.Len(t, m1, 2)
	require.EqualValues(t, 5, lag(), "3 undelivered + 2 pending")
	m2, err := q.Read(ctx, "g2", "c", 10, 0)
	require.NoError(t, err)
	require.Len(t, m2, 5)
	require.EqualValues(t, 5, lag())
	require.NoError(t, q.Ack(ctx, "g1", m1[0].ID, m1[1].ID))
	require.EqualValues(t, 5, lag(), "g2 is now the slowest")
	ids := make([]string, len(m2))
	for i, m := range m2 {
		ids[i] = m.ID
	}
	require.NoError(t, q.Ack(ctx, "g2", ids[:4]...))
	require.EqualValues(t, 3, lag(), "g1 is the slowest again")
	require.NoError(t, q.Ack(ctx, "g2", ids...))
	require.NoError(t, q.Ack(ctx, "g2", ids...), "acknowledging twice is harmless")
	require.EqualValues(t, 3, lag())

	rest := drain(t, q, "g1")
	require.Len(t, rest, 3)
	require.Zero(t, lag())
	admit(t, q, pageView(tenant, ID()))
	require.EqualValues(t, 1, lag())
}

func testReadBlocks(t *testing.T, q queue.Queue) {
	tenant := ID()
	// Create the group first so the blocked reader is really waiting.
	msgs, err := q.Read(t.Context(), "g", "c", 10, 0)
	require.NoError(t, err)
	require.Empty(t, msgs)

	var wg sync.WaitGroup
	var got atomic.Pointer[[]queue.Message]
	errc := make(chan error, 1)
	wg.Go(func() {
		// Several reads in a row: the admit may land between two.
		for range 50 {
			m, err := q.Read(t.Context(), "g", "c", 10, 200*time.Millisecond)
			if err != nil {
				errc <- err
				return
			}
			if len(m) > 0 {
				got.Store(&m)
				return
			}
		}
	})
	id := ID()
	admit(t, q, purchase(tenant, id))
	wg.Wait()
	close(errc)
	require.NoError(t, <-errc)
	require.NotNil(t, got.Load(), "the blocked reader saw the entry")
	require.Equal(t, id, (*got.Load())[0].EventID)
}

func testConcurrentAdmit(t *testing.T, q queue.Queue) {
	const goroutines, perTenant = 8, 40
	tenants := []string{ID(), ID()}
	var ids []queue.Entry
	for _, tn := range tenants {
		for i := range perTenant {
			if i%2 == 0 {
				ids = append(ids, purchase(tn, ID()))
			} else {
				ids = append(ids, pageView(tn, ID()))
			}
		}
	}
	// Goroutine g walks the ids from offset g*5, in batches of g+1 entries.
	at := func(g, k int) int { return (k + g*5) % len(ids) }
	results := make([][]queue.Result, goroutines)
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			size := g + 1
			for start := 0; start < len(ids); start += size {
				end := min(start+size, len(ids))
				batch := make([]queue.Entry, 0, size)
				for k := start; k < end; k++ {
					batch = append(batch, ids[at(g, k)])
				}
				res, err := q.Admit(t.Context(), batch)
				if err != nil {
					errs <- err
					return
				}
				results[g] = append(results[g], res...)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	queued := map[int]int{}
	for g := range goroutines {
		require.Len(t, results[g], len(ids))
		for k, r := range results[g] {
			switch r {
			case queue.Queued:
				queued[at(g, k)]++
			case queue.Duplicate:
			default:
				t.Fatalf("unexpected result %s", r)
			}
		}
	}
	for i := range ids {
		require.Equal(t, 1, queued[i], "id %d queued exactly once", i)
	}
	var events, merges int
	for _, m := range drain(t, q, "g") {
		switch m.Kind {
		case queue.KindEvent:
			events++
		case queue.KindMerge:
			merges++
		}
	}
	require.Equal(t, len(ids), events)
	require.Equal(t, (goroutines-1)*perTenant, merges, "every repeat of a conversion is a merge")
}

func testEmptyBatch(t *testing.T, q queue.Queue) {
	res, err := q.Admit(t.Context(), nil)
	require.NoError(t, err)
	require.Empty(t, res)
}

func ids(msgs []queue.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

func read(t *testing.T, q queue.Queue, group, consumer string, n int) []queue.Message {
	t.Helper()
	msgs, err := q.Read(t.Context(), group, consumer, n, 0)
	require.NoError(t, err)
	return msgs
}

func reclaim(t *testing.T, q queue.Queue, group, consumer string, minIdle time.Duration, n int) []queue.Message {
	t.Helper()
	msgs, err := q.Reclaim(t.Context(), group, consumer, minIdle, n)
	require.NoError(t, err)
	require.NotNil(t, msgs)
	return msgs
}

func lagOf(t *testing.T, q queue.Queue) int64 {
	t.Helper()
	n, err := q.Lag(t.Context())
	require.NoError(t, err)
	return n
}

// A consumer reads and dies; once its entries have been idle minIdle,
// another consumer reclaims them, and they are then its own.
func testReclaim(t *testing.T, q queue.Queue) {
	ctx := t.Context()
	tenant := ID()
	var batch []queue.Entry
	for range 5 {
		batch = append(batch, purchase(tenant, ID()))
	}
	read(t, q, "g", "dead", 1) // create the groups first
	read(t, q, "other", "x", 1)
	admit(t, q, batch...)
	taken := read(t, q, "g", "dead", 3)
	require.Len(t, taken, 3)
	// The other group's own pending entries are not this group's.
	otherTaken := read(t, q, "other", "x", 10)
	require.Len(t, otherTaken, 5)

	require.Empty(t, reclaim(t, q, "g", "alive", time.Hour, 10), "nothing has been idle an hour")

	// The entries were read together, so they become idle together; keep
	// what each poll reclaims anyway, once per id.
	seen := map[string]queue.Message{}
	require.Eventually(t, func() bool {
		for _, m := range reclaim(t, q, "g", "alive", tiny, 10) {
			seen[m.ID] = m
		}
		return len(seen) >= len(taken)
	}, pollDeadline, 10*time.Millisecond)
	got := make([]queue.Message, 0, len(seen))
	for _, m := range seen {
		got = append(got, m)
	}
	slices.SortFunc(got, func(a, b queue.Message) int { return compareIDs(a.ID, b.ID) })
	require.Equal(t, summarize(taken), summarize(got), "the dead consumer's entries, each once")
	require.Equal(t, ids(taken), ids(got))
	for i := range got {
		require.Equal(t, taken[i].Payload, got[i].Payload)
		require.Empty(t, got[i].Group)
	}
	// Reclaimed entries are idle from now: not claimable again at once.
	require.Empty(t, reclaim(t, q, "g", "third", time.Hour, 10))

	// The two entries never read are not pending: Read delivers them.
	rest := read(t, q, "g", "alive", 10)
	require.Len(t, rest, 2)
	require.NoError(t, q.Ack(ctx, "g", ids(got)...))
	require.NoError(t, q.Ack(ctx, "g", ids(rest)...))
	require.Empty(t, reclaim(t, q, "g", "third", 0, 10), "acknowledged entries are never reclaimed")
	require.NoError(t, q.Ack(ctx, "other", ids(otherTaken)...))
	require.Zero(t, lagOf(t, q))
}

func testReclaimLimit(t *testing.T, q queue.Queue) {
	tenant := ID()
	read(t, q, "g", "a", 1)
	admit(t, q, pageView(tenant, ID()), pageView(tenant, ID()), pageView(tenant, ID()), pageView(tenant, ID()))
	taken := read(t, q, "g", "a", 10)
	require.Len(t, taken, 4)
	got := reclaim(t, q, "g", "b", 0, 2)
	require.Equal(t, ids(taken[:2]), ids(got), "the oldest first, at most n")
	require.Empty(t, reclaim(t, q, "g", "b", 0, 0))
	require.Empty(t, reclaim(t, q, "nosuchgroup", "b", 0, 10))
}

// compareIDs orders message ids of one queue (both implementations use
// "<int>" or "<int>-<int>").
func compareIDs(a, b string) int {
	pa, pb := strings.SplitN(a, "-", 2), strings.SplitN(b, "-", 2)
	for i := range 2 {
		var x, y uint64
		if i < len(pa) {
			x, _ = strconv.ParseUint(pa[i], 10, 64)
		}
		if i < len(pb) {
			y, _ = strconv.ParseUint(pb[i], 10, 64)
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func msgOf(tenant string, kind queue.Kind, name string, payload []byte) queue.Message {
	return queue.Message{ID: "x", Kind: kind, TenantID: tenant, EventID: ID(), EventName: name, Payload: payload}
}

func deadLetters(t *testing.T, q queue.Queue, tenant string, limit int) []queue.DeadLetter {
	t.Helper()
	out, err := q.DeadLetters(t.Context(), tenant, limit)
	require.NoError(t, err)
	require.NotNil(t, out)
	return out
}

func dropped(t *testing.T, q queue.Queue, tenant string) int64 {
	t.Helper()
	n, err := q.DeadLettersDropped(t.Context(), tenant)
	require.NoError(t, err)
	return n
}

func testDeadLetters(t *testing.T, q queue.Queue) {
	ctx := t.Context()
	t1, t2 := ID(), ID()
	before := time.Now()
	m1 := msgOf(t1, queue.KindEvent, "purchase", []byte{0, 1, 2, 0xff})
	m2 := msgOf(t1, queue.KindMerge, "lead", nil)
	m3 := msgOf(t2, queue.KindEvent, "purchase", []byte("t2"))
	long := strings.Repeat("x", queue.MaxReasonLen-1) + "ééé"
	require.NoError(t, q.DeadLetter(ctx, "meta", m1, "permanent: 400 invalid parameter"))
	require.NoError(t, q.DeadLetter(ctx, "google", m2, long))
	require.NoError(t, q.DeadLetter(ctx, "meta", m3, "retries exhausted"))

	got := deadLetters(t, q, t1, 10)
	require.Len(t, got, 2, "only the tenant's own letters")
	require.Equal(t, m2.EventID, got[0].EventID, "newest first")
	require.Equal(t, m1.EventID, got[1].EventID)
	d1, d2 := got[1], got[0]
	require.Equal(t, queue.DeadLetter{ID: d1.ID, Group: "meta", Kind: "event", TenantID: t1, EventID: m1.EventID,
		EventName: "purchase", Reason: "permanent: 400 invalid parameter", At: d1.At, Payload: m1.Payload}, d1)
	require.Equal(t, "google", d2.Group)
	require.Equal(t, "merge", d2.Kind)
	require.Equal(t, "lead", d2.EventName)
	require.Empty(t, d2.Payload)
	require.LessOrEqual(t, len(d2.Reason), queue.MaxReasonLen, "reason cut")
	require.True(t, utf8.ValidString(d2.Reason), "cut at a rune boundary")
	require.True(t, strings.HasPrefix(long, d2.Reason))
	for _, d := range got {
		require.WithinRange(t, d.At, before.Add(-time.Minute), time.Now().Add(time.Minute), "a sane time")
	}

	other := deadLetters(t, q, t2, 10)
	require.Len(t, other, 1)
	require.Equal(t, m3.EventID, other[0].EventID)
	require.Equal(t, []byte("t2"), other[0].Payload)
	require.NotEqual(t, d1.ID, d2.ID)
	require.NotContains(t, []string{d1.ID, d2.ID}, other[0].ID, "ids are unique across tenants")

	require.Equal(t, []string{d2.ID}, []string{deadLetters(t, q, t1, 1)[0].ID}, "limit")
	require.Empty(t, deadLetters(t, q, t1, 0))
	require.Empty(t, deadLetters(t, q, ID(), 10))
	require.Zero(t, dropped(t, q, t1))
	require.Zero(t, dropped(t, q, ID()))
	require.Zero(t, lagOf(t, q), "dead letters are not queue entries")
}

func testDeadLetterInvalid(t *testing.T, q queue.Queue) {
	tenant := ID()
	good := msgOf(tenant, queue.KindEvent, "purchase", nil)
	tests := []struct {
		name  string
		group string
		edit  func(m *queue.Message)
	}{
		{"no group", "", func(*queue.Message) {}},
		{"no tenant", "meta", func(m *queue.Message) { m.TenantID = "" }},
		{"no event id", "meta", func(m *queue.Message) { m.EventID = "" }},
		{"no name", "meta", func(m *queue.Message) { m.EventName = "" }},
		{"no kind", "meta", func(m *queue.Message) { m.Kind = 0 }},
		{"bad kind", "meta", func(m *queue.Message) { m.Kind = 9 }},
	}
	for _, tc := range tests {
		m := good
		tc.edit(&m)
		require.ErrorIs(t, q.DeadLetter(t.Context(), tc.group, m, "r"), queue.ErrInvalidDeadLetter, tc.name)
	}
	require.Empty(t, deadLetters(t, q, tenant, 10))
}

func testDeadLetterCap(t *testing.T, q queue.Queue) {
	ctx := t.Context()
	tenant, other := ID(), ID()
	var sent []string
	for i := range DeadLetterCap + 3 {
		m := msgOf(tenant, queue.KindEvent, "purchase", []byte(strconv.Itoa(i)))
		sent = append(sent, m.EventID)
		require.NoError(t, q.DeadLetter(ctx, "meta", m, "exhausted"))
	}
	require.NoError(t, q.DeadLetter(ctx, "meta", msgOf(other, queue.KindEvent, "lead", nil), "exhausted"))

	got := deadLetters(t, q, tenant, 100)
	require.Len(t, got, DeadLetterCap)
	for i, d := range got {
		require.Equal(t, sent[len(sent)-1-i], d.EventID, "the newest %d kept, newest first", DeadLetterCap)
	}
	require.EqualValues(t, 3, dropped(t, q, tenant))
	require.Len(t, deadLetters(t, q, other, 100), 1)
	require.Zero(t, dropped(t, q, other), "the other tenant's letters are untouched")

	// Replayed letters free their places.
	n, err := q.Replay(ctx, tenant, []string{got[0].ID, got[1].ID})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	for range 2 {
		require.NoError(t, q.DeadLetter(ctx, "meta", msgOf(tenant, queue.KindEvent, "purchase", nil), "exhausted"))
	}
	require.Len(t, deadLetters(t, q, tenant, 100), DeadLetterCap)
	require.EqualValues(t, 3, dropped(t, q, tenant), "nothing more dropped")
	require.NoError(t, q.DeadLetter(ctx, "meta", msgOf(tenant, queue.KindEvent, "purchase", nil), "exhausted"))
	require.EqualValues(t, 4, dropped(t, q, tenant))
}

// A letter replayed for one group reaches that group only; the others
// pass over it.
func testReplay(t *testing.T, q queue.Queue) {
	ctx := t.Context()
	tenant := ID()
	groups := []string{"meta", "google", "audit"}
	for _, g := range groups {
		require.Empty(t, read(t, q, g, "c", 1))
	}
	buy := purchase(tenant, ID())
	admit(t, q, buy)
	var failed queue.Message
	for _, g := range groups {
		msgs := read(t, q, g, "c", 10)
		require.Len(t, msgs, 1)
		if g == "meta" {
			failed = msgs[0]
			require.NoError(t, q.DeadLetter(ctx, g, failed, "retries exhausted: 503"))
		}
		require.NoError(t, q.Ack(ctx, g, msgs[0].ID))
	}
	require.Zero(t, lagOf(t, q))
	letters := deadLetters(t, q, tenant, 10)
	require.Len(t, letters, 1)

	n, err := q.Replay(ctx, tenant, []string{letters[0].ID, letters[0].ID, "bogus", ""})
	require.NoError(t, err)
	require.Equal(t, 1, n, "repeated and unknown ids count nothing")
	require.Empty(t, deadLetters(t, q, tenant, 10), "a replayed letter leaves the set")
	n, err = q.Replay(ctx, tenant, []string{letters[0].ID})
	require.NoError(t, err)
	require.Zero(t, n, "replayed once only")

	later := pageView(tenant, ID())
	admit(t, q, later)
	// google asks for one entry: it passes over meta's and gets the next.
	got := read(t, q, "google", "c", 1)
	require.Len(t, got, 1)
	require.Equal(t, later.EventID, got[0].EventID)
	require.Empty(t, got[0].Group)
	require.NoError(t, q.Ack(ctx, "google", got[0].ID))
	require.Empty(t, read(t, q, "google", "c", 10))

	got = read(t, q, "meta", "c", 10)
	require.Len(t, got, 2)
	require.Equal(t, []kindID{{queue.KindEvent, tenant, "purchase", buy.EventID}, {queue.KindEvent, tenant, "page_view", later.EventID}}, summarize(got))
	require.Equal(t, "meta", got[0].Group, "the replayed entry says whose it is")
	require.Equal(t, buy.Payload, got[0].Payload)
	// Pending under meta, it is reclaimable by meta like any entry.
	re := reclaim(t, q, "meta", "c2", 0, 10)
	require.Equal(t, ids(got), ids(re))
	require.Equal(t, "meta", re[0].Group)
	require.NoError(t, q.Ack(ctx, "meta", ids(got)...))

	audit := read(t, q, "audit", "c", 10)
	require.Equal(t, []string{later.EventID}, []string{audit[0].EventID})
	require.Len(t, audit, 1, "audit passes over meta's replay")
	require.NoError(t, q.Ack(ctx, "audit", audit[0].ID))
	require.Zero(t, lagOf(t, q))
	require.Empty(t, drain(t, q, "google"))
}

func testReplayIsolation(t *testing.T, q queue.Queue) {
	ctx := t.Context()
	t1, t2 := ID(), ID()
	require.Empty(t, read(t, q, "meta", "c", 1))
	require.NoError(t, q.DeadLetter(ctx, "meta", msgOf(t1, queue.KindEvent, "purchase", []byte("one")), "r"))
	require.NoError(t, q.DeadLetter(ctx, "meta", msgOf(t2, queue.KindEvent, "purchase", []byte("two")), "r"))
	l1, l2 := deadLetters(t, q, t1, 10), deadLetters(t, q, t2, 10)
	require.Len(t, l1, 1)
	require.Len(t, l2, 1)

	n, err := q.Replay(ctx, t2, []string{l1[0].ID})
	require.NoError(t, err)
	require.Zero(t, n, "another tenant's id is ignored")
	require.Len(t, deadLetters(t, q, t1, 10), 1, "and its letter stays")
	n, err = q.Replay(ctx, "", []string{l1[0].ID})
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = q.Replay(ctx, t2, nil)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Empty(t, read(t, q, "meta", "c", 10))

	n, err = q.Replay(ctx, t2, []string{l2[0].ID, l1[0].ID})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	got := read(t, q, "meta", "c", 10)
	require.Len(t, got, 1)
	require.Equal(t, t2, got[0].TenantID)
	require.Equal(t, []byte("two"), got[0].Payload)
}

// BenchAdmit measures Admit with b.RunParallel: every operation admits one
// fresh page_view across 64 tenants (the edge's shape: one event per beacon,
// concurrent beacons). It reports events/s.
func BenchAdmit(b *testing.B, q queue.Queue) {
	b.Helper()
	run := ID()[:8]
	var seq atomic.Uint64
	payload := bytes.Repeat([]byte("x"), 300)
	tenants := make([]string, 64)
	for i := range tenants {
		tenants[i] = ID()
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		entries := make([]queue.Entry, 1)
		buf := make([]byte, 0, 64)
		for pb.Next() {
			n := seq.Add(1)
			buf = append(buf[:0], run...)
			buf = strconv.AppendUint(buf, n, 10)
			entries[0] = queue.Entry{
				TenantID: tenants[n%uint64(len(tenants))], EventID: string(buf), EventName: "page_view",
				Window: short, Payload: payload, VisitorID: "v", DecidedAt: start,
			}
			res, err := q.Admit(b.Context(), entries)
			if err != nil {
				b.Error(err)
				return
			}
			if res[0] != queue.Queued {
				b.Error(fmt.Sprintf("result %s", res[0]))
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchDeadLetter measures DeadLetter over 16 tenants at the suite's cap
// (so most calls also drop the oldest letter): the engine's path when a
// platform rejects everything. It reports letters/s.
func BenchDeadLetter(b *testing.B, q queue.Queue) {
	b.Helper()
	tenants := make([]string, 16)
	for i := range tenants {
		tenants[i] = ID()
	}
	payload := bytes.Repeat([]byte("x"), 300)
	b.ReportAllocs()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		m := queue.Message{Kind: queue.KindEvent, TenantID: tenants[i%len(tenants)], EventID: strconv.Itoa(i), EventName: "purchase", Payload: payload}
		if err := q.DeadLetter(b.Context(), "meta", m, "permanent: 400 invalid parameter"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "letters/s")
}

// BenchReclaim measures Reclaim of 50 idle entries at a time: each
// iteration moves the same pending entries to the other consumer
// (minIdle 0). It reports entries/s.
func BenchReclaim(b *testing.B, q queue.Queue) {
	b.Helper()
	ctx := b.Context()
	const pending = 50
	tenant := ID()
	if _, err := q.Read(ctx, "g", "a", 1, 0); err != nil {
		b.Fatal(err)
	}
	batch := make([]queue.Entry, pending)
	for i := range batch {
		batch[i] = pageView(tenant, ID())
	}
	if _, err := q.Admit(ctx, batch); err != nil {
		b.Fatal(err)
	}
	if msgs, err := q.Read(ctx, "g", "a", pending, 0); err != nil || len(msgs) != pending {
		b.Fatalf("read %d entries: %v", len(msgs), err)
	}
	consumers := [2]string{"a", "b"}
	b.ReportAllocs()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		msgs, err := q.Reclaim(ctx, "g", consumers[i%2], 0, pending)
		if err != nil || len(msgs) != pending {
			b.Fatalf("reclaimed %d entries: %v", len(msgs), err)
		}
	}
	b.ReportMetric(float64(b.N*pending)/time.Since(start).Seconds(), "entries/s")
}

// visitorEntry is e of the visitor.
func visitorEntry(e queue.Entry, visitor string) queue.Entry {
	e.VisitorID = visitor
	return e
}

// testEraseVisitor: the visitor's entries of the tenant go from the queue
// (unread, pending, merge entries) and from the tenant's dead letters;
// other tenants' and visitors' entries stay; it is idempotent; a consumer
// that had read an erased entry can still acknowledge it.
func testEraseVisitor(t *testing.T, q queue.Queue) {
	ctx := t.Context()
	ta, tb := ID(), ID()
	v1, v2 := ID(), ID()
	read(t, q, "g1", "c", 1) // create the groups first
	read(t, q, "g2", "c", 1)

	buy := purchase(ta, ID())
	res := admit(t, q,
		visitorEntry(buy, v1),
		visitorEntry(pageView(ta, ID()), v1),
		visitorEntry(pageView(ta, ID()), v2),
		visitorEntry(pageView(tb, ID()), v1), // same visitor id, other tenant
		pageView(ta, ID()),                   // no visitor
	)
	require.Equal(t, []queue.Result{queue.Queued, queue.Queued, queue.Queued, queue.Queued, queue.Queued}, res)
	require.Equal(t, []queue.Result{queue.Duplicate}, admit(t, q, visitorEntry(buy, v1)), "a merge entry of v1")

	// g1 has read (not acknowledged) the first two: pending.
	pending := read(t, q, "g1", "c", 2)
	require.Len(t, pending, 2)
	require.Equal(t, []string{v1, v1}, []string{pending[0].VisitorID, pending[1].VisitorID}, "Message carries the visitor")

	dl := func(tenant, visitor string) queue.Message {
		m := msgOf(tenant, queue.KindEvent, "purchase", []byte("dead:"+visitor))
		m.VisitorID = visitor
		return m
	}
	require.NoError(t, q.DeadLetter(ctx, "meta", dl(ta, v1), "permanent"))
	require.NoError(t, q.DeadLetter(ctx, "google", dl(ta, v1), "permanent"))
	require.NoError(t, q.DeadLetter(ctx, "meta", dl(ta, v2), "permanent"))
	require.NoError(t, q.DeadLetter(ctx, "meta", dl(tb, v1), "permanent"))
	require.Equal(t, v2, deadLetters(t, q, ta, 10)[0].VisitorID, "DeadLetter keeps the visitor")

	er, err := q.EraseVisitor(ctx, ta, v1, time.Now(), time.Hour)
	require.NoError(t, err)
	require.Equal(t, queue.Erasure{Entries: 3, DeadLetters: 2}, er, "two events and the merge entry; two letters")

	// What is left, for every group: no entry of (ta, v1).
	left := func(msgs []queue.Message) []string {
		var out []string
		for _, m := range msgs {
			require.False(t, m.TenantID == ta && m.VisitorID == v1, "erased entry %s returned", m.ID)
			out = append(out, m.TenantID+"/"+m.VisitorID)
		}
		slices.Sort(out)
		return out
	}
	want := []string{ta + "/", ta + "/" + v2, tb + "/" + v1}
	slices.Sort(want)
	require.Equal(t, want, left(drain(t, q, "g2")))
	require.Equal(t, want, left(drain(t, q, "g1")))
	require.Empty(t, reclaim(t, q, "g1", "other", 0, 10), "erased pending entries are not reclaimed")
	require.NoError(t, q.Ack(ctx, "g1", ids(pending)...), "acknowledging an erased entry is harmless")

	letters := deadLetters(t, q, ta, 10)
	require.Len(t, letters, 1)
	require.Equal(t, v2, letters[0].VisitorID)
	require.Len(t, deadLetters(t, q, tb, 10), 1, "other tenant's letter of the same visitor id kept")

	// Idempotent, and nothing for empty ids.
	er, err = q.EraseVisitor(ctx, ta, v1, time.Now(), time.Hour)
	require.NoError(t, err)
	require.Zero(t, er)
	for _, args := range [][2]string{{"", v2}, {ta, ""}, {"", ""}} {
		er, err = q.EraseVisitor(ctx, args[0], args[1], time.Now(), time.Hour)
		require.NoError(t, err)
		require.Zero(t, er)
	}
	require.Len(t, deadLetters(t, q, ta, 10), 1)

	// The dead-letter cap still counts right after an erasure: filling
	// the tenant's set to the cap drops nothing more than needed.
	for range DeadLetterCap - 1 {
		require.NoError(t, q.DeadLetter(ctx, "meta", dl(ta, v2), "permanent"))
	}
	require.Len(t, deadLetters(t, q, ta, 100), DeadLetterCap)
	require.Zero(t, dropped(t, q, ta))
}

// testEraseReplayed: a replayed dead letter keeps its visitor, so an
// erasure after the replay still finds it.
func testEraseReplayed(t *testing.T, q queue.Queue) {
	ctx := t.Context()
	tenant, visitor := ID(), ID()
	read(t, q, "meta", "c", 1)
	m := msgOf(tenant, queue.KindEvent, "purchase", []byte("x"))
	m.VisitorID = visitor
	require.NoError(t, q.DeadLetter(ctx, "meta", m, "permanent"))
	letters := deadLetters(t, q, tenant, 10)
	require.Len(t, letters, 1)
	n, err := q.Replay(ctx, tenant, []string{letters[0].ID})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	er, err := q.EraseVisitor(ctx, tenant, visitor, time.Now(), time.Hour)
	require.NoError(t, err)
	require.Equal(t, queue.Erasure{Entries: 1}, er)
	require.Empty(t, drain(t, q, "meta"))
}

// testErasedAt: EraseVisitor leaves a marker per (tenant, visitor) that
// ErasedAt reports at millisecond precision; the newest time wins; a
// decision (SetDecision) is not an erasure; markers expire with their ttl.
func testErasedAt(t *testing.T, q queue.Queue) {
	ctx := t.Context()
	ta, tb := ID(), ID()
	v1, v2, v3 := ID(), ID(), ID()
	erasedAt := func(tenant string, visitors ...string) map[string]time.Time {
		t.Helper()
		got, err := q.ErasedAt(ctx, tenant, visitors)
		require.NoError(t, err)
		require.NotNil(t, got)
		return got
	}
	require.Empty(t, erasedAt(ta))
	require.Empty(t, erasedAt(ta, v1, v2))

	t1 := time.Now().Add(-time.Minute)
	_, err := q.EraseVisitor(ctx, ta, v1, t1, time.Hour)
	require.NoError(t, err)
	got := erasedAt(ta, v1, v2, "", v1)
	require.Len(t, got, 1)
	require.Equal(t, t1.UnixMilli(), got[v1].UnixMilli())
	require.Empty(t, erasedAt(tb, v1), "the marker is the tenant's")
	require.Empty(t, erasedAt("", v1))

	// An older erasure never replaces a newer one; a newer one does.
	_, err = q.EraseVisitor(ctx, ta, v1, t1.Add(-time.Hour), time.Hour)
	require.NoError(t, err)
	require.Equal(t, t1.UnixMilli(), erasedAt(ta, v1)[v1].UnixMilli())
	t2 := t1.Add(30 * time.Second)
	_, err = q.EraseVisitor(ctx, ta, v1, t2, time.Hour)
	require.NoError(t, err)
	require.Equal(t, t2.UnixMilli(), erasedAt(ta, v1)[v1].UnixMilli())

	// A consent decision (a grant as much as a revocation) is no erasure.
	require.NoError(t, q.SetDecision(ctx, ta, v2, time.Now(), time.Hour))
	require.Empty(t, erasedAt(ta, v2))

	// Empty ids record nothing; a ttl under 1ms is refused.
	_, err = q.EraseVisitor(ctx, "", v3, time.Now(), time.Hour)
	require.NoError(t, err)
	_, err = q.EraseVisitor(ctx, ta, v3, time.Now(), 0)
	require.ErrorIs(t, err, queue.ErrInvalidEntry)
	require.Empty(t, erasedAt(ta, v3))

	// Markers expire with their ttl.
	_, err = q.EraseVisitor(ctx, tb, v3, time.Now(), tiny)
	require.NoError(t, err)
	deadline := time.Now().Add(pollDeadline)
	for len(erasedAt(tb, v3)) > 0 {
		require.True(t, time.Now().Before(deadline), "erasure marker never expired")
		time.Sleep(5 * time.Millisecond)
	}
	require.Len(t, erasedAt(ta, v1, v3), 1, "other markers stay")
}
