package collect_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/jaraba/pixelgw/proxy/collect"
)

// benchEvent is a realistic purchase: page URL with a query, referrer,
// props with contents, user data.
const benchEvent = `{"name":"purchase","id":"0b6c8f43-5a1e-4c4e-9b7d-3f0e2f1a9c11","ts":1732889990000,` +
	`"url":"https://www.shop.com/checkout/thank-you?order=A-1001&utm_source=meta","ref":"https://www.shop.com/checkout",` +
	`"eng":5230,"props":{"value":129.9,"currency":"EUR","order_id":"A-1001","content_type":"product",` +
	`"content_ids":["sku-1","sku-2"],"contents":[{"id":"sku-1","quantity":1,"item_price":99.9},{"id":"sku-2","quantity":2,"item_price":15}],` +
	`"num_items":3,"title":"Caf\u00e9 grinder"},"user":{"em":"jane@example.com","external_id":"u-42"}}`

const benchIDs = `"ids":{"fbp":"fb.1.1732880000000.1116446470","fbc":"fb.1.1732880000000.IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk",` +
	`"gclid":"Cj0KCQiA5rGuBhCnARIsAN11vgRLWfK6RFoIEvh8t3pf2DPw7KNp1wdkJ0P8QbbX6","ttclid":"E.C.P.CqgBabc123"},` +
	`"sid":"1732889000","consent":{"analytics":true,"marketing":true,"functional":false,"policy":"2026-01"}`

func benchBody(n int) []byte {
	return []byte(`{"v":1,"events":[` + strings.TrimSuffix(strings.Repeat(benchEvent+",", n), ",") + `],` + benchIDs + `}`)
}

var (
	benchBeacon1 = benchBody(1)
	benchBeacon5 = benchBody(5)
)

// The parse benchmarks run on one goroutine with a reused Beacon (the
// per-request cost); the Parallel one adds Acquire/Release through the pool
// on every core.
func BenchmarkParse1Event(b *testing.B)  { benchmarkParse(b, benchBeacon1) }
func BenchmarkParse5Events(b *testing.B) { benchmarkParse(b, benchBeacon5) }

func BenchmarkParse1EventParallel(b *testing.B) {
	p, err := collect.NewParser(collect.DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBeacon1)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bc := p.Acquire()
			if err := p.Parse(bc, benchBeacon1, testNow); err != nil {
				b.Error(err)
				return
			}
			p.Release(bc)
		}
	})
}

func benchmarkParse(b *testing.B, body []byte) {
	p, err := collect.NewParser(collect.DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	bc := p.Acquire()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := p.Parse(bc, body, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseReject10000Events: a 30 KB beacon of 10,000 empty events
// must be rejected without validating each one.
func BenchmarkParseReject10000Events(b *testing.B) {
	body := []byte(`{"v":1,"events":[` + strings.Repeat("{},", 9999) + `{}]}`)
	p, err := collect.NewParser(collect.DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	bc := p.Acquire()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := p.Parse(bc, body, testNow); err == nil {
			b.Fatal("accepted")
		}
	}
}

// The encoding/json baselines decode the same bodies into a struct (the
// cheapest reflection path, without any validation) and into maps.
type jsonBeacon struct {
	V      int `json:"v"`
	Events []struct {
		Name  string         `json:"name"`
		ID    string         `json:"id"`
		TS    int64          `json:"ts"`
		URL   string         `json:"url"`
		Ref   string         `json:"ref"`
		Eng   int64          `json:"eng"`
		Props map[string]any `json:"props"`
		User  map[string]string
	} `json:"events"`
	IDs     map[string]string `json:"ids"`
	SID     string            `json:"sid"`
	Consent struct {
		Analytics  bool   `json:"analytics"`
		Marketing  bool   `json:"marketing"`
		Functional bool   `json:"functional"`
		Policy     string `json:"policy"`
	} `json:"consent"`
}

func BenchmarkEncodingJSONStruct1Event(b *testing.B)  { benchmarkJSONStruct(b, benchBeacon1) }
func BenchmarkEncodingJSONStruct5Events(b *testing.B) { benchmarkJSONStruct(b, benchBeacon5) }
func BenchmarkEncodingJSONMap1Event(b *testing.B)     { benchmarkJSONMap(b, benchBeacon1) }
func BenchmarkEncodingJSONMap5Events(b *testing.B)    { benchmarkJSONMap(b, benchBeacon5) }

func benchmarkJSONStruct(b *testing.B, body []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var v jsonBeacon
		if err := json.Unmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkJSONMap(b *testing.B, body []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
	}
}
