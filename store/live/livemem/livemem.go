// Package livemem is the in-process live hub (embedded mode: one process,
// so what its delivery engine publishes is all there is). Publish hands the
// updates to the tenant's subscriptions in the caller's goroutine without
// blocking (live.Fanout).
package livemem

import (
	"context"

	"github.com/jaraba/pixelgw/store/live"
)

// Hub is the in-process hub.
type Hub struct {
	f *live.Fanout
}

// New returns a hub buffering at most maxBuffered updates per subscription
// (live.DefaultMaxBuffered when < 1).
func New(maxBuffered int) *Hub {
	return &Hub{f: live.NewFanout(maxBuffered, nil)}
}

// Listening reports whether the tenant has a subscription.
func (h *Hub) Listening(tenantID string) bool { return h.f.Has(tenantID) }

// Publish delivers ups to the tenant's subscriptions.
func (h *Hub) Publish(tenantID string, ups []live.Update) { h.f.Deliver(tenantID, ups) }

// Subscribe opens a subscription; live.ErrClosed after Stop.
func (h *Hub) Subscribe(_ context.Context, tenantID string) (*live.Subscription, error) {
	return h.f.Add(tenantID)
}

// Stats returns the hub's counters.
func (h *Hub) Stats() live.Stats { return h.f.Stats() }

// Start does nothing (the hub needs no goroutine); for the lifecycle.
func (h *Hub) Start(context.Context) error { return nil }

// Stop ends every subscription with live.ErrClosed. Idempotent.
func (h *Hub) Stop(context.Context) error {
	h.f.Close()
	return nil
}

// Interface guards
var _ live.Hub = (*Hub)(nil)
