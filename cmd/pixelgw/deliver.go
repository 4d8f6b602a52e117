package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jaraba/pixelgw/configs"
	"github.com/jaraba/pixelgw/internal/logging"
	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/dispatch"
	"github.com/jaraba/pixelgw/platforms/google"
	"github.com/jaraba/pixelgw/platforms/httpx"
	"github.com/jaraba/pixelgw/platforms/linkedin"
	"github.com/jaraba/pixelgw/platforms/meta"
	"github.com/jaraba/pixelgw/platforms/tiktok"
	"github.com/jaraba/pixelgw/platforms/x"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/live"
	"github.com/jaraba/pixelgw/store/queue"
	"github.com/jaraba/pixelgw/store/secret"
	"github.com/jaraba/pixelgw/test/platformsim"
)

// simServer runs the platform simulator in-process (platforms.simulator).
type simServer struct {
	sim *platformsim.Sim
	srv *http.Server
	ln  net.Listener
}

// newSimulator binds the simulator's listener (so adapters know its
// address); start serves it.
func newSimulator() (*simServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("cannot start the platform simulator: %w", err)
	}
	s := &simServer{sim: platformsim.New(platformsim.Options{MaxRecorded: 10000}), ln: ln}
	s.srv = &http.Server{Handler: s.sim.Handler(), ReadHeaderTimeout: 5 * time.Second}
	return s, nil
}

func (s *simServer) start(context.Context) error {
	go func() { _ = s.srv.Serve(s.ln) }()
	return nil
}

func (s *simServer) base() string { return "http://" + s.ln.Addr().String() }

