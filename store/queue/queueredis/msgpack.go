package queueredis

import (
	"encoding/binary"

	"github.com/jaraba/pixelgw/store/queue"
)

// encodeBatch packs entries as the msgpack array admit.lua unpacks with
// cmsgpack: one script argument for the whole batch instead of nine per
// entry. Redis's cmsgpack has no bin type, so bytes go as str (Lua strings
// are 8-bit clean).
func encodeBatch(entries []queue.Entry) []byte {
	size := 5
	for i := range entries {
		e := &entries[i]
		size += 1 + 7*9 + len(e.TenantID) + 16 + len(e.VisitorID) + recordLen(e)
	}
	b := make([]byte, 0, size)
	b = appendArrayHeader(b, len(entries))
	for i := range entries {
		e := &entries[i]
		key := e.DedupKey()
		var conv int64
		if e.Conversion {
			conv = 1
		}
		var decided int64
		if !e.DecidedAt.IsZero() {
			decided = max(e.DecidedAt.UnixMilli(), 1)
		}
		b = appendArrayHeader(b, 7)
		b = appendStr(b, e.TenantID)
		b = appendBytes(b, key[:])
		b = appendInt(b, e.Window.Milliseconds())
		b = appendInt(b, conv)
		b = appendStr(b, e.VisitorID)
		b = appendInt(b, decided)
		// The record, as a str whose length is known up front.
		b = appendStrHeader(b, recordSize(e))
		b = appendRecord(b, e)
	}
	return b
}

func appendArrayHeader(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n < 1<<16:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
	}
}

func appendStrHeader(b []byte, n int) []byte {
	switch {
	case n < 32:
		return append(b, 0xa0|byte(n))
	case n < 1<<8:
		return append(b, 0xd9, byte(n))
	case n < 1<<16:
		return binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
}

func appendStr(b []byte, s string) []byte { return append(appendStrHeader(b, len(s)), s...) }

func appendBytes(b []byte, p []byte) []byte { return append(appendStrHeader(b, len(p)), p...) }

func appendInt(b []byte, v int64) []byte {
	if v >= 0 && v < 128 {
		return append(b, byte(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
}

// recordSize is the exact length appendRecord writes.
func recordSize(e *queue.Entry) int {
	n := len(e.TenantID) + len(e.EventID) + len(e.EventName) + len(e.Payload)
	for _, l := range [...]int{len(e.TenantID), len(e.EventID), len(e.EventName)} {
		n += uvarintLen(uint64(l))
	}
	return n
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
