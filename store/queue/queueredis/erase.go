package queueredis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jaraba/pixelgw/store/queue"
)

// eraseChunk is how many stream entries one XRANGE of EraseVisitor reads.
const eraseChunk = 500

// EraseVisitor implements queue.Queue: it scans the queue stream, then the
// tenant's dead-letter stream, in chunks of eraseChunk entries (XRANGE with
// an exclusive start), and XDELs the entries whose field u is the visitor
// and whose record names the tenant. Stream entries never change once
// written, so what a chunk matched is still the visitor's when it is
// deleted; XDEL of an entry trimmed meanwhile deletes nothing and is not
// counted. Entries appended during the scan are reached by later chunks.
// Consumers may read meanwhile: a deleted entry is never delivered by
// XREADGROUP, and Reclaim drops it from the pending list. Entries queued
// before field u existed carry no visitor and are not found.
//
// Cost: O(queue length + the tenant's dead letters) round trips of at most
// eraseChunk entries each; no script runs long enough to stall Redis.
// Memory: Redis frees a deleted entry's bytes when its whole stream node
// (100 entries by default) is gone; until then they are unreachable by
// any command. AOF/RDB files keep them until the next rewrite.
//
// The erasure marker (<p>:e:<tenant>:<visitor>, time in ms, PX = ttl) is
// set first, by the decision script (an older time never replaces a newer
// one), so a consumer that read one of the visitor's entries before the
// scan deleted it finds the marker (ErasedAt) before it sends or audits it.
func (q *Queue) EraseVisitor(ctx context.Context, tenantID, visitorID string, at time.Time, ttl time.Duration) (queue.Erasure, error) {
	var out queue.Erasure
	if tenantID == "" || visitorID == "" {
		return out, nil
	}
	if ttl < time.Millisecond {
		return out, fmt.Errorf("cannot erase visitor: %w: ttl %s is under 1ms", queue.ErrInvalidEntry, ttl)
	}
	if err := q.decision.Run(ctx, q.rdb, []string{q.erasedKey(tenantID, visitorID)}, at.UnixMilli(), ttl.Milliseconds()).Err(); err != nil {
		return out, fmt.Errorf("cannot record the erasure: %w", err)
	}
	n, err := q.eraseIn(ctx, q.stream, tenantID, visitorID)
	if err != nil {
		return out, fmt.Errorf("cannot erase visitor from the queue: %w", err)
	}
	out.Entries = n
	if n, err = q.eraseIn(ctx, q.deadKey(tenantID), tenantID, visitorID); err != nil {
		return out, fmt.Errorf("cannot erase visitor from dead letters: %w", err)
	}
	out.DeadLetters = n
	return out, nil
}

// eraseIn deletes the visitor's entries of the tenant from one stream.
func (q *Queue) eraseIn(ctx context.Context, key, tenantID, visitorID string) (int64, error) {
	var total int64
	start := "-"
	for {
		raw, err := q.rdb.XRangeN(ctx, key, start, "+", eraseChunk).Result()
		if err != nil {
			return total, err
		}
		var ids []string
		for _, x := range raw {
			if mine(x, tenantID, visitorID) {
				ids = append(ids, x.ID)
			}
		}
		if len(ids) > 0 {
			n, err := q.rdb.XDel(ctx, key, ids...).Result()
			total += n
			if err != nil {
				return total, err
			}
		}
		if len(raw) < eraseChunk {
			return total, nil
		}
		start = "(" + raw[len(raw)-1].ID
	}
}

// mine reports whether a stream entry (queue or dead letter) is the
// visitor's, of the tenant.
func mine(x redis.XMessage, tenantID, visitorID string) bool {
	if u, _ := x.Values["u"].(string); u != visitorID {
		return false
	}
	v, _ := x.Values["v"].(string)
	var m queue.Message
	return parseRecord(v, &m) == nil && m.TenantID == tenantID
}

// erasedKey is the visitor's erasure marker.
func (q *Queue) erasedKey(tenantID, visitorID string) string {
	return q.cfg.Prefix + ":e:" + tenantID + ":" + visitorID
}

// ErasedAt implements queue.Queue with one MGET of the visitors' markers.
func (q *Queue) ErasedAt(ctx context.Context, tenantID string, visitorIDs []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	keys := make([]string, 0, len(visitorIDs))
	ids := make([]string, 0, len(visitorIDs))
	for _, v := range visitorIDs {
		if v != "" && tenantID != "" {
			keys = append(keys, q.erasedKey(tenantID, v))
			ids = append(ids, v)
		}
	}
	if len(keys) == 0 {
		return out, nil
	}
	vals, err := q.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("cannot look up erasures: %w", err)
	}
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue // nil: no marker
		}
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("cannot look up erasures: %w: marker is not a time", ErrWrongType)
		}
		out[ids[i]] = time.UnixMilli(ms)
	}
	return out, nil
}
