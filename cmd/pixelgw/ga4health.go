package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/jaraba/pixelgw/internal/logging"
	"github.com/jaraba/pixelgw/internal/periodic"
	"github.com/jaraba/pixelgw/platforms/google"
)

// ga4SweepTimeout bounds one sweep (every GA4 pixel's validation).
const ga4SweepTimeout = 2 * time.Minute

// ga4Health runs the GA4 sampler's sweep every interval
// (platforms.google.health_interval) and reports each pixel's light to the
// pixel health writer when it differs from the light this process last
// reported for it (the first sweep reports every light it finds). A sweep
// that gets no answer for a pixel leaves its light alone.
type ga4Health struct {
	s        *google.Sampler
	interval time.Duration
	report   func(tenant, pixel, status string)
	log      *slog.Logger
	last     map[string]string // pixel UUID -> light last reported (run's goroutine only)

	loop periodic.Loop
}

func newGA4Health(s *google.Sampler, interval time.Duration, report func(tenant, pixel, status string), log *slog.Logger) *ga4Health {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ga4Health{s: s, interval: interval, report: report, log: log, last: map[string]string{}}
}

// Start starts the ticker (the first sweep after one interval).
// Idempotent; it does not start again after Stop.
func (g *ga4Health) Start(context.Context) error {
	g.loop.Start(g.interval, false, g.sweep)
	return nil
}

// Stop cancels a sweep in progress and waits for it, until ctx ends.
// Idempotent; safe without Start.
func (g *ga4Health) Stop(ctx context.Context) error { return g.loop.Stop(ctx, "GA4 health sampling") }

// sweep validates the samples once and reports the lights that changed.
func (g *ga4Health) sweep(ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, ga4SweepTimeout)
	defer cancel()
	for _, h := range g.s.Sweep(sctx) {
		if h.Err != nil {
			if ctx.Err() == nil {
				g.log.Warn("GA4 health samples not validated", slog.String("tenant", h.TenantID),
					slog.String("pixel", h.PixelUUID), slog.String("err", logging.SanitizeError(h.Err)))
			}
			continue
		}
		if h.Status != google.HealthGreen {
			g.log.Warn("GA4 refuses what the pixel sends", slog.String("tenant", h.TenantID),
				slog.String("pixel", h.PixelUUID), slog.String("status", h.Status), slog.Any("messages", h.Messages))
		}
		if g.last[h.PixelUUID] != h.Status {
			g.last[h.PixelUUID] = h.Status
			g.report(h.TenantID, h.PixelUUID, h.Status)
		}
	}
	for id := range g.last {
		if !g.s.Owns(id) {
			delete(g.last, id)
		}
	}
}
