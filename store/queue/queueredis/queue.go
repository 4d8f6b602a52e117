// Package queueredis is the scaled-mode queue.Queue: Redis Streams for the
// queue, string keys with a TTL for the dedup ledger and the revocation set,
// and ONE Lua script (EVALSHA) per Admit call, so the revocation check, the
// dedup mark and the enqueue of a whole batch are atomic.
//
// Keys (Prefix defaults to "pgw"):
//
//	<p>:q                      the stream; fields k (kind) and v (tenant, event id, name, payload: record.go)
//	<p>:d:<16 raw bytes>       dedup mark: first 16 bytes of SHA-256(tenant\0name\0event_id), value 1, PX = window
//	<p>:r:<tenant>:<visitor>   last server-side decision time (ms), PX = cookie lifetime
//	<p>:e:<tenant>:<visitor>   last erasure time (ms), PX = cookie lifetime (erase.go)
//	<p>:c:<tenant>, <p>:z:<tenant>  live-key accounting for the cap (see below)
//	<p>:dl:<tenant>            the tenant's dead letters: a stream with ids 0-<seq>, exactly capped (deadletter.go)
//	<p>:dlx:<tenant>           how many of the tenant's dead letters the cap dropped
//	<p>:dlseq                  the dead-letter id sequence (ids unique across tenants)
//
// A stream entry may carry a third field g: the one consumer group it is
// for (a replayed dead letter); other groups acknowledge it unread. An
// entry with a visitor carries field u, the visitor id (dead letters too),
// for EraseVisitor (erase.go).
//
// Memory: a dedup mark is a 22-byte key (with the default prefix) holding a
// shared integer. Measured on Redis 7.0 (BenchmarkDedupKeyMemory, 100,000
// keys): MEMORY USAGE 72 bytes per key; used_memory grows ≈ 115 bytes per key
// once the expires table and the hash-table buckets are counted. So 1M live
// keys (the default per-tenant cap) cost ≈ 110–115 MB.
//
// Cap accounting: each tenant has a HASH of buckets (bucket end, ms → keys
// that expire inside that bucket) plus a live total (n), the earliest bucket
// end (nx) and the expiry set on both keys (ex), and a ZSET of bucket ends.
// In the steady state a call reads n, nx, ex with one HMGET and writes one
// HINCRBY and one HSET per tenant; it drops due buckets (ZRANGEBYSCORE,
// HDEL, ZREM) only once nx has passed, before checking the cap. A key is thus
// counted until the end of its bucket: the count is exact except that it
// lags the real expiry by at most Config.CapGranularity (default 1 minute),
// i.e. it over-counts, never under-counts. Buckets per tenant ≤ longest
// window / granularity (2,880 for 48 h at 1 min).
//
// Trimming: entries are removed only below what every consumer group has
// acknowledged (Trim, run every TrimInterval by Start), never by MAXLEN.
// With no group nothing is trimmed.
//
// Redis must run with maxmemory-policy noeviction (the default): an
// evicting policy could drop dedup marks or, worse, the stream. At maxmemory
// Admit fails (nothing admitted, the edge answers 503) instead.
//
// Durability: run Redis with appendonly yes and appendfsync everysec; an
// acknowledged event can then be lost only if the Redis host itself crashes
// within about one second of the write (a Redis process crash alone loses
// nothing: the AOF is in the page cache). Redis Cluster is out of scope: the
// script builds its keys from ARGV, which needs a single Redis (or one
// primary with replicas).
package queueredis

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jaraba/pixelgw/internal/periodic"
	"github.com/jaraba/pixelgw/store/queue"
)

var (
	//go:embed admit.lua
	admitLua string
	//go:embed decision.lua
	decisionLua string
	//go:embed trim.lua
	trimLua string
	//go:embed deadletter.lua
	deadLetterLua string
	//go:embed replay.lua
	replayLua string
)

// ErrWrongType: a key the queue owns holds another Redis type (someone wrote
// to it); nothing was admitted.
var ErrWrongType = errors.New("redis key holds the wrong type")

