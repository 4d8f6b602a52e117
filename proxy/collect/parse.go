package collect

import (
	"bytes"
	"fmt"
	"math"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/jaraba/pixelgw/platforms"
)

// Parser parses and validates beacons against fixed Limits, and pools
// Beacons so a steady stream of parses does not allocate. It is safe for
// concurrent use; each Beacon is used by one goroutine at a time.
//
// Memory: a pooled Beacon keeps its arena (MaxBodyBytes plus a little), a
// copy of the last body inside its JSON parser, and the parser's value
// cache, which is bounded by the body size (worst case about 40 bytes per
// body byte, for a body that is all tiny values). sync.Pool drops idle
// Beacons at garbage collection.
type Parser struct {
	lim      Limits
	maxWidth int // widest array or object a valid beacon can hold
	pool     sync.Pool
}

// NewParser returns a Parser for lim (see DefaultLimits).
func NewParser(lim Limits) (*Parser, error) {
	if err := lim.Validate(); err != nil {
		return nil, fmt.Errorf("cannot create beacon parser: %w", err)
	}
	// 16 covers the fixed objects: top level, event, user, ids, consent.
	// Twice the widest limit keeps precise errors for near misses.
	maxWidth := 2 * max(16, lim.MaxEvents, lim.MaxProps, lim.MaxArrayLen, lim.MaxItemFields)
	return &Parser{lim: lim, maxWidth: maxWidth}, nil
}

// Limits returns the limits the Parser enforces.
func (p *Parser) Limits() Limits { return p.lim }

// Acquire returns an empty Beacon from the pool.
func (p *Parser) Acquire() *Beacon {
	if b, ok := p.pool.Get().(*Beacon); ok {
		return b
	}
	// The arena never needs more than the body plus a few bytes per event
	// name (canonical names can be one byte longer than an alias), so one
	// allocation here serves every later parse.
	return &Beacon{buf: make([]byte, 0, p.lim.MaxBodyBytes+p.lim.MaxEvents*8)}
}

// Release resets b and returns it to the pool. b must not be used after.
func (p *Parser) Release(b *Beacon) {
	b.Reset()
	p.pool.Put(b)
}

// Parse validates body and fills dst with copies of its content. now is
// the receive time the event timestamps are checked against. On error dst
// is left empty and the error is an *Error (match it with errors.Is against
// ErrTooLarge, ErrMalformed, ErrInvalid or a specific ErrInvalidXxx).
// Parse never keeps a reference to body.
func (p *Parser) Parse(dst *Beacon, body []byte, now time.Time) error {
	dst.Reset()
	if len(body) > p.lim.MaxBodyBytes {
		return &Error{Kind: ErrTooLarge, Event: -1}
	}
	if len(body) == 0 || !utf8.Valid(body) || !validEscapes(body) {
		return &Error{Kind: ErrMalformed, Event: -1}
	}
	switch prescan(body, p.lim.MaxEvents, p.maxWidth) {
	case prescanTooDeep:
		return &Error{Kind: ErrMalformed, Event: -1}
	case prescanTooManyEvents:
		return &Error{Kind: ErrTooManyEvents, Event: -1, Field: "events"}
	case prescanTooWide:
		// Only props (and their arrays and items) may hold many elements;
		// anywhere else a wide container is a wrong type or unknown keys.
		return &Error{Kind: ErrInvalidProps, Event: -1, Field: "props"}
	}
	err := p.parse(dst, body, now)
	if err != nil {
		dst.Reset()
	}
	return err
}

func (p *Parser) parse(dst *Beacon, body []byte, now time.Time) error {
	v, err := dst.jp.ParseBytes(body)
	if err != nil {
		// fastjson's message quotes the body; never pass it on.
		return &Error{Kind: ErrMalformed, Event: -1}
	}
	if v.Type() != fastjson.TypeObject {
		return &Error{Kind: ErrMalformed, Event: -1}
	}
	d := decoder{b: dst, lim: &p.lim, nowMs: now.UnixMilli()}
	obj, _ := v.Object()
	var seen uint8
	obj.Visit(func(key []byte, fv *fastjson.Value) {
		if err == nil {
			err = d.top(&seen, key, fv)
		}
	})
	if err != nil {
		return err
	}
	if seen&topV == 0 {
		return &Error{Kind: ErrMissingField, Event: -1, Field: "v"}
	}
	if seen&topEvents == 0 {
		return &Error{Kind: ErrMissingField, Event: -1, Field: "events"}
	}
	return nil
}

// decoder carries one Parse call's state.
type decoder struct {
	b     *Beacon
	lim   *Limits
	nowMs int64
}

