// Package dispatch is the delivery engine: the only place with batching,
// retries, backoff, bounded concurrency and drain (style rule 6). It
// consumes the durable queue the edge writes (store/queue) and hands events
// to the platform adapters (platforms.Destination).
//
// Consumer groups: one per platform ("deliver-" + platform, so a retry for
// one platform never re-sends to another: GA4 does not deduplicate) and one,
// "audit", that writes the accepted-event rows (store.Audit.AppendEvents,
// once per event, user data hashed and sealed). Every group is created by a
// first read in Start, before any message is acknowledged, so none misses
// entries another group already acknowledged.
//
// Per platform, one loop reads messages, decodes them, finds the tenant's
// active pixels of that platform with server-side delivery enabled (a
// snapshot rebuilt every Config.PixelsRefresh, credentials opened with the
// keyring), runs the adapter's Check per (event, pixel) (ErrSkip: outcome
// "skipped"; another error: "failed"), and adds the event to that pixel's
// batch. A batch is sent when it reaches the adapter's MaxBatch or has
// waited Config.MaxWait, with at most Config.MaxInFlight requests in flight
// per platform (the loop stops reading while they are all busy). The answer
// is classified (after the erasure check below, which may record
// "erased"): nil → "delivered"; *platforms.RetryableError → "retrying",
// the batch is sent again after an exponential backoff with jitter that
// honours Retry-After (capped at Config.BackoffMax), up to
// Config.AttemptsFor(platform) requests (Config.Attempts unless the
// platform overrides it: platforms.<name>.attempts), then "dead"; an error of no known class is retried the same way;
// *platforms.PermanentError → "failed" (an auth failure of a pixel whose
// stored status is not red calls Deps.OnAuthFailure with its tenant and
// UUID; a delivery for a red pixel calls Deps.OnRecovered); *platforms.BatchError → per
// event, only the retryable ones sent again.
//
// Merge window (Config.MergeWindow, 0 = off): a conversion (ClassConversion)
// waits that long after it is read before its first send, unacknowledged
// (a crash meanwhile loses nothing: the entry stays pending). A "merge"
// entry — the edge's or the events API's repeat of the same (tenant, event
// id, name) — read while its conversion waits is folded into it (union of
// user data and click ids, the server copy's values winning on conflict;
// IP, user agent and page only fill gaps; the browser copy's consent;
// Source "both": see mergeInto), recorded "merged" for each pixel, and
// acknowledged with the conversion once its outcomes are written. A merge
// entry with no waiting conversion (already sent, or read by another
// consumer of the group) is only recorded "merged" and acknowledged. At
// most Config.MergeMaxWaiting conversions wait (all platforms together);
// beyond that they are sent at once and counted. Stop sends what waits.
//
// Targeting: an event of the server-side events API may name the platforms
// it is for (platforms.Event.Platforms; none = every platform). A platform's
// loop records "skipped" for each pixel of an event not for it. When copies
// merge, a copy's data reaches only the platforms it targets: in each
// platform's loop a copy for that platform is folded into a waiting copy
// for it, a copy not for it is only recorded "merged", and a copy for it
// replaces a waiting copy that is not. So a platform receives the event when
// at least one copy targets it, with the union of the copies that do.
//
// Confirmation (store.Pixel.ConfirmBrowserConversions, off by default): a
// conversion that only the browser sent is recorded "unconfirmed" for such a
// pixel instead of being sent; it is sent when a server copy (whatever it
// targets) was read within the merge window. Without a window (MergeWindow
// 0, a reclaimed entry, a full window) nothing can confirm a browser
// conversion, so it stays unconfirmed for those pixels; a server copy read
// after the window does not release it (it is recorded "merged").
//
// Every outcome carries the source of the copy it is about (store
// DeliveryOutcome.Source: the sent event's, "both" once merged; a merge
// entry's own for "merged") — the audit row is written once, from the first
// copy, so the recent view derives event_source "both" from the outcomes —
// and Test when its pixel has a test_event_code (debug mode).
//
// Reclaim: every Config.ReclaimInterval (and at start) each group — the
// platforms' and the audit's — claims the entries any consumer has left
// pending for Config.ClaimMinIdle (a process that died) and handles them
// like new ones, without a merge window. ClaimMinIdle exceeds the longest
// time a live engine holds an entry (Validate checks the window, the batch
// wait and the backoffs; the adapters' timeouts need a margin on top); an
// entry reclaimed while this loop still holds it is skipped.
//
// Dead letters: when an event ends "dead" (attempts exhausted) or "failed"
// (permanent answer, refused by Check, undecodable) for a pixel, the entry
// is stored once per (message, platform group) with queue.DeadLetter and a
// short reason without secrets, before it is acknowledged; the admin API
// lists and replays them, a replay reaching only that platform's group. A
// dead letter carries the queued payload, or, when merge entries were
// folded into the event, the merged event (platforms.EncodeRecord), so a
// replay sends the identifiers the first attempts sent.
//
// Erasure (erased.go): the admin API's DELETE of a visitor's consent
// removes their entries from the queue, but not what this engine already
// read (waiting in the merge window, batched, between retries). So right
// before each request (the first and every retry) the engine asks the
// queue, once per batch (queue.Queue.ErasedAt, one round trip), whether
// the batch's visitors were erased — the event's visitor, its queue
// entry's and those of merge entries folded into it — and drops each event
// received at or before its visitor's erasure (compared in milliseconds):
// outcome "erased" for that pixel, no request, no dead letter, acknowledged
// like a final outcome. An event received after the erasure is sent: the
// visitor consented again (the edge and the events API admit a revoked
// visitor's events only with a newer decision). The audit group makes the
// same check (one lookup per tenant of a read) before it writes rows, and
// writes none for such events; the recorder makes it before it stores dead
// letters. A failed check sends and writes nothing: for a batch it counts
// as a retryable failure (an attempt without a request, "retrying"), for
// the audit and the dead letters it is retried with backoff. The check
// reads the payload's visitor too, so entries queued without a visitor
// field (older versions), which the queue's erasure scan cannot find, are
// dropped as well. Not recalled: a request already on the wire when the
// erasure lands, and an audit row or dead letter whose check passed just
// before the erasure and whose write commits just after it (the store's
// erasure may then have run before the write: a window of one write).
//
// Every request's answer is appended once (store.PlatformResponse) and the
// outcomes reference it. Outcomes and answers are appended in batches by
// one recorder per platform, then dead letters are stored, and a message
// is acknowledged only after the outcome of each of its pixels is written.
// Stop stops reading, sends what waits or is batched, and waits for every
// request, retry and write against its context's deadline; what did not
// finish by then is never acknowledged, so it stays pending in the queue
// until a reclaim. A queue entry that does not decode (or whose payload
// names another tenant or event id than the entry) is recorded "failed"
// with no pixel, once per platform group, dead-lettered and acknowledged.
//
// Live stream (Deps.Live, optional): after the audit group writes a batch's
// rows, and after a recorder writes outcomes, the engine publishes them per
// tenant (store/live), only for tenants with a stream open; Publish never
// blocks. Outcomes carry the HTTP status of the request that carried them.
//
// Metrics (Deps.Registerer; no tenant label): pixelgw_deliveries_total
// {platform, outcome}, pixelgw_delivery_retries_total{platform},
// pixelgw_platform_request_duration_seconds{platform, result},
// pixelgw_merge_window_waiting, pixelgw_merge_window_overflow_total
// {platform}, pixelgw_dead_letters_total{platform},
// pixelgw_queue_reclaimed_total{group}.
//
// Durability, proven end to end on the real binary in scaled mode
// (test/durable_test.go, test/crash_test.go): with 10% of the platforms'
// answers a 500, every (event, pixel) is in exactly one request the
// simulator answered 2xx; after a kill -9 of one of two engine processes
// mid-batch, every accepted event still reaches each of its pixels, and an
// (event, pixel) delivered twice was first delivered by the killed process
// (answered, not yet acknowledged) and carries the same event id.
//
// Not done: merging across consumers (a merge entry read by another process
// than its conversion is only recorded); the audit row of a reclaimed
// entry is written again if its consumer died between the write and the
// ack; a request in flight at a crash is sent again (at-least-once: the
// platforms that deduplicate on the event id absorb it, GA4 does not).
package dispatch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	randv2 "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/live"
	"github.com/jaraba/pixelgw/store/queue"
	"github.com/jaraba/pixelgw/store/secret"
)

