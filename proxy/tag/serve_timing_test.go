package tag_test

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/jaraba/pixelgw/proxy/tag"
)

// BenchmarkServe measures one loader request on fasthttp's in-memory
// RequestCtx (no network), per encoding and for a 304.
func BenchmarkServe(b *testing.B) {
	a := build(b)
	for _, bc := range []struct{ name, accept, inm string }{
		{"identity", "", ""},
		{"gzip", "gzip, deflate", ""},
		{"br", "gzip, deflate, br, zstd", ""},
		{"304", "gzip, deflate, br, zstd", a.ETag()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var ctx fasthttp.RequestCtx
			ctx.Request.Header.SetMethod(fasthttp.MethodGet)
			ctx.Request.SetRequestURI("/s/k4f9q2.js")
			ctx.Request.Header.Set(fasthttp.HeaderAcceptEncoding, bc.accept)
			if bc.inm != "" {
				ctx.Request.Header.Set(fasthttp.HeaderIfNoneMatch, bc.inm)
			}
			b.ReportAllocs()
			for b.Loop() {
				ctx.Response.Reset()
				a.Serve(&ctx)
			}
		})
	}
}

// BenchmarkBuild measures building one tenant's loader (validation,
// minification, gzip -9, brotli -11): the cost of a config change.
func BenchmarkBuild(b *testing.B) {
	cfg := shopConfig()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tag.Build(cfg); err != nil {
			b.Fatal(err)
		}
	}
}
