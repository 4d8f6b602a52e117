package queuesqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jaraba/pixelgw/store/queue"
)

// EraseVisitor implements queue.Queue in one transaction: the visitor's
// entries of the tenant (with their pending rows) and the tenant's dead
// letters of the visitor are deleted, and the dead-letter count follows.
// Readers run in their own transactions, so none sees half an erasure; an
// entry read before it is in flight and not recalled. Cost: a scan of the
// entry and dead_letter tables (no index on visitor_id: Admit stays as
// cheap as before). SQLite may keep the deleted bytes in free pages of the
// file (and the WAL) until they are reused; no command returns them.
//
// The erasure marker (table erasure; an older time never replaces a newer
// one) is written in the same transaction, so a consumer holding one of
// the visitor's entries read before it finds it (ErasedAt) before it sends
// or audits the entry.
func (q *Queue) EraseVisitor(ctx context.Context, tenantID, visitorID string, at time.Time, ttl time.Duration) (queue.Erasure, error) {
	var out queue.Erasure
	if tenantID == "" || visitorID == "" {
		return out, nil
	}
	if ttl < time.Millisecond {
		return out, fmt.Errorf("cannot erase visitor: %w: ttl %s is under 1ms", queue.ErrInvalidEntry, ttl)
	}
	err := q.inTx(ctx, func(tx *sql.Tx) error {
		out = queue.Erasure{}
		now := q.now()
		if _, err := tx.ExecContext(ctx, sqlErasureSet, tenantID, visitorID, at.UnixMilli(), now+ttl.Milliseconds(), now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, sqlErasePending, tenantID, visitorID); err != nil {
			return err
		}
		r, err := tx.ExecContext(ctx, sqlEraseEntries, tenantID, visitorID)
		if err != nil {
			return err
		}
		if out.Entries, err = r.RowsAffected(); err != nil {
			return err
		}
		if r, err = tx.ExecContext(ctx, sqlEraseDead, tenantID, visitorID); err != nil {
			return err
		}
		if out.DeadLetters, err = r.RowsAffected(); err != nil {
			return err
		}
		if out.DeadLetters > 0 {
			_, err = tx.ExecContext(ctx, sqlDeadCountSub, tenantID, out.DeadLetters)
		}
		return err
	})
	if err != nil {
		return queue.Erasure{}, fmt.Errorf("cannot erase visitor from the queue: %w", err)
	}
	return out, nil
}

// ErasedAt implements queue.Queue with one SELECT over the visitors'
// markers (at most 32766 bound parameters: the delivery engine asks for a
// batch's visitors, far fewer).
func (q *Queue) ErasedAt(ctx context.Context, tenantID string, visitorIDs []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	args := make([]any, 0, len(visitorIDs)+2)
	args = append(args, tenantID, q.now())
	for _, v := range visitorIDs {
		if v != "" {
			args = append(args, v)
		}
	}
	if tenantID == "" || len(args) == 2 {
		return out, nil
	}
	query := `SELECT visitor_id, erased_at FROM erasure WHERE tenant_id = ? AND expires_at > ? AND visitor_id IN (?` +
		strings.Repeat(",?", len(args)-3) + `)`
	rows, err := q.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot look up erasures: %w", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var v string
		var ms int64
		if err := rows.Scan(&v, &ms); err != nil {
			return nil, fmt.Errorf("cannot look up erasures: %w", err)
		}
		out[v] = time.UnixMilli(ms)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot look up erasures: %w", err)
	}
	return out, nil
}