// Config configures a Queue.
type Config struct {
	queue.Options
	// Prefix of every key; "pgw" by default. Tests use a random one.
	Prefix string
	// CapGranularity is the bucket size of the cap accounting (1 minute by
	// default): the live-key count lags real expiry by at most this.
	CapGranularity time.Duration
	// TrimInterval is how often Start's loop trims the stream (1 s).
	TrimInterval time.Duration
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	c.Options = c.Options.WithDefaults()
	if c.Prefix == "" {
		c.Prefix = "pgw"
	}
	if c.CapGranularity <= 0 {
		c.CapGranularity = time.Minute
	}
	if c.TrimInterval <= 0 {
		c.TrimInterval = time.Second
	}
	return c
}

// Queue is the Redis queue.Queue. Admit sends one EVALSHA per call; put a
// queue.Batcher in front to share round trips across concurrent callers.
//
// go-redis retries a command after a network error (Options.MaxRetries). A
// retried script that had already run reports Duplicate for the entries it
// had queued (and queues a merge entry for conversions): nothing is lost and
// nothing is delivered twice, only the result codes of that batch differ.
type Queue struct {
	rdb      redis.UniversalClient
	cfg      Config
	log      *slog.Logger
	stream   string
	admit    *redis.Script
	decision *redis.Script
	trim     *redis.Script
	dead     *redis.Script
	replay   *redis.Script

	trimmer periodic.Loop
	keys    []string  // {stream}: the admit script's KEYS
	bufs    sync.Pool // *admitBuf: the admit script's encoded arguments, reused
}

// admitBuf is one Admit's argument buffer: the encoded batch and records,
// and the argument list pointing into them.
type admitBuf struct {
	b    []byte
	args []any
}

// maxPooledBuf: larger argument buffers (rare, huge batches) are not kept.
const maxPooledBuf = 1 << 20

// New returns a Queue over rdb. It does not contact Redis. A nil log
// discards the trim loop's warnings.
func New(rdb redis.UniversalClient, cfg Config, log *slog.Logger) *Queue {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Queue{
		rdb:      rdb,
		cfg:      cfg,
		log:      log,
		stream:   cfg.Prefix + ":q",
		admit:    redis.NewScript(admitLua),
		decision: redis.NewScript(decisionLua),
		trim:     redis.NewScript(trimLua),
		dead:     redis.NewScript(deadLetterLua),
		replay:   redis.NewScript(replayLua),
		keys:     []string{cfg.Prefix + ":q"},
		bufs:     sync.Pool{New: func() any { return new(admitBuf) }},
	}
}

// StreamKey is the name of the stream key.
func (q *Queue) StreamKey() string { return q.stream }

// DedupKey returns the Redis key of e's dedup mark.
func (q *Queue) DedupKey(e *queue.Entry) string {
	k := e.DedupKey()
	return q.cfg.Prefix + ":d:" + string(k[:])
}

// Admit implements queue.Queue with one EVALSHA for the whole batch.
func (q *Queue) Admit(ctx context.Context, entries []queue.Entry) ([]queue.Result, error) {
	if err := queue.ValidateBatch(entries); err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return []queue.Result{}, nil
	}
	res := make([]queue.Result, len(entries))
	if err := q.admitInto(ctx, entries, res); err != nil {
		return nil, err
	}
	return res, nil
}

// admitInto runs the script for entries (already validated) and writes one
// result per entry into res.
func (q *Queue) admitInto(ctx context.Context, entries []queue.Entry, res []queue.Result) error {
	ab := q.bufs.Get().(*admitBuf)
	args := append(ab.args[:0], q.cfg.Prefix, q.cfg.MaxKeysPerTenant, q.cfg.CapGranularity.Milliseconds())
	blob, args := encodeBatch(ab.b, q.cfg.Prefix, entries, args)
	out, err := q.admit.Run(ctx, q.rdb, q.keys, args...).Text()
	// go-redis is done with the arguments once Run returns (retries included).
	if cap(blob) <= maxPooledBuf {
		clear(args)
		ab.b, ab.args = blob[:0], args[:0]
		q.bufs.Put(ab)
	}
	if err != nil {
		if strings.HasPrefix(err.Error(), "PGWTYPE") || strings.Contains(err.Error(), "WRONGTYPE") {
			return fmt.Errorf("cannot admit %d entries: %w: %w", len(entries), ErrWrongType, err)
		}
		return fmt.Errorf("cannot admit %d entries: %w", len(entries), err)
	}
	if len(out) != len(entries) {
		return fmt.Errorf("cannot admit %d entries: script answered %d results", len(entries), len(out))
	}
	for i := range len(out) {
		r := queue.Result(out[i] - '0')
		if r < queue.Queued || r > queue.OverCap {
			return fmt.Errorf("cannot admit entries: script answered result %q", out[i])
		}
		res[i] = r
	}
	return nil
}

