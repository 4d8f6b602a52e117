package admin

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

//go:embed openapi.json
var openAPIDoc []byte

func (a *API) handleOpenAPI(w http.ResponseWriter, _ *http.Request, _ principal) error {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(openAPIDoc)
	return nil
}

// Server is the API listener. Start and Stop are idempotent; Stop is safe
// if Start never ran.
type Server struct {
	addr    string
	handler http.Handler
	api     *API
	log     *slog.Logger

	mu      sync.Mutex
	srv     *http.Server
	ln      net.Listener
	done    chan struct{}
	stopped bool
}

// NewServer returns a server for the API on cfg.Listen.
func NewServer(cfg Config, api *API, log *slog.Logger) *Server {
	return &Server{addr: cfg.Listen, handler: api.Handler(), api: api, log: log}
}

// Addr is the bound address once started (useful with port 0).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Start binds the listener and serves in the background.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("admin server: stopped")
	}
	if s.srv != nil {
		return nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", s.addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	// Shutdown waits for handlers: end the live streams when it starts.
	s.srv.RegisterOnShutdown(s.api.CloseStreams)
	s.done = make(chan struct{})
	srv, done := s.srv, s.done
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin server stopped", slog.String("error", err.Error()))
		}
	}()
	s.log.Info("admin api listening", slog.String("addr", ln.Addr().String()))
	return nil
}

// Stop drains in-flight requests until ctx ends, then closes connections.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	srv, done := s.srv, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
	}
	<-done
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("cannot drain admin server: %w", err)
	}
	return nil
}
