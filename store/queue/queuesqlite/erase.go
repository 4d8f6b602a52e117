package queuesqlite

import (
	"context"
	"database/sql"
	"fmt"

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
func (q *Queue) EraseVisitor(ctx context.Context, tenantID, visitorID string) (queue.Erasure, error) {
	var out queue.Erasure
	if tenantID == "" || visitorID == "" {
		return out, nil
	}
	err := q.inTx(ctx, func(tx *sql.Tx) error {
		out = queue.Erasure{}
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
