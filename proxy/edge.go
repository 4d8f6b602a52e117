package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/jaraba/pixelgw/consent"
	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/proxy/clientip"
	"github.com/jaraba/pixelgw/proxy/collect"
	"github.com/jaraba/pixelgw/proxy/cookie"
	"github.com/jaraba/pixelgw/proxy/ratelimit"
	"github.com/jaraba/pixelgw/proxy/tag"
	"github.com/jaraba/pixelgw/proxy/tenant"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/queue"
)

// Deps are what the edge handler works with. Only interfaces of the store
// and the queue: cmd/pixelgw wires the drivers.
type Deps struct {
	Registry *tenant.Registry
	Queue    queue.Queue
	Consents store.Consents
	Logger   *slog.Logger
	Metrics  *Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Edge is the public request handler: tenant routing by Host, the loader,
// the consent endpoint and the collect endpoint.
type Edge struct {
	cfg      Config
	reg      *tenant.Registry
	resolver *clientip.Resolver
	q        queue.Queue
	consents store.Consents
	limiter  *ratelimit.Limiter
	parser   *collect.Parser
	log      *slog.Logger
	m        *Metrics
	now      func() time.Time

	assets     atomic.Pointer[assetCache]
	overloaded atomic.Bool // queue lag over cfg.MaxQueueLag
	work       sync.Pool   // *collectWork
	admitCtx   atomic.Pointer[sharedDeadline]
}

// NewEdge builds the handler. cfg must be valid.
func NewEdge(cfg Config, d Deps) (*Edge, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	res, err := clientip.Parse(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	lim, err := ratelimit.New(cfg.RateLimit)
	if err != nil {
		return nil, err
	}
	limits := collect.DefaultLimits()
	limits.MaxBodyBytes = cfg.MaxBeaconBytes
	limits.MaxEvents = cfg.MaxEvents
	parser, err := collect.NewParser(limits)
	if err != nil {
		return nil, err
	}
	e := &Edge{
		cfg: cfg, reg: d.Registry, resolver: res, q: d.Queue, consents: d.Consents,
		limiter: lim, parser: parser, log: d.Logger, m: d.Metrics, now: d.Now,
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.m == nil {
		e.m = NewMetrics(nil, nil)
	}
	e.work.New = func() any { return &collectWork{} }
	return e, nil
}

// collectWork is the per-request scratch of the collect endpoint, pooled.
type collectWork struct {
	entries []queue.Entry
	offs    []int
	buf     []byte
	en      collect.Enrichment
	ip      []byte
	strs    []byte // the strings the entries keep, converted once per beacon
}

// sharedDeadline is a context shared by the Admit calls of a short period
// (see admitContext).
type sharedDeadline struct {
	ctx      context.Context
	cancel   context.CancelFunc
	deadline time.Time
}

// admitContext returns a context whose deadline is between AdmitTimeout
// minus AdmitTimeout/16 and AdmitTimeout from now. It is shared by the
// beacons of that 1/16 period, so a beacon does not pay for a context and a
// timer of its own (4 allocations). Its timer releases it at the deadline;
// it is never cancelled early because beacons still in flight may hold it.
// Deadlines are wall-clock (time.Now), never the injected clock.
func (e *Edge) admitContext() context.Context {
	now := time.Now()
	if s := e.admitCtx.Load(); s != nil && s.deadline.Sub(now) >= e.cfg.AdmitTimeout-e.cfg.AdmitTimeout/16 {
		return s.ctx
	}
	d := now.Add(e.cfg.AdmitTimeout)
	ctx, cancel := context.WithDeadline(context.Background(), d)
	e.admitCtx.Store(&sharedDeadline{ctx: ctx, cancel: cancel, deadline: d})
	return ctx
}

// Handle serves one request on the public listener (health endpoints are
// answered before it by Server).
func (e *Edge) Handle(ctx *fasthttp.RequestCtx) {
	now := e.now()
	peer := peerAddr(ctx)
	h := &ctx.Request.Header
	rt := e.resolver.Route(e.reg, peer, ctx.Host(), h.Peek("X-Forwarded-Host"), h.Peek(fasthttp.HeaderXForwardedFor))
	if rt.Domain == nil {
		notFound(ctx)
		return
	}
	t := rt.Domain.Tenant
	path := ctx.Path()
	if rt.SameOrigin {
		var ok bool
		if path, ok = t.StripPrefix(path); !ok {
			notFound(ctx)
			return
		}
	}
	switch t.Endpoint(path, now) {
	case tenant.EndpointLoader:
		e.serveLoader(ctx, t)
	case tenant.EndpointCollect:
		e.serveCollect(ctx, rt, t, now)
	case tenant.EndpointConsent:
		if ctx.IsGet() {
			e.serveConsentStatus(ctx, rt, t, now)
			return
		}
		e.serveConsent(ctx, rt, t, now)
	default:
		if e.cfg.Demo && string(path) == "/" && e.serveDemo(ctx, rt.Domain, t) {
			return
		}
		notFound(ctx)
	}
}

func notFound(ctx *fasthttp.RequestCtx) {
	ctx.Response.Reset()
	ctx.SetStatusCode(fasthttp.StatusNotFound)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString("not found\n")
}

// fail answers a client error: a status and a fixed short text, no detail.
func fail(ctx *fasthttp.RequestCtx, status int) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(fasthttp.StatusMessage(status))
}

func peerAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	a, _ := netip.AddrFromSlice(ctx.RemoteIP())
	return a.Unmap()
}

// --- loader ---

// assetCache holds the loaders built for one tenant snapshot.
type assetCache struct {
	snap *tenant.Snapshot
	m    sync.Map // tenant id -> *tag.Asset
}

// loader returns the tenant's loader, built once per snapshot.
func (e *Edge) loader(t *tenant.Tenant) (*tag.Asset, error) {
	snap := e.reg.Snapshot()
	c := e.assets.Load()
	if c == nil || c.snap != snap {
		nc := &assetCache{snap: snap}
		if e.assets.CompareAndSwap(c, nc) {
			c = nc
		} else {
			c = e.assets.Load()
		}
	}
	if a, ok := c.m.Load(t.ID); ok {
		return a.(*tag.Asset), nil
	}
	a, err := tag.Build(loaderConfig(t))
	if err != nil {
		return nil, err
	}
	act, _ := c.m.LoadOrStore(t.ID, a)
	return act.(*tag.Asset), nil
}

func loaderConfig(t *tenant.Tenant) tag.LoaderConfig {
	// Platforms: every active pixel's, server-side only ones included (they
	// decide whether the loader sends beacons at all).
	seen := map[string]bool{}
	var plats []string
	for _, p := range t.Pixels {
		if !seen[p.Platform] {
			seen[p.Platform] = true
			plats = append(plats, p.Platform)
		}
	}
	c := tag.FromSettings(t.Settings, plats)
	c.ClientSide = clientPixels(t.Pixels)
	c.LoaderPaths[0] = t.LoaderPath
	c.CollectPath = t.CollectPath
	c.ConsentPath = t.ConsentPath
	c.SPA = t.Settings.SPAHistory
	return c
}

func (e *Edge) serveLoader(ctx *fasthttp.RequestCtx, t *tenant.Tenant) {
	a, err := e.loader(t)
	if err != nil {
		e.log.Error("cannot build loader", slog.String("tenant", t.ID), slog.Any("err", err))
		fail(ctx, fasthttp.StatusServiceUnavailable)
		return
	}
	e.m.loaderServed.Inc()
	a.Serve(ctx)
}

// --- CORS and origin checks ---

// allowOrigin checks the request comes from one of the tenant's sites (the
// Origin header, else the Referer's origin) and sets the CORS answer
// headers. It reports false after answering 403.
func (e *Edge) allowOrigin(ctx *fasthttp.RequestCtx, t *tenant.Tenant) bool {
	origin := ctx.Request.Header.Peek(fasthttp.HeaderOrigin)
	if len(origin) == 0 {
		origin = originOf(ctx.Request.Header.Referer())
	}
	if len(origin) == 0 || !t.OriginAllowed(origin) {
		e.m.rejected(reasonOrigin)
		fail(ctx, fasthttp.StatusForbidden)
		return false
	}
	// SetCanonical: the names are written canonical here, so fasthttp need
	// not normalize them on every beacon (5% of the handler's time).
	rh := &ctx.Response.Header
	rh.SetCanonical([]byte(fasthttp.HeaderAccessControlAllowOrigin), origin)
	rh.SetCanonical([]byte(fasthttp.HeaderAccessControlAllowCredentials), []byte("true"))
	rh.SetCanonical([]byte(fasthttp.HeaderVary), []byte("Origin"))
	rh.SetCanonical([]byte(fasthttp.HeaderAccessControlExposeHeaders), []byte("Retry-After"))
	return true
}

// originOf returns scheme://host[:port] of an absolute URL, or nil.
func originOf(u []byte) []byte {
	i := bytes.Index(u, []byte("://"))
	if i <= 0 {
		return nil
	}
	j := bytes.IndexAny(u[i+3:], "/?#")
	if j < 0 {
		return u
	}
	return u[:i+3+j]
}

// preflight answers an OPTIONS request (the loader's text/plain POSTs need
// none, but a proxy or an older browser may send one).
func (e *Edge) preflight(ctx *fasthttp.RequestCtx, t *tenant.Tenant) {
	if !e.allowOrigin(ctx, t) {
		return
	}
	rh := &ctx.Response.Header
	rh.Set(fasthttp.HeaderAccessControlAllowMethods, "POST")
	rh.Set(fasthttp.HeaderAccessControlAllowHeaders, "Content-Type")
	rh.Set(fasthttp.HeaderAccessControlMaxAge, "86400")
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// checkPost does what collect and consent share: method, origin, content
// type, rate limit. It reports false after answering.
func (e *Edge) checkPost(ctx *fasthttp.RequestCtx, rt clientip.Route, t *tenant.Tenant, now time.Time) bool {
	if ctx.IsOptions() {
		e.preflight(ctx, t)
		return false
	}
	if !ctx.IsPost() {
		ctx.Response.Header.Set(fasthttp.HeaderAllow, "POST, OPTIONS")
		fail(ctx, fasthttp.StatusMethodNotAllowed)
		return false
	}
	if !e.allowOrigin(ctx, t) {
		return false
	}
	if !isTextPlain(ctx.Request.Header.ContentType()) {
		e.m.rejected(reasonContentType)
		fail(ctx, fasthttp.StatusUnsupportedMediaType)
		return false
	}
	if v, wait := e.limiter.Allow(now, t.ID, rt.ClientIP); v != ratelimit.Allowed {
		e.m.rejected(reasonRateLimited)
		secs := int64((wait + time.Second - 1) / time.Second)
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, strconv.FormatInt(max(secs, 1), 10))
		fail(ctx, fasthttp.StatusTooManyRequests)
		return false
	}
	return true
}

// isTextPlain accepts "text/plain" with optional parameters, any case.
func isTextPlain(ct []byte) bool {
	const tp = "text/plain"
	if len(ct) < len(tp) || !bytes.EqualFold(ct[:len(tp)], []byte(tp)) {
		return false
	}
	return len(ct) == len(tp) || ct[len(tp)] == ';' || ct[len(tp)] == ' '
}

// --- collect ---

func (e *Edge) serveCollect(ctx *fasthttp.RequestCtx, rt clientip.Route, t *tenant.Tenant, now time.Time) {
	if !e.checkPost(ctx, rt, t, now) {
		return
	}
	body := ctx.PostBody()
	if len(body) > e.cfg.MaxBeaconBytes {
		e.m.rejected(reasonTooLarge)
		fail(ctx, fasthttp.StatusRequestEntityTooLarge)
		return
	}
	b := e.parser.Acquire()
	defer e.parser.Release(b)
	if err := e.parser.Parse(b, body, now); err != nil {
		e.m.rejected(reasonInvalid)
		fail(ctx, collect.StatusCode(err))
		return
	}
	e.m.received.Add(float64(len(b.Events)))

	// Consent: the signed cookie is the authority. Without a valid one the
	// edge keeps nothing about the visitor, only this counter.
	h := &ctx.Request.Header
	c, err := cookie.Parse(h.Cookie(cookie.ConsentName), t.VerifyKeys, now, cookie.ConsentMaxAge)
	if err == nil {
		err = cookie.CheckSubject(c, h.Cookie(cookie.VisitorName))
	}
	// The one written policy (consent.Queued) with the tenant's settings
	// from the snapshot: GPC removes marketing when the tenant honours it,
	// analytics alone is queued only when the tenant allows analytics-only
	// GA4 sends. The server legal basis never applies here: no valid
	// cookie, nothing kept.
	gpcOn := gpc(h)
	st, admissible := consent.Queued(consent.State{
		Analytics: c.Analytics, Marketing: c.Marketing, Functional: c.Functional, GPC: gpcOn, HasRecord: err == nil,
	}, t.Policy)
	if err != nil || !admissible {
		e.m.consentBlocked.Add(float64(len(b.Events)))
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return
	}
	if e.overloaded.Load() {
		e.m.rejected(reasonBackpressure)
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, "2")
		fail(ctx, fasthttp.StatusServiceUnavailable)
		return
	}

	w := e.work.Get().(*collectWork)
	defer e.work.Put(w)
	// Every string the entries keep (the queue may hold them after the
	// request's buffers are reused) comes from ONE conversion: visitor id,
	// policy, event ids and custom event names, sliced out of it.
	w.strs = c.Subject.AppendTo(w.strs[:0])
	w.strs = append(w.strs, c.Policy...)
	for i := range b.Events {
		ev := &b.Events[i]
		w.strs = append(w.strs, ev.ID...)
		if ev.Spec.Name == "" {
			w.strs = append(w.strs, ev.Name...)
		}
	}
	strs := string(w.strs)
	const idLen = 36 // canonical UUID text
	pos := idLen + len(c.Policy)
	w.ip = rt.ClientIP.AppendTo(w.ip[:0])
	w.en = collect.Enrichment{
		TenantID:   t.ID,
		VisitorID:  strs[:idLen],
		ClientIP:   w.ip,
		UserAgent:  h.UserAgent(),
		ReceivedMS: now.UnixMilli(),
		Analytics:  st.Analytics,
		Marketing:  st.Marketing,
		Functional: st.Functional,
		Policy:     strs[idLen:pos],
		GPC:        gpcOn,
	}
	if len(w.en.UserAgent) > 512 {
		w.en.UserAgent = w.en.UserAgent[:512]
	}
	w.buf, w.offs = w.buf[:0], append(w.offs[:0], 0)
	for i := range b.Events {
		w.buf = collect.AppendPayload(w.buf, b, i, &w.en)
		w.offs = append(w.offs, len(w.buf))
	}
	decided := time.Unix(c.Time, 0)
	w.entries = w.entries[:0]
	for i := range b.Events {
		ev := &b.Events[i]
		conv := ev.Spec.Class == platforms.ClassConversion
		win := e.cfg.HighVolumeWindow
		if conv {
			win = e.cfg.ConversionWindow
		}
		id := strs[pos : pos+len(ev.ID)]
		pos += len(ev.ID)
		name := ev.Spec.Name // the registry's canonical constant
		if name == "" {
			name = strs[pos : pos+len(ev.Name)]
			pos += len(ev.Name)
		}
		w.entries = append(w.entries, queue.Entry{
			TenantID:   t.ID,
			EventID:    id,
			EventName:  name,
			Window:     win,
			Conversion: conv,
			VisitorID:  w.en.VisitorID,
			DecidedAt:  decided,
			Payload:    w.buf[w.offs[i]:w.offs[i+1]:w.offs[i+1]],
		})
	}
	res, err := e.q.Admit(e.admitContext(), w.entries)
	clear(w.entries) // drop references to this request's payloads
	if err != nil {
		e.m.rejected(reasonQueue)
		e.m.unavailable.Add(float64(len(w.entries)))
		e.log.Warn("cannot enqueue beacon", slog.String("tenant", t.ID), slog.Any("err", err))
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, "1")
		fail(ctx, fasthttp.StatusServiceUnavailable)
		return
	}
	overCap, revoked := false, false
	for _, r := range res {
		switch r {
		case queue.Queued:
			e.m.accepted.Inc()
		case queue.Duplicate:
			e.m.deduplicated.Inc()
		case queue.Revoked:
			revoked = true
			e.m.consentBlocked.Inc()
		case queue.OverCap:
			overCap = true
			e.m.rejected(reasonOverCap)
			e.m.overCapEvents.Inc()
		}
	}
	if revoked {
		// A server-side decision is newer than this browser's cookie: drop
		// the cookie so the loader asks again.
		var buf [256]byte
		a := cookie.AttrsFor(rt.Domain, ctx.Host(), ctx.IsTLS())
		ctx.Response.Header.AddBytesV(fasthttp.HeaderSetCookie, cookie.AppendDelete(buf[:0], cookie.ConsentName, a))
	}
	if overCap {
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, "60")
		fail(ctx, fasthttp.StatusTooManyRequests)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// gpc reports the Global Privacy Control signal (Sec-GPC: 1), honoured as a