// Outcome statuses (store.DeliveryOutcome.Status).
const (
	StatusDelivered = "delivered"
	StatusRetrying  = "retrying"
	StatusFailed    = "failed"
	StatusDead      = "dead"
	StatusSkipped   = "skipped"
	StatusMerged    = "merged"
	// StatusUnconfirmed: a browser conversion not sent to a pixel with
	// ConfirmBrowserConversions, for want of a server copy in the window.
	StatusUnconfirmed = "unconfirmed"
	// StatusErased: the event's visitor was erased (EraseVisitor) at or
	// after the event was received, while the engine held it; not sent.
	StatusErased = "erased"
)

// AuditGroup is the consumer group that writes the accepted-event rows.
const AuditGroup = "audit"

// Group is the consumer group delivering to platform.
func Group(platform string) string { return "deliver-" + platform }

// idleBlock is how long a read waits for new messages when nothing is
// batched (a stop interrupts it).
const idleBlock = time.Second

// PixelSource lists the active pixels of every tenant (store.Pixels).
type PixelSource interface {
	AllActivePixels(ctx context.Context) ([]store.Pixel, error)
}

// Deps are the engine's collaborators.
type Deps struct {
	Queue        queue.Queue
	Pixels       PixelSource
	Keyring      *secret.Keyring
	Audit        store.Audit
	Destinations []platforms.Destination
	// Logger nil discards.
	Logger *slog.Logger
	// Now is the clock given to Check and stamped on rows; nil is time.Now.
	Now func() time.Time
	// Consumer names this process in the consumer groups; unique per
	// process (e.g. hostname + pid).
	Consumer string
	// Registerer, when set, receives the engine's metrics (deliveries by
	// platform and outcome, retries, request latency; no tenant label).
	Registerer prometheus.Registerer
	// OnAuthFailure, when set, is called with a pixel's tenant and UUID
	// when its platform refuses its credentials and its stored status (as
	// of the last snapshot refresh) is not already red (the status turns
	// red). Until the snapshot sees the new status it is called for every
	// such request: the receiver deduplicates. It runs on the delivery
	// path: it must not block (hand the report to a buffered channel and
	// return).
	OnAuthFailure func(tenantID, pixelUUID string)
	// OnRecovered, when set, is called with a pixel's tenant and UUID when
	// a request delivers at least one event for a pixel whose stored status
	// (as of the last snapshot refresh) is red (the status turns green
	// again). Until the snapshot sees the new status it is called for every
	// such request: the receiver deduplicates. It must not block.
	OnRecovered func(tenantID, pixelUUID string)
	// Live, when set, receives each accepted event (after its audit row is
	// written) and each outcome (after it is written), for the live debug
	// stream; batched per tenant, only for tenants with a stream open.
	// Publish never blocks.
	Live live.Publisher
}