const (
	topV uint8 = 1 << iota
	topEvents
	topIDs
	topConsent
	topSID
)

func malformed(event int, field string) error {
	return &Error{Kind: ErrMalformed, Event: event, Field: field}
}

func invalid(kind error, event int, field string) error {
	return &Error{Kind: kind, Event: event, Field: field}
}

// once marks bit in seen and reports a repeated key as malformed.
func once(seen *uint8, bit uint8, event int, field string) error {
	if *seen&bit != 0 {
		return malformed(event, field)
	}
	*seen |= bit
	return nil
}

func (d *decoder) top(seen *uint8, key []byte, v *fastjson.Value) error {
	switch string(key) {
	case "v":
		if err := once(seen, topV, -1, "v"); err != nil {
			return err
		}
		n, ok := d.uint(v)
		if !ok {
			return malformed(-1, "v")
		}
		if n != 1 {
			return invalid(ErrUnsupportedVersion, -1, "v")
		}
		d.b.Version = 1
		return nil
	case "events":
		if err := once(seen, topEvents, -1, "events"); err != nil {
			return err
		}
		return d.events(v)
	case "ids":
		if err := once(seen, topIDs, -1, "ids"); err != nil {
			return err
		}
		return d.ids(v)
	case "consent":
		if err := once(seen, topConsent, -1, "consent"); err != nil {
			return err
		}
		return d.consent(v)
	case "sid":
		if err := once(seen, topSID, -1, "sid"); err != nil {
			return err
		}
		s, ok := str(v)
		if !ok {
			return malformed(-1, "sid")
		}
		if len(s) == 0 || len(s) > 20 || !allDigits(s) {
			return invalid(ErrInvalidSession, -1, "sid")
		}
		d.b.SessionID = d.copy(s)
		return nil
	default:
		return invalid(ErrUnknownField, -1, "")
	}
}

func (d *decoder) events(v *fastjson.Value) error {
	if v.Type() != fastjson.TypeArray {
		return malformed(-1, "events")
	}
	arr, _ := v.Array()
	switch {
	case len(arr) == 0:
		return invalid(ErrNoEvents, -1, "events")
	case len(arr) > d.lim.MaxEvents:
		return invalid(ErrTooManyEvents, -1, "events")
	}
	for i, ev := range arr {
		if ev.Type() != fastjson.TypeObject {
			return malformed(i, "")
		}
		d.b.Events = append(d.b.Events, Event{})
		if err := d.event(i, &d.b.Events[len(d.b.Events)-1], ev); err != nil {
			return err
		}
	}
	return nil
}

const (
	evName uint8 = 1 << iota
	evID
	evTS
	evURL
	evRef
	evProps
	evUser
	evEng
)

func (d *decoder) event(i int, e *Event, v *fastjson.Value) error {
	obj, _ := v.Object()
	var (
		seen uint8
		err  error
	)
	obj.Visit(func(key []byte, fv *fastjson.Value) {
		if err == nil {
			err = d.eventField(i, e, &seen, key, fv)
		}
	})
	if err != nil {
		return err
	}
	for _, req := range [...]struct {
		bit   uint8
		field string
	}{{evName, "name"}, {evID, "id"}, {evTS, "ts"}, {evURL, "url"}} {
		if seen&req.bit == 0 {
			return invalid(ErrMissingField, i, req.field)
		}
	}
	return nil
}

