package queueredis

import (
	"encoding/binary"
	"errors"

	"github.com/jaraba/pixelgw/store/queue"
)

// A stream entry has two fields: k (the kind, written by the script) and v,
// the record: uvarint-prefixed tenant id, event id and event name, then the
// payload to the end. One field instead of four keeps the script's XADD
// short and the stream compact.

var errBadRecord = errors.New("malformed stream record")

func appendRecord(b []byte, e *queue.Entry) []byte {
	return appendRecordParts(b, e.TenantID, e.EventID, e.EventName, e.Payload)
}

// messageRecord is the record of m (a dead letter's copy).
func messageRecord(m *queue.Message) []byte {
	b := make([]byte, 0, 3*binary.MaxVarintLen32+len(m.TenantID)+len(m.EventID)+len(m.EventName)+len(m.Payload))
	return appendRecordParts(b, m.TenantID, m.EventID, m.EventName, m.Payload)
}

func appendRecordParts(b []byte, tenant, id, name string, payload []byte) []byte {
	for _, s := range [...]string{tenant, id, name} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return append(b, payload...)
}

func parseRecord(v string, m *queue.Message) error {
	var parts [3]string
	for i := range parts {
		n, w := binary.Uvarint([]byte(v[:min(len(v), binary.MaxVarintLen64)]))
		if w <= 0 || uint64(len(v)-w) < n {
			return errBadRecord
		}
		parts[i], v = v[w:w+int(n)], v[w+int(n):]
	}
	m.TenantID, m.EventID, m.EventName = parts[0], parts[1], parts[2]
	if v != "" {
		m.Payload = []byte(v)
	}
	return nil
}