// Engine is the delivery engine.
type Engine struct {
	cfg Config
	d   Deps
	log *slog.Logger

	metrics *metrics
	pixels  atomic.Pointer[snapshot]
	waiting atomic.Int64           // conversions in the merge window, all loops
	cache   map[string]cachedPixel // owned by refresh (Start, then the refresher)

	mu         sync.Mutex
	started    bool
	stopped    bool
	readCancel context.CancelFunc
	workCancel context.CancelFunc
	done       chan struct{}
}

// New returns an engine; Start validates cfg and d.
func New(cfg Config, d Deps) *Engine {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	e := &Engine{cfg: cfg, d: d, log: log.With("component", "dispatch"), cache: map[string]cachedPixel{}}
	m, err := newMetrics(d.Registerer)
	if err != nil {
		e.log.Warn("dispatch metrics not registered", "err", err)
	}
	e.metrics = m
	return e
}

func (e *Engine) now() time.Time { return e.d.Now() }

func (e *Engine) validate() error {
	if err := e.cfg.Validate(); err != nil {
		return err
	}
	switch {
	case e.d.Queue == nil:
		return errors.New("dispatch: no queue")
	case e.d.Pixels == nil:
		return errors.New("dispatch: no pixel source")
	case e.d.Keyring == nil:
		return errors.New("dispatch: no keyring")
	case e.d.Audit == nil:
		return errors.New("dispatch: no audit store")
	case e.d.Consumer == "":
		return errors.New("dispatch: no consumer name")
	}
	seen := map[string]bool{}
	for _, dst := range e.d.Destinations {
		if dst == nil {
			return errors.New("dispatch: nil destination")
		}
		if seen[dst.Platform()] {
			return fmt.Errorf("dispatch: two destinations for platform %q", dst.Platform())
		}
		if dst.MaxBatch() < 1 {
			return fmt.Errorf("dispatch: platform %q: MaxBatch %d", dst.Platform(), dst.MaxBatch())
		}
		seen[dst.Platform()] = true
	}
	return nil
}