func (d *decoder) eventField(i int, e *Event, seen *uint8, key []byte, v *fastjson.Value) error {
	switch string(key) {
	case "name":
		if err := once(seen, evName, i, "name"); err != nil {
			return err
		}
		s, ok := str(v)
		if !ok {
			return malformed(i, "name")
		}
		spec, ok := platforms.CanonicalBytes(s)
		if !ok {
			return invalid(ErrUnknownEvent, i, "name")
		}
		e.Spec = spec
		if spec.Custom {
			e.Name = d.copy(s)
		} else {
			e.Name = d.copyString(spec.Name)
		}
		return nil
	case "id":
		if err := once(seen, evID, i, "id"); err != nil {
			return err
		}
		s, ok := str(v)
		if !ok {
			return malformed(i, "id")
		}
		if !parseUUID(s, &e.UUID) {
			return invalid(ErrInvalidEventID, i, "id")
		}
		e.ID = d.appendUUID(&e.UUID)
		return nil
	case "ts":
		if err := once(seen, evTS, i, "ts"); err != nil {
			return err
		}
		ts, ok := d.uint(v)
		if !ok {
			return malformed(i, "ts")
		}
		if ts < d.nowMs-d.lim.MaxPastSkew.Milliseconds() || ts > d.nowMs+d.lim.MaxFutureSkew.Milliseconds() {
			return invalid(ErrInvalidTimestamp, i, "ts")
		}
		e.TS = ts
		return nil
	case "url":
		if err := once(seen, evURL, i, "url"); err != nil {
			return err
		}
		s, ok := str(v)
		if !ok {
			return malformed(i, "url")
		}
		if !validURL(s, d.lim.MaxURLBytes) {
			return invalid(ErrInvalidURL, i, "url")
		}
		e.URL = d.copy(s)
		return nil
	case "ref":
		if err := once(seen, evRef, i, "ref"); err != nil {
			return err
		}
		if v.Type() == fastjson.TypeNull {
			return nil
		}
		s, ok := str(v)
		if !ok {
			return malformed(i, "ref")
		}
		if len(s) == 0 { // document.referrer is "" on direct visits
			return nil
		}
		if !validURL(s, d.lim.MaxURLBytes) {
			return invalid(ErrInvalidURL, i, "ref")
		}
		e.Ref = d.copy(s)
		return nil
	case "eng":
		if err := once(seen, evEng, i, "eng"); err != nil {
			return err
		}
		n, ok := d.uint(v)
		if !ok {
			return malformed(i, "eng")
		}
		if n > 24*60*60*1000 {
			return invalid(ErrInvalidSession, i, "eng")
		}
		e.EngagementMS = n
		return nil
	case "props":
		if err := once(seen, evProps, i, "props"); err != nil {
			return err
		}
		return d.props(i, e, v)
	case "user":
		if err := once(seen, evUser, i, "user"); err != nil {
			return err
		}
		return d.user(i, e, v)
	default:
		return invalid(ErrUnknownField, i, "")
	}
}

func (d *decoder) props(i int, e *Event, v *fastjson.Value) error {
	switch v.Type() {
	case fastjson.TypeNull:
		return nil
	case fastjson.TypeObject:
	default:
		return malformed(i, "props")
	}
	obj, _ := v.Object()
	props, err := d.fields(i, obj, d.lim.MaxProps, 0, &d.b.props)
	if err != nil {
		return err
	}
	e.Props = props
	return nil
}

// fields converts obj's members (at most max, each key valid and unique),
// their values at level, appending them to *dst; it returns the appended
// part. Values at level never append to *dst themselves (props hold items in
// d.b.itemFields, items hold only scalars), so the part stays contiguous.
func (d *decoder) fields(i int, obj *fastjson.Object, max, level int, dst *[]Field) ([]Field, error) {
	if obj.Len() > max {
		return nil, invalid(ErrInvalidProps, i, "props")
	}
	start := len(*dst)
	var err error
	obj.Visit(func(key []byte, fv *fastjson.Value) {
		if err != nil {
			return
		}
		if !validPropKey(key) || hasKey((*dst)[start:], key) {
			err = invalid(ErrInvalidProps, i, "props")
			return
		}
		val, skip, verr := d.value(i, fv, level)
		if verr != nil || skip {
			err = verr
			return
		}
		*dst = append(*dst, Field{Key: d.copy(key), Value: val})
	})
	if err != nil {
		return nil, err
	}
	end := len(*dst)
	return (*dst)[start:end:end], nil
}

// value converts a prop value. level 0 is a prop's value, 1 an array
// element, 2 a field of an object inside an array. skip reports a null
// that is dropped.
func (d *decoder) value(i int, v *fastjson.Value, level int) (val Value, skip bool, err error) {
	switch v.Type() {
	case fastjson.TypeString:
		s, _ := v.StringBytes()
		if len(s) > d.lim.MaxStringBytes || !printable(s, true) {
			return Value{}, false, invalid(ErrInvalidProps, i, "props")
		}
		return Value{Kind: KindString, Str: d.copy(s)}, false, nil
	case fastjson.TypeNumber:
		f, ok := d.float(v)
		if !ok {
			return Value{}, false, malformed(i, "props")
		}
		return Value{Kind: KindNumber, Num: f}, false, nil
	case fastjson.TypeTrue:
		return Value{Kind: KindBool, Bool: true}, false, nil
	case fastjson.TypeFalse:
		return Value{Kind: KindBool}, false, nil
	case fastjson.TypeNull:
		if level == 1 {
			return Value{}, false, invalid(ErrInvalidProps, i, "props")
		}
		return Value{}, true, nil
	case fastjson.TypeArray:
		if level != 0 {
			return Value{}, false, invalid(ErrInvalidProps, i, "props")
		}
		arr, _ := v.Array()
		if len(arr) > d.lim.MaxArrayLen {
			return Value{}, false, invalid(ErrInvalidProps, i, "props")
		}
		start := len(d.b.elems)
		for _, el := range arr {
			elem, _, eerr := d.value(i, el, 1)
			if eerr != nil {
				return Value{}, false, eerr
			}
			d.b.elems = append(d.b.elems, elem)
		}
		end := len(d.b.elems)
		return Value{Kind: KindArray, Elems: d.b.elems[start:end:end]}, false, nil
	case fastjson.TypeObject:
		if level != 1 {
			return Value{}, false, invalid(ErrInvalidProps, i, "props")
		}
		obj, _ := v.Object()
		fields, ferr := d.fields(i, obj, d.lim.MaxItemFields, 2, &d.b.itemFields)
		if ferr != nil {
			return Value{}, false, ferr
		}
		return Value{Kind: KindObject, Fields: fields}, false, nil
	default:
		return Value{}, false, malformed(i, "props")
	}
}

