package platforms

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// collectPayloads are records as collect.AppendPayload writes them (v1):
// a full one and a minimal one (no marketing consent: no ids, no user).
var collectPayloads = []string{
	`{"v":1,"src":"client","tenant":"0b0f7c1e-2f7a-4d36-9d3e-4a8f7c1e2f7a","id":"6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",` +
		`"name":"purchase","class":"conversion","ts":1764400000123,"recv":1764400000456,"url":"https://www.shop.example/checkout?x=1",` +
		`"ref":"https://www.google.com/","eng":5400,"sid":"s-123","visitor":"1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b",` +
		`"ip":"203.0.113.7","ua":"Mozilla/5.0 (X11; Linux x86_64)","consent":{"a":true,"m":true,"f":false,"policy":"v3","gpc":false},` +
		`"ids":{"fbp":"fb.1.1764400000.123456789","fbc":"fb.1.1764400000.AbCdEf","gclid":"Cj0KCQ","ttclid":"tt-1","li_fat_id":"li-1","twclid":"tw-1"},` +
		`"props":{"value":49.9,"currency":"EUR","items":[{"id":"sku-1","qty":2}],"gift":true},` +
		`"user":{"em":"Ana@Example.com","ph":"+34 612 345 678","fn":"Ana","ln":"García","ge":"f","db":"19900101","ct":"Madrid","st":"md","zp":"28001","country":"es",` +
		`"external_id":"a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3"}}`,
	`{"v":1,"src":"client","tenant":"t1","id":"6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f","name":"custom:newsletter_open","class":"high_volume",` +
		`"ts":1764400000123,"recv":1764400000456,"consent":{"a":true,"m":false,"f":false,"policy":"1","gpc":true}}`,
}

func TestEncodeRecordRoundTrip(t *testing.T) {
	t.Parallel()
	for _, p := range collectPayloads {
		ev, err := DecodeEvent([]byte(p))
		require.NoError(t, err)
		b, err := EncodeRecord(&ev)
		require.NoError(t, err)
		require.JSONEq(t, p, string(b), "Encode(Decode(collect payload)) is the same record")
		again, err := DecodeEvent(b)
		require.NoError(t, err)
		require.Equal(t, ev, again)
	}
}

func TestEncodeRecordServerEvent(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 29, 10, 0, 0, 123_000_000, time.FixedZone("x", 3600))
	ev := Event{
		TenantID: "t1", EventID: "e1", Name: "Purchase", Source: "server", Time: at, Received: at.Add(time.Second),
		Consent: Consent{Marketing: true, Policy: "p"},
		User:    UserData{Email: "a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3", Phone: "+34612345678"},
		IDs:     ClickIDs{FBP: "fb.1.2.3"},
		Props:   map[string]any{"value": 10.5, "n": map[string]any{"k": []any{"v", true}}},
	}
	b, err := EncodeRecord(&ev)
	require.NoError(t, err)
	require.Contains(t, string(b), `"src":"server"`)
	require.Contains(t, string(b), `"name":"purchase","class":"conversion"`)
	got, err := DecodeEvent(b)
	require.NoError(t, err)
	want := ev
	want.Name, want.Class = EventPurchase, ClassConversion
	want.Time, want.Received = at.UTC(), at.Add(time.Second).UTC()
	require.Equal(t, want, got)
}

func TestEncodeRecordErrors(t *testing.T) {
	t.Parallel()
	ok := func() Event {
		return Event{TenantID: "t", EventID: "e", Name: "lead", Source: "server", Time: time.UnixMilli(1)}
	}
	deep := any("x")
	for range maxPropsDepth + 2 {
		deep = []any{deep}
	}
	for name, mut := range map[string]func(e *Event){
		"unknown name":    func(e *Event) { e.Name = "Lead!" },
		"no tenant":       func(e *Event) { e.TenantID = "" },
		"no id":           func(e *Event) { e.EventID = "" },
		"no source":       func(e *Event) { e.Source = "" },
		"zero time":       func(e *Event) { e.Time = time.Time{} },
		"NaN prop":        func(e *Event) { e.Props = map[string]any{"v": math.NaN()} },
		"Inf nested prop": func(e *Event) { e.Props = map[string]any{"v": []any{math.Inf(1)}} },
		"too deep":        func(e *Event) { e.Props = map[string]any{"v": deep} },
		"unsupported":     func(e *Event) { e.Props = map[string]any{"v": make(chan int)} },
		"no platforms":    func(e *Event) { e.Platforms = []string{} },
		"empty platform":  func(e *Event) { e.Platforms = []string{"meta", ""} },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := ok()
			_, err := EncodeRecord(&e)
			require.NoError(t, err)
			mut(&e)
			_, err = EncodeRecord(&e)
			require.ErrorIs(t, err, ErrBadRecord)
		})
	}
}

// TestRecordPlatforms: the targeting list survives the queue; a record
// without it (every record the edge writes, every older one) targets every
// platform; an empty list is refused, never read as "every platform".
func TestRecordPlatforms(t *testing.T) {
	t.Parallel()
	e := Event{TenantID: "t", EventID: "e", Name: "purchase", Source: "server", Time: time.UnixMilli(5),
		Platforms: []string{"meta", "tiktok"}}
	b, err := EncodeRecord(&e)
	require.NoError(t, err)
	require.Contains(t, string(b), `"platforms":["meta","tiktok"]`)
	got, err := DecodeEvent(b)
	require.NoError(t, err)
	require.Equal(t, []string{"meta", "tiktok"}, got.Platforms)
	require.True(t, got.Targets("meta"))
	require.True(t, got.Targets("tiktok"))
	require.False(t, got.Targets("google"))
	require.False(t, got.Targets("twitter"))

	for _, p := range collectPayloads {
		old, err := DecodeEvent([]byte(p))
		require.NoError(t, err)
		require.Nil(t, old.Platforms)
		for _, pl := range []string{"meta", "google", "linkedin", "tiktok", "twitter"} {
			require.True(t, old.Targets(pl), "a record without platforms is for %s too", pl)
		}
		b, err := EncodeRecord(&old)
		require.NoError(t, err)
		require.NotContains(t, string(b), "platforms")
	}
	_, err = DecodeEvent([]byte(`{"v":1,"src":"server","tenant":"t","id":"e","name":"lead","ts":5,"platforms":[]}`))
	require.ErrorIs(t, err, ErrBadRecord)
}

func TestEncodeRecordIsJSONObject(t *testing.T) {
	t.Parallel()
	e := Event{TenantID: "t", EventID: "e", Name: "page_view", Source: "server", Time: time.UnixMilli(5)}
	b, err := EncodeRecord(&e)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	require.NotContains(t, m, "ids")
	require.NotContains(t, m, "user")
	require.NotContains(t, m, "props")
}