func (s *simServer) stop(ctx context.Context) error {
	s.sim.Close()
	if err := s.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newDestinations builds the five adapters on the SSRF-safe client. With
// platforms.simulator it also prepares the in-process simulator and points
// every adapter at it; the returned component starts and stops it.
func newDestinations(cfg configs.Config, log *slog.Logger) ([]platforms.Destination, []component, error) {
	pc := cfg.Platforms
	var comps []component
	allowPrivate := pc.AllowPrivateAddresses
	if pc.Simulator {
		sim, err := newSimulator()
		if err != nil {
			return nil, nil, err
		}
		base := sim.base()
		pc.Meta.BaseURL, pc.Google.BaseURL, pc.LinkedIn.BaseURL = base+"/meta", base+"/google", base+"/linkedin"
		pc.TikTok.BaseURL, pc.X.BaseURL = base+"/tiktok", base+"/x"
		allowPrivate = true
		comps = append(comps, component{"simulator", sim.start, sim.stop})
		log.Info("platform simulator running in-process", slog.String("base", base))
	}
	client := httpx.NewClient(httpx.Config{AllowPrivate: allowPrivate})
	var ga4 platforms.Destination = google.New(pc.Google, client)
	if pc.Google.HealthInterval > 0 {
		ga4 = google.NewSampler(google.New(pc.Google, client), pc.Google.HealthSamples, nil)
	}
	dests := []platforms.Destination{
		meta.New(pc.Meta, client),
		ga4,
		linkedin.New(pc.LinkedIn, client),
		tiktok.New(pc.TikTok, client),
		x.New(pc.X, client),
	}
	return dests, comps, nil
}

// newEngine builds the delivery engine over the adapters, with the pixel
// health writer; the components start before and stop after each other in
// that order.
func newEngine(cfg configs.Config, dests []platforms.Destination, q queue.Queue, st fullStore, kr *secret.Keyring, reg prometheus.Registerer, log *slog.Logger, pub live.Publisher) (*dispatch.Engine, []component) {
	pc := cfg.Platforms
	host, _ := os.Hostname()
	dlog := log.With(slog.String("component", "dispatch"))
	health := newPixelHealth(st, log.With(slog.String("component", "pixel-health")), healthQueue)
	comps := []component{{"pixel-health", health.Start, health.Stop}}
	onRecovered := health.Recovered
	for _, d := range dests {
		if s, ok := d.(*google.Sampler); ok {
			// A GA4 pixel's light comes from sampling: its 204s prove nothing.
			onRecovered = func(tenant, pixel string) {
				if !s.Owns(pixel) {
					health.Recovered(tenant, pixel)
				}
			}
			g := newGA4Health(s, pc.Google.HealthInterval, health.report, log.With(slog.String("component", "ga4-health")))
			comps = append(comps, component{"ga4-health", g.Start, g.Stop})
		}
	}
	eng := dispatch.New(pc.DispatchConfig(), dispatch.Deps{
		Queue:         q,
		Pixels:        st,
		Keyring:       kr,
		Audit:         st,
		Destinations:  dests,
		Logger:        dlog,
		Consumer:      fmt.Sprintf("%s-%d", host, os.Getpid()),
		Registerer:    reg,
		OnAuthFailure: health.Failed,
		OnRecovered:   onRecovered,
		Live:          pub,
	})
	// The health writers start before and stop after the engine.
	return eng, append(comps, component{"dispatch", eng.Start, eng.Stop})
}

// Pixel health lights (store.Pixel.Status) the delivery engine sets.
const (
	pixelRed   = "red"
	pixelGreen = "green"
)

// Pixel health defaults.
const (
	healthQueue   = 64              // reports waiting for the writer
	healthDedup   = time.Minute     // a pixel's same status is not written again within this
	healthTimeout = 5 * time.Second // one status write
	healthSweep   = 1024            // dedup entries kept before expired ones are swept
)

// pixelUpdater is the part of store.Pixels the health writer uses.
type pixelUpdater interface {
	UpdatePixel(ctx context.Context, tenantID, uuid string, p store.PixelPatch) (store.Pixel, error)
}

// healthReport asks for one pixel's status to be set.
type healthReport struct {
	tenant, pixel, status string
}

// healthKey names a pixel.
type healthKey struct{ tenant, pixel string }

// healthSeen is the last status reported for a pixel, and when.
type healthSeen struct {
	status string
	at     time.Time
}

// pixelHealth turns a pixel red when its platform refuses its credentials
// and green when a red pixel delivers again (dispatch.Deps.OnAuthFailure,
// OnRecovered). Reports are cheap and never block the delivery path: a
// repeat of the same status for the same pixel within healthDedup is
// ignored, and a report that finds the bounded queue full is dropped and
// logged. One goroutine writes the status through store.Pixels.UpdatePixel,
// each write bounded by healthTimeout. Stop drains what is queued.
type pixelHealth struct {
	st      pixelUpdater
	log     *slog.Logger
	now     func() time.Time
	timeout time.Duration
	reports chan healthReport

	mu      sync.Mutex
	seen    map[healthKey]healthSeen
	dropped int64

	life    sync.Mutex
	started bool
	stopped bool
	quit    chan struct{} // closed by Stop: drain, then return
	cancel  context.CancelFunc
	done    chan struct{}
}

// newPixelHealth returns a stopped writer with a queue of size slots.
func newPixelHealth(st pixelUpdater, log *slog.Logger, size int) *pixelHealth {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &pixelHealth{
		st: st, log: log, now: time.Now, timeout: healthTimeout,
		reports: make(chan healthReport, size),
		seen:    map[healthKey]healthSeen{},
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// Failed reports that the pixel's platform refused its credentials.
func (h *pixelHealth) Failed(tenantID, pixelUUID string) { h.report(tenantID, pixelUUID, pixelRed) }

// Recovered reports that a red pixel delivered again.
func (h *pixelHealth) Recovered(tenantID, pixelUUID string) {
	h.report(tenantID, pixelUUID, pixelGreen)
}

// report queues a status change unless the same one was queued within
// healthDedup; it never blocks.
func (h *pixelHealth) report(tenantID, pixelUUID, status string) {
	key := healthKey{tenantID, pixelUUID}
	now := h.now()
	h.mu.Lock()
	if s, ok := h.seen[key]; ok && s.status == status && now.Sub(s.at) < healthDedup {
		h.mu.Unlock()
		return
	}
	if len(h.seen) >= healthSweep {
		for k, s := range h.seen {
			if now.Sub(s.at) >= healthDedup {
				delete(h.seen, k)
			}
		}
	}
	select {
	case h.reports <- healthReport{tenant: tenantID, pixel: pixelUUID, status: status}:
		h.seen[key] = healthSeen{status: status, at: now}
		h.mu.Unlock()
	default:
		h.dropped++
		h.mu.Unlock()
		h.log.Warn("pixel status report dropped: queue full",
			slog.String("tenant", tenantID), slog.String("pixel", pixelUUID), slog.String("status", status))
	}
}

// forget lets the next report of the pixel's status through (its write
// failed).
func (h *pixelHealth) forget(r healthReport) {
	key := healthKey{r.tenant, r.pixel}
	h.mu.Lock()
	if s, ok := h.seen[key]; ok && s.status == r.status {
		delete(h.seen, key)
	}
	h.mu.Unlock()
}

// Start starts the writer. Idempotent; it cannot start again after Stop.
func (h *pixelHealth) Start(context.Context) error {
	h.life.Lock()
	defer h.life.Unlock()
	if h.stopped {
		return errors.New("pixel health: stopped")
	}
	if h.started {
		return nil
	}
	h.started = true
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go h.run(ctx)
	return nil
}

// Stop writes what is queued and returns; if ctx ends first it cancels the
// writes left (their reports are lost) and returns ctx's error. Idempotent;
// safe without Start.
func (h *pixelHealth) Stop(ctx context.Context) error {
	h.life.Lock()
	if !h.stopped {
		h.stopped = true
		close(h.quit)
	}
	started := h.started
	h.life.Unlock()
	if !started {
		return nil
	}
	select {
	case <-h.done:
		h.cancel()
		return nil
	case <-ctx.Done():
		h.cancel()
		<-h.done
		return fmt.Errorf("cannot drain pixel status reports: %w", ctx.Err())
	}
}

func (h *pixelHealth) run(ctx context.Context) {
	defer close(h.done)
	for {
		if ctx.Err() != nil {
			return // Stop's deadline passed: what is queued is lost
		}
		select {
		case r := <-h.reports:
			h.write(ctx, r)
		case <-h.quit:
			for {
				select {
				case r := <-h.reports:
					if ctx.Err() != nil {
						return
					}
					h.write(ctx, r)
				default:
					return
				}
			}
		}
	}
}

// write sets one pixel's status.
func (h *pixelHealth) write(ctx context.Context, r healthReport) {
	wctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	_, err := h.st.UpdatePixel(wctx, r.tenant, r.pixel, store.PixelPatch{Status: &r.status})
	switch {
	case err == nil:
		h.log.Info("pixel status set", slog.String("tenant", r.tenant), slog.String("pixel", r.pixel), slog.String("status", r.status))
	case errors.Is(err, store.ErrNotFound):
		h.log.Debug("pixel status not set: pixel gone", slog.String("tenant", r.tenant), slog.String("pixel", r.pixel))
	default:
		h.forget(r)
		h.log.Warn("cannot set pixel status", slog.String("tenant", r.tenant), slog.String("pixel", r.pixel),
			slog.String("status", r.status), slog.String("err", logging.SanitizeError(err)))
	}
}
