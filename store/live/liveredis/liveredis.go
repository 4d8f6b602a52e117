// Package liveredis is the scaled-mode live hub: Redis pub/sub, one channel
// per tenant (<prefix>:live:<tenant id>), so an update published by any
// instance reaches the streams opened on every instance.
//
// Subscribing: each process holds one pub/sub connection, shared by all its
// streams. The first local stream of a tenant SUBSCRIBEs the tenant's
// channel and waits for Redis to confirm it; the last one to leave
// UNSUBSCRIBEs. The receive loop hands each message to the local
// subscriptions (live.Fanout: never blocks, drops a subscriber that falls
// behind). When the connection breaks, go-redis reconnects and subscribes
// again; what was published meanwhile is lost, and every local subscription
// gets a live.KindGap update once the connection is back.
//
// Publishing: Publish checks whether the tenant may have a stream anywhere
// (below) and, if so, queues the updates for one publisher goroutine
// (bounded: when full they are dropped and counted), which PUBLISHes them
// as JSON arrays of at most maxChunk updates, pipelined. Nothing on the
// caller's path touches the network or waits for a lock held across it.
//
// Who listens: a process knows its own streams; it learns of the others'
// from the control channel (<prefix>:livectl), where a new stream announces
// its tenant once subscribed, and from PUBSUB CHANNELS <prefix>:live:*
// every refreshInterval. A tenant counts as listened to for remoteTTL after
// it was last seen, so a closed stream costs a few seconds of useless
// PUBLISHes at most. The announcement travels by pub/sub like the events, so
// it normally arrives long before the first event of the new stream is
// accepted; an event accepted elsewhere in the instant between a stream's
// subscription and the announcement's arrival may be missed.
package liveredis

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jaraba/pixelgw/store/live"
)

const (
	// refreshInterval is how often PUBSUB CHANNELS refreshes who listens.
	refreshInterval = 2 * time.Second
	// remoteTTL is how long a tenant seen listening elsewhere stays so.
	remoteTTL = 3 * refreshInterval
	// confirmTimeout bounds Subscribe's wait for Redis's confirmation.
	confirmTimeout = 5 * time.Second
	// receiveTimeout: a read that long without a message sends a PING, so
	// a dead connection is noticed.
	receiveTimeout = 5 * time.Second
	// pubBuffer is how many Publish calls may wait for the publisher
	// goroutine (a call is one delivery-engine batch of one tenant); beyond
	// that they are dropped and counted.
	pubBuffer = 1024
	// maxChunk bounds the updates of one PUBLISH.
	maxChunk = 256
	// publishTimeout bounds one pipelined PUBLISH round trip.
	publishTimeout = 2 * time.Second
	// logEvery throttles repeated error logs.
	logEvery = 10 * time.Second
)

// Config configures the hub.
type Config struct {
	// Prefix starts every channel name (the configured redis.prefix).
	Prefix string
	// MaxBuffered is how many updates one subscription may hold before it
	// is dropped; live.DefaultMaxBuffered when < 1.
	MaxBuffered int
}

type pubItem struct {
	tenant string
	ups    []live.Update
}

// chanState is one tenant channel this process subscribed.
type chanState struct {
	ready     chan struct{} // closed when Redis confirmed the subscription
	confirmed bool
}

// Hub is the Redis pub/sub hub. Start before use; Stop ends every
// subscription with live.ErrClosed.
type Hub struct {
	rdb    *redis.Client
	log    *slog.Logger
	prefix string // "<prefix>:live:"
	ctl    string
	f      *live.Fanout

	pubCh          chan pubItem
	publishDropped atomic.Uint64
	lastLog        atomic.Int64 // unix nanos of the last throttled log

	// rmu guards remote only, never held across network calls, so that
	// Listening (on the delivery engine's path) never waits for Redis.
	rmu    sync.Mutex
	remote map[string]time.Time // tenant -> listened to elsewhere until

	mu       sync.Mutex // guards the rest; held across SUBSCRIBE/UNSUBSCRIBE writes
	ps       *redis.PubSub
	chans    map[string]*chanState // tenant -> its channel's state
	started  bool
	stopped  bool
	stop     chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// New returns a hub on rdb; log nil discards.
func New(rdb *redis.Client, cfg Config, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "pgw"
	}
	h := &Hub{
		rdb: rdb, log: log.With("component", "live"),
		prefix: cfg.Prefix + ":live:", ctl: cfg.Prefix + ":livectl",
		pubCh: make(chan pubItem, pubBuffer),
		chans: map[string]*chanState{}, remote: map[string]time.Time{},
		stop: make(chan struct{}),
	}
	h.f = live.NewFanout(cfg.MaxBuffered, h.release)
	return h
}

