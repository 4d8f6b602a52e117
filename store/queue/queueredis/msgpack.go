package queueredis

import (
	"encoding/binary"
	"strconv"

	"github.com/jaraba/pixelgw/store/queue"
)

// encodeBatch packs entries as the msgpack array admit.lua unpacks with
// cmsgpack: one script argument for every entry's small fields instead of
// seven arguments per entry. The array is flat (entryFields values per
// entry, no nested arrays: every Lua table the script does not build is
// garbage its GC does not collect), keys arrive complete (no concatenation,
// hence no new Lua string, per entry in the script) and the window is a
// decimal string (Redis formats a Lua number argument with printf). Redis's
// cmsgpack has no bin type, so bytes go as str (Lua strings are 8-bit
// clean). The records are not in it: they go as arguments of their own,
// appended to args (one buffer, one sub-slice per entry), so Redis's Lua,
// which hashes every byte of every string it makes, reads each record once.
//
// dst is a buffer to reuse (its contents are overwritten); the returned blob
// starts it, and the records follow in the same backing array when it is
// large enough.
func encodeBatch(dst []byte, prefix string, entries []queue.Entry, args []any) (blob []byte, _ []any) {
	size, recs := 5, 0
	for i := range entries {
		e := &entries[i]
		size += entryFields*9 + len(e.TenantID) + 2*len(prefix) + 3 + 16 + 20 + 4 + len(e.TenantID) + 1 + 2*len(e.VisitorID)
		recs += recordSize(e)
	}
	b := dst[:0]
	if cap(b) < size+recs {
		b = make([]byte, 0, size+recs)
	}
	b = appendArrayHeader(b, entryFields*len(entries))
	var num [20]byte
	for i := range entries {
		e := &entries[i]
		key := e.DedupKey()
		var conv int64
		if e.Conversion {
			conv = 1
		}
		b = appendStr(b, e.TenantID)
		b = appendStrHeader(b, len(prefix)+3+len(key))
		b = append(append(append(b, prefix...), ":d:"...), key[:]...)
		b = appendBytes(b, strconv.AppendInt(num[:0], e.Window.Milliseconds(), 10))
		b = appendInt(b, conv)
		// The revocation key, empty when the entry is not checked.
		if e.VisitorID == "" || e.DecidedAt.IsZero() {
			b = appendStrHeader(b, 0)
			b = appendInt(b, 0)
		} else {
			b = appendStrHeader(b, len(prefix)+3+len(e.TenantID)+1+len(e.VisitorID))
			b = append(append(append(append(append(b, prefix...), ":r:"...), e.TenantID...), ':'), e.VisitorID...)
			b = appendInt(b, max(e.DecidedAt.UnixMilli(), 1))
		}
		// The visitor, kept with the stream entry (field u) for EraseVisitor.
		b = appendStr(b, e.VisitorID)
	}
	blob = b
	args = append(args, blob)
	// The records, in the same buffer's spare capacity.
	rest := b[len(b):len(b):cap(b)]
	for i := range entries {
		start := len(rest)
		rest = appendRecord(rest, &entries[i])
		args = append(args, rest[start:len(rest):len(rest)])
	}
	return blob, args
}

// entryFields is the number of msgpack values per entry in encodeBatch.
const entryFields = 7

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
