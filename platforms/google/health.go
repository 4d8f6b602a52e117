package google

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/internal/adapt"
)

// Health lights (store.Pixel.Status) that health sampling reports.
const (
	HealthGreen = "green"
	HealthAmber = "amber"
	HealthRed   = "red"
)

// forgetAfter is how long a pixel that delivers nothing stays known to the
// sampler (Owns) after its last delivery.
const forgetAfter = 24 * time.Hour

// HealthOf turns validation messages into a light: red when a message is
// about the stream's identity or credentials (measurement_id, api_secret,
// firebase_app_id: nothing the pixel sends is kept), amber for any other
// message (GA4 drops or alters part of what is sent), green when there is
// none. GA4's validation server does not check api_secret, so a wrong
// secret stays invisible here (platforms.md §2.1).
func HealthOf(msgs []Message) string {
	status := HealthGreen
	for _, m := range msgs {
		switch m.FieldPath {
		case "measurement_id", "api_secret", "firebase_app_id":
			return HealthRed
		}
		status = HealthAmber
	}
	return status
}

// Health is one pixel's light after a sweep.
type Health struct {
	TenantID, PixelUUID string
	// Status is HealthGreen, HealthAmber or HealthRed; "" when Err is set.
	Status string
	// Messages are GA4's validation messages ("CODE fieldPath:
	// description"; no secrets).
	Messages []string
	// Err is why the samples could not be validated (no answer, 5xx): the
	// pixel's light is left as it is.
	Err error
}

// Sampler is the GA4 adapter with health sampling. GA4 answers 204 to
// anything, so a delivery says nothing about the pixel's health: Send
// keeps each pixel's last few delivered events (the events of a failed
// request, or refused inside a partial one, are not kept), and Sweep
// validates them on the debug endpoint (/debug/mp/collect, nothing is
// recorded) and reports each pixel's light (HealthOf). Scheduling belongs
// to the caller. Safe for concurrent use.
type Sampler struct {
	*Adapter
	n   int
	now func() time.Time

	mu     sync.Mutex
	pixels map[string]*sampled // pixel UUID
}

type sampled struct {
	pixel  *platforms.Pixel
	events []*platforms.Event // newest last, at most n
	seen   time.Time          // last delivery
}

// Interface guards
var _ platforms.Destination = (*Sampler)(nil)

// NewSampler wraps a; each sweep validates at most n (1..MaxBatch) of a
// pixel's most recently delivered events. now nil is time.Now.
func NewSampler(a *Adapter, n int, now func() time.Time) *Sampler {
	if now == nil {
		now = time.Now
	}
	return &Sampler{Adapter: a, n: min(max(n, 1), MaxBatch), now: now, pixels: map[string]*sampled{}}
}

// Send delivers like Adapter.Send and keeps the delivered events as
// samples. The events are kept by reference: the caller must not change
// them after Send.
func (s *Sampler) Send(ctx context.Context, p *platforms.Pixel, events []*platforms.Event) (platforms.Response, error) {
	resp, err := s.Adapter.Send(ctx, p, events)
	var be *platforms.BatchError
	switch {
	case err == nil:
		s.keep(p, events, nil)
	case errors.As(err, &be):
		s.keep(p, events, be.Errs)
	}
	return resp, err
}

// keep records events (those without an error in errs, by index) as p's
// samples.
func (s *Sampler) keep(p *platforms.Pixel, events []*platforms.Event, errs map[int]error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.pixels[p.UUID]
	if e == nil {
		e = &sampled{}
		s.pixels[p.UUID] = e
	}
	e.pixel, e.seen = p, s.now()
	for i, ev := range events {
		if errs[i] == nil {
			e.events = append(e.events, ev)
		}
	}
	if len(e.events) > s.n {
		e.events = append([]*platforms.Event(nil), e.events[len(e.events)-s.n:]...)
	}
}

// Owns reports whether the pixel delivered through this sampler within the
// last day, that is whether its light comes from sampling (a delivery of a
// GA4 pixel must not turn it green).
func (s *Sampler) Owns(pixelUUID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.pixels[pixelUUID]
	return ok
}

// Sweep validates each pixel's samples kept since the previous sweep, one
// pixel after another, forgets them, and returns one Health per pixel that
// had samples. Samples about to leave GA4's time window are dropped
// unvalidated. ctx bounds the whole sweep.
func (s *Sampler) Sweep(ctx context.Context) []Health {
	now := s.now()
	type job struct {
		pixel  *platforms.Pixel
		events []*platforms.Event
	}
	var jobs []job
	s.mu.Lock()
	for id, e := range s.pixels {
		var evs []*platforms.Event
		for _, ev := range e.events {
			if now.Sub(adapt.EventTime(ev)) < MaxAge-AgeMargin {
				evs = append(evs, ev)
			}
		}
		e.events = nil
		if len(evs) > 0 {
			jobs = append(jobs, job{e.pixel, evs})
		} else if now.Sub(e.seen) > forgetAfter {
			delete(s.pixels, id)
		}
	}
	s.mu.Unlock()

	out := make([]Health, 0, len(jobs))
	for _, j := range jobs {
		h := Health{TenantID: j.pixel.TenantID, PixelUUID: j.pixel.UUID}
		if err := ctx.Err(); err != nil {
			h.Err = err
		} else if msgs, err := s.validate(ctx, j.pixel, j.events); err != nil {
			h.Err = err
		} else {
			h.Status = HealthOf(msgs)
			for _, m := range msgs {
				h.Messages = append(h.Messages, m.String())
			}
		}
		out = append(out, h)
	}
	return out
}