func (d *decoder) user(i int, e *Event, v *fastjson.Value) error {
	switch v.Type() {
	case fastjson.TypeNull:
		return nil
	case fastjson.TypeObject:
	default:
		return malformed(i, "user")
	}
	obj, _ := v.Object()
	var (
		seen uint16
		err  error
	)
	obj.Visit(func(key []byte, fv *fastjson.Value) {
		if err != nil {
			return
		}
		var (
			dst *[]byte
			bit uint16
		)
		switch string(key) {
		case "em":
			dst, bit = &e.User.Email, 1<<0
		case "ph":
			dst, bit = &e.User.Phone, 1<<1
		case "fn":
			dst, bit = &e.User.FirstName, 1<<2
		case "ln":
			dst, bit = &e.User.LastName, 1<<3
		case "ge":
			dst, bit = &e.User.Gender, 1<<4
		case "db":
			dst, bit = &e.User.DateOfBirth, 1<<5
		case "ct":
			dst, bit = &e.User.City, 1<<6
		case "st":
			dst, bit = &e.User.State, 1<<7
		case "zp":
			dst, bit = &e.User.Zip, 1<<8
		case "country":
			dst, bit = &e.User.Country, 1<<9
		case "external_id":
			dst, bit = &e.User.ExternalID, 1<<10
		default:
			err = invalid(ErrUnknownField, i, "user")
			return
		}
		if seen&bit != 0 {
			err = malformed(i, "user")
			return
		}
		seen |= bit
		if fv.Type() == fastjson.TypeNull {
			return
		}
		s, ok := str(fv)
		if !ok {
			err = malformed(i, "user")
			return
		}
		if len(s) == 0 {
			return
		}
		if len(s) > d.lim.MaxStringBytes || !printable(s, false) {
			err = invalid(ErrInvalidUser, i, "user")
			return
		}
		*dst = d.copy(s)
	})
	return err
}

func (d *decoder) ids(v *fastjson.Value) error {
	switch v.Type() {
	case fastjson.TypeNull:
		return nil
	case fastjson.TypeObject:
	default:
		return malformed(-1, "ids")
	}
	obj, _ := v.Object()
	ids := &d.b.IDs
	var (
		seen uint16
		err  error
	)
	obj.Visit(func(key []byte, fv *fastjson.Value) {
		if err != nil {
			return
		}
		var (
			dst   *[]byte
			bit   uint16
			field string
			check func([]byte) bool
		)
		switch string(key) {
		case "fbp":
			dst, bit, field, check = &ids.FBP, 1<<0, "ids.fbp", validFBP
		case "fbc":
			dst, bit, field, check = &ids.FBC, 1<<1, "ids.fbc", validFBC
		case "gclid":
			dst, bit, field, check = &ids.GCLID, 1<<2, "ids.gclid", validClickID
		case "gbraid":
			dst, bit, field, check = &ids.GBRAID, 1<<3, "ids.gbraid", validClickID
		case "wbraid":
			dst, bit, field, check = &ids.WBRAID, 1<<4, "ids.wbraid", validClickID
		case "ttclid":
			dst, bit, field, check = &ids.TTCLID, 1<<5, "ids.ttclid", validClickID
		case "ttp":
			dst, bit, field, check = &ids.TTP, 1<<6, "ids.ttp", validClickID
		case "li_fat_id":
			dst, bit, field, check = &ids.LiFatID, 1<<7, "ids.li_fat_id", validClickID
		case "twclid":
			dst, bit, field, check = &ids.TWCLID, 1<<8, "ids.twclid", validClickID
		default:
			err = invalid(ErrUnknownField, -1, "ids")
			return
		}
		if seen&bit != 0 {
			err = malformed(-1, field)
			return
		}
		seen |= bit
		if fv.Type() == fastjson.TypeNull {
			return
		}
		s, ok := str(fv)
		if !ok {
			err = malformed(-1, field)
			return
		}
		if len(s) == 0 {
			return
		}
		if len(s) > d.lim.MaxClickIDBytes || !check(s) {
			err = invalid(ErrInvalidClickID, -1, field)
			return
		}
		*dst = d.copy(s)
	})
	return err
}

