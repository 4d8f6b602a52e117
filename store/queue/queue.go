// Package queue is the durable, atomic hand-off between the edge and the
// delivery engine. One call, Admit, takes a batch of accepted events and, per
// event and atomically, checks the visitor's revocation, marks the event in the
// dedup ledger and appends it to the durable queue — so a failed enqueue never
// leaves a dedup mark that would swallow the loader's retry.
//
// The consumer side: one consumer group per platform reads the stream (Read)
// and acknowledges (Ack); Reclaim takes over the entries of a consumer that
// died (pending longer than a minimum idle time). What a group gives up on
// goes to the tenant's bounded dead-letter set (DeadLetter), which the admin
// API lists (DeadLetters) and replays (Replay): a replayed entry is queued
// again for that group only (Message.Group), so no other platform receives
// it twice.
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
	"unicode/utf8"
)

// Errors callers match with errors.Is.
var (
	// ErrInvalidEntry: an Entry lacks a tenant, event id or name, or has a
	// non-positive Window. Nothing of the batch was admitted.
	ErrInvalidEntry = errors.New("invalid queue entry")
	// ErrClosed: the queue (or its batcher) is stopped or closed.
	ErrClosed = errors.New("queue is closed")
	// ErrInvalidDeadLetter: DeadLetter got a message without a tenant,
	// event id, name or valid kind, or an empty group. Nothing was stored.
	ErrInvalidDeadLetter = errors.New("invalid dead letter")
)

// DefaultMaxKeysPerTenant is the default cap on a tenant's live dedup keys.
const DefaultMaxKeysPerTenant = 1_000_000

// DefaultDeadLetterCap is the default number of dead letters kept per
// tenant; beyond it the oldest are dropped (and counted).
const DefaultDeadLetterCap = 10_000

// MaxReasonLen bounds a dead letter's reason, in bytes; longer reasons are
// cut (at a UTF-8 boundary).
const MaxReasonLen = 256

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

// ParseKind is the inverse of Kind.String for the valid kinds.
func ParseKind(s string) (Kind, bool) {
	switch s {
	case "event":
		return KindEvent, true
	case "merge":
		return KindMerge, true
	}
	return 0, false
}

// Valid reports whether k is KindEvent or KindMerge.
func (k Kind) Valid() bool { return k == KindEvent || k == KindMerge }

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
	// Group, when set, is the only consumer group the entry is for (a
	// replayed dead letter); Read and Reclaim of every other group
	// acknowledge it without returning it. Empty: every group.
	Group string
	// VisitorID is the entry's Entry.VisitorID, kept with the entry (and
	// with its dead letter) so that EraseVisitor can find it.
	VisitorID string
}

// DeadLetter is a message that one consumer group gave up on (retries
// exhausted or a permanent failure), kept for an operator to list and
// replay.
type DeadLetter struct {
	ID        string // opaque, unique within one queue; pass it to Replay
	Group     string // the consumer group (platform) that gave up
	Kind      string // "event" or "merge"
	TenantID  string
	EventID   string
	EventName string
	Reason    string // short, no secrets; at most MaxReasonLen bytes
	At        time.Time
	Payload   []byte
	VisitorID string // the message's VisitorID
}

// Erasure counts what EraseVisitor removed.
type Erasure struct {
	// Entries are queued entries not yet acknowledged by every consumer
	// group (undelivered or pending), removed from the queue.
	Entries int64
	// DeadLetters are the tenant's dead letters of the visitor, removed.
	DeadLetters int64
}

// ValidateDeadLetter checks DeadLetter's arguments: a group and a message
// with a tenant, event id, name and valid kind.
func ValidateDeadLetter(group string, m *Message) error {
	switch {
	case group == "":
		return fmt.Errorf("%w: empty group", ErrInvalidDeadLetter)
	case m.TenantID == "":
		return fmt.Errorf("%w: empty tenant id", ErrInvalidDeadLetter)
	case m.EventID == "":
		return fmt.Errorf("%w: empty event id", ErrInvalidDeadLetter)
	case m.EventName == "":
		return fmt.Errorf("%w: empty event name", ErrInvalidDeadLetter)
	case !m.Kind.Valid():
		return fmt.Errorf("%w: %s", ErrInvalidDeadLetter, m.Kind)
	}
	return nil
}

