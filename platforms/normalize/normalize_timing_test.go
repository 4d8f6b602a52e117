package normalize_test

import (
	"testing"

	"github.com/jaraba/pixelgw/platforms/normalize"
)

func BenchmarkHash(b *testing.B) {
	cases := []struct {
		name  string
		field normalize.Field
		in    string
	}{
		{"email", normalize.Email, " John_Smith@Gmail.com "},
		{"phone", normalize.Phone, "+34 600-12-34-56"},
		{"name", normalize.FirstName, "José"},
		{"dob", normalize.DateOfBirth, "16/02/1997"},
		{"hashed", normalize.Email, "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := normalize.Hash(c.field, c.in, normalize.Rules{}); !ok {
					b.Fatal("dropped")
				}
			}
		})
	}
}