const (
	cAnalytics uint8 = 1 << iota
	cMarketing
	cFunctional
	cPolicy
)

func (d *decoder) consent(v *fastjson.Value) error {
	switch v.Type() {
	case fastjson.TypeNull:
		return nil
	case fastjson.TypeObject:
	default:
		return malformed(-1, "consent")
	}
	obj, _ := v.Object()
	c := &d.b.Consent
	c.Present = true
	var (
		seen uint8
		err  error
	)
	obj.Visit(func(key []byte, fv *fastjson.Value) {
		if err != nil {
			return
		}
		var (
			bit uint8
			dst *bool
		)
		switch string(key) {
		case "analytics":
			bit, dst = cAnalytics, &c.Analytics
		case "marketing":
			bit, dst = cMarketing, &c.Marketing
		case "functional":
			bit, dst = cFunctional, &c.Functional
		case "policy":
			if err = once(&seen, cPolicy, -1, "consent"); err != nil {
				return
			}
			s, ok := str(fv)
			if !ok {
				err = malformed(-1, "consent")
				return
			}
			if len(s) == 0 || len(s) > 64 || !tokenChars(s) {
				err = invalid(ErrInvalidConsent, -1, "consent")
				return
			}
			c.Policy = d.copy(s)
			return
		default:
			err = invalid(ErrUnknownField, -1, "consent")
			return
		}
		if err = once(&seen, bit, -1, "consent"); err != nil {
			return
		}
		switch fv.Type() {
		case fastjson.TypeTrue:
			*dst = true
		case fastjson.TypeFalse:
			*dst = false
		default:
			err = malformed(-1, "consent")
		}
	})
	return err
}

// str returns a string value's unescaped bytes (a view into the parser's
// buffer, to be copied before keeping).
func str(v *fastjson.Value) ([]byte, bool) {
	if v.Type() != fastjson.TypeString {
		return nil, false
	}
	s, _ := v.StringBytes()
	return s, true
}

// rawNumber returns a number's JSON text if it follows the JSON grammar
// (fastjson also accepts "inf", "nan", "+1", "01", "1.2.3").
func (d *decoder) rawNumber(v *fastjson.Value) ([]byte, bool) {
	if v.Type() != fastjson.TypeNumber {
		return nil, false
	}
	d.b.scratch = v.MarshalTo(d.b.scratch[:0])
	return d.b.scratch, validNumber(d.b.scratch)
}

// uint returns a non-negative integer of at most 15 digits (enough for
// Unix milliseconds until year 33658).
func (d *decoder) uint(v *fastjson.Value) (int64, bool) {
	s, ok := d.rawNumber(v)
	if !ok || len(s) > 15 || !allDigits(s) {
		return 0, false
	}
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func (d *decoder) float(v *fastjson.Value) (float64, bool) {
	if _, ok := d.rawNumber(v); !ok {
		return 0, false
	}
	f, err := v.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// copy appends s to the Beacon's arena and returns the copy, capped so an
// append by the caller cannot overwrite the next string.
func (d *decoder) copy(s []byte) []byte {
	start := len(d.b.buf)
	d.b.buf = append(d.b.buf, s...)
	end := len(d.b.buf)
	return d.b.buf[start:end:end]
}

func (d *decoder) copyString(s string) []byte {
	start := len(d.b.buf)
	d.b.buf = append(d.b.buf, s...)
	end := len(d.b.buf)
	return d.b.buf[start:end:end]
}

func (d *decoder) appendUUID(u *[16]byte) []byte {
	const hexdig = "0123456789abcdef"
	start := len(d.b.buf)
	for j, c := range u {
		if j == 4 || j == 6 || j == 8 || j == 10 {
			d.b.buf = append(d.b.buf, '-')
		}
		d.b.buf = append(d.b.buf, hexdig[c>>4], hexdig[c&0xf])
	}
	end := len(d.b.buf)
	return d.b.buf[start:end:end]
}

func hasKey(fields []Field, key []byte) bool {
	for i := range fields {
		if bytes.Equal(fields[i].Key, key) {
			return true
		}
	}
	return false
}