// Start opens the shared pub/sub connection (subscribed to the control
// channel, confirmed) and starts the receive, publish and refresh loops.
// Idempotent; a stopped hub cannot start again.
func (h *Hub) Start(ctx context.Context) error {
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return errors.New("liveredis: stopped")
	}
	if h.started {
		h.mu.Unlock()
		return nil
	}
	ps := h.rdb.Subscribe(ctx, h.ctl)
	cctx, cancel := context.WithTimeout(ctx, confirmTimeout)
	defer cancel()
	if _, err := ps.ReceiveTimeout(cctx, confirmTimeout); err != nil {
		h.mu.Unlock()
		_ = ps.Close()
		return errors.New("liveredis: cannot subscribe the control channel: " + err.Error())
	}
	h.ps, h.started = ps, true
	h.wg.Add(3)
	h.mu.Unlock()
	h.refresh(ctx)
	go h.receiveLoop()
	go h.publishLoop()
	go h.refreshLoop()
	return nil
}

// Stop ends every subscription with live.ErrClosed, closes the pub/sub
// connection and waits for the loops (or ctx). Idempotent; safe without
// Start.
func (h *Hub) Stop(ctx context.Context) error {
	h.mu.Lock()
	h.stopped = true
	ps := h.ps
	h.mu.Unlock()
	h.stopOnce.Do(func() { close(h.stop) })
	h.f.Close()
	if ps != nil {
		_ = ps.Close()
	}
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hub) stopping() bool {
	select {
	case <-h.stop:
		return true
	default:
		return false
	}
}

// warn logs at most once per logEvery.
func (h *Hub) warn(msg string, err error) {
	now := time.Now().UnixNano()
	last := h.lastLog.Load()
	if now-last < int64(logEvery) || !h.lastLog.CompareAndSwap(last, now) {
		return
	}
	h.log.Warn(msg, "err", err)
}

// Listening reports whether the tenant has a stream here or was seen
// listening elsewhere within remoteTTL.
func (h *Hub) Listening(tenantID string) bool {
	if h.f.Has(tenantID) {
		return true
	}
	h.rmu.Lock()
	until, ok := h.remote[tenantID]
	h.rmu.Unlock()
	return ok && time.Now().Before(until)
}

// Publish queues ups for the publisher goroutine when the tenant may be
// listened to; never blocks.
func (h *Hub) Publish(tenantID string, ups []live.Update) {
	if len(ups) == 0 || !h.Listening(tenantID) {
		return
	}
	select {
	case h.pubCh <- pubItem{tenant: tenantID, ups: ups}:
	default:
		h.publishDropped.Add(uint64(len(ups)))
	}
}

// Subscribe opens a subscription once Redis confirmed the tenant's channel
// and the other instances were told.
func (h *Hub) Subscribe(ctx context.Context, tenantID string) (*live.Subscription, error) {
	h.mu.Lock()
	if !h.started || h.stopped {
		h.mu.Unlock()
		return nil, live.ErrClosed
	}
	sub, err := h.f.Add(tenantID)
	if err != nil {
		h.mu.Unlock()
		return nil, err
	}
	st := h.chans[tenantID]
	if st == nil {
		st = &chanState{ready: make(chan struct{})}
		h.chans[tenantID] = st
		if err := h.ps.Subscribe(ctx, h.prefix+tenantID); err != nil {
			h.mu.Unlock()
			sub.Close() // releases the channel
			return nil, errors.New("liveredis: cannot subscribe: " + err.Error())
		}
	}
	h.mu.Unlock()

	t := time.NewTimer(confirmTimeout)
	defer t.Stop()
	select {
	case <-st.ready:
	case <-ctx.Done():
		sub.Close()
		return nil, ctx.Err()
	case <-t.C:
		sub.Close()
		return nil, errors.New("liveredis: redis did not confirm the subscription")
	case <-h.stop:
		sub.Close()
		return nil, live.ErrClosed
	}
	actx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	if err := h.rdb.Publish(actx, h.ctl, tenantID).Err(); err != nil {
		sub.Close()
		return nil, errors.New("liveredis: cannot announce the subscription: " + err.Error())
	}
	return sub, nil
}

