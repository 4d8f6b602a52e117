package dispatch

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms"
)

// fillEvent sets every field of an Event (found by reflection, so a field
// added later is covered without touching this test) to a distinct value,
// then the fields EncodeRecord validates to valid ones.
func fillEvent(t *testing.T, seed int) platforms.Event {
	t.Helper()
	var e platforms.Event
	n := 0
	var fill func(v reflect.Value)
	fill = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Struct:
			if v.Type() == reflect.TypeOf(time.Time{}) {
				return
			}
			for i := range v.NumField() {
				fill(v.Field(i))
			}
		case reflect.String:
			n++
			v.SetString(fmt.Sprintf("v%d-%d é \"q\" \\ \u2028 <x>", seed, n))
		case reflect.Bool:
			v.SetBool((seed+n)%2 == 0)
			n++
		case reflect.Int, reflect.Int64, reflect.Int32:
			n++
			v.SetInt(int64(seed*100 + n))
		case reflect.Slice:
			if v.Type().Elem().Kind() == reflect.String {
				v.Set(reflect.ValueOf([]string{fmt.Sprintf("s%d", seed), "meta"}).Convert(v.Type()))
			}
		case reflect.Map:
			if v.Type() == reflect.TypeOf(map[string]any{}) {
				v.Set(reflect.ValueOf(map[string]any{
					"value": 12.5, "currency": "EUR", "n": float64(seed), "ok": true, "none": nil,
					"items": []any{map[string]any{"id": "sku-1", "q": 2.0}, "x", 1e21},
					"ünï":   "\u00e9\u0000",
				}))
			}
		}
	}
	fill(reflect.ValueOf(&e).Elem())
	e.TenantID, e.EventID = fmt.Sprintf("tenant-%d", seed), fmt.Sprintf("0190b2a4-7c1e-7d2a-9f3b-%012d", seed)
	e.Name = []string{"purchase", "Purchase", "page_view", "custom:checkout_step", "lead"}[seed%5]
	e.Source = []string{"client", "server"}[seed%2]
	e.Time = time.UnixMilli(1764400000000 + int64(seed)).UTC()
	e.Received = e.Time.Add(40 * time.Millisecond)
	return e
}

func TestDecoderMatchesDecodeEvent(t *testing.T) {
	var d eventDecoder
	for seed := range 40 {
		e := fillEvent(t, seed)
		b, err := platforms.EncodeRecord(&e)
		require.NoError(t, err)
		want, err := platforms.DecodeEvent(b)
		require.NoError(t, err)
		got, err := d.decode(b)
		require.NoError(t, err)
		require.Equal(t, want, got, "seed %d: %s", seed, b)
	}
	// The edge's records: written by collect.AppendPayload, not EncodeRecord.
	edge := []byte(`{"v":1,"src":"client","tenant":"t1","id":"0190b2a4-7c1e-7d2a-9f3b-000000000001","name":"page_view","ts":1764400000000,"recv":1764400000040,` +
		`"url":"https://www.example.com/a?b=c","ref":"","eng":1200,"sid":"1764400000","visitor":"3f1c2a44-9d1e-4c1e-9f3a-0b7d2c5e8a11",` +
		`"ip":"203.0.113.7","ua":"Mozilla/5.0","consent":{"a":true,"m":false,"f":true,"policy":"2","gpc":true},` +
		`"ids":{"fbp":"fb.1.1.2","ttp":"x"},"props":{"value":"12"},"user":{"em":"a@b.c"}}`)
	want, err := platforms.DecodeEvent(edge)
	require.NoError(t, err)
	got, err := d.decode(edge)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func TestDecoderRejects(t *testing.T) {
	var d eventDecoder
	for _, bad := range []string{
		``, `[]`, `{`, `null`, `{"v":2,"tenant":"t","id":"i","name":"lead","ts":1}`,
		`{"v":1,"tenant":"","id":"i","name":"lead","ts":1}`,
		`{"v":1,"tenant":"t","id":"i","name":"nope","ts":1}`,
		`{"v":1,"tenant":"t","id":"i","name":"lead","ts":0}`,
		`{"v":1,"tenant":"t","id":"i","name":"lead","ts":1.5}`,
		`{"v":1,"tenant":5,"id":"i","name":"lead","ts":1}`,
		`{"v":1,"tenant":"t","id":"i","name":"lead","ts":1,"consent":{"m":"yes"}}`,
		`{"v":1,"tenant":"t","id":"i","name":"lead","ts":1,"ids":[]}`,
		`{"v":1,"tenant":"t","id":"i","name":"lead","ts":1,"props":"x"}`,
		`{"v":1,"tenant":"t","id":"i","name":"lead","ts":1,"platforms":[]}`,
		`{"v":1,"tenant":"t","id":"i","name":"lead","ts":1,"platforms":"meta"}`,
		`{"v":1,"tenant":"t","id":"i","name":"lead","ts":1,"platforms":[1]}`,
	} {
		_, err := d.decode([]byte(bad))
		require.ErrorIs(t, err, platforms.ErrBadRecord, "%s", bad)
		_, err = platforms.DecodeEvent([]byte(bad))
		require.ErrorIs(t, err, platforms.ErrBadRecord, "DecodeEvent agrees on %s", bad)
	}
}

// FuzzDecoder: never panics, and what it accepts names a tenant and an
// event (the differential tests above compare it with DecodeEvent).
func FuzzDecoder(f *testing.F) {
	e := fillEvent(&testing.T{}, 3)
	b, _ := platforms.EncodeRecord(&e)
	f.Add(b)
	f.Add([]byte(`{"v":1,"tenant":"t","id":"i","name":"lead","ts":1,"props":{"a":[1,{"b":null}]}}`))
	var d eventDecoder
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := d.decode(b)
		if err != nil {
			require.ErrorIs(t, err, platforms.ErrBadRecord)
			return
		}
		require.NotEmpty(t, got.TenantID)
		require.NotEmpty(t, got.EventID)
		require.False(t, got.Time.IsZero())
	})
}

func BenchmarkDecode(b *testing.B) {
	e := fillEvent(&testing.T{}, 1)
	p, err := platforms.EncodeRecord(&e)
	require.NoError(b, err)
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := platforms.DecodeEvent(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fastjson", func(b *testing.B) {
		var d eventDecoder
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.decode(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
