package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/jaraba/pixelgw/admin"
	"github.com/jaraba/pixelgw/configs"
	"github.com/jaraba/pixelgw/internal/eventmetrics"
	"github.com/jaraba/pixelgw/internal/ops"
	"github.com/jaraba/pixelgw/platforms/verify"
	"github.com/jaraba/pixelgw/proxy"
	"github.com/jaraba/pixelgw/proxy/tenant"
	"github.com/jaraba/pixelgw/store/storepg"
)

// component is anything with a start/stop lifecycle.
type component struct {
	name  string
	start func(context.Context) error
	stop  func(context.Context) error
}

func cmdServe(ctx context.Context, args, env []string, stderr io.Writer) error {
	fs, cfgPath := newFlags("serve", stderr)
	cfg, err := loadFlags(fs, cfgPath, args, env)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, log)
}

// serve runs until ctx is cancelled, then shuts down in reverse order:
// readiness turns 503 for shutdown.ready_delay, the listeners drain, the
// delivery engine drains, the queue and the store close.
func serve(ctx context.Context, cfg configs.Config, log *slog.Logger) error {
	kr, st, err := openKeyed(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	var partition func(ctx context.Context, from, to time.Time) error
	if pg, ok := st.(*storepg.Store); ok {
		partition = func(ctx context.Context, from, to time.Time) error {
			_, err := pg.EnsurePartitions(ctx, from, to)
			return err
		}
		now := time.Now().UTC()
		if err := partition(ctx, now.Add(-24*time.Hour), now.Add(7*24*time.Hour)); err != nil {
			return fmt.Errorf("cannot create audit partitions: %w", err)
		}
	}
	maint := newMaintainer(st, partition, log.With(slog.String("component", "maintenance")))

	registry := prometheus.NewRegistry()
	registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)

	// One set of event counters for the edge and the events API.
	events, err := eventmetrics.New(registry)
	if err != nil {
		return fmt.Errorf("cannot register event metrics: %w", err)
	}

	q, qcomps, qclose, err := openQueue(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer qclose()

	hub, hubComp, hubClose, err := openLive(cfg, registry, log)
	if err != nil {
		return err
	}
	defer hubClose()

	reg := &tenant.Registry{}
	reloader := tenant.NewReloader(st, kr, reg, log.With(slog.String("component", "tenants")), cfg.Edge.ReloadInterval)

	dests, dcomps, err := newDestinations(cfg, log)
	if err != nil {
		return err
	}
	api, err := admin.New(cfg.API, admin.Deps{
		Store: st, Keyring: kr, Logger: log.With(slog.String("component", "api")),
		Decisions: q, DeadLetters: q, Admitter: q, Verifier: verify.New(dests, nil), Live: hub,
		QueueEraser: q, Registerer: registry, Events: events,
	})
	if err != nil {
		return err
	}
	apiSrv := admin.NewServer(cfg.API, api, log.With(slog.String("component", "api")))
	edgeLog := log.With(slog.String("component", "edge"))
	handler, err := proxy.NewEdge(cfg.Edge, proxy.Deps{
		Registry: reg, Queue: q, Consents: st, Logger: edgeLog, Metrics: proxy.NewMetrics(registry, events),
	})
	if err != nil {
		return err
	}
	edge := proxy.New(cfg.Edge, edgeLog, handler, st.Ping, q.Ping)
	opsSrv := ops.New(ops.Options{
		Listen:   cfg.Ops.Listen,
		Registry: registry,
		Checks:   []ops.Check{{Name: "store", Func: st.Ping}, {Name: "queue", Func: q.Ping}},
		Logger:   log,
		Pprof:    cfg.Ops.Pprof,
	})

	if cfg.Platforms.Deliver {
		_, ecomps := newEngine(cfg, dests, q, st, kr, registry, log, hub)
		dcomps = append(dcomps, ecomps...)
	}

	// The live hub starts before the engine and the API, so it stops after
	// them (the API ends its streams itself when it shuts down).
	comps := append(append(qcomps, hubComp), dcomps...)
	comps = append(comps,
		component{"maintenance", maint.Start, maint.Stop},
		component{"tenants", reloader.Start, reloader.Stop},
		component{"ops", opsSrv.Start, opsSrv.Stop},
		component{"edge", edge.Start, edge.Stop},
		component{"api", apiSrv.Start, apiSrv.Stop},
	)
	started := 0
	var runErr error
	for _, c := range comps {
		if err := c.start(ctx); err != nil {
			runErr = fmt.Errorf("cannot start %s: %w", c.name, err)
			break
		}
		started++
	}
	if runErr == nil {
		log.Info("pixelgw started",
			slog.String("mode", string(cfg.Mode)),
			slog.String("edge", edge.Addr().String()),
			slog.String("api", apiSrv.Addr()),
			slog.String("ops", opsSrv.Addr()))
		<-ctx.Done()
		log.Info("shutting down", slog.Duration("ready_delay", cfg.Shutdown.ReadyDelay))
		opsSrv.SetDraining()
		edge.SetDraining()
		time.Sleep(cfg.Shutdown.ReadyDelay)
	}

	sctx, cancel := context.WithTimeout(context.Background(), cfg.Shutdown.Timeout)
	defer cancel()
	var errs []error
	for i := started - 1; i >= 0; i-- {
		if err := comps[i].stop(sctx); err != nil {
			errs = append(errs, fmt.Errorf("cannot stop %s: %w", comps[i].name, err))
		}
	}
	if runErr != nil {
		return errors.Join(append([]error{runErr}, errs...)...)
	}
	log.Info("pixelgw stopped")
	return errors.Join(errs...)
}
