// Package queue is the durable, atomic hand-off between the edge and the
// delivery engine. One call, Admit, takes a batch of accepted events and, per
// event and atomically, checks the visitor's revocation, marks the event in the
// dedup ledger and appends it to the durable queue — so a failed enqueue never
// leaves a dedup mark that would swallow the loader's retry.
//
// The package imports only the standard library. Implementations are sibling
// packages: queueredis (Redis Streams and one Lua script per batch, scaled mode)
// and queuesqlite (one SQLite transaction per batch, embedded mode). Both pass
// the conformance suite in queuetest.
package queue

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
)

// Errors callers match with errors.Is.
var (
	// ErrInvalidEntry: an Entry lacks a tenant, event id or name, or has a
	// non-positive Window. Nothing of the batch was admitted.
	ErrInvalidEntry = errors.New("invalid queue entry")
	// ErrClosed: the queue (or its batcher) is stopped or closed.
	ErrClosed = errors.New("queue is closed")
)

// DefaultMaxKeysPerTenant is the default cap on a tenant's live dedup keys.
const DefaultMaxKeysPerTenant = 1_000_000

// Kind says what a queued Message is.
type Kind uint8

// Kinds of queued messages. The zero value is not a valid kind.
const (
	// KindEvent is an event to deliver.
	KindEvent Kind = iota + 1
	// KindMerge is a repeat of a conversion (same tenant, name and event id
	// inside the dedup window) carrying its own identifiers, for the delivery
	// engine to fold into the pending copy. It is never delivered on its own.
	KindMerge
)

// String returns "event", "merge" or "kind(N)".
func (k Kind) String() string {
	switch k {
	case KindEvent:
		return "event"
	case KindMerge:
		return "merge"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Entry is one event offered to Admit.
type Entry struct {
	TenantID  string
	EventID   string        // UUID string
	EventName string        // canonical internal name
	Window    time.Duration // dedup window for this event's class (48h conversions, 10m high-volume)
	// Conversion: a duplicate conversion is queued as KindMerge; a duplicate
	// of anything else is only reported (Duplicate) for the caller to count.
	Conversion bool
	VisitorID  string // "" for events without a visitor (server-side without id)
	// DecidedAt is the time of the consent decision the event relies on (from
	// the signed cookie); zero means "do not check revocation". Compared at
	// millisecond precision with the times given to SetDecision: give both
	// the same precision (a cookie carrying seconds must be compared with a
	// decision time truncated to seconds).
	DecidedAt time.Time
	Payload   []byte // opaque serialized event; the queue never parses it
}

// Validate reports ErrInvalidEntry when a required field is missing.
func (e *Entry) Validate() error {
	switch {
	case e.TenantID == "":
		return fmt.Errorf("%w: empty tenant id", ErrInvalidEntry)
	case e.EventID == "":
		return fmt.Errorf("%w: empty event id", ErrInvalidEntry)
	case e.EventName == "":
		return fmt.Errorf("%w: empty event name", ErrInvalidEntry)
	case e.Window < time.Millisecond:
		return fmt.Errorf("%w: window %s is under 1ms", ErrInvalidEntry, e.Window)
	}
	return nil
}

// DedupKey returns the compact dedup key of e: the first 16 bytes of
// SHA-256(tenant \x00 name \x00 event_id). Names and ids never contain NUL
// bytes once validated by the edge; the separators keep ("ab","c") and
// ("a","bc") apart regardless.
func (e *Entry) DedupKey() [16]byte {
	var buf [192]byte
	b := append(buf[:0], e.TenantID...)
	b = append(b, 0)
	b = append(b, e.EventName...)
	b = append(b, 0)
	b = append(b, e.EventID...)
	sum := sha256.Sum256(b)
	var k [16]byte
	copy(k[:], sum[:16])
	return k
}

// Result is the outcome of Admit for one entry.
type Result uint8

// Results of Admit. The zero value is not a valid result.
const (
	// Queued: the event was marked and enqueued as KindEvent.
	Queued Result = iota + 1
	// Duplicate: the key was already live. For a conversion a KindMerge
	// entry was queued; otherwise nothing was.
	Duplicate
	// Revoked: the visitor's last server-side decision is newer than the
	// entry's DecidedAt. Nothing was queued or marked.
	Revoked
	// OverCap: the tenant's live-key cap is reached. Nothing was queued or
	// marked; other tenants are unaffected.
	OverCap
)

// String returns the result's lowercase name.
func (r Result) String() string {
	switch r {
	case Queued:
		return "queued"
	case Duplicate:
		return "duplicate"
	case Revoked:
		return "revoked"
	case OverCap:
		return "over_cap"
	}
	return fmt.Sprintf("result(%d)", uint8(r))
}

// Message is one queued entry as a consumer reads it.
type Message struct {
	ID        string // opaque, increasing within one queue; pass it to Ack
	Kind      Kind
	TenantID  string
	EventID   string
	EventName string
	Payload   []byte
}

// Queue is the hand-off seam. Implementations are safe for concurrent use.
type Queue interface {
	// Admit handles a batch: per entry, atomically, the revocation check,
	// the dedup mark (key = hash of tenant+name+event_id, TTL = Window) and
	// the enqueue. It returns one Result per entry, in order. A non-nil
	// error means NOTHING of the batch was admitted and no dedup mark was
	// left (the caller answers 503 and the loader retries). The one
	// exception is an ambiguous failure (the connection broke after the
	// store applied the batch): the retry is then reported as Duplicate,
	// and the first copy is in the queue, so nothing is lost.
	Admit(ctx context.Context, entries []Entry) ([]Result, error)
	// SetDecision records a server-side consent decision or revocation for
	// a visitor (the revocation set); it expires after ttl (the cookie
	// lifetime). An older decision never replaces a newer one.
	SetDecision(ctx context.Context, tenantID, visitorID string, at time.Time, ttl time.Duration) error
	// Read claims up to n new entries for consumer group `group` (created on
	// first use, starting at the oldest retained entry) as consumer
	// `consumer`, blocking up to block when none is available (0: do not
	// block). It returns an empty slice, not an error, when the wait ends
	// without entries. A new group sees the entries still retained: what
	// every existing group had acknowledged may already be trimmed, so
	// create every group before relying on it (the delivery engine creates
	// its groups at start).
	Read(ctx context.Context, group, consumer string, n int, block time.Duration) ([]Message, error)
	// Ack acknowledges messages of group. Unknown ids are ignored.
	Ack(ctx context.Context, group string, ids ...string) error
	// Lag is the number of entries not yet acknowledged by the slowest
	// group (undelivered plus pending); 0 with no groups.
	Lag(ctx context.Context) (int64, error)
	// Ping checks the backing store answers.
	Ping(ctx context.Context) error
}

// Options are the settings every implementation shares.
type Options struct {
	// MaxKeysPerTenant caps a tenant's live dedup keys; admitting a new key
	// over the cap answers OverCap for that tenant only (never evicts other
	// keys). Zero means DefaultMaxKeysPerTenant.
	MaxKeysPerTenant int64
}

// WithDefaults fills zero fields with defaults.
func (o Options) WithDefaults() Options {
	if o.MaxKeysPerTenant <= 0 {
		o.MaxKeysPerTenant = DefaultMaxKeysPerTenant
	}
	return o
}

// ValidateBatch validates every entry; it is what implementations call first.
func ValidateBatch(entries []Entry) error {
	for i := range entries {
		if err := entries[i].Validate(); err != nil {
			return fmt.Errorf("cannot admit entry %d: %w", i, err)
		}
	}
	return nil
}