// TruncateReason cuts reason to at most MaxReasonLen bytes without
// splitting a UTF-8 sequence.
func TruncateReason(reason string) string {
	if len(reason) <= MaxReasonLen {
		return reason
	}
	cut := MaxReasonLen
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut]
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
	// Read and Reclaim never return an entry targeted at another group
	// (Message.Group): they acknowledge it for this group and go on.
	//
	// Reclaim claims for `consumer` up to n entries of `group` that have
	// been pending (read, not acknowledged) under any consumer for at least
	// minIdle — the entries of a consumer that died — and returns them,
	// oldest first. A reclaimed entry is pending again under `consumer`,
	// idle from now. Entries deleted meanwhile are dropped from the pending
	// list and skipped. An unknown group has nothing pending.
	Reclaim(ctx context.Context, group, consumer string, minIdle time.Duration, n int) ([]Message, error)
	// Ack acknowledges messages of group. Unknown ids are ignored.
	Ack(ctx context.Context, group string, ids ...string) error
	// DeadLetter stores a copy of m (tenant, event id, name, kind, payload)
	// with the group that gave up on it and a short reason (cut to
	// MaxReasonLen) in m's tenant's dead-letter set. The set is bounded
	// (Options.DeadLetterCap): the oldest letters are dropped and counted
	// (DeadLettersDropped). It does not acknowledge m.
	DeadLetter(ctx context.Context, group string, m Message, reason string) error
	// DeadLetters lists up to limit of the tenant's dead letters, newest
	// first (limit <= 0: none).
	DeadLetters(ctx context.Context, tenantID string, limit int) ([]DeadLetter, error)
	// DeadLettersDropped is how many of the tenant's dead letters the cap
	// has dropped, ever.
	DeadLettersDropped(ctx context.Context, tenantID string) (int64, error)
	// Replay re-enqueues the tenant's dead letters with these ids, each
	// for its own group only (Message.Group), removes them from the set
	// and returns how many it replayed. Unknown ids, ids of another
	// tenant's letters and repeated ids are ignored.
	Replay(ctx context.Context, tenantID string, ids []string) (int, error)
	// EraseVisitor first records the erasure (the visitor's "erased at"
	// marker, time at, expiring after ttl — the cookie lifetime, as
	// SetDecision's; an older time never replaces a newer one), then
	// removes the visitor's entries of that tenant from the queue (every
	// entry still stored: undelivered, pending, or delivered but not yet
	// trimmed) and from the tenant's dead letters, and counts them.
	// Entries of other tenants and other visitors are untouched; an empty
	// tenant or visitor erases and records nothing; a ttl under 1 ms is
	// ErrInvalidEntry. It is idempotent and safe while consumers read: a
	// removed entry is never returned by Read or Reclaim afterwards, and
	// acknowledging it is a no-op. What a consumer already read (in
	// flight) is not removed: the consumer asks ErasedAt before using it.
	// It is an admin operation that scans the queue: O(queue length + the
	// tenant's dead letters).
	EraseVisitor(ctx context.Context, tenantID, visitorID string, at time.Time, ttl time.Duration) (Erasure, error)
	// ErasedAt returns the erasure times (millisecond precision) of those
	// of the tenant's visitors with a live EraseVisitor marker; visitors
	// never erased, or whose marker expired, are absent. One round trip
	// per call; no visitors, no round trip. Empty ids are ignored.
	ErasedAt(ctx context.Context, tenantID string, visitorIDs []string) (map[string]time.Time, error)
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
	// DeadLetterCap caps a tenant's dead letters; storing one more drops
	// the tenant's oldest. Zero means DefaultDeadLetterCap.
	DeadLetterCap int64
}

// WithDefaults fills zero fields with defaults.
func (o Options) WithDefaults() Options {
	if o.MaxKeysPerTenant <= 0 {
		o.MaxKeysPerTenant = DefaultMaxKeysPerTenant
	}
	if o.DeadLetterCap <= 0 {
		o.DeadLetterCap = DefaultDeadLetterCap
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
