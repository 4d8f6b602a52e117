package platforms

import "testing"

func BenchmarkEncodeRecord(b *testing.B) {
	ev, err := DecodeEvent([]byte(collectPayloads[0]))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeRecord(&ev); err != nil {
			b.Fatal(err)
		}
	}
}