// release unsubscribes the tenant's channel when its last local
// subscription ended (live.Fanout's onEmpty; a new one may have come
// since).
func (h *Hub) release(tenantID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.chans[tenantID] == nil || h.f.Has(tenantID) {
		return
	}
	delete(h.chans, tenantID)
	if h.ps == nil || h.stopped {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	if err := h.ps.Unsubscribe(ctx, h.prefix+tenantID); err != nil {
		h.warn("cannot unsubscribe a live channel", err)
	}
}

// Stats returns the hub's counters.
func (h *Hub) Stats() live.Stats {
	s := h.f.Stats()
	s.PublishDropped = h.publishDropped.Load()
	return s
}

// receiveLoop reads the shared connection until Stop.
func (h *Hub) receiveLoop() {
	defer h.wg.Done()
	ctx := context.Background()
	for !h.stopping() {
		msg, err := h.ps.ReceiveTimeout(ctx, receiveTimeout)
		if err != nil {
			if h.stopping() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				pctx, cancel := context.WithTimeout(ctx, receiveTimeout)
				_ = h.ps.Ping(pctx) // a dead connection fails the next read
				cancel()
				continue
			}
			h.warn("live pub/sub connection lost, reconnecting", err)
			select {
			case <-h.stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			if m.Channel == h.ctl {
				// Start consumed the first confirmation: this one means
				// the connection was re-established and every channel
				// subscribed again.
				h.f.Broadcast([]live.Update{{Kind: live.KindGap, At: time.Now().UTC()}})
				h.refresh(ctx)
				continue
			}
			h.confirm(strings.TrimPrefix(m.Channel, h.prefix))
		case *redis.Message:
			if m.Channel == h.ctl {
				h.rmu.Lock()
				h.remote[m.Payload] = time.Now().Add(remoteTTL)
				h.rmu.Unlock()
				continue
			}
			tenant, ok := strings.CutPrefix(m.Channel, h.prefix)
			if !ok {
				continue
			}
			var ups []live.Update
			if err := json.Unmarshal([]byte(m.Payload), &ups); err != nil {
				h.warn("undecodable live message dropped", err)
				continue
			}
			h.f.Deliver(tenant, ups)
		}
	}
}

func (h *Hub) confirm(tenantID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if st := h.chans[tenantID]; st != nil && !st.confirmed {
		st.confirmed = true
		close(st.ready)
	}
}

// publishLoop PUBLISHes queued updates, pipelining what is waiting.
func (h *Hub) publishLoop() {
	defer h.wg.Done()
	for {
		var first pubItem
		select {
		case <-h.stop:
			return
		case first = <-h.pubCh:
		}
		items := []pubItem{first}
	more:
		for len(items) < 64 {
			select {
			case it := <-h.pubCh:
				items = append(items, it)
			default:
				break more
			}
		}
		h.publish(items)
	}
}

func (h *Hub) publish(items []pubItem) {
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	pipe := h.rdb.Pipeline()
	n := 0
	for _, it := range items {
		for ups := it.ups; len(ups) > 0; {
			c := ups[:min(len(ups), maxChunk)]
			ups = ups[len(c):]
			b, err := json.Marshal(c)
			if err != nil { // only our own types: cannot happen
				h.publishDropped.Add(uint64(len(c)))
				continue
			}
			pipe.Publish(ctx, h.prefix+it.tenant, b)
			n += len(c)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		h.publishDropped.Add(uint64(n))
		h.warn("cannot publish live updates", err)
	}
}

// refreshLoop learns every refreshInterval which tenants are listened to
// anywhere, and forgets the expired ones.
func (h *Hub) refreshLoop() {
	defer h.wg.Done()
	t := time.NewTicker(refreshInterval)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			h.refresh(context.Background())
		}
	}
}

func (h *Hub) refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	chans, err := h.rdb.PubSubChannels(ctx, h.prefix+"*").Result()
	if err != nil {
		h.warn("cannot list live channels", err)
		return
	}
	now := time.Now()
	until := now.Add(remoteTTL)
	h.rmu.Lock()
	defer h.rmu.Unlock()
	for t, u := range h.remote {
		if !now.Before(u) {
			delete(h.remote, t)
		}
	}
	for _, c := range chans {
		if t, ok := strings.CutPrefix(c, h.prefix); ok {
			h.remote[t] = until
		}
	}
}

// Interface guards
var _ live.Hub = (*Hub)(nil)
