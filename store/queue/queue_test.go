package queue_test

import (
	"testing"
	"time"

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
}