// marketing opt-out.
func gpc(h *fasthttp.RequestHeader) bool {
	v := h.Peek("Sec-GPC")
	return len(v) == 1 && v[0] == '1'
}

// --- consent ---

// consentBody is what the loader posts to the consent path.
type consentBody struct {
	V          int               `json:"v"`
	Analytics  *bool             `json:"analytics"`
	Marketing  *bool             `json:"marketing"`
	Functional *bool             `json:"functional"`
	Policy     string            `json:"policy"`
	IDs        map[string]string `json:"ids"`
}

// maxConsentBody bounds a consent POST.
const maxConsentBody = 2048

var errConsentBody = errors.New("invalid consent body")

func parseConsent(body []byte) (consentBody, error) {
	var cb consentBody
	if len(body) > maxConsentBody {
		return cb, errConsentBody
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cb); err != nil || dec.More() {
		return cb, errConsentBody
	}
	if cb.V != 1 || cb.Analytics == nil || cb.Marketing == nil || cb.Functional == nil || cb.Policy == "" || len(cb.IDs) > 16 {
		return cb, errConsentBody
	}
	return cb, nil
}

func (e *Edge) serveConsent(ctx *fasthttp.RequestCtx, rt clientip.Route, t *tenant.Tenant, now time.Time) {
	if !e.checkPost(ctx, rt, t, now) {
		return
	}
	body := ctx.PostBody()
	if len(body) > maxConsentBody {
		fail(ctx, fasthttp.StatusRequestEntityTooLarge)
		return
	}
	cb, err := parseConsent(body)
	if err != nil {
		e.m.rejected(reasonInvalid)
		fail(ctx, fasthttp.StatusBadRequest)
		return
	}
	policy := t.Settings.PolicyVersion
	if policy == "" {
		policy = "1"
	}
	if cb.Policy != policy {
		// The page runs a loader of an older policy: it must ask again.
		e.m.rejected(reasonInvalid)
		fail(ctx, fasthttp.StatusConflict)
		return
	}
	c := cookie.Consent{Analytics: *cb.Analytics, Marketing: *cb.Marketing, Functional: *cb.Functional, Policy: []byte(policy), Time: now.Unix()}
	h := &ctx.Request.Header
	existing, hadVisitor := cookie.ParseID(h.Cookie(cookie.VisitorName))
	switch {
	case c.Tracking() && hadVisitor:
		c.Subject = existing
	default:
		// A new visitor id, or (reject all) a random decision id.
		c.Subject = cookie.NewID()
	}
	ip := ""
	if c.Tracking() {
		ip = rt.ClientIP.String()
	}
	rec := store.ConsentRecord{
		TenantID: t.ID, VisitorID: c.Subject.String(),
		Analytics: c.Analytics, Marketing: c.Marketing, Functional: c.Functional,
		PolicyVersion: policy, Source: store.ConsentSourceBanner, CreatedAt: now,
	}
	sctx, cancel := context.WithTimeout(context.Background(), e.cfg.AdmitTimeout)
	_, err = e.consents.AppendConsent(sctx, rec, ip)
	cancel()
	if err != nil {
		e.log.Warn("cannot record consent", slog.String("tenant", t.ID), slog.Any("err", err))
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, "1")
		fail(ctx, fasthttp.StatusServiceUnavailable)
		return
	}
	val, err := cookie.Sign(t.SignKey, c)
	if err != nil {
		e.log.Error("cannot sign consent cookie", slog.String("tenant", t.ID), slog.Any("err", err))
		fail(ctx, fasthttp.StatusServiceUnavailable)
		return
	}
	e.m.consentDecisions.WithLabelValues(consent.Choice(c.Analytics, c.Marketing)).Inc()

	a := cookie.AttrsFor(rt.Domain, ctx.Host(), ctx.IsTLS())
	rh := &ctx.Response.Header
	add := func(v []byte) { rh.AddBytesV(fasthttp.HeaderSetCookie, v) }
	add(cookie.AppendConsent(nil, val, a))
	if c.Tracking() {
		add(cookie.AppendVisitor(nil, c.Subject, a))
	} else if len(h.Cookie(cookie.VisitorName)) > 0 {
		add(cookie.AppendDelete(nil, cookie.VisitorName, a))
	}
	e.marketingCookies(ctx, c.Marketing, cb.IDs, a, now)
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// serveConsentStatus answers the loader's GET on the consent path, sent when
// the browser has no current consent cookie: when the request carries a
// jaraba_visitor_id whose latest record (the store is the source of truth:
// banner and API decisions alike) still grants analytics or marketing under
// the tenant's current policy, the consent cookie is set again (200) and the
// banner stays hidden; otherwise 204 and the loader shows the banner.
func (e *Edge) serveConsentStatus(ctx *fasthttp.RequestCtx, rt clientip.Route, t *tenant.Tenant, now time.Time) {
	if !e.allowOrigin(ctx, t) {
		return
	}
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	if v, wait := e.limiter.Allow(now, t.ID, rt.ClientIP); v != ratelimit.Allowed {
		e.m.rejected(reasonRateLimited)
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, strconv.FormatInt(max(int64((wait+time.Second-1)/time.Second), 1), 10))
		fail(ctx, fasthttp.StatusTooManyRequests)
		return
	}
	visitor, ok := cookie.ParseID(ctx.Request.Header.Cookie(cookie.VisitorName))
	if !ok {
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return
	}
	sctx, cancel := context.WithTimeout(context.Background(), e.cfg.AdmitTimeout)
	rec, err := e.consents.LatestConsent(sctx, t.ID, visitor.String())
	cancel()
	if errors.Is(err, store.ErrNotFound) {
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return
	}
	if err != nil {
		e.log.Warn("cannot read consent", slog.String("tenant", t.ID), slog.Any("err", err))
		ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, "1")
		fail(ctx, fasthttp.StatusServiceUnavailable)
		return
	}
	policy := t.Settings.PolicyVersion
	if policy == "" {
		policy = "1"
	}
	if rec.PolicyVersion != policy || !(rec.Analytics || rec.Marketing) {
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return
	}
	// The cookie is issued now for the visitor's current (latest) decision.
	c := cookie.Consent{Analytics: rec.Analytics, Marketing: rec.Marketing, Functional: rec.Functional,
		Policy: []byte(policy), Time: now.Unix(), Subject: visitor}
	val, err := cookie.Sign(t.SignKey, c)
	if err != nil {
		e.log.Error("cannot sign consent cookie", slog.String("tenant", t.ID), slog.Any("err", err))
		fail(ctx, fasthttp.StatusServiceUnavailable)
		return
	}
	a := cookie.AttrsFor(rt.Domain, ctx.Host(), ctx.IsTLS())
	ctx.Response.Header.AddBytesV(fasthttp.HeaderSetCookie, cookie.AppendConsent(nil, val, a))
	ctx.Response.Header.AddBytesV(fasthttp.HeaderSetCookie, cookie.AppendVisitor(nil, visitor, a))
	e.m.consentRestored.Inc()
	ctx.SetStatusCode(fasthttp.StatusOK)
}

