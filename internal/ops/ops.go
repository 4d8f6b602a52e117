// Package ops runs the ops listener: Prometheus /metrics, /healthz (the
// process is alive) and /readyz (dependencies reachable and not draining),
// answered for any Host. Keep it on a private address.
package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultCheckTimeout bounds each readiness check when Options.CheckTimeout
// is zero.
const DefaultCheckTimeout = 2 * time.Second

// ErrStopped is returned by Start after Stop.
var ErrStopped = errors.New("ops server stopped")

// Check is one readiness dependency, such as a store ping.
type Check struct {
	// Name appears in the /readyz body and in logs.
	Name string
	// Func returns nil when the dependency is usable. It must honour ctx.
	Func func(ctx context.Context) error
}

// Options configures the ops listener.
type Options struct {
	// Listen is the bind address, e.g. 127.0.0.1:9090 (:0 picks a port).
	Listen string
	// Registry is served on /metrics. Nil serves an empty registry.
	Registry *prometheus.Registry
	// Checks must all pass for /readyz to answer 200.
	Checks []Check
	// CheckTimeout bounds each check; zero means DefaultCheckTimeout.
	CheckTimeout time.Duration
	// Logger receives check failures and serve errors. Nil discards.
	Logger *slog.Logger
	// Pprof serves the Go profiler under /debug/pprof/ (CPU, heap,
	// goroutines). Off by default: profiles reveal internals; only on a
	// private listener.
	Pprof bool
}

// Server is the ops listener.
type Server struct {
	opts     Options
	log      *slog.Logger
	handler  http.Handler
	draining atomic.Bool

	// failing remembers which checks failed last time, so a failure is
	// logged when it starts and when it ends, not on every probe.
	failMu  sync.Mutex
	failing map[string]bool

	mu      sync.Mutex
	state   state
	srv     *http.Server
	addr    string
	serveCh chan struct{} // closed when the serve goroutine returns
}

type state int

const (
	stateNew state = iota
	stateRunning
	stateStopped
)

// New builds the server; Start binds it.
func New(opts Options) *Server {
	if opts.CheckTimeout <= 0 {
		opts.CheckTimeout = DefaultCheckTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "ops")
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Server{opts: opts, log: log, failing: map[string]bool{}}

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(log.Handler(), slog.LevelError),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	mux.HandleFunc("GET /healthz", s.serveHealthz)
	mux.HandleFunc("GET /readyz", s.serveReadyz)
	if opts.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	s.handler = mux
	return s
}

// Handler returns the ops routes, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// Start binds the listener (a bind error is returned here) and serves in a
// goroutine owned by the server until Stop. Starting twice is a no-op;
// starting after Stop returns ErrStopped.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateRunning:
		return nil
	case stateStopped:
		return ErrStopped
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("cannot listen on ops address %q: %w", s.opts.Listen, err)
	}
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.addr = ln.Addr().String()
	s.serveCh = make(chan struct{})
	s.state = stateRunning
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("ops listener stopped", "err", err)
		}
	}(s.srv, s.serveCh)
	s.log.Info("ops listener started", "addr", s.addr)
	return nil
}

// Stop shuts the listener down gracefully within ctx, then closes what is
// left. It is safe before Start and when called more than once.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	prev := s.state
	s.state = stateStopped
	srv, done := s.srv, s.serveCh
	s.mu.Unlock()
	if prev != stateRunning {
		if done != nil {
			// A concurrent Stop is shutting down: wait for it.
			select {
			case <-done:
			case <-ctx.Done():
				return fmt.Errorf("cannot stop ops listener: %w", ctx.Err())
			}
		}
		return nil
	}
	s.draining.Store(true)
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("cannot stop ops listener gracefully: %w", err)
	}
	<-done
	return err
}

// Addr returns the bound address ("" before Start).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// SetDraining makes /readyz answer 503 from now on (shutdown has begun).
func (s *Server) SetDraining() { s.draining.Store(true) }

// Draining reports whether SetDraining (or Stop) was called.
func (s *Server) Draining() bool { return s.draining.Load() }

// Readiness is the /readyz verdict.
type Readiness struct {
	// Status is "ready", "not ready" or "draining".
	Status string `json:"status"`
	// Failing names the failed checks, sorted as configured.
	Failing []string `json:"failing,omitempty"`
}

// Ready reports whether the process should receive traffic: not draining
// and every check passing within its timeout. Checks run concurrently.
// Failures are logged (once when they start, once when they end); the
// result only names them, so the edge can serve it publicly too.
func (s *Server) Ready(ctx context.Context) Readiness {
	if s.draining.Load() {
		return Readiness{Status: "draining"}
	}
	errs := make([]error, len(s.opts.Checks))
	var wg sync.WaitGroup
	for i, c := range s.opts.Checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, s.opts.CheckTimeout)
			defer cancel()
			errs[i] = runCheck(cctx, c)
		})
	}
	wg.Wait()
	var failing []string
	for i, c := range s.opts.Checks {
		s.noteCheck(c.Name, errs[i])
		if errs[i] != nil {
			failing = append(failing, c.Name)
		}
	}
	if len(failing) > 0 {
		return Readiness{Status: "not ready", Failing: failing}
	}
	return Readiness{Status: "ready"}
}

// runCheck runs one check in the caller's goroutine, turning a panic into an
// error. Checks must honour ctx: the check timeout is applied through it.
func runCheck(ctx context.Context, c Check) (err error) {
	if c.Func == nil {
		return errors.New("check has no func")
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("check panicked: %v", p)
		}
	}()
	return c.Func(ctx)
}

func (s *Server) noteCheck(name string, err error) {
	s.failMu.Lock()
	was := s.failing[name]
	s.failing[name] = err != nil
	s.failMu.Unlock()
	switch {
	case err != nil && !was:
		s.log.Warn("readiness check failing", "check", name, "err", err)
	case err == nil && was:
		s.log.Info("readiness check recovered", "check", name)
	}
}

func (s *Server) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) serveReadyz(w http.ResponseWriter, r *http.Request) {
	rd := s.Ready(r.Context())
	body, _ := json.Marshal(rd)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if rd.Status != "ready" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write(append(body, '\n'))
}
