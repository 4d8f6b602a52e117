package queuesqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jaraba/pixelgw/store/queue"
)

// DeadLetter implements queue.Queue: one insert, and when the tenant is
// over Options.DeadLetterCap, the deletion of its oldest letters, in one
// transaction.
func (q *Queue) DeadLetter(ctx context.Context, group string, m queue.Message, reason string) error {
	if err := queue.ValidateDeadLetter(group, &m); err != nil {
		return fmt.Errorf("cannot store dead letter: %w", err)
	}
	payload := m.Payload
	if payload == nil {
		payload = []byte{}
	}
	err := q.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, sqlDeadInsert, m.TenantID, group, int(m.Kind), m.EventID, m.EventName,
			payload, queue.TruncateReason(reason), q.now(), m.VisitorID); err != nil {
			return err
		}
		var live int64
		if err := tx.QueryRowContext(ctx, sqlDeadCountAdd, m.TenantID).Scan(&live); err != nil {
			return err
		}
		over := live - q.opts.DeadLetterCap
		if over <= 0 {
			return nil
		}
		r, err := tx.ExecContext(ctx, sqlDeadDropOldest, m.TenantID, over)
		if err != nil {
			return err
		}
		dropped, err := r.RowsAffected()
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, sqlDeadCountDrop, m.TenantID, dropped)
		return err
	})
	if err != nil {
		return fmt.Errorf("cannot store dead letter: %w", err)
	}
	return nil
}

// DeadLetters implements queue.Queue.
func (q *Queue) DeadLetters(ctx context.Context, tenantID string, limit int) ([]queue.DeadLetter, error) {
	out := []queue.DeadLetter{}
	if tenantID == "" || limit <= 0 {
		return out, nil
	}
	rows, err := q.db.QueryContext(ctx, sqlDeadList, tenantID, limit)
	if err != nil {
		return nil, fmt.Errorf("cannot list dead letters: %w", err)
	}
	for rows.Next() {
		var (
			id       int64
			kind, at int64
			d        = queue.DeadLetter{TenantID: tenantID}
		)
		if err := rows.Scan(&id, &d.Group, &kind, &d.EventID, &d.EventName, &d.Reason, &at, &d.Payload, &d.VisitorID); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("cannot list dead letters: %w", err)
		}
		if len(d.Payload) == 0 {
			d.Payload = nil
		}
		d.ID, d.Kind, d.At = strconv.FormatInt(id, 10), queue.Kind(kind).String(), time.UnixMilli(at)
		out = append(out, d)
	}
	if err := errors.Join(rows.Close(), rows.Err()); err != nil {
		return nil, fmt.Errorf("cannot list dead letters: %w", err)
	}
	return out, nil
}

// DeadLettersDropped implements queue.Queue.
func (q *Queue) DeadLettersDropped(ctx context.Context, tenantID string) (int64, error) {
	var n int64
	err := q.db.QueryRowContext(ctx, sqlDeadDropped, tenantID).Scan(&n)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("cannot read dropped dead letters: %w", err)
	}
	return n, nil
}

// Replay implements queue.Queue in one transaction: each of the tenant's
// letters becomes an entry targeted at its group and leaves the set.
func (q *Queue) Replay(ctx context.Context, tenantID string, ids []string) (int, error) {
	if tenantID == "" || len(ids) == 0 {
		return 0, nil
	}
	var n int
	err := q.inTx(ctx, func(tx *sql.Tx) error {
		n = 0
		seen := make(map[int64]bool, len(ids))
		for _, s := range ids {
			id, err := strconv.ParseInt(s, 10, 64)
			if err != nil || seen[id] {
				continue
			}
			seen[id] = true
			var (
				group, eventID, name, visitor string
				kind                          int
				payload                       []byte
			)
			err = tx.QueryRowContext(ctx, sqlDeadGet, id, tenantID).Scan(&group, &kind, &eventID, &name, &payload, &visitor)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			if payload == nil {
				payload = []byte{}
			}
			if _, err := tx.ExecContext(ctx, sqlEntryInsertTargeted, kind, tenantID, eventID, name, payload, group, visitor); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, sqlDeadDelete, id); err != nil {
				return err
			}
			n++
		}
		if n == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, sqlDeadCountSub, tenantID, n)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("cannot replay dead letters: %w", err)
	}
	if n > 0 {
		q.wake()
	}
	return n, nil
}
