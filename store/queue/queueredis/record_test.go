package queueredis

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store/queue"
)

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	for _, e := range []queue.Entry{
		{TenantID: "t", EventID: "e", EventName: "n"},
		{TenantID: strings.Repeat("x", 300), EventID: "", EventName: "purchase", Payload: []byte{0, 1, 2}},
		{TenantID: "t", EventID: "e", EventName: "n", Payload: []byte(strings.Repeat("p", 70000))},
	} {
		b := appendRecord(nil, &e)
		require.Len(t, b, recordSize(&e))
		var m queue.Message
		require.NoError(t, parseRecord(string(b), &m))
		require.Equal(t, e.TenantID, m.TenantID)
		require.Equal(t, e.EventID, m.EventID)
		require.Equal(t, e.EventName, m.EventName)
		require.Equal(t, len(e.Payload), len(m.Payload))
	}
}

func TestRecordMalformed(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"", "\x05ab", "\x01a\x01b", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"} {
		var m queue.Message
		require.ErrorIs(t, parseRecord(v, &m), errBadRecord, "%q", v)
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add("\x01t\x01e\x01npayload")
	f.Add("\x05ab")
	f.Fuzz(func(t *testing.T, v string) {
		var m queue.Message
		if parseRecord(v, &m) != nil {
			return
		}
		e := queue.Entry{TenantID: m.TenantID, EventID: m.EventID, EventName: m.EventName, Payload: m.Payload}
		if string(appendRecord(nil, &e)) != v && len(m.Payload) > 0 {
			// Non-minimal varints parse but re-encode shorter; lengths must agree.
			if len(m.TenantID)+len(m.EventID)+len(m.EventName)+len(m.Payload) > len(v) {
				t.Fatalf("parsed more than the input")
			}
		}
	})
}
