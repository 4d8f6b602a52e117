package cookie

import (
	"crypto/rand"
)

// ID is a UUID (visitor id, decision id), in its canonical lowercase text
// form on the wire: xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.
type ID [16]byte

// NewID returns a random (version 4) id.
func NewID() ID {
	var id ID
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

const hexDigits = "0123456789abcdef"

// AppendTo appends the canonical text form.
func (id ID) AppendTo(dst []byte) []byte {
	for i, b := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0xf])
	}
	return dst
}

// String returns the canonical text form.
func (id ID) String() string {
	var b [36]byte
	return string(id.AppendTo(b[:0]))
}

// IsZero reports whether id is all zeros (never a valid subject).
func (id ID) IsZero() bool { return id == ID{} }

// ParseID parses the canonical lowercase text form; anything else (upper
// case, braces, missing dashes, the nil UUID) is refused. It does not
// allocate.
func ParseID(b []byte) (ID, bool) {
	var id ID
	if len(b) != 36 || b[8] != '-' || b[13] != '-' || b[18] != '-' || b[23] != '-' {
		return id, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := unhex(b[i])
		lo, ok2 := unhex(b[i+1])
		if !ok1 || !ok2 {
			return ID{}, false
		}
		id[j] = hi<<4 | lo
		j++
		i += 2
	}
	if id.IsZero() {
		return ID{}, false
	}
	return id, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
