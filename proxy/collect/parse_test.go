package collect_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/proxy/collect"
)

// now is the receive time of every test beacon; ts values are relative to it.
var testNow = time.UnixMilli(1732890000000)

const (
	uuid1 = "0b6c8f43-5a1e-4c4e-9b7d-3f0e2f1a9c11"
	uuid2 = "7d444840-9dc0-11d1-b245-5ffdce74fad2" // v1
)

// ev builds an event object with the given extra fields.
func ev(fields string) string {
	base := `"name":"purchase","id":"` + uuid1 + `","ts":1732890000000,"url":"https://www.shop.com/p"`
	if fields != "" {
		base += "," + fields
	}
	return "{" + base + "}"
}

func beacon(events ...string) string {
	return `{"v":1,"events":[` + strings.Join(events, ",") + `]}`
}

func newParser(t *testing.T) *collect.Parser {
	t.Helper()
	p, err := collect.NewParser(collect.DefaultLimits())
	require.NoError(t, err)
	return p
}

func parse(t *testing.T, body string) (*collect.Beacon, error) {
	t.Helper()
	p := newParser(t)
	b := p.Acquire()
	return b, p.Parse(b, []byte(body), testNow)
}

func TestParseFullBeacon(t *testing.T) {
	t.Parallel()
	body := `{"v":1,"events":[{"name":"Purchase","id":"0B6C8F43-5A1E-4C4E-9B7D-3F0E2F1A9C11","ts":1732889999000,` +
		`"url":"https://www.shop.com/checkout?x=1#y","ref":"http://google.com/","eng":5230,` +
		`"props":{"value":12.5,"currency":"EUR","order_id":"A-1001","coupon":null,"gift":false,` +
		`"content_ids":["sku1","sku2"],"contents":[{"id":"sku1","quantity":1,"item_price":10.25,"note":null}],` +
		`"title":"caf\u00e9 \ud83d\ude00\nline"},` +
		`"user":{"em":"jane@example.com","external_id":"u-42","ph":""}},` +
		`{"name":"custom:newsletter_optin","id":"` + uuid2 + `","ts":1732890000100,"url":"https://www.shop.com/","ref":""}],` +
		`"ids":{"fbp":"fb.1.1732880000000.1116446470","fbc":"fb.1.1732880000000.AbCdEf-_1","gclid":"Cj0KCQ_abc-123",` +
		`"ttclid":"E.C.P.abc+/=","li_fat_id":"` + uuid2 + `","twclid":"23opevjt88psuo13lu8d020qkn","gbraid":null,"wbraid":""},` +
		`"sid":"1732889000","consent":{"analytics":true,"marketing":false,"functional":true,"policy":"2026-01"}}`
	b, err := parse(t, body)
	require.NoError(t, err)

	require.Equal(t, 1, b.Version)
	require.Len(t, b.Events, 2)

	e := b.Events[0]
	require.Equal(t, "purchase", string(e.Name))
	require.Equal(t, platforms.ClassConversion, e.Spec.Class)
	require.Equal(t, uuid1, string(e.ID), "event ids are stored lowercase")
	require.Equal(t, byte(0x0b), e.UUID[0])
	require.Equal(t, byte(0x11), e.UUID[15])
	require.Equal(t, int64(1732889999000), e.TS)
	require.Equal(t, "https://www.shop.com/checkout?x=1#y", string(e.URL))
	require.Equal(t, "http://google.com/", string(e.Ref))
	require.Equal(t, int64(5230), e.EngagementMS)
	require.Equal(t, "jane@example.com", string(e.User.Email))
	require.Equal(t, "u-42", string(e.User.ExternalID))
	require.Nil(t, e.User.Phone)

	require.Len(t, e.Props, 7, "null props are dropped")
	v, ok := e.Prop("value")
	require.True(t, ok)
	require.Equal(t, collect.Value{Kind: collect.KindNumber, Num: 12.5}, v)
	v, _ = e.Prop("currency")
	require.Equal(t, "EUR", string(v.Str))
	v, _ = e.Prop("gift")
	require.Equal(t, collect.KindBool, v.Kind)
	require.False(t, v.Bool)
	_, ok = e.Prop("coupon")
	require.False(t, ok)
	v, _ = e.Prop("content_ids")
	require.Equal(t, collect.KindArray, v.Kind)
	require.Len(t, v.Elems, 2)
	require.Equal(t, "sku2", string(v.Elems[1].Str))
	v, _ = e.Prop("contents")
	require.Len(t, v.Elems, 1)
	item := v.Elems[0]
	require.Equal(t, collect.KindObject, item.Kind)
	require.Len(t, item.Fields, 3)
	require.Equal(t, "item_price", string(item.Fields[2].Key))
	require.Equal(t, 10.25, item.Fields[2].Value.Num)
	v, _ = e.Prop("title")
	require.Equal(t, "café 😀\nline", string(v.Str))

	e = b.Events[1]
	require.Equal(t, "custom:newsletter_optin", string(e.Name))
	require.True(t, e.Spec.Custom)
	require.Equal(t, platforms.ClassHighVolume, e.Spec.Class)
	require.Nil(t, e.Ref)
	require.Empty(t, e.Props)

	require.Equal(t, "fb.1.1732880000000.1116446470", string(b.IDs.FBP))
	require.Equal(t, "fb.1.1732880000000.AbCdEf-_1", string(b.IDs.FBC))
	require.Equal(t, "Cj0KCQ_abc-123", string(b.IDs.GCLID))
	require.Equal(t, "E.C.P.abc+/=", string(b.IDs.TTCLID))
	require.Equal(t, uuid2, string(b.IDs.LiFatID))
	require.Equal(t, "23opevjt88psuo13lu8d020qkn", string(b.IDs.TWCLID))
	require.Nil(t, b.IDs.GBRAID)
	require.Nil(t, b.IDs.WBRAID)
	require.Nil(t, b.IDs.TTP)
	require.Equal(t, "1732889000", string(b.SessionID))
	require.Equal(t, collect.Consent{Present: true, Analytics: true, Functional: true, Policy: []byte("2026-01")}, b.Consent)
}

func TestParseValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want func(t *testing.T, b *collect.Beacon)
	}{
		{"minimal", beacon(ev("")), func(t *testing.T, b *collect.Beacon) {
			require.Len(t, b.Events, 1)
			require.False(t, b.Consent.Present)
		}},
		{"whitespace around", " \n" + beacon(ev("")) + "\t ", nil},
		{"keys in any order", `{"events":[{"url":"https://a.b","ts":1732890000000,"id":"` + uuid1 + `","name":"lead"}],"v":1}`, nil},
		{"25 events", beacon(repeat(ev(""), 25)...), func(t *testing.T, b *collect.Beacon) { require.Len(t, b.Events, 25) }},
		{"platform names canonicalised", beacon(
			strings.Replace(ev(""), "purchase", "CompleteRegistration", 1),
			strings.Replace(ev(""), "purchase", "generate_lead", 1),
			strings.Replace(ev(""), "purchase", "PageView", 1),
		), func(t *testing.T, b *collect.Beacon) {
			require.Equal(t, "signup", string(b.Events[0].Name))
			require.Equal(t, "lead", string(b.Events[1].Name))
			require.Equal(t, "page_view", string(b.Events[2].Name))
			require.Equal(t, platforms.ClassHighVolume, b.Events[2].Spec.Class)
		}},
		{"ts at past skew edge", beacon(strings.Replace(ev(""), "1732890000000", "1732803600000", 1)), nil},
		{"ts at future skew edge", beacon(strings.Replace(ev(""), "1732890000000", "1732890600000", 1)), nil},
		{"null optionals", `{"v":1,"events":[` + ev(`"ref":null,"props":null,"user":null`) + `],"ids":null,"consent":null}`, nil},
		{"ids empty strings", `{"v":1,"events":[` + ev("") + `],"ids":{"fbp":"","fbc":null}}`, func(t *testing.T, b *collect.Beacon) {
			require.Equal(t, collect.ClickIDs{}, b.IDs)
		}},
		{"fbp with appendix", `{"v":1,"events":[` + ev("") + `],"ids":{"fbp":"fb.2.1732880000000.42.AQYBAQIA"}}`, nil},
		{"http url with port and ipv6", beacon(strings.Replace(ev(""), "https://www.shop.com/p", "HTTP://[::1]:8080", 1)), nil},
		{"number forms", beacon(ev(`"props":{"a":0,"b":-1.5e3,"c":1E+2,"d":0.001}`)), func(t *testing.T, b *collect.Beacon) {
			v, _ := b.Events[0].Prop("b")
			require.Equal(t, -1500.0, v.Num)
		}},
		{"escaped slash and quote", beacon(ev(`"props":{"q":"a\/b \"c\" \\"}`)), func(t *testing.T, b *collect.Beacon) {
			v, _ := b.Events[0].Prop("q")
			require.Equal(t, `a/b "c" \`, string(v.Str))
		}},
		{"32 props", beacon(ev(`"props":{` + props(32) + `}`)), nil},
		{"max body size", padTo(beacon(ev("")), 32<<10), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := parse(t, tt.body)
			require.NoError(t, err)
			require.Equal(t, 1, b.Version)
			if tt.want != nil {
				tt.want(t, b)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		body  string
		kind  error
		event int
		field string
	}{
		// Body level.
		{"empty", "", collect.ErrMalformed, -1, ""},
		{"too large", padTo(beacon(ev("")), 32<<10+1), collect.ErrTooLarge, -1, ""},
		{"not json", "hello", collect.ErrMalformed, -1, ""},
		{"truncated", beacon(ev(""))[:40], collect.ErrMalformed, -1, ""},
		{"trailing garbage", beacon(ev("")) + "x", collect.ErrMalformed, -1, ""},
		{"two documents", beacon(ev("")) + beacon(ev("")), collect.ErrMalformed, -1, ""},
		{"array top", "[" + beacon(ev("")) + "]", collect.ErrMalformed, -1, ""},
		{"invalid utf8", beacon(ev(`"props":{"a":"` + "\xff\xfe" + `"}`)), collect.ErrMalformed, -1, ""},
		{"invalid escape", beacon(ev(`"props":{"a":"\x41"}`)), collect.ErrMalformed, -1, ""},
		{"short unicode escape", beacon(ev(`"props":{"a":"\u12"}`)), collect.ErrMalformed, -1, ""},
		{"lone high surrogate", beacon(ev(`"props":{"a":"\ud83d"}`)), collect.ErrMalformed, -1, ""},
		{"lone low surrogate", beacon(ev(`"props":{"a":"\ude00"}`)), collect.ErrMalformed, -1, ""},
		{"deep nesting", `{"v":1,"events":` + strings.Repeat("[", 400) + strings.Repeat("]", 400) + `}`, collect.ErrMalformed, -1, ""},

		// Top level.
		{"missing v", `{"events":[` + ev("") + `]}`, collect.ErrMissingField, -1, "v"},
		{"missing events", `{"v":1}`, collect.ErrMissingField, -1, "events"},
		{"v 2", `{"v":2,"events":[` + ev("") + `]}`, collect.ErrUnsupportedVersion, -1, "v"},
		{"v string", `{"v":"1","events":[` + ev("") + `]}`, collect.ErrMalformed, -1, "v"},
		{"v float", `{"v":1.0,"events":[` + ev("") + `]}`, collect.ErrMalformed, -1, "v"},
		{"duplicate v", `{"v":1,"v":1,"events":[` + ev("") + `]}`, collect.ErrMalformed, -1, "v"},
		{"duplicate events", `{"v":1,"events":[` + ev("") + `],"events":[]}`, collect.ErrMalformed, -1, "events"},
		{"unknown top field", `{"v":1,"events":[` + ev("") + `],"x":1}`, collect.ErrUnknownField, -1, ""},
		{"events object", `{"v":1,"events":{}}`, collect.ErrMalformed, -1, "events"},
		{"no events", `{"v":1,"events":[]}`, collect.ErrNoEvents, -1, "events"},
		{"26 events", beacon(repeat(ev(""), 26)...), collect.ErrTooManyEvents, -1, "events"},
		{"10000 events", `{"v":1,"events":[` + strings.Repeat("{},", 9999) + `{}]}`, collect.ErrTooManyEvents, -1, "events"},
		{"event not object", beacon(ev(""), `"x"`), collect.ErrMalformed, 1, ""},
		{"sid letters", `{"v":1,"events":[` + ev("") + `],"sid":"12a"}`, collect.ErrInvalidSession, -1, "sid"},
		{"sid number", `{"v":1,"events":[` + ev("") + `],"sid":12}`, collect.ErrMalformed, -1, "sid"},

		// Event fields.
		{"missing name", beacon(`{"id":"` + uuid1 + `","ts":1732890000000,"url":"https://a.b"}`), collect.ErrMissingField, 0, "name"},
		{"missing id", beacon(`{"name":"lead","ts":1732890000000,"url":"https://a.b"}`), collect.ErrMissingField, 0, "id"},
		{"missing ts", beacon(`{"name":"lead","id":"` + uuid1 + `","url":"https://a.b"}`), collect.ErrMissingField, 0, "ts"},
		{"missing url", beacon(`{"name":"lead","id":"` + uuid1 + `","ts":1732890000000}`), collect.ErrMissingField, 0, "url"},
		{"unknown event field", beacon(ev(`"foo":1`)), collect.ErrUnknownField, 0, ""},
		{"duplicate name", beacon(ev(`"name":"lead"`)), collect.ErrMalformed, 0, "name"},
		{"unknown event", beacon(ev(""), strings.Replace(ev(""), "purchase", "buy", 1)), collect.ErrUnknownEvent, 1, "name"},
		{"bad custom event", beacon(strings.Replace(ev(""), "purchase", "custom:Bad-Name", 1)), collect.ErrUnknownEvent, 0, "name"},
		{"name number", beacon(strings.Replace(ev(""), `"purchase"`, `1`, 1)), collect.ErrMalformed, 0, "name"},
		{"id not uuid", beacon(strings.Replace(ev(""), uuid1, "abc", 1)), collect.ErrInvalidEventID, 0, "id"},
		{"id no hyphens", beacon(strings.Replace(ev(""), uuid1, strings.ReplaceAll(uuid1, "-", "")+"abcd", 1)), collect.ErrInvalidEventID, 0, "id"},
		{"id braces", beacon(strings.Replace(ev(""), uuid1, "{"+uuid1[1:35]+"}", 1)), collect.ErrInvalidEventID, 0, "id"},
		{"id non hex", beacon(strings.Replace(ev(""), uuid1, "0b6c8f43-5a1e-4c4e-9b7d-3f0e2f1a9c1g", 1)), collect.ErrInvalidEventID, 0, "id"},
		{"nil uuid", beacon(strings.Replace(ev(""), uuid1, "00000000-0000-0000-0000-000000000000", 1)), collect.ErrInvalidEventID, 0, "id"},
		{"max uuid", beacon(strings.Replace(ev(""), uuid1, "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", 1)), collect.ErrInvalidEventID, 0, "id"},
		{"ts too old", beacon(strings.Replace(ev(""), "1732890000000", "1732803599999", 1)), collect.ErrInvalidTimestamp, 0, "ts"},
		{"ts too new", beacon(strings.Replace(ev(""), "1732890000000", "1732890600001", 1)), collect.ErrInvalidTimestamp, 0, "ts"},
		{"ts seconds", beacon(strings.Replace(ev(""), "1732890000000", "1732890000", 1)), collect.ErrInvalidTimestamp, 0, "ts"},
		{"ts negative", beacon(strings.Replace(ev(""), "1732890000000", "-1", 1)), collect.ErrMalformed, 0, "ts"},
		{"ts fraction", beacon(strings.Replace(ev(""), "1732890000000", "1732890000000.5", 1)), collect.ErrMalformed, 0, "ts"},
		{"ts exponent", beacon(strings.Replace(ev(""), "1732890000000", "1.73289e12", 1)), collect.ErrMalformed, 0, "ts"},
		{"ts string", beacon(strings.Replace(ev(""), "1732890000000", `"1732890000000"`, 1)), collect.ErrMalformed, 0, "ts"},
		{"ts huge", beacon(strings.Replace(ev(""), "1732890000000", "99999999999999999999999", 1)), collect.ErrMalformed, 0, "ts"},
		{"url relative", beacon(strings.Replace(ev(""), "https://www.shop.com/p", "/p", 1)), collect.ErrInvalidURL, 0, "url"},
		{"url javascript", beacon(strings.Replace(ev(""), "https://www.shop.com/p", "javascript:alert(1)", 1)), collect.ErrInvalidURL, 0, "url"},
		{"url no host", beacon(strings.Replace(ev(""), "https://www.shop.com/p", "https:///p", 1)), collect.ErrInvalidURL, 0, "url"},
		{"url userinfo", beacon(strings.Replace(ev(""), "https://www.shop.com/p", "https://u:p@shop.com/", 1)), collect.ErrInvalidURL, 0, "url"},
		{"url space", beacon(strings.Replace(ev(""), "https://www.shop.com/p", "https://shop.com/a b", 1)), collect.ErrInvalidURL, 0, "url"},
		{"url non ascii", beacon(strings.Replace(ev(""), "https://www.shop.com/p", "https://shop.com/é", 1)), collect.ErrInvalidURL, 0, "url"},
		{"url too long", beacon(strings.Replace(ev(""), "https://www.shop.com/p", "https://shop.com/"+strings.Repeat("a", 2048), 1)), collect.ErrInvalidURL, 0, "url"},
		{"ref ftp", beacon(ev(`"ref":"ftp://x.y/"`)), collect.ErrInvalidURL, 0, "ref"},
		{"ref number", beacon(ev(`"ref":1`)), collect.ErrMalformed, 0, "ref"},
		{"eng too big", beacon(ev(`"eng":86400001`)), collect.ErrInvalidSession, 0, "eng"},

		// Props.
		{"props array", beacon(ev(`"props":[]`)), collect.ErrMalformed, 0, "props"},
		{"33 props", beacon(ev(`"props":{` + props(33) + `}`)), collect.ErrInvalidProps, 0, "props"},
		{"prop key dash", beacon(ev(`"props":{"a-b":1}`)), collect.ErrInvalidProps, 0, "props"},
		{"prop key digit first", beacon(ev(`"props":{"1a":1}`)), collect.ErrInvalidProps, 0, "props"},
		{"prop key empty", beacon(ev(`"props":{"":1}`)), collect.ErrInvalidProps, 0, "props"},
		{"prop key too long", beacon(ev(`"props":{"` + strings.Repeat("k", 41) + `":1}`)), collect.ErrInvalidProps, 0, "props"},
		{"prop duplicate", beacon(ev(`"props":{"a":1,"a":2}`)), collect.ErrInvalidProps, 0, "props"},
		{"prop nested object", beacon(ev(`"props":{"a":{"b":1}}`)), collect.ErrInvalidProps, 0, "props"},
		{"prop nested array", beacon(ev(`"props":{"a":[[1]]}`)), collect.ErrInvalidProps, 0, "props"},
		{"prop array too long", beacon(ev(`"props":{"a":[` + strings.TrimSuffix(strings.Repeat("1,", 51), ",") + `]}`)), collect.ErrInvalidProps, 0, "props"},
		{"prop array very long", beacon(ev(`"props":{"a":[` + strings.TrimSuffix(strings.Repeat("1,", 5000), ",") + `]}`)), collect.ErrInvalidProps, -1, "props"},
		{"user very wide", beacon(ev(`"user":{` + props(200) + `}`)), collect.ErrInvalidProps, -1, "props"},
		{"prop array null", beacon(ev(`"props":{"a":[1,null]}`)), collect.ErrInvalidProps, 0, "props"},
		{"item nested", beacon(ev(`"props":{"a":[{"b":[1]}]}`)), collect.ErrInvalidProps, 0, "props"},
		{"item too many fields", beacon(ev(`"props":{"a":[{` + props(17) + `}]}`)), collect.ErrInvalidProps, 0, "props"},
		{"item duplicate key", beacon(ev(`"props":{"a":[{"b":1,"b":1}]}`)), collect.ErrInvalidProps, 0, "props"},
		{"prop string too long", beacon(ev(`"props":{"a":"` + strings.Repeat("x", 513) + `"}`)), collect.ErrInvalidProps, 0, "props"},
		{"prop control char", beacon(ev(`"props":{"a":"\u0000"}`)), collect.ErrInvalidProps, 0, "props"},
		{"prop raw control char", beacon(ev("\"props\":{\"a\":\"\x01\"}")), collect.ErrInvalidProps, 0, "props"},
		{"prop NaN", beacon(ev(`"props":{"a":NaN}`)), collect.ErrMalformed, 0, "props"},
		{"prop inf", beacon(ev(`"props":{"a":inf}`)), collect.ErrMalformed, 0, "props"},
		{"prop leading zero", beacon(ev(`"props":{"a":01}`)), collect.ErrMalformed, 0, "props"},
		{"prop plus", beacon(ev(`"props":{"a":+1}`)), collect.ErrMalformed, 0, "props"},
		{"prop overflow", beacon(ev(`"props":{"a":1e999}`)), collect.ErrMalformed, 0, "props"},
		{"prop dot", beacon(ev(`"props":{"a":1.}`)), collect.ErrMalformed, 0, "props"},

		// User data.
		{"user unknown key", beacon(ev(`"user":{"email":"a@b.c"}`)), collect.ErrUnknownField, 0, "user"},
		{"user number", beacon(ev(`"user":{"ph":34600123456}`)), collect.ErrMalformed, 0, "user"},
		{"user newline", beacon(ev(`"user":{"em":"a@b.c\n"}`)), collect.ErrInvalidUser, 0, "user"},
		{"user too long", beacon(ev(`"user":{"fn":"` + strings.Repeat("x", 513) + `"}`)), collect.ErrInvalidUser, 0, "user"},
		{"user duplicate", beacon(ev(`"user":{"em":"a@b.c","em":"d@e.f"}`)), collect.ErrMalformed, 0, "user"},
		{"user array", beacon(ev(`"user":[]`)), collect.ErrMalformed, 0, "user"},

		// Click ids.
		{"ids unknown", `{"v":1,"events":[` + ev("") + `],"ids":{"msclkid":"x"}}`, collect.ErrUnknownField, -1, "ids"},
		{"gclid space", `{"v":1,"events":[` + ev("") + `],"ids":{"gclid":"a b"}}`, collect.ErrInvalidClickID, -1, "ids.gclid"},
		{"gclid quote", `{"v":1,"events":[` + ev("") + `],"ids":{"gclid":"a\"b"}}`, collect.ErrInvalidClickID, -1, "ids.gclid"},
		{"gclid too long", `{"v":1,"events":[` + ev("") + `],"ids":{"gclid":"` + strings.Repeat("a", 513) + `"}}`, collect.ErrInvalidClickID, -1, "ids.gclid"},
		{"fbp format", `{"v":1,"events":[` + ev("") + `],"ids":{"fbp":"fb.1.abc.123"}}`, collect.ErrInvalidClickID, -1, "ids.fbp"},
		{"fbp prefix", `{"v":1,"events":[` + ev("") + `],"ids":{"fbp":"xx.1.1732880000000.123"}}`, collect.ErrInvalidClickID, -1, "ids.fbp"},
		{"fbc no clid", `{"v":1,"events":[` + ev("") + `],"ids":{"fbc":"fb.1.1732880000000."}}`, collect.ErrInvalidClickID, -1, "ids.fbc"},
		{"ttclid number", `{"v":1,"events":[` + ev("") + `],"ids":{"ttclid":1}}`, collect.ErrMalformed, -1, "ids.ttclid"},
		{"ids duplicate", `{"v":1,"events":[` + ev("") + `],"ids":{"twclid":"a","twclid":"b"}}`, collect.ErrMalformed, -1, "ids.twclid"},

		// Consent.
		{"consent string bool", `{"v":1,"events":[` + ev("") + `],"consent":{"marketing":"true"}}`, collect.ErrMalformed, -1, "consent"},
		{"consent unknown", `{"v":1,"events":[` + ev("") + `],"consent":{"ads":true}}`, collect.ErrUnknownField, -1, "consent"},
		{"consent duplicate", `{"v":1,"events":[` + ev("") + `],"consent":{"marketing":false,"marketing":true}}`, collect.ErrMalformed, -1, "consent"},
		{"consent policy space", `{"v":1,"events":[` + ev("") + `],"consent":{"policy":"v 1"}}`, collect.ErrInvalidConsent, -1, "consent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := parse(t, tt.body)
			require.Error(t, err)
			require.ErrorIs(t, err, tt.kind)
			var perr *collect.Error
			require.ErrorAs(t, err, &perr)
			require.Equal(t, tt.event, perr.Event)
			require.Equal(t, tt.field, perr.Field)
			require.Empty(t, b.Events, "a failed parse leaves the beacon empty")

			switch tt.kind {
			case collect.ErrTooLarge:
				require.Equal(t, http.StatusRequestEntityTooLarge, collect.StatusCode(err))
				require.NotErrorIs(t, err, collect.ErrInvalid)
			case collect.ErrMalformed:
				require.Equal(t, http.StatusBadRequest, collect.StatusCode(err))
				require.NotErrorIs(t, err, collect.ErrInvalid)
			default:
				require.Equal(t, http.StatusBadRequest, collect.StatusCode(err))
				require.ErrorIs(t, err, collect.ErrInvalid)
			}
		})
	}
}

// TestErrorsRevealNoContent: an error message names the rule and the place,
// never the beacon's content (it may hold personal data or click ids).
func TestErrorsRevealNoContent(t *testing.T) {
	t.Parallel()
	const secret = "SECRETVALUE"
	for _, body := range []string{
		beacon(strings.Replace(ev(""), "purchase", secret, 1)),
		`{"v":1,"events":[` + ev("") + `],"ids":{"gclid":"` + secret + ` "}}`,
		`{"v":1,"events":[` + ev("") + `],"` + secret + `":1}`,
		beacon(ev(`"user":{"em":"` + secret + `\u0001"}`)),
		`{"v":1,"events":[` + ev("") + `]` + secret,
	} {
		_, err := parse(t, body)
		require.Error(t, err)
		require.NotContains(t, err.Error(), secret)
	}
	_, err := parse(t, beacon(ev(""), strings.Replace(ev(""), uuid1, "x", 1)))
	require.EqualError(t, err, "cannot parse beacon: events[1].id: invalid event id")
	_, err = parse(t, "x")
	require.EqualError(t, err, "cannot parse beacon: malformed beacon")
	_, err = parse(t, `{"v":1}`)
	require.EqualError(t, err, "cannot parse beacon: events: missing required field")
}

// TestParseCopiesOutOfBody: the body is reused by fasthttp after the handler
// returns; nothing of the Beacon may change when it is overwritten.
func TestParseCopiesOutOfBody(t *testing.T) {
	t.Parallel()
	p := newParser(t)
	b := p.Acquire()
	body := []byte(`{"v":1,"events":[` + ev(`"ref":"https://r.example/","props":{"k":"v","l":["x"]},"user":{"em":"a@b.c"}`) +
		`],"ids":{"gclid":"G1"},"sid":"7","consent":{"policy":"p1"}}`)
	require.NoError(t, p.Parse(b, body, testNow))
	for i := range body {
		body[i] = 'Z'
	}
	e := b.Events[0]
	require.Equal(t, "purchase", string(e.Name))
	require.Equal(t, uuid1, string(e.ID))
	require.Equal(t, "https://www.shop.com/p", string(e.URL))
	require.Equal(t, "https://r.example/", string(e.Ref))
	require.Equal(t, "v", string(e.Props[0].Value.Str))
	require.Equal(t, "k", string(e.Props[0].Key))
	require.Equal(t, "x", string(e.Props[1].Value.Elems[0].Str))
	require.Equal(t, "a@b.c", string(e.User.Email))
	require.Equal(t, "G1", string(b.IDs.GCLID))
	require.Equal(t, "7", string(b.SessionID))
	require.Equal(t, "p1", string(b.Consent.Policy))
}

// TestBeaconReuse: a pooled Beacon carries nothing of its previous parse.
func TestBeaconReuse(t *testing.T) {
	t.Parallel()
	p := newParser(t)
	b := p.Acquire()
	require.NoError(t, p.Parse(b, []byte(`{"v":1,"events":[`+ev(`"props":{"a":1}`)+`,`+ev("")+`],"ids":{"gclid":"G"},"consent":{"marketing":true}}`), testNow))
	require.Len(t, b.Events, 2)
	require.NoError(t, p.Parse(b, []byte(beacon(strings.Replace(ev(""), "purchase", "lead", 1))), testNow))
	require.Len(t, b.Events, 1)
	require.Equal(t, "lead", string(b.Events[0].Name))
	require.Empty(t, b.Events[0].Props)
	require.Nil(t, b.IDs.GCLID)
	require.False(t, b.Consent.Present)

	// After a failed parse, the beacon is empty and usable again.
	require.Error(t, p.Parse(b, []byte("{"), testNow))
	require.Empty(t, b.Events)
	require.NoError(t, p.Parse(b, []byte(beacon(ev(""))), testNow))
	require.Len(t, b.Events, 1)

	p.Release(b)
	b2 := p.Acquire()
	require.Empty(t, b2.Events)
}

func TestLimitsValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, collect.DefaultLimits().Validate())
	tests := []struct {
		name   string
		mutate func(*collect.Limits)
		want   string
	}{
		{"body", func(l *collect.Limits) { l.MaxBodyBytes = 0 }, "max_body_bytes"},
		{"events", func(l *collect.Limits) { l.MaxEvents = 0 }, "max_events"},
		{"url", func(l *collect.Limits) { l.MaxURLBytes = 1 }, "max_url_bytes"},
		{"string", func(l *collect.Limits) { l.MaxStringBytes = 0 }, "max_string_bytes"},
		{"props", func(l *collect.Limits) { l.MaxProps = -1 }, "max_props"},
		{"array", func(l *collect.Limits) { l.MaxArrayLen = 1001 }, "max_array_len"},
		{"item fields", func(l *collect.Limits) { l.MaxItemFields = -1 }, "max_item_fields"},
		{"click id", func(l *collect.Limits) { l.MaxClickIDBytes = 0 }, "max_click_id_bytes"},
		{"past", func(l *collect.Limits) { l.MaxPastSkew = 0 }, "max_past_skew"},
		{"future", func(l *collect.Limits) { l.MaxFutureSkew = -time.Second }, "max_future_skew"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := collect.DefaultLimits()
			tt.mutate(&l)
			err := l.Validate()
			require.ErrorContains(t, err, tt.want)
			_, err = collect.NewParser(l)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestCustomLimits(t *testing.T) {
	t.Parallel()
	l := collect.DefaultLimits()
	l.MaxEvents = 2
	l.MaxBodyBytes = 1024
	p, err := collect.NewParser(l)
	require.NoError(t, err)
	b := p.Acquire()
	require.NoError(t, p.Parse(b, []byte(beacon(ev(""), ev(""))), testNow))
	require.ErrorIs(t, p.Parse(b, []byte(beacon(ev(""), ev(""), ev(""))), testNow), collect.ErrTooManyEvents)
	require.ErrorIs(t, p.Parse(b, []byte(padTo(beacon(ev("")), 1025)), testNow), collect.ErrTooLarge)
}

func TestStatusCode(t *testing.T) {
	t.Parallel()
	require.Equal(t, http.StatusNoContent, collect.StatusCode(nil))
	require.Equal(t, http.StatusInternalServerError, collect.StatusCode(errors.New("other")))
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func props(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = `"p` + strings.Repeat("x", i) + `":1`
	}
	return strings.Join(parts, ",")
}

// padTo pads a beacon with trailing whitespace (valid JSON) to n bytes.
func padTo(s string, n int) string {
	return s + strings.Repeat(" ", n-len(s))
}

func TestDuplicateAfterNull(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		beacon(ev(`"user":{"em":null,"em":"a@b.c"}`)),
		`{"v":1,"events":[` + ev("") + `],"ids":{"gclid":"","gclid":"G"}}`,
	} {
		_, err := parse(t, body)
		require.ErrorIs(t, err, collect.ErrMalformed, body)
	}
}

// TestParserConcurrent: one Parser serves many goroutines (run with -race).
func TestParserConcurrent(t *testing.T) {
	t.Parallel()
	p := newParser(t)
	bodies := [][]byte{benchBeacon1, benchBeacon5, []byte(beacon(ev("")))}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 50 {
				b := p.Acquire()
				body := bodies[(g+i)%len(bodies)]
				err := p.Parse(b, body, testNow)
				if err == nil && string(b.Events[0].ID) != uuid1 {
					err = errors.New("wrong event id")
				}
				p.Release(b)
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
}
