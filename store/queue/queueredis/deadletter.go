package queueredis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jaraba/pixelgw/store/queue"
)

// Dead letters: one stream per tenant, <p>:dl:<tenant>, written by
// deadletter.lua with XADD MAXLEN = cap (exact, so the oldest go first) and
// explicit ids 0-<seq> from one queue-wide sequence, so a letter's id is
// unique across tenants and Replay can never reach another tenant's letter:
// it only looks in the caller's tenant's stream.

func (q *Queue) deadKey(tenantID string) string    { return q.cfg.Prefix + ":dl:" + tenantID }
func (q *Queue) droppedKey(tenantID string) string { return q.cfg.Prefix + ":dlx:" + tenantID }

// DeadLetter implements queue.Queue.
func (q *Queue) DeadLetter(ctx context.Context, group string, m queue.Message, reason string) error {
	if err := queue.ValidateDeadLetter(group, &m); err != nil {
		return fmt.Errorf("cannot store dead letter: %w", err)
	}
	keys := []string{q.deadKey(m.TenantID), q.cfg.Prefix + ":dlseq", q.droppedKey(m.TenantID)}
	err := q.dead.Run(ctx, q.rdb, keys, q.cfg.DeadLetterCap, group, strconv.Itoa(int(m.Kind)),
		messageRecord(&m), queue.TruncateReason(reason), m.VisitorID).Err()
	if err != nil {
		return fmt.Errorf("cannot store dead letter: %w", err)
	}
	return nil
}

// DeadLetters implements queue.Queue with XREVRANGE.
func (q *Queue) DeadLetters(ctx context.Context, tenantID string, limit int) ([]queue.DeadLetter, error) {
	out := []queue.DeadLetter{}
	if tenantID == "" || limit <= 0 {
		return out, nil
	}
	raw, err := q.rdb.XRevRangeN(ctx, q.deadKey(tenantID), "+", "-", int64(limit)).Result()
	if err != nil {
		return nil, fmt.Errorf("cannot list dead letters: %w", err)
	}
	for _, x := range raw {
		d, err := toDeadLetter(x)
		if err != nil {
			return nil, fmt.Errorf("cannot list dead letters: %w", err)
		}
		if d.TenantID != tenantID { // never: the stream is the tenant's
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

func toDeadLetter(x redis.XMessage) (queue.DeadLetter, error) {
	seq, ok := strings.CutPrefix(x.ID, "0-")
	if !ok {
		return queue.DeadLetter{}, fmt.Errorf("dead letter %s: %w", x.ID, errBadRecord)
	}
	str := func(f string) string { s, _ := x.Values[f].(string); return s }
	kind, err := strconv.ParseUint(str("k"), 10, 8)
	if err != nil {
		return queue.DeadLetter{}, fmt.Errorf("dead letter %s: %w", x.ID, errBadRecord)
	}
	at, err := strconv.ParseInt(str("t"), 10, 64)
	if err != nil {
		return queue.DeadLetter{}, fmt.Errorf("dead letter %s: %w", x.ID, errBadRecord)
	}
	var m queue.Message
	if err := parseRecord(str("v"), &m); err != nil {
		return queue.DeadLetter{}, fmt.Errorf("dead letter %s: %w", x.ID, err)
	}
	return queue.DeadLetter{
		ID: seq, Group: str("g"), Kind: queue.Kind(kind).String(), TenantID: m.TenantID, EventID: m.EventID,
		EventName: m.EventName, Reason: str("r"), At: time.UnixMilli(at), Payload: m.Payload, VisitorID: str("u"),
	}, nil
}

// DeadLettersDropped implements queue.Queue.
func (q *Queue) DeadLettersDropped(ctx context.Context, tenantID string) (int64, error) {
	if tenantID == "" {
		return 0, nil
	}
	n, err := q.rdb.Get(ctx, q.droppedKey(tenantID)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cannot read dropped dead letters: %w", err)
	}
	return n, nil
}

// Replay implements queue.Queue in one script: per letter, XADD to the
// queue stream with field g = its group, then XDEL from the tenant's set.
func (q *Queue) Replay(ctx context.Context, tenantID string, ids []string) (int, error) {
	if tenantID == "" || len(ids) == 0 {
		return 0, nil
	}
	seen := make(map[uint64]bool, len(ids))
	args := make([]any, 0, len(ids))
	for _, id := range ids {
		seq, err := strconv.ParseUint(id, 10, 64)
		if err != nil || seq == 0 || seen[seq] {
			continue // not an id of ours, or repeated
		}
		seen[seq] = true
		args = append(args, strconv.FormatUint(seq, 10))
	}
	if len(args) == 0 {
		return 0, nil
	}
	// Bounded scripts: Redis runs nothing else while one runs.
	const chunk = 500
	total := 0
	for len(args) > 0 {
		part := args[:min(chunk, len(args))]
		args = args[len(part):]
		n, err := q.replay.Run(ctx, q.rdb, []string{q.deadKey(tenantID), q.stream}, part...).Int()
		total += n
		if err != nil {
			if strings.HasPrefix(err.Error(), "PGWTYPE") {
				return total, fmt.Errorf("cannot replay dead letters: %w: %w", ErrWrongType, err)
			}
			return total, fmt.Errorf("cannot replay dead letters: %w", err)
		}
	}
	return total, nil
}
