package cookie

import (
	"testing"
)

func BenchmarkParse(b *testing.B) {
	v := sign(b, testKey, Consent{Analytics: true, Marketing: true, Policy: []byte("2024.06"), Time: testNow.Unix(), Subject: testID})
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if _, err := Parse(v, testKeys, testNow, ConsentMaxAge); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendSign(b *testing.B) {
	c := Consent{Analytics: true, Marketing: true, Policy: []byte("2024.06"), Time: testNow.Unix(), Subject: testID}
	buf := make([]byte, 0, MaxLen)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendSign(buf[:0], testKey, c); err != nil {
			b.Fatal(err)
		}
	}
}
