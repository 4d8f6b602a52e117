// Package proxy is the public edge: a fasthttp server that answers on every
// tenant's hostname. This file owns the listener, its limits, start/stop and
// the health endpoints that a load balancer probes on any Host.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Check is a readiness check (stores reachable, ...).
type Check func(ctx context.Context) error

// Server is the edge listener.
type Server struct {
	cfg      Config
	log      *slog.Logger
	edge     *Edge
	checks   []Check
	srv      *fasthttp.Server
	draining atomic.Bool

	mu      sync.Mutex
	ln      net.Listener
	done    chan error
	cancel  context.CancelFunc
	bgDone  chan struct{}
	stopped bool
}

// New builds an edge server; it does not listen until Start. edge (nil:
// every request but the health endpoints answers 404) handles tenant
// traffic.
func New(cfg Config, log *slog.Logger, edge *Edge, checks ...Check) *Server {
	s := &Server{cfg: cfg, log: log, edge: edge, checks: checks}
	s.srv = &fasthttp.Server{
		Handler:                       s.handle,
		Name:                          "pixelgw",
		ReadTimeout:                   10 * time.Second,
		WriteTimeout:                  10 * time.Second,
		IdleTimeout:                   60 * time.Second,
		MaxRequestBodySize:            64 << 10,
		ReadBufferSize:                8 << 10,
		Concurrency:                   256 << 10,
		DisableHeaderNamesNormalizing: false,
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		Logger:                        slogPrintf{log},
		ErrorHandler: func(ctx *fasthttp.RequestCtx, err error) {
			// Requests fasthttp cannot read: a body over the limit is 413,
			// anything else (bad framing, huge headers) 400; no detail.
			status := fasthttp.StatusBadRequest
			if errors.Is(err, fasthttp.ErrBodyTooLarge) {
				status = fasthttp.StatusRequestEntityTooLarge
			}
			ctx.Response.Reset()
			fail(ctx, status)
			ctx.SetConnectionClose()
		},
	}
	return s
}

// Start binds the listener (a port conflict is an error here) and serves in
// a goroutine owned by the server.
func (s *Server) Start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil || s.stopped {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", s.cfg.Listen, err)
	}
	s.ln = ln
	s.done = make(chan error, 1)
	if s.cfg.TLSCertFile != "" {
		go func() { s.done <- s.srv.ServeTLS(ln, s.cfg.TLSCertFile, s.cfg.TLSKeyFile) }()
	} else {
		go func() { s.done <- s.srv.Serve(ln) }()
	}
	bg, cancel := context.WithCancel(context.Background())
	s.cancel, s.bgDone = cancel, make(chan struct{})
	go func() {
		defer close(s.bgDone)
		if s.edge != nil {
			s.edge.watchLag(bg)
		}
	}()
	s.log.Info("edge listening", slog.String("addr", ln.Addr().String()))
	return nil
}

// Addr is the bound address, or nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// SetDraining makes /readyz answer 503 so load balancers stop sending.
func (s *Server) SetDraining() { s.draining.Store(true) }

// Stop closes the listener and waits for open connections to finish, up to
// ctx's deadline. Idempotent; safe if never started.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	s.stopped = true
	s.draining.Store(true)
	if s.ln == nil {
		return nil
	}
	s.cancel()
	<-s.bgDone
	err := s.srv.ShutdownWithContext(ctx)
	// Shutdown only closes listeners Serve has registered; close ours too so
	// a Stop racing a just-started Serve cannot leave it accepting.
	_ = s.ln.Close()
	if serr := <-s.done; serr != nil && !errors.Is(serr, net.ErrClosed) && err == nil {
		err = serr
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("cannot stop edge: %w", err)
	}
	return err
}

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case "/healthz":
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString("ok\n")
		return
	case "/readyz":
		s.readyz(ctx)
		return
	}
	if s.edge != nil {
		s.edge.Handle(ctx)
		return
	}
	notFound(ctx)
}

func (s *Server) readyz(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	if s.draining.Load() {
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		ctx.SetBodyString("draining\n")
		return
	}
	cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for i, c := range s.checks {
		if err := c(cctx); err != nil {
			s.log.Warn("edge readiness check failed", slog.Int("check", i), slog.Any("err", err))
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			ctx.SetBodyString("not ready\n")
			return
		}
	}
	ctx.SetBodyString("ready\n")
}

// slogPrintf adapts fasthttp's Printf logger to slog.
type slogPrintf struct{ l *slog.Logger }

func (p slogPrintf) Printf(format string, args ...any) {
	p.l.Warn("edge server", slog.String("msg", fmt.Sprintf(format, args...)))
}