// marketingCookies keeps the platforms' first-party ids with marketing
// consent (minting _fbp, building _fbc from fbclid, keeping click ids from
// the landing URL) and removes them when marketing consent is withdrawn.
func (e *Edge) marketingCookies(ctx *fasthttp.RequestCtx, marketing bool, ids map[string]string, a cookie.Attrs, now time.Time) {
	h := &ctx.Request.Header
	rh := &ctx.Response.Header
	add := func(v []byte) { rh.AddBytesV(fasthttp.HeaderSetCookie, v) }
	if !marketing {
		for _, name := range []string{cookie.FBPName, cookie.FBCName} {
			if len(h.Cookie(name)) > 0 {
				add(cookie.AppendDelete(nil, name, a))
			}
		}
		for _, ci := range cookie.ClickIDs() {
			if len(h.Cookie(ci.Cookie)) > 0 {
				add(cookie.AppendDelete(nil, ci.Cookie, a))
			}
		}
		return
	}
	if len(h.Cookie(cookie.FBPName)) == 0 {
		add(cookie.AppendFBP(nil, now, a))
	}
	if fbclid := ids["fbclid"]; fbclid != "" && !cookie.KeepFBC(h.Cookie(cookie.FBCName), []byte(fbclid)) {
		if v, err := cookie.AppendFBC(nil, now, []byte(fbclid), a); err == nil {
			add(v)
		}
	}
	for _, ci := range cookie.ClickIDs() {
		if v := ids[ci.Param]; v != "" {
			if sc, err := cookie.AppendClickID(nil, ci, []byte(v), a); err == nil {
				add(sc)
			}
		}
	}
}

// --- queue back-pressure ---

// watchLag polls the queue's lag and flips the overloaded flag, until ctx
// ends.
func (e *Edge) watchLag(ctx context.Context) {
	if e.cfg.MaxQueueLag == 0 {
		return
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		lctx, cancel := context.WithTimeout(ctx, time.Second)
		lag, err := e.q.Lag(lctx)
		cancel()
		if err != nil {
			continue // Admit itself fails (503) when the queue is down
		}
		e.m.queueLag.Set(float64(lag))
		over := lag > e.cfg.MaxQueueLag
		if e.overloaded.Swap(over) != over {
			e.log.Warn("queue back-pressure changed", slog.Bool("overloaded", over), slog.Int64("lag", lag))
		}
	}
}
