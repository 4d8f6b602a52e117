//go:build !race

package tag_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

// TestServeAlloc pins Serve at zero allocations per request, for each
// encoding and for a 304, once the reused RequestCtx is warm.
// Not parallel: AllocsPerRun refuses parallel tests.
func TestServeAlloc(t *testing.T) {
	a := build(t)
	etag := a.ETag()
	for _, tt := range []struct{ name, accept, inm string }{
		{"identity", "", ""},
		{"gzip", "gzip, deflate", ""},
		{"br", "gzip, deflate, br, zstd", ""},
		{"304", "gzip, deflate, br", `"nope", ` + etag},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var ctx fasthttp.RequestCtx
			ctx.Request.Header.SetMethod(fasthttp.MethodGet)
			ctx.Request.SetRequestURI("/s/k4f9q2.js")
			ctx.Request.Header.Set(fasthttp.HeaderAcceptEncoding, tt.accept)
			if tt.inm != "" {
				ctx.Request.Header.Set(fasthttp.HeaderIfNoneMatch, tt.inm)
			}
			allocs := testing.AllocsPerRun(200, func() {
				ctx.Response.Reset()
				a.Serve(&ctx)
			})
			require.Zero(t, allocs)
		})
	}
}
