// Package live is the seam of the live debug stream
// (GET /api/v1/tracking/events/stream): the delivery engine publishes what
// happens to each tenant's events — accepted, then each platform's answer —
// and the admin API's stream handlers subscribe per tenant.
//
// Two implementations: store/live/livemem (one process, embedded mode) and
// store/live/liveredis (Redis pub/sub, scaled mode: an event accepted or
// delivered by one instance reaches streams opened on any instance). Both
// fan out locally through Fanout and run the store/live/livetest suite.
//
// Delivery is at most once and best effort: the stream is a debug view, the
// audit (GET /api/v1/tracking/events/recent) is the record. Publish never
// blocks its caller; with no stream open for a tenant anywhere it costs a
// map lookup (Listening). Each subscription buffers at most a fixed number
// of updates: a subscriber that falls further behind is dropped (ErrTooSlow)
// and counted, so a slow client never slows the pipeline.
//
// Updates carry the audit row's fields unmasked (never user data, only
// whether there is some); the admin API masks them exactly like the recent
// view before they leave the process.
package live

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Update kinds.
const (
	// KindAccepted: the event was accepted (its audit row is written).
	KindAccepted = "accepted"
	// KindDelivery: one pixel's outcome (delivered, retrying, failed, dead,
	// skipped, merged, unconfirmed), with the event's name, the source of
	// the copy the outcome is about, the test flag, and the platform's HTTP
	// status when a request was made.
	KindDelivery = "delivery"
	// KindGap: updates may have been lost (the connection to Redis was
	// interrupted). Carries nothing else.
	KindGap = "gap"
)

// Update is one thing that happened to one event of a tenant. The tenant
// is the channel's, never a field.
type Update struct {
	Kind    string    `json:"kind"`
	EventID string    `json:"event_id,omitempty"`
	At      time.Time `json:"at"`

	// KindAccepted and KindDelivery: the event's canonical name, and the
	// source (client, server, both) of the event (accepted) or of the copy
	// the outcome is about (delivery: store.DeliveryOutcome.Source).
	EventName string `json:"event_name,omitempty"`
	Source    string `json:"source,omitempty"`

	// KindAccepted: the audit row's fields (personal data unmasked: mask
	// before showing).
	URL         string `json:"url,omitempty"`
	ClientIP    string `json:"client_ip,omitempty"`
	UserAgent   string `json:"user_agent,omitempty"`
	FBP         string `json:"fbp,omitempty"`
	FBC         string `json:"fbc,omitempty"`
	GCLID       string `json:"gclid,omitempty"`
	HasUserData bool   `json:"has_user_data,omitempty"`

	// KindDelivery.
	Pixel      string `json:"pixel,omitempty"`
	Platform   string `json:"platform,omitempty"`
	Status     string `json:"status,omitempty"`
	Attempts   int    `json:"attempts,omitempty"`
	HTTPStatus int    `json:"http_status,omitempty"`
	// Test: debug mode, the pixel had a test_event_code
	// (store.DeliveryOutcome.Test).
	Test bool `json:"test,omitempty"`
}

// Publisher is the delivery engine's side.
type Publisher interface {
	// Listening reports whether a stream of the tenant may be open
	// somewhere (false: Publish would be a no-op, skip building updates).
	Listening(tenantID string) bool
	// Publish hands the tenant's updates to its streams. It never blocks:
	// what cannot be sent at once is dropped and counted. It takes
	// ownership of ups.
	Publish(tenantID string, ups []Update)
}

// Subscriber is the stream handler's side.
type Subscriber interface {
	// Subscribe opens a subscription to the tenant's updates; once it
	// returns, updates published anywhere reach it. The caller must Close
	// it.
	Subscribe(ctx context.Context, tenantID string) (*Subscription, error)
}

// Hub is both sides, with counters for metrics (no tenant label).
type Hub interface {
	Publisher
	Subscriber
	Stats() Stats
}

// Stats are a hub's counters since it started.
type Stats struct {
	// Subscriptions open now.
	Subscriptions int
	// Dropped counts subscriptions ended because they fell behind.
	Dropped uint64
	// PublishDropped counts updates dropped on the publishing side
	// (publisher buffer full or the broker unreachable).
	PublishDropped uint64
}

// Errors a subscription ends with.
var (
	// ErrTooSlow: the subscriber fell more than the buffer behind.
	ErrTooSlow = errors.New("live: subscriber too slow, dropped")
	// ErrClosed: the hub stopped (server shutdown).
	ErrClosed = errors.New("live: hub closed")
	// ErrUnsubscribed: the subscriber closed it.
	ErrUnsubscribed = errors.New("live: subscription closed")
)

// DefaultMaxBuffered is how many updates one subscription may hold before it
// is dropped: a burst the size of a full delivery-engine batch (a few
// thousand outcomes) fits, a client that stops reading does not.
const DefaultMaxBuffered = 8192

