package tag

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/tdewolff/minify/v2/js"
	"github.com/valyala/fasthttp"
)

//go:embed js/loader.js
var loaderSource string

// configPlaceholder is replaced by the tenant's config object.
const configPlaceholder = "__PGW_CONFIG__"

// Asset is one tenant's built loader: the minified script, its gzip and
// brotli bodies and their ETags. Immutable; safe for concurrent use.
type Asset struct {
	raw, gz, br          []byte
	etag, etagGz, etagBr []byte // quoted strong ETags, one per representation
	hash                 []byte // the unquoted content hash the ETags share
}

// Response header names and values, kept as bytes so Serve does not
// allocate.
var (
	hdrContentType  = []byte("text/javascript; charset=utf-8")
	hdrCacheControl = []byte("public, max-age=300, stale-while-revalidate=86400")
	hdrNosniff      = []byte("nosniff")
	hdrAcceptEnc    = []byte("Accept-Encoding")
	hdrGET          = []byte("GET, HEAD")
	encBr           = []byte("br")
	encGzip         = []byte("gzip")
	keyETag         = []byte("ETag")
	keyCacheControl = []byte("Cache-Control")
	keyNosniff      = []byte("X-Content-Type-Options")
	keyVary         = []byte("Vary")
	keyAllow        = []byte("Allow")
)

// Build produces a tenant's loader from cfg: validated (errors wrap
// ErrInvalidConfig and name the field), the config object inlined,
// minified, compressed (gzip level 9, brotli level 11) and hashed. It does
// the expensive work once; call it when the tenant's config changes.
func Build(cfg LoaderConfig) (*Asset, error) {
	sc, err := cfg.resolve()
	if err != nil {
		return nil, fmt.Errorf("cannot build loader: %w", err)
	}
	conf, err := json.Marshal(sc) // escapes <, >, &, U+2028 and U+2029
	if err != nil {
		return nil, fmt.Errorf("cannot build loader: %w", err)
	}
	i := strings.LastIndex(loaderSource, configPlaceholder)
	if i < 0 {
		return nil, fmt.Errorf("cannot build loader: %s missing from js/loader.js", configPlaceholder)
	}
	src := loaderSource[:i] + string(conf) + loaderSource[i+len(configPlaceholder):]
	var min bytes.Buffer
	if err := (&js.Minifier{}).Minify(nil, &min, strings.NewReader(src), nil); err != nil {
		return nil, fmt.Errorf("cannot minify loader: %w", err)
	}
	a := &Asset{raw: min.Bytes()}

	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression) // the level is valid
	if _, err := zw.Write(a.raw); err != nil {
		return nil, fmt.Errorf("cannot gzip loader: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("cannot gzip loader: %w", err)
	}
	a.gz = gz.Bytes()

	var br bytes.Buffer
	bw := brotli.NewWriterLevel(&br, brotli.BestCompression)
	if _, err := bw.Write(a.raw); err != nil {
		return nil, fmt.Errorf("cannot brotli loader: %w", err)
	}
	if err := bw.Close(); err != nil {
		return nil, fmt.Errorf("cannot brotli loader: %w", err)
	}
	a.br = br.Bytes()

	sum := sha256.Sum256(a.raw)
	a.hash = []byte(hex.EncodeToString(sum[:16]))
	a.etag = []byte(`"` + string(a.hash) + `"`)
	a.etagGz = []byte(`"` + string(a.hash) + `-gz"`)
	a.etagBr = []byte(`"` + string(a.hash) + `-br"`)
	return a, nil
}

// Script returns the minified script (not a copy: do not modify it).
func (a *Asset) Script() []byte { return a.raw }

// ETag returns the identity representation's ETag, quoted.
func (a *Asset) ETag() string { return string(a.etag) }

// Sizes returns the byte sizes of the raw, gzip and brotli bodies.
func (a *Asset) Sizes() (raw, gz, br int) { return len(a.raw), len(a.gz), len(a.br) }

