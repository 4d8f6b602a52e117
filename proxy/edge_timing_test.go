package proxy_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/jaraba/pixelgw/admin"
	"github.com/jaraba/pixelgw/proxy"
	"github.com/jaraba/pixelgw/proxy/cookie"
	"github.com/jaraba/pixelgw/proxy/tenant"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/queue"
	"github.com/jaraba/pixelgw/store/queue/queueredis"
	"github.com/jaraba/pixelgw/store/queue/queuesqlite"
	"github.com/jaraba/pixelgw/store/secret"
	"github.com/jaraba/pixelgw/store/storesqlite"
)

// The handler benchmarks: the whole collect path (routing, origin, rate
// limit, parse + validate, consent cookie, record encoding, Admit) for a
// 1-event beacon carrying a valid consent cookie, with
//
//   - nop: a queue that keeps nothing (the handler's own cost),
//   - redis: the real Redis queue behind queue.NewBatcher (scaled mode),
//   - redis-direct: the same queue without the Batcher (one script per beacon),
//   - sqlite: queuesqlite (embedded mode),
//
// called on a prepared fasthttp.RequestCtx (BenchmarkCollectHandler) and
// through fasthttp's in-memory listener next to a bare 204 handler
// (BenchmarkCollectServer, whose x_bare metric is the ratio of throughputs).

// benchEdge is an Edge for one tenant (edge host t.shop.example, site
// https://www.shop.example) over the given queue, plus a signed consent
// cookie for one visitor.
type benchEdge struct {
	edge   *proxy.Edge
	shop   *tenant.Tenant
	cookie string // Cookie header: jaraba_consent + jaraba_visitor_id
}

