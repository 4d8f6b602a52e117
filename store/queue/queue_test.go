package queue_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store/queue"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := queue.Entry{TenantID: "t", EventID: "e", EventName: "lead", Window: time.Minute}
	tests := []struct {
		name  string
		edit  func(e *queue.Entry)
		valid bool
	}{
		{"ok", func(*queue.Entry) {}, true},
		{"no tenant", func(e *queue.Entry) { e.TenantID = "" }, false},
		{"no event id", func(e *queue.Entry) { e.EventID = "" }, false},
		{"no name", func(e *queue.Entry) { e.EventName = "" }, false},
		{"zero window", func(e *queue.Entry) { e.Window = 0 }, false},
		{"sub-ms window", func(e *queue.Entry) { e.Window = time.Microsecond }, false},
		{"negative window", func(e *queue.Entry) { e.Window = -time.Second }, false},
		{"1ms window", func(e *queue.Entry) { e.Window = time.Millisecond }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := ok
			tc.edit(&e)
			err := e.Validate()
			if tc.valid {
				require.NoError(t, err)
				require.NoError(t, queue.ValidateBatch([]queue.Entry{ok, e}))
				return
			}
			require.ErrorIs(t, err, queue.ErrInvalidEntry)
			require.ErrorIs(t, queue.ValidateBatch([]queue.Entry{ok, e}), queue.ErrInvalidEntry)
		})
	}
}

func TestDedupKey(t *testing.T) {
	t.Parallel()
	base := queue.Entry{TenantID: "t1", EventID: "id", EventName: "purchase", Window: time.Hour}
	k := base.DedupKey()
	same := base
	same.Window, same.Payload, same.Conversion, same.VisitorID = time.Minute, []byte("x"), true, "v"
	require.Equal(t, k, same.DedupKey(), "only tenant, name and id make the key")
	for _, e := range []queue.Entry{
		{TenantID: "t2", EventID: "id", EventName: "purchase"},
		{TenantID: "t1", EventID: "id2", EventName: "purchase"},
		{TenantID: "t1", EventID: "id", EventName: "lead"},
		{TenantID: "t1p", EventID: "id", EventName: "urchase"}, // separator
		{TenantID: "t1", EventID: "purchaseid", EventName: ""},
	} {
		require.NotEqual(t, k, e.DedupKey(), "%+v", e)
	}
	long := queue.Entry{TenantID: string(make([]byte, 500)), EventID: "x", EventName: "y"}
	require.NotEqual(t, [16]byte{}, long.DedupKey())
}

func TestStrings(t *testing.T) {
	t.Parallel()
	require.Equal(t, "event", queue.KindEvent.String())
	require.Equal(t, "merge", queue.KindMerge.String())
	require.Equal(t, "kind(0)", queue.Kind(0).String())
	for r, s := range map[queue.Result]string{queue.Queued: "queued", queue.Duplicate: "duplicate", queue.Revoked: "revoked", queue.OverCap: "over_cap", 0: "result(0)"} {
		require.Equal(t, s, r.String())
	}
}

func TestOptionsDefaults(t *testing.T) {
	t.Parallel()
	require.EqualValues(t, queue.DefaultMaxKeysPerTenant, queue.Options{}.WithDefaults().MaxKeysPerTenant)
	require.EqualValues(t, 7, queue.Options{MaxKeysPerTenant: 7}.WithDefaults().MaxKeysPerTenant)
	require.EqualValues(t, queue.DefaultDeadLetterCap, queue.Options{}.WithDefaults().DeadLetterCap)
	require.EqualValues(t, 3, queue.Options{DeadLetterCap: 3}.WithDefaults().DeadLetterCap)
}

func TestParseKind(t *testing.T) {
	t.Parallel()
	for _, k := range []queue.Kind{queue.KindEvent, queue.KindMerge} {
		got, ok := queue.ParseKind(k.String())
		require.True(t, ok)
		require.Equal(t, k, got)
		require.True(t, k.Valid())
	}
	for _, s := range []string{"", "Event", "kind(0)", "x"} {
		_, ok := queue.ParseKind(s)
		require.False(t, ok, s)
	}
	require.False(t, queue.Kind(0).Valid())
	require.False(t, queue.Kind(3).Valid())
}

func TestTruncateReason(t *testing.T) {
	t.Parallel()
	limit := queue.MaxReasonLen
	tests := []struct {
		name, in string
		wantLen  int
	}{
		{"short", "retries exhausted", len("retries exhausted")},
		{"empty", "", 0},
		{"exactly max", strings.Repeat("a", limit), limit},
		{"ascii over", strings.Repeat("a", limit+10), limit},
		{"rune across the cut", strings.Repeat("a", limit-1) + "é", limit - 1},
		{"3-byte rune across the cut", strings.Repeat("a", limit-2) + "€", limit - 2},
		{"rune ending at the cut", strings.Repeat("a", limit-2) + "éz", limit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := queue.TruncateReason(tc.in)
			require.Len(t, got, tc.wantLen)
			require.True(t, utf8.ValidString(got))
			require.True(t, strings.HasPrefix(tc.in, got))
		})
	}
}

func TestValidateDeadLetter(t *testing.T) {
	t.Parallel()
	ok := queue.Message{Kind: queue.KindMerge, TenantID: "t", EventID: "e", EventName: "lead"}
	require.NoError(t, queue.ValidateDeadLetter("meta", &ok))
	require.ErrorIs(t, queue.ValidateDeadLetter("", &ok), queue.ErrInvalidDeadLetter)
	for name, edit := range map[string]func(m *queue.Message){
		"tenant": func(m *queue.Message) { m.TenantID = "" },
		"id":     func(m *queue.Message) { m.EventID = "" },
		"name":   func(m *queue.Message) { m.EventName = "" },
		"kind":   func(m *queue.Message) { m.Kind = 0 },
	} {
		m := ok
		edit(&m)
		require.ErrorIs(t, queue.ValidateDeadLetter("meta", &m), queue.ErrInvalidDeadLetter, name)
	}
}
