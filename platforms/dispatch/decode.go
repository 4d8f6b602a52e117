package dispatch

import (
	"fmt"
	"time"

	"github.com/valyala/fastjson"

	"github.com/jaraba/pixelgw/platforms"
)

// eventDecoder decodes queued event records (platforms.EncodeRecord and the
// edge's collect.AppendPayload) like platforms.DecodeEvent, with fastjson:
// every platform group and the audit group decode every entry, and
// encoding/json's reflection was the engine's largest cost (~45% of its CPU
// in the delivery load run). TestDecoderMatchesDecodeEvent holds the two
// equal. Not safe for concurrent use: one per goroutine.
type eventDecoder struct {
	p fastjson.Parser
}

// decode parses payload into an Event; strings are copied (the parser's
// buffer is reused by the next call).
func (d *eventDecoder) decode(payload []byte) (platforms.Event, error) {
	v, err := d.p.ParseBytes(payload)
	if err != nil {
		return platforms.Event{}, fmt.Errorf("%w: %v", platforms.ErrBadRecord, err)
	}
	o, err := v.Object()
	if err != nil {
		return platforms.Event{}, fmt.Errorf("%w: %v", platforms.ErrBadRecord, err)
	}
	r := fields{}
	var e platforms.Event
	var version, ts, recv int64
	var name string
	var props *fastjson.Value
	o.Visit(func(key []byte, v *fastjson.Value) {
		switch string(key) {
		case "v":
			version = r.int(key, v)
		case "src":
			e.Source = r.str(key, v)
		case "tenant":
			e.TenantID = r.str(key, v)
		case "id":
			e.EventID = r.str(key, v)
		case "name":
			name = r.str(key, v)
		case "class":
			r.str(key, v) // derived from the name, as DecodeEvent does
		case "ts":
			ts = r.int(key, v)
		case "recv":
			recv = r.int(key, v)
		case "url":
			e.URL = r.str(key, v)
		case "ref":
			e.Referrer = r.str(key, v)
		case "eng":
			e.EngagementMS = r.int(key, v)
		case "sid":
			e.SessionID = r.str(key, v)
		case "visitor":
			e.VisitorID = r.str(key, v)
		case "ip":
			e.ClientIP = r.str(key, v)
		case "ua":
			e.UserAgent = r.str(key, v)
		case "consent":
			r.object(key, v, func(k []byte, v *fastjson.Value) {
				switch string(k) {
				case "a":
					e.Consent.Analytics = r.bool(k, v)
				case "m":
					e.Consent.Marketing = r.bool(k, v)
				case "f":
					e.Consent.Functional = r.bool(k, v)
				case "gpc":
					e.Consent.GPC = r.bool(k, v)
				case "policy":
					e.Consent.Policy = r.str(k, v)
				}
			})
		case "ids":
			r.object(key, v, func(k []byte, v *fastjson.Value) {
				ids := &e.IDs
				switch string(k) {
				case "fbp":
					ids.FBP = r.str(k, v)
				case "fbc":
					ids.FBC = r.str(k, v)
				case "gclid":
					ids.GCLID = r.str(k, v)
				case "gbraid":
					ids.GBRAID = r.str(k, v)
				case "wbraid":
					ids.WBRAID = r.str(k, v)
				case "ttclid":
					ids.TTCLID = r.str(k, v)
				case "ttp":
					ids.TTP = r.str(k, v)
				case "li_fat_id":
					ids.LiFatID = r.str(k, v)
				case "twclid":
					ids.TWCLID = r.str(k, v)
				}
			})
		case "user":
			r.object(key, v, func(k []byte, v *fastjson.Value) {
				u := &e.User
				switch string(k) {
				case "em":
					u.Email = r.str(k, v)
				case "ph":
					u.Phone = r.str(k, v)
				case "fn":
					u.FirstName = r.str(k, v)
				case "ln":
					u.LastName = r.str(k, v)
				case "ge":
					u.Gender = r.str(k, v)
				case "db":
					u.DateOfBirth = r.str(k, v)
				case "ct":
					u.City = r.str(k, v)
				case "st":
					u.State = r.str(k, v)
				case "zp":
					u.Zip = r.str(k, v)
				case "country":
					u.Country = r.str(k, v)
				case "external_id":
					u.ExternalID = r.str(k, v)
				}
			})
		case "platforms":
			switch v.Type() {
			case fastjson.TypeNull:
			case fastjson.TypeArray:
				arr, _ := v.Array()
				e.Platforms = make([]string, 0, len(arr))
				for _, p := range arr {
					e.Platforms = append(e.Platforms, r.str(key, p))
				}
			default:
				r.fail(key, "an array")
			}
		case "props":
			if v.Type() == fastjson.TypeNull {
				return
			}
			if v.Type() != fastjson.TypeObject {
				r.fail(key, "an object")
				return
			}
			props = v
		}
	})
	if r.err != nil {
		return platforms.Event{}, r.err
	}
	if version != platforms.RecordVersion {
		return platforms.Event{}, fmt.Errorf("%w: version %d", platforms.ErrBadRecord, version)
	}
	spec, ok := platforms.Canonical(name)
	if !ok || e.TenantID == "" || e.EventID == "" || ts <= 0 {
		return platforms.Event{}, fmt.Errorf("%w: missing or unknown tenant, id, name or ts", platforms.ErrBadRecord)
	}
	if e.Platforms != nil && len(e.Platforms) == 0 {
		// Never read "for no platform" as "for every platform".
		return platforms.Event{}, fmt.Errorf("%w: empty platforms list", platforms.ErrBadRecord)
	}
	e.Name, e.Class = spec.Name, spec.Class
	if spec.Custom {
		e.Name = name
	}
	e.Time = time.UnixMilli(ts).UTC()
	e.Received = time.UnixMilli(recv).UTC()
	if props != nil {
		m, _ := toAny(props).(map[string]any)
		e.Props = m
	}
	return e, nil
}

// fields collects the first type error of a record's members.
type fields struct{ err error }

func (r *fields) fail(key []byte, want string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %q is not %s", platforms.ErrBadRecord, key, want)
	}
}

// str is a string member; null is "" (as encoding/json leaves it).
func (r *fields) str(key []byte, v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return string(b)
	case fastjson.TypeNull:
		return ""
	}
	r.fail(key, "a string")
	return ""
}

func (r *fields) int(key []byte, v *fastjson.Value) int64 {
	if v.Type() == fastjson.TypeNull {
		return 0
	}
	n, err := v.Int64()
	if err != nil {
		r.fail(key, "an integer")
	}
	return n
}

func (r *fields) bool(key []byte, v *fastjson.Value) bool {
	switch v.Type() {
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse, fastjson.TypeNull:
		return false
	}
	r.fail(key, "a boolean")
	return false
}

func (r *fields) object(key []byte, v *fastjson.Value, f func(k []byte, v *fastjson.Value)) {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		o.Visit(f)
	case fastjson.TypeNull:
	default:
		r.fail(key, "an object")
	}
}

// toAny converts a JSON value as encoding/json does into an any: objects
// map[string]any, arrays []any, numbers float64.
func toAny(v *fastjson.Value) any {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		m := make(map[string]any, o.Len())
		o.Visit(func(k []byte, v *fastjson.Value) { m[string(k)] = toAny(v) })
		return m
	case fastjson.TypeArray:
		vs, _ := v.Array()
		a := make([]any, len(vs))
		for i, x := range vs {
			a[i] = toAny(x)
		}
		return a
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return string(b)
	case fastjson.TypeNumber:
		f, _ := v.Float64()
		return f
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse:
		return false
	}
	return nil
}