// Start loads the pixel snapshot, creates every consumer group (by a first
// read) and starts the loops. ctx bounds only the start; the engine runs
// until Stop. Idempotent; an engine cannot start again after Stop.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return errors.New("dispatch: engine stopped")
	}
	if e.started {
		return nil
	}
	if err := e.validate(); err != nil {
		return err
	}
	if err := e.refresh(ctx); err != nil {
		return err
	}
	firsts := make([][]queue.Message, len(e.d.Destinations))
	for i, dst := range e.d.Destinations {
		msgs, err := e.d.Queue.Read(ctx, Group(dst.Platform()), e.d.Consumer, e.cfg.ReadBatch, 0)
		if err != nil {
			return fmt.Errorf("dispatch: cannot create consumer group: %w", err)
		}
		firsts[i] = msgs
	}
	auditFirst, err := e.d.Queue.Read(ctx, AuditGroup, e.d.Consumer, e.cfg.ReadBatch, 0)
	if err != nil {
		return fmt.Errorf("dispatch: cannot create consumer group: %w", err)
	}

	workCtx, workCancel := context.WithCancel(context.WithoutCancel(ctx))
	readCtx, readCancel := context.WithCancel(workCtx)
	e.readCancel, e.workCancel = readCancel, workCancel
	e.done = make(chan struct{})
	e.started = true

	var wg sync.WaitGroup
	wg.Go(func() { e.refreshLoop(readCtx) })
	wg.Go(func() { e.auditLoop(readCtx, workCtx, auditFirst) })
	for i, dst := range e.d.Destinations {
		l := newLoop(e, dst)
		first := firsts[i]
		wg.Go(func() { l.run(readCtx, workCtx, first) })
	}
	go func() {
		wg.Wait()
		close(e.done)
	}()
	return nil
}

// Stop stops reading, sends what is batched and waits for in-flight
// requests, retries and audit writes until ctx ends; then it cancels what
// is left (never acknowledged: it stays pending in the queue) and returns
// ctx's error. Idempotent; safe without Start.
func (e *Engine) Stop(ctx context.Context) error {
	e.mu.Lock()
	if !e.started {
		e.stopped = true
		e.mu.Unlock()
		return nil
	}
	if !e.stopped {
		e.stopped = true
		e.readCancel()
	}
	done, workCancel := e.done, e.workCancel
	e.mu.Unlock()
	select {
	case <-done:
		workCancel()
		return nil
	case <-ctx.Done():
		workCancel()
		<-done
		return fmt.Errorf("dispatch: drain cut short, unfinished messages stay pending: %w", ctx.Err())
	}
}

// backoff is the delay before retry number attempt (1-based): BackoffBase
// doubled per attempt, capped at BackoffMax, with equal jitter (half fixed,
// half random), at least retryAfter, never above BackoffMax.
func (e *Engine) backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := e.cfg.BackoffMax
	if attempt <= 30 {
		if b := e.cfg.BackoffBase << (attempt - 1); b > 0 && b < d {
			d = b
		}
	}
	d = d/2 + randv2.N(d/2+1)
	if retryAfter > d {
		d = retryAfter
	}
	return min(d, e.cfg.BackoffMax)
}

// sleep waits d or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