// SetDecision implements queue.Queue.
func (q *Queue) SetDecision(ctx context.Context, tenantID, visitorID string, at time.Time, ttl time.Duration) error {
	if tenantID == "" || visitorID == "" {
		return fmt.Errorf("cannot set decision: %w: empty tenant or visitor id", queue.ErrInvalidEntry)
	}
	if ttl < time.Millisecond {
		return fmt.Errorf("cannot set decision: %w: ttl %s is under 1ms", queue.ErrInvalidEntry, ttl)
	}
	key := q.cfg.Prefix + ":r:" + tenantID + ":" + visitorID
	if err := q.decision.Run(ctx, q.rdb, []string{key}, at.UnixMilli(), ttl.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("cannot set decision: %w", err)
	}
	return nil
}

// Read implements queue.Queue with XREADGROUP, creating the group (at the
// stream's start) on first use. Entries targeted at another group are
// acknowledged and skipped; when a read returns only such entries, Read
// reads again (within block).
func (q *Queue) Read(ctx context.Context, group, consumer string, n int, block time.Duration) ([]queue.Message, error) {
	if n <= 0 {
		return []queue.Message{}, nil
	}
	args := &redis.XReadGroupArgs{
		Group: group, Consumer: consumer, Streams: []string{q.stream, ">"}, Count: int64(n), Block: -1,
	}
	var deadline time.Time
	if block > 0 {
		args.Block = max(block, time.Millisecond)
		deadline = time.Now().Add(args.Block)
	}
	created := false
	for {
		streams, err := q.rdb.XReadGroup(ctx, args).Result()
		if errors.Is(err, redis.Nil) {
			return []queue.Message{}, nil
		}
		if err != nil && !created && strings.HasPrefix(err.Error(), "NOGROUP") {
			if cerr := q.rdb.XGroupCreateMkStream(ctx, q.stream, group, "0").Err(); cerr != nil &&
				!strings.HasPrefix(cerr.Error(), "BUSYGROUP") {
				return nil, fmt.Errorf("cannot create consumer group %q: %w", group, cerr)
			}
			created = true
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cannot read group %q: %w", group, err)
		}
		var raw []redis.XMessage
		for _, s := range streams {
			raw = append(raw, s.Messages...)
		}
		out, skipped, err := q.keep(ctx, group, raw)
		if err != nil {
			return nil, fmt.Errorf("cannot read group %q: %w", group, err)
		}
		if len(out) > 0 || skipped == 0 {
			return out, nil
		}
		if block > 0 { // only other groups' entries: wait for the rest of block
			left := time.Until(deadline)
			if left <= 0 {
				return out, nil
			}
			args.Block = max(left, time.Millisecond)
		}
	}
}

// keep converts raw entries read or claimed by group into messages,
// acknowledging (and leaving out) the entries targeted at another group and
// the ones deleted from the stream since (no fields). It returns the kept
// messages (never nil) and how many it left out.
func (q *Queue) keep(ctx context.Context, group string, raw []redis.XMessage) ([]queue.Message, int, error) {
	out := make([]queue.Message, 0, len(raw))
	var skip []string
	for _, m := range raw {
		if len(m.Values) == 0 {
			skip = append(skip, m.ID)
			continue
		}
		msg, err := toMessage(m)
		if err != nil {
			return nil, 0, err
		}
		if msg.Group != "" && msg.Group != group {
			skip = append(skip, m.ID)
			continue
		}
		out = append(out, msg)
	}
	if len(skip) > 0 {
		if err := q.rdb.XAck(ctx, q.stream, group, skip...).Err(); err != nil {
			return nil, 0, fmt.Errorf("cannot ack entries for other groups: %w", err)
		}
	}
	return out, len(skip), nil
}

