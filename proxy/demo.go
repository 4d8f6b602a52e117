package proxy

import (
	_ "embed"
	"html/template"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/jaraba/pixelgw/proxy/tenant"
)

//go:embed demo.html
var demoHTML string

// demoPage is parsed once per Edge (see serveDemo); the template is
// immutable.
var demoPage = template.Must(template.New("demo").Parse(demoHTML))

// serveDemo answers GET / on a tenant host named www.<rest> with a demo
// shop page that loads the tenant's loader from t.<rest> (same port and
// scheme). It reports false when the host is not a www. host.
func (e *Edge) serveDemo(ctx *fasthttp.RequestCtx, d *tenant.Domain, t *tenant.Tenant) bool {
	host := string(ctx.Host())
	if !strings.HasPrefix(d.Hostname, "www.") || !ctx.IsGet() {
		return false
	}
	scheme := "http://"
	if ctx.IsTLS() {
		scheme = "https://"
	}
	edgeHost := "t." + strings.TrimPrefix(host, "www.")
	var b strings.Builder
	err := demoPage.Execute(&b, struct{ LoaderURL, SiteHost, EdgeHost string }{
		LoaderURL: scheme + edgeHost + t.LoaderPath, SiteHost: host, EdgeHost: edgeHost,
	})
	if err != nil {
		fail(ctx, fasthttp.StatusInternalServerError)
		return true
	}
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	ctx.SetBodyString(b.String())
	return true
}
