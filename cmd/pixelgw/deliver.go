package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jaraba/pixelgw/configs"
	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/dispatch"
	"github.com/jaraba/pixelgw/platforms/google"
	"github.com/jaraba/pixelgw/platforms/httpx"
	"github.com/jaraba/pixelgw/platforms/linkedin"
	"github.com/jaraba/pixelgw/platforms/meta"
	"github.com/jaraba/pixelgw/platforms/tiktok"
	"github.com/jaraba/pixelgw/platforms/x"
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

// newEngine builds the five adapters (on the SSRF-safe client) and the
// delivery engine. With platforms.simulator it also starts the in-process
// simulator and points every adapter at it; the returned components start
// and stop it with the engine.
func newEngine(cfg configs.Config, q queue.Queue, st fullStore, kr *secret.Keyring, reg prometheus.Registerer, log *slog.Logger) (*dispatch.Engine, []component, error) {
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
	dests := []platforms.Destination{
		meta.New(pc.Meta, client),
		google.New(pc.Google, client),
		linkedin.New(pc.LinkedIn, client),
		tiktok.New(pc.TikTok, client),
		x.New(pc.X, client),
	}
	host, _ := os.Hostname()
	dlog := log.With(slog.String("component", "dispatch"))
	eng := dispatch.New(pc.Dispatch, dispatch.Deps{
		Queue:        q,
		Pixels:       st,
		Keyring:      kr,
		Audit:        st,
		Destinations: dests,
		Logger:       dlog,
		Consumer:     fmt.Sprintf("%s-%d", host, os.Getpid()),
		Registerer:   reg,
		OnAuthFailure: func(pixelUUID string) {
			dlog.Warn("platform refused the pixel's credentials", slog.String("pixel", pixelUUID))
		},
	})
	// The simulator (if any) starts before and stops after the engine.
	return eng, append(comps, component{"dispatch", eng.Start, eng.Stop}), nil
}