// Reclaim implements queue.Queue with an XAUTOCLAIM cursor loop over the
// group's pending entries. Redis itself drops deleted entries from the
// pending list (7.0+; on 6.2 they come back without fields and are
// acknowledged here).
func (q *Queue) Reclaim(ctx context.Context, group, consumer string, minIdle time.Duration, n int) ([]queue.Message, error) {
	out := []queue.Message{}
	if n <= 0 {
		return out, nil
	}
	minIdle = max(minIdle, 0)
	if minIdle > 0 && minIdle < time.Millisecond {
		minIdle = time.Millisecond
	}
	start := "0-0"
	for len(out) < n {
		raw, next, err := q.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: q.stream, Group: group, Consumer: consumer, MinIdle: minIdle, Start: start, Count: int64(n - len(out)),
		}).Result()
		if err != nil {
			if strings.HasPrefix(err.Error(), "NOGROUP") {
				return out, nil
			}
			return nil, fmt.Errorf("cannot reclaim entries of group %q: %w", group, err)
		}
		msgs, _, err := q.keep(ctx, group, raw)
		if err != nil {
			return nil, fmt.Errorf("cannot reclaim entries of group %q: %w", group, err)
		}
		out = append(out, msgs...)
		if next == "0-0" || next == "" {
			break
		}
		start = next
	}
	return out, nil
}

func toMessage(m redis.XMessage) (queue.Message, error) {
	k, _ := m.Values["k"].(string)
	v, _ := m.Values["v"].(string)
	g, _ := m.Values["g"].(string)
	u, _ := m.Values["u"].(string)
	kind, err := strconv.ParseUint(k, 10, 8)
	if err != nil {
		return queue.Message{}, fmt.Errorf("entry %s: %w", m.ID, errBadRecord)
	}
	msg := queue.Message{ID: m.ID, Kind: queue.Kind(kind), Group: g, VisitorID: u}
	if err := parseRecord(v, &msg); err != nil {
		return queue.Message{}, fmt.Errorf("entry %s: %w", m.ID, err)
	}
	return msg, nil
}

// Ack implements queue.Queue with XACK.
func (q *Queue) Ack(ctx context.Context, group string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := q.rdb.XAck(ctx, q.stream, group, ids...).Err(); err != nil {
		return fmt.Errorf("cannot ack %d entries of group %q: %w", len(ids), group, err)
	}
	return nil
}

// Lag implements queue.Queue: the maximum over groups of undelivered plus
// pending entries. When Redis cannot tell a group's lag (entries deleted
// inside its unread range), the stream length stands in as an upper bound.
func (q *Queue) Lag(ctx context.Context) (int64, error) {
	groups, err := q.rdb.XInfoGroups(ctx, q.stream).Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return 0, nil
		}
		return 0, fmt.Errorf("cannot read consumer groups: %w", err)
	}
	var worst int64
	var length int64 = -1
	for _, g := range groups {
		lag := g.Lag
		if lag < 0 {
			if length < 0 {
				if length, err = q.rdb.XLen(ctx, q.stream).Result(); err != nil {
					return 0, fmt.Errorf("cannot read stream length: %w", err)
				}
			}
			lag = length
		}
		worst = max(worst, lag+g.Pending)
	}
	return worst, nil
}

// Ping implements queue.Queue.
func (q *Queue) Ping(ctx context.Context) error {
	if err := q.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("cannot ping redis: %w", err)
	}
	return nil
}

// Trim removes the entries every consumer group has acknowledged and
// returns how many it removed.
func (q *Queue) Trim(ctx context.Context) (int64, error) {
	n, err := q.trim.Run(ctx, q.rdb, []string{q.stream}).Int64()
	if err != nil {
		return 0, fmt.Errorf("cannot trim stream: %w", err)
	}
	return n, nil
}

// Start runs the trim loop until Stop. Calling it twice is a no-op.
func (q *Queue) Start(context.Context) error {
	failing := false // log a failure once per streak, not every tick
	q.trimmer.Start(q.cfg.TrimInterval, false, func(ctx context.Context) {
		n, err := q.Trim(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			q.log.Warn("queue trim failed", slog.String("error", err.Error()))
			failing = true
		case err == nil:
			failing = false
			if n > 0 {
				q.log.Debug("queue trimmed", slog.Int64("entries", n))
			}
		}
	})
	return nil
}

// Stop ends the trim loop and waits for it (or for ctx). Safe if never
// started; idempotent.
func (q *Queue) Stop(ctx context.Context) error { return q.trimmer.Stop(ctx, "queue trimmer") }

// Interface guards
var _ queue.Queue = (*Queue)(nil)