// Subscription receives one tenant's updates. Wait on Ready, then Take.
type Subscription struct {
	f      *Fanout
	tenant string
	ready  chan struct{} // capacity 1: "something to take", coalesced

	mu      sync.Mutex
	pending []Update
	err     error // set once when the subscription ends
}

// Ready is signalled when updates wait or the subscription ended.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Take returns the updates waiting, oldest first, and the error the
// subscription ended with (nil while it is open). Once it ended, Take
// returns no updates.
func (s *Subscription) Take() ([]Update, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	ups := s.pending
	s.pending = nil
	return ups, nil
}

// Close ends the subscription. Idempotent.
func (s *Subscription) Close() { s.f.remove(s, ErrUnsubscribed) }

func (s *Subscription) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// end records err once; false if it had already ended. s.f.mu held.
func (s *Subscription) end(err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return false
	}
	s.err, s.pending = err, nil
	s.signal()
	return true
}

// offer buffers ups; false when that would exceed max (the caller drops
// the subscription). s.f.mu held.
func (s *Subscription) offer(ups []Update, max int) bool {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return true
	}
	if len(s.pending)+len(ups) > max {
		s.mu.Unlock()
		return false
	}
	s.pending = append(s.pending, ups...)
	s.mu.Unlock()
	s.signal()
	return true
}

// Fanout delivers updates to the subscriptions of this process, by tenant,
// without ever blocking. Both implementations build on it.
type Fanout struct {
	max     int
	onEmpty func(tenantID string)

	mu     sync.Mutex
	subs   map[string]map[*Subscription]struct{}
	n      int
	closed bool

	dropped atomic.Uint64
}

// NewFanout returns a fan-out buffering at most maxBuffered updates per
// subscription (DefaultMaxBuffered when < 1). onEmpty, if set, is called
// (without locks held) when a tenant's last subscription ends.
func NewFanout(maxBuffered int, onEmpty func(tenantID string)) *Fanout {
	if maxBuffered < 1 {
		maxBuffered = DefaultMaxBuffered
	}
	return &Fanout{max: maxBuffered, onEmpty: onEmpty, subs: map[string]map[*Subscription]struct{}{}}
}

// Add opens a subscription to the tenant; ErrClosed after Close.
func (f *Fanout) Add(tenantID string) (*Subscription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, ErrClosed
	}
	s := &Subscription{f: f, tenant: tenantID, ready: make(chan struct{}, 1)}
	m := f.subs[tenantID]
	if m == nil {
		m = map[*Subscription]struct{}{}
		f.subs[tenantID] = m
	}
	m[s] = struct{}{}
	f.n++
	return s, nil
}

// Has reports whether the tenant has a subscription here.
func (f *Fanout) Has(tenantID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs[tenantID]) > 0
}

// Deliver offers ups to each of the tenant's subscriptions; one that would
// exceed its buffer ends with ErrTooSlow. ups is only read.
func (f *Fanout) Deliver(tenantID string, ups []Update) {
	if len(ups) == 0 {
		return
	}
	f.mu.Lock()
	m := f.subs[tenantID]
	empty := false
	for s := range m {
		if !s.offer(ups, f.max) && s.end(ErrTooSlow) {
			delete(m, s)
			f.n--
			f.dropped.Add(1)
		}
	}
	if m != nil && len(m) == 0 {
		delete(f.subs, tenantID)
		empty = true
	}
	f.mu.Unlock()
	if empty && f.onEmpty != nil {
		f.onEmpty(tenantID)
	}
}

// Broadcast offers ups to every subscription of every tenant (KindGap).
func (f *Fanout) Broadcast(ups []Update) {
	f.mu.Lock()
	tenants := make([]string, 0, len(f.subs))
	for t := range f.subs {
		tenants = append(tenants, t)
	}
	f.mu.Unlock()
	for _, t := range tenants {
		f.Deliver(t, ups)
	}
}

func (f *Fanout) remove(s *Subscription, err error) {
	f.mu.Lock()
	m := f.subs[s.tenant]
	_, ok := m[s]
	empty := false
	if ok {
		delete(m, s)
		f.n--
		if len(m) == 0 {
			delete(f.subs, s.tenant)
			empty = true
		}
	}
	s.end(err)
	f.mu.Unlock()
	if empty && f.onEmpty != nil {
		f.onEmpty(s.tenant)
	}
}

// Close ends every subscription with ErrClosed; Add fails afterwards.
// Idempotent.
func (f *Fanout) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for t, m := range f.subs {
		for s := range m {
			s.end(ErrClosed)
		}
		delete(f.subs, t)
	}
	f.n = 0
}

// Stats returns the open subscriptions and the dropped count
// (PublishDropped is the implementation's).
func (f *Fanout) Stats() Stats {
	f.mu.Lock()
	n := f.n
	f.mu.Unlock()
	return Stats{Subscriptions: n, Dropped: f.dropped.Load()}
}
