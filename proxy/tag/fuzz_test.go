package tag_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

// FuzzServeHeaders: any Accept-Encoding and If-None-Match get a 200 with a
// body that decodes to the script, or a 304 without one; never a panic.
func FuzzServeHeaders(f *testing.F) {
	a := build(f)
	for _, s := range [][2]string{
		{"gzip, deflate, br", a.ETag()},
		{"br;q=0, gzip;q=0.5", `W/"x", *`},
		{";;,,=q", ",,"},
		{"*;q=0", `"` + a.ETag()},
		{"gzip;q=0.000, identity;q=0", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, accept, inm string) {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(fasthttp.MethodGet)
		ctx.Request.Header.Set(fasthttp.HeaderAcceptEncoding, accept)
		ctx.Request.Header.Set(fasthttp.HeaderIfNoneMatch, inm)
		a.Serve(&ctx)
		switch ctx.Response.StatusCode() {
		case 304:
			require.Empty(t, ctx.Response.Body())
		case 200:
			require.Equal(t, a.Script(), decode(t, string(ctx.Response.Header.ContentEncoding()), ctx.Response.Body()))
		default:
			t.Fatalf("status %d", ctx.Response.StatusCode())
		}
	})
}
