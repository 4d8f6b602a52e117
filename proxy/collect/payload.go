package collect

import (
	"math"
	"strconv"
)

// PayloadVersion is the version of the queued event record.
const PayloadVersion = 1

// Enrichment is what the edge adds to a browser event before it is queued:
// the tenant, the visitor, request facts, and the consent the signed cookie
// proves. It is only built for consented events.
type Enrichment struct {
	TenantID   string
	VisitorID  string // jaraba_visitor_id; "" when analytics and marketing are both refused
	ClientIP   []byte // textual IPv4/IPv6, from trusted proxies only
	UserAgent  []byte
	ReceivedMS int64 // edge receive time, Unix ms
	Analytics  bool
	Marketing  bool
	Functional bool
	Policy     string // policy version of the decision
	GPC        bool   // Sec-GPC: 1 was sent
}

// AppendPayload appends the queued record of b.Events[i] to dst as one JSON
// object and returns the extended slice. The record is what the delivery
// engine reads back; the queue treats it as opaque bytes. With a reused dst
// it does not allocate.
//
// Record (v1): {"v":1,"src":"client","tenant","id","name","class","ts",
// "recv","url","ref","eng","sid","visitor","ip","ua","consent":{"a","m","f",
// "policy","gpc"},"ids":{...},"props":{...},"user":{...}}. Absent optional
// values are omitted. User data is raw as the page gave it: it never leaves
// the gateway unhashed (hashing is per platform, at delivery).
func AppendPayload(dst []byte, b *Beacon, i int, e *Enrichment) []byte {
	ev := &b.Events[i]
	dst = append(dst, `{"v":`...)
	dst = strconv.AppendInt(dst, PayloadVersion, 10)
	dst = append(dst, `,"src":"client","tenant":`...)
	dst = appendJSONString(dst, e.TenantID)
	dst = append(dst, `,"id":`...)
	dst = appendJSONBytes(dst, ev.ID)
	dst = append(dst, `,"name":`...)
	dst = appendJSONBytes(dst, ev.Name)
	dst = append(dst, `,"class":`...)
	dst = appendJSONString(dst, ev.Spec.Class.String())
	dst = append(dst, `,"ts":`...)
	dst = strconv.AppendInt(dst, ev.TS, 10)
	dst = append(dst, `,"recv":`...)
	dst = strconv.AppendInt(dst, e.ReceivedMS, 10)
	dst = appendOpt(dst, "url", ev.URL)
	dst = appendOpt(dst, "ref", ev.Ref)
	if ev.EngagementMS > 0 {
		dst = append(dst, `,"eng":`...)
		dst = strconv.AppendInt(dst, ev.EngagementMS, 10)
	}
	dst = appendOpt(dst, "sid", b.SessionID)
	if e.VisitorID != "" {
		dst = append(dst, `,"visitor":`...)
		dst = appendJSONString(dst, e.VisitorID)
	}
	dst = appendOpt(dst, "ip", e.ClientIP)
	dst = appendOpt(dst, "ua", e.UserAgent)
	dst = append(dst, `,"consent":{"a":`...)
	dst = strconv.AppendBool(dst, e.Analytics)
	dst = append(dst, `,"m":`...)
	dst = strconv.AppendBool(dst, e.Marketing)
	dst = append(dst, `,"f":`...)
	dst = strconv.AppendBool(dst, e.Functional)
	dst = append(dst, `,"policy":`...)
	dst = appendJSONString(dst, e.Policy)
	dst = append(dst, `,"gpc":`...)
	dst = strconv.AppendBool(dst, e.GPC)
	dst = append(dst, '}')

	// Click ids are marketing identifiers: only with marketing consent.
	if e.Marketing {
		ids := &b.IDs
		start := len(dst)
		dst = append(dst, `,"ids":{`...)
		mark := len(dst)
		dst = appendMember(dst, mark, "fbp", ids.FBP)
		dst = appendMember(dst, mark, "fbc", ids.FBC)
		dst = appendMember(dst, mark, "gclid", ids.GCLID)
		dst = appendMember(dst, mark, "gbraid", ids.GBRAID)
		dst = appendMember(dst, mark, "wbraid", ids.WBRAID)
		dst = appendMember(dst, mark, "ttclid", ids.TTCLID)
		dst = appendMember(dst, mark, "ttp", ids.TTP)
		dst = appendMember(dst, mark, "li_fat_id", ids.LiFatID)
		dst = appendMember(dst, mark, "twclid", ids.TWCLID)
		if len(dst) == mark {
			dst = dst[:start]
		} else {
			dst = append(dst, '}')
		}
	}
	if len(ev.Props) > 0 {
		dst = append(dst, `,"props":`...)
		dst = appendFields(dst, ev.Props)
	}
	if e.Marketing {
		u := &ev.User
		start := len(dst)
		dst = append(dst, `,"user":{`...)
		mark := len(dst)
		dst = appendMember(dst, mark, "em", u.Email)
		dst = appendMember(dst, mark, "ph", u.Phone)
		dst = appendMember(dst, mark, "fn", u.FirstName)
		dst = appendMember(dst, mark, "ln", u.LastName)
		dst = appendMember(dst, mark, "ge", u.Gender)
		dst = appendMember(dst, mark, "db", u.DateOfBirth)
		dst = appendMember(dst, mark, "ct", u.City)
		dst = appendMember(dst, mark, "st", u.State)
		dst = appendMember(dst, mark, "zp", u.Zip)
		dst = appendMember(dst, mark, "country", u.Country)
		dst = appendMember(dst, mark, "external_id", u.ExternalID)
		if len(dst) == mark {
			dst = dst[:start]
		} else {
			dst = append(dst, '}')
		}
	}
	return append(dst, '}')
}

// appendOpt appends `,"key":"v"` when v is not empty.
func appendOpt(dst []byte, key string, v []byte) []byte {
	if len(v) == 0 {
		return dst
	}
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return appendJSONBytes(dst, v)
}

// appendMember appends `"key":"v"` inside an object opened at mark, with a
// comma when it is not the first member; nothing when v is empty.
func appendMember(dst []byte, mark int, key string, v []byte) []byte {
	if len(v) == 0 {
		return dst
	}
	if len(dst) > mark {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return appendJSONBytes(dst, v)
}

func appendFields(dst []byte, fs []Field) []byte {
	dst = append(dst, '{')
	for i := range fs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONBytes(dst, fs[i].Key)
		dst = append(dst, ':')
		dst = appendValue(dst, &fs[i].Value)
	}
	return append(dst, '}')
}

func appendValue(dst []byte, v *Value) []byte {
	switch v.Kind {
	case KindString:
		return appendJSONBytes(dst, v.Str)
	case KindNumber:
		if math.IsInf(v.Num, 0) || math.IsNaN(v.Num) { // never produced by Parse
			return append(dst, "null"...)
		}
		return strconv.AppendFloat(dst, v.Num, 'g', -1, 64)
	case KindBool:
		return strconv.AppendBool(dst, v.Bool)
	case KindArray:
		dst = append(dst, '[')
		for i := range v.Elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, &v.Elems[i])
		}
		return append(dst, ']')
	case KindObject:
		return appendFields(dst, v.Fields)
	default:
		return append(dst, "null"...)
	}
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. s is valid UTF-8 (Parse
// guarantees it for beacon data; the edge's own strings are ASCII).
func appendJSONString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendJSONBytes(dst, b []byte) []byte { return appendJSONString(dst, b) }
