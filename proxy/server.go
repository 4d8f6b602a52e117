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

// Config is the edge's configuration (YAML key `edge`).
type Config struct {
	// Listen is the public listener's address.
	Listen string `yaml:"listen"`
}

// Defaults returns the default edge configuration.
func Defaults() Config { return Config{Listen: ":8080"} }

// Validate names the first bad field by its YAML path.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("edge.listen: %q is not host:port", c.Listen)
	}
	return nil
}

// Check is a readiness check (stores reachable, ...).
type Check func(ctx context.Context) error

// Server is the edge listener.
type Server struct {
	cfg      Config
	log      *slog.Logger
	checks   []Check
	srv      *fasthttp.Server
	draining atomic.Bool

	mu      sync.Mutex
	ln      net.Listener
	done    chan error
	stopped bool
}

// New builds an edge server; it does not listen until Start.
func New(cfg Config, log *slog.Logger, checks ...Check) *Server {
	s := &Server{cfg: cfg, log: log, checks: checks}
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
	go func() { s.done <- s.srv.Serve(ln) }()
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
	ctx.Error("not found\n", fasthttp.StatusNotFound)
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