// Serve answers a GET or HEAD for the loader: 304 when If-None-Match names
// the content (any of its encodings' ETags, or *), else 200 with the body
// in the best encoding Accept-Encoding allows (br, then gzip, then
// identity). Other methods get 405. Every answer carries Cache-Control
// (public, max-age=300, stale-while-revalidate=86400: the URL is stable and
// the ETag versions the content), Vary: Accept-Encoding and
// X-Content-Type-Options: nosniff. It does not allocate.
func (a *Asset) Serve(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	if !ctx.IsGet() && !ctx.IsHead() {
		h.SetBytesKV(keyAllow, hdrGET)
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		return
	}
	h.SetBytesKV(keyCacheControl, hdrCacheControl)
	h.SetBytesKV(keyVary, hdrAcceptEnc)
	h.SetBytesKV(keyNosniff, hdrNosniff)

	body, etag, enc := a.raw, a.etag, []byte(nil)
	switch acceptEncoding(ctx.Request.Header.Peek(fasthttp.HeaderAcceptEncoding)) {
	case encodingBrotli:
		body, etag, enc = a.br, a.etagBr, encBr
	case encodingGzip:
		body, etag, enc = a.gz, a.etagGz, encGzip
	}
	h.SetBytesKV(keyETag, etag)
	if inm := ctx.Request.Header.Peek(fasthttp.HeaderIfNoneMatch); len(inm) > 0 && a.matches(inm) {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	h.SetContentTypeBytes(hdrContentType)
	if enc != nil {
		h.SetContentEncodingBytes(enc)
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.SetBodyRaw(body)
}

// matches reports whether an If-None-Match list names this content: "*",
// or any entity tag (weak comparison, as RFC 9110 §13.1.2 asks) equal to
// one of the asset's ETags.
func (a *Asset) matches(list []byte) bool {
	for len(list) > 0 {
		var tag []byte
		if i := bytes.IndexByte(list, ','); i >= 0 {
			tag, list = list[:i], list[i+1:]
		} else {
			tag, list = list, nil
		}
		tag = bytes.TrimSpace(tag)
		if len(tag) == 1 && tag[0] == '*' {
			return true
		}
		tag = bytes.TrimPrefix(tag, []byte("W/"))
		if bytes.Equal(tag, a.etag) || bytes.Equal(tag, a.etagGz) || bytes.Equal(tag, a.etagBr) {
			return true
		}
	}
	return false
}

type encoding uint8

const (
	encodingIdentity encoding = iota
	encodingGzip
	encodingBrotli
)

// acceptEncoding picks br over gzip over identity among the codings the
// header accepts (q > 0); "*" accepts br. It does not allocate.
func acceptEncoding(h []byte) encoding {
	best := encodingIdentity
	for len(h) > 0 {
		var item []byte
		if i := bytes.IndexByte(h, ','); i >= 0 {
			item, h = h[:i], h[i+1:]
		} else {
			item, h = h, nil
		}
		name, params, _ := bytes.Cut(item, []byte(";"))
		name = bytes.TrimSpace(name)
		var e encoding
		switch {
		case asciiEqualFold(name, "br"), len(name) == 1 && name[0] == '*':
			e = encodingBrotli
		case asciiEqualFold(name, "gzip"), asciiEqualFold(name, "x-gzip"):
			e = encodingGzip
		default:
			continue
		}
		if e > best && !qZero(params) {
			best = e
		}
	}
	return best
}

// qZero reports whether parameters hold q=0 (or 0.0, 0.00, 0.000).
func qZero(params []byte) bool {
	for len(params) > 0 {
		var p []byte
		if i := bytes.IndexByte(params, ';'); i >= 0 {
			p, params = params[:i], params[i+1:]
		} else {
			p, params = params, nil
		}
		k, v, ok := bytes.Cut(bytes.TrimSpace(p), []byte("="))
		if !ok || !asciiEqualFold(bytes.TrimSpace(k), "q") {
			continue
		}
		v = bytes.TrimSpace(v)
		if len(v) == 0 || v[0] != '0' {
			return false
		}
		for _, c := range v[1:] {
			if c != '.' && c != '0' {
				return false
			}
		}
		return true
	}
	return false
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