func newBenchEdge(tb testing.TB, q queue.Queue) *benchEdge {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	st, err := storesqlite.Open(ctx, filepath.Join(dir, "db.sqlite"))
	require.NoError(tb, err)
	tb.Cleanup(func() { st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(tb, err)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	kr, err := secret.NewKeyring("k1", map[string][]byte{"k1": key})
	require.NoError(tb, err)
	api, err := admin.New(admin.Defaults(), admin.Deps{Store: st, Keyring: kr, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(tb, err)
	tn, err := api.CreateTenant(ctx, admin.TenantInput{Slug: "shop", Name: "shop", Settings: store.TenantSettings{
		PolicyVersion: "2", Sites: []string{shopOrigin}, Languages: []string{"en"},
	}})
	require.NoError(tb, err)
	_, err = api.AddDomain(ctx, tn.ID, admin.DomainInput{Hostname: "t.shop.example"})
	require.NoError(tb, err)
	_, err = api.CreatePixel(ctx, tn.ID, admin.PixelInput{Platform: "meta", PixelID: "1234567890", Credentials: map[string]string{"access_token": "EAAB-bench-token-value"}})
	require.NoError(tb, err)
	snap, err := tenant.Build(ctx, st, kr, time.Now())
	require.NoError(tb, err)
	reg := &tenant.Registry{}
	reg.Swap(snap)
	shop := snap.Lookup([]byte("t.shop.example")).Tenant

	cfg := proxy.Defaults()
	cfg.Listen = "127.0.0.1:0"
	// One client IP sends everything: lift the rate limits out of the way.
	cfg.RateLimit.PerIP, cfg.RateLimit.BurstIP = 1e6, 1e6
	cfg.RateLimit.PerTenant, cfg.RateLimit.BurstTenant = 1e7, 1e7
	edge, err := proxy.NewEdge(cfg, proxy.Deps{Registry: reg, Queue: q, Consents: st, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(tb, err)

	visitor := cookie.NewID()
	val, err := cookie.Sign(shop.SignKey, cookie.Consent{
		Analytics: true, Marketing: true, Policy: []byte("2"), Time: time.Now().Unix(), Subject: visitor,
	})
	require.NoError(tb, err)
	return &benchEdge{
		edge: edge, shop: shop,
		cookie: cookie.ConsentName + "=" + string(val) + "; " + cookie.VisitorName + "=" + visitor.String(),
	}
}

// beaconGen produces 1-event beacons with unique event ids, rewriting the
// id in place: ids are <8 random hex>-0000-4000-8000-<12 hex counter>.
type beaconGen struct {
	body []byte
	idAt int // offset of the counter's 12 hex digits
	n    uint64
}

func newBeaconGen(tb testing.TB, name string) *beaconGen {
	tb.Helper()
	var r [4]byte
	_, _ = rand.Read(r[:])
	id := hex.EncodeToString(r[:]) + "-0000-4000-8000-000000000000"
	body := beacon(name, id)
	g := &beaconGen{body: []byte(body)}
	g.idAt = len(`{"v":1,"events":[{"name":"`+name+`","id":"`) + 24
	require.Equal(tb, id, string(g.body[g.idAt-24:g.idAt+12]))
	return g
}

// next writes the next unique id into dst (a copy of g.body, or g.body).
func (g *beaconGen) next(dst []byte) {
	g.n++
	n := g.n
	for i := g.idAt + 11; i >= g.idAt; i-- {
		dst[i] = "0123456789abcdef"[n&0xf]
		n >>= 4
	}
}

// request builds the collect request the loader sends.
func (e *benchEdge) request(req *fasthttp.Request, body []byte) {
	req.Reset()
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI("http://t.shop.example" + e.shop.CollectPath)
	req.Header.Set(fasthttp.HeaderOrigin, shopOrigin)
	req.Header.Set(fasthttp.HeaderContentType, "text/plain;charset=UTF-8")
	req.Header.Set(fasthttp.HeaderUserAgent, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36")
	req.Header.Set(fasthttp.HeaderCookie, e.cookie)
	req.SetBody(body)
}

// handlerCtx is a prepared RequestCtx whose beacon gets a fresh event id on
// every call of serve.
type handlerCtx struct {
	ctx fasthttp.RequestCtx
	gen *beaconGen
}

var benchPeer = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}

func (e *benchEdge) newHandlerCtx(tb testing.TB, name string) *handlerCtx {
	tb.Helper()
	h := &handlerCtx{gen: newBeaconGen(tb, name)}
	var req fasthttp.Request
	e.request(&req, h.gen.body)
	h.ctx.Init(&req, benchPeer, nil)
	return h
}

// serve runs one request through the handler and returns the status.
func (h *handlerCtx) serve(handler fasthttp.RequestHandler) int {
	if h.gen != nil {
		h.gen.next(h.ctx.Request.Body()) // in place: the body buffer is ours
	}
	h.ctx.Response.Reset()
	handler(&h.ctx)
	return h.ctx.Response.StatusCode()
}

// nopQueue admits everything and keeps nothing: the handler's own cost.
type nopQueue struct{}

var queuedResults = func() []queue.Result {
	r := make([]queue.Result, 1000)
	for i := range r {
		r[i] = queue.Queued
	}
	return r
}()

func (nopQueue) Admit(_ context.Context, entries []queue.Entry) ([]queue.Result, error) {
	return queuedResults[:len(entries):len(entries)], nil
}
func (nopQueue) SetDecision(context.Context, string, string, time.Time, time.Duration) error {
	return nil
}
func (nopQueue) Read(context.Context, string, string, int, time.Duration) ([]queue.Message, error) {
	return nil, nil
}
func (nopQueue) Ack(context.Context, string, ...string) error { return nil }
func (nopQueue) Lag(context.Context) (int64, error)           { return 0, nil }
func (nopQueue) Ping(context.Context) error                   { return nil }

// benchRedis connects to the test Redis (REDIS_ADDR, default
// 127.0.0.1:6379) under a random key prefix that cleanup unlinks: fails
// under CI when unreachable, skips otherwise.
func benchRedis(tb testing.TB) (*redis.Client, string) {
	tb.Helper()
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 64})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		if os.Getenv("CI") != "" {
			tb.Fatalf("redis at %s is unreachable (CI is set): %v", addr, err)
		}
		tb.Skipf("redis at %s is unreachable, skipping (run `make deps`): %v", addr, err)
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	prefix := "pgwbench:" + hex.EncodeToString(r[:])
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
			if len(keys) == 1000 {
				rdb.Unlink(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			rdb.Unlink(ctx, keys...)
		}
		_ = rdb.Close()
	})
	return rdb, prefix
}

// benchQueues are the queues the handler benchmarks run over; each builds
// its queue for one benchmark and registers its cleanup.
var benchQueues = []struct {
	name string
	open func(b *testing.B) queue.Queue
}{
	{"nop", func(*testing.B) queue.Queue { return nopQueue{} }},
	{"redis", func(b *testing.B) queue.Queue {
		rdb, prefix := benchRedis(b)
		q := queueredis.New(rdb, queueredis.Config{Prefix: prefix, Options: queue.Options{MaxKeysPerTenant: 1 << 40}}, slog.New(slog.DiscardHandler))
		bt := queue.NewBatcher(q, queue.BatcherConfig{}) // what cmd/pixelgw wires
		require.NoError(b, bt.Start(context.Background()))
		b.Cleanup(func() { _ = bt.Stop(context.Background()) })
		return bt
	}},
	{"redis-nowait", func(b *testing.B) queue.Queue { // Batcher with MaxWait -1: batches form only while a worker is busy
		rdb, prefix := benchRedis(b)
		q := queueredis.New(rdb, queueredis.Config{Prefix: prefix, Options: queue.Options{MaxKeysPerTenant: 1 << 40}}, slog.New(slog.DiscardHandler))
		bt := queue.NewBatcher(q, queue.BatcherConfig{MaxWait: -1})
		require.NoError(b, bt.Start(context.Background()))
		b.Cleanup(func() { _ = bt.Stop(context.Background()) })
		return bt
	}},
	{"redis-direct", func(b *testing.B) queue.Queue { // no Batcher: one EVALSHA per beacon
		rdb, prefix := benchRedis(b)
		return queueredis.New(rdb, queueredis.Config{Prefix: prefix, Options: queue.Options{MaxKeysPerTenant: 1 << 40}}, slog.New(slog.DiscardHandler))
	}},
	{"sqlite", func(b *testing.B) queue.Queue {
		q, err := queuesqlite.Open(context.Background(), filepath.Join(b.TempDir(), "queue.sqlite"),
			queuesqlite.Options{Options: queue.Options{MaxKeysPerTenant: 1 << 40}})
		require.NoError(b, err)
		b.Cleanup(func() { q.Close() })
		return q
	}},
}

// BenchmarkCollectHandler calls Edge.Handle on prepared RequestCtxs from
// many goroutines (concurrent beacons, so the Batcher can batch).
func BenchmarkCollectHandler(b *testing.B) {
	for _, bq := range benchQueues {
		b.Run(bq.name, func(b *testing.B) {
			e := newBenchEdge(b, bq.open(b))
			b.ReportAllocs()
			b.SetParallelism(64)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				h := e.newHandlerCtx(b, "page_view")
				for pb.Next() {
					if s := h.serve(e.edge.Handle); s != fasthttp.StatusNoContent {
						b.Errorf("status %d: %s", s, h.ctx.Response.Body())
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "beacons/s")
		})
	}
}

// BenchmarkCollectHandlerSerial is one caller, no concurrency: the latency
// of one beacon through the handler.
func BenchmarkCollectHandlerSerial(b *testing.B) {
	for _, bq := range benchQueues {
		b.Run(bq.name, func(b *testing.B) {
			e := newBenchEdge(b, bq.open(b))
			h := e.newHandlerCtx(b, "purchase")
			b.ReportAllocs()
			for b.Loop() {
				if s := h.serve(e.edge.Handle); s != fasthttp.StatusNoContent {
					b.Fatalf("status %d: %s", s, h.ctx.Response.Body())
				}
			}
		})
	}
}

// bare204 is the baseline: a fasthttp handler that answers 204.
func bare204(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(fasthttp.StatusNoContent) }

// serveInmem serves handler on an in-memory listener until cleanup.
func serveInmem(b *testing.B, handler fasthttp.RequestHandler) *fasthttputil.InmemoryListener {
	ln := fasthttputil.NewInmemoryListener()
	srv := &fasthttp.Server{Handler: handler, NoDefaultServerHeader: true, NoDefaultContentType: true, NoDefaultDate: true}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Shutdown(); <-done })
	return ln
}

// driveInmem sends keep-alive POST beacons over in-memory connections, one
// connection per goroutine, and reports the throughput (per second).
func driveInmem(b *testing.B, ln *fasthttputil.InmemoryListener, e *benchEdge) float64 {
	b.ReportAllocs()
	b.SetParallelism(64)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		conn, err := ln.Dial()
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		gen := newBeaconGen(b, "page_view")
		var req fasthttp.Request
		var res fasthttp.Response
		e.request(&req, gen.body)
		bw, br := bufio.NewWriter(conn), bufio.NewReader(conn)
		for pb.Next() {
			gen.next(req.Body())
			if err := req.Write(bw); err != nil {
				b.Error(err)
				return
			}
			if err := bw.Flush(); err != nil {
				b.Error(err)
				return
			}
			if err := res.Read(br); err != nil {
				b.Error(err)
				return
			}
			if res.StatusCode() != fasthttp.StatusNoContent {
				b.Errorf("status %d: %s", res.StatusCode(), res.Body())
				return
			}
		}
	})
	rate := float64(b.N) / time.Since(start).Seconds()
	b.ReportMetric(rate, "beacons/s")
	return rate
}

// BenchmarkCollectServer is the whole request through fasthttp (HTTP parse
// and write included) on an in-memory listener: bare 204 first, then the
// edge over each queue; x_bare is the edge's throughput over bare's.
func BenchmarkCollectServer(b *testing.B) {
	var bare float64
	b.Run("bare204", func(b *testing.B) {
		e := newBenchEdge(b, nopQueue{}) // only for the request's shape
		bare = driveInmem(b, serveInmem(b, bare204), e)
	})
	for _, bq := range benchQueues {
		b.Run(bq.name, func(b *testing.B) {
			e := newBenchEdge(b, bq.open(b))
			rate := driveInmem(b, serveInmem(b, e.edge.Handle), e)
			if bare > 0 {
				b.ReportMetric(rate/bare, "x_bare")
			}
		})
	}
}
