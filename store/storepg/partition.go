package storepg

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// partitionedTables are the audit tables range-partitioned by created_at.
var partitionedTables = []string{"tracking_event", "delivery_outcome", "platform_response"}

// partitionLockSQL serializes partition maintenance per schema.
const partitionLockSQL = `SELECT pg_advisory_xact_lock(hashtext('pixelgw.partitions.' || current_schema()))`

const partitionLayout = "20060102"

func day(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func partitionName(table string, d time.Time) string {
	return table + "_p" + d.Format(partitionLayout)
}

// EnsurePartitions creates the daily partitions (UTC days) of every audit
// table for each day from from to to, both included, and returns the names
// it created. Existing partitions are left alone. Rows of those days already
// in a DEFAULT partition are moved into the new partition in the same
// transaction, so nothing is lost and ATTACH does not fail. Safe to run
// from several instances at once (advisory lock).
func (s *Store) EnsurePartitions(ctx context.Context, from, to time.Time) ([]string, error) {
	from, to = day(from), day(to)
	if to.Before(from) {
		return nil, nil
	}
	if to.Sub(from) > 366*24*time.Hour {
		return nil, fmt.Errorf("cannot ensure partitions: range of %s is over a year", to.Sub(from))
	}
	var created []string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		created = created[:0]
		if _, err := tx.Exec(ctx, partitionLockSQL); err != nil {
			return fmt.Errorf("cannot lock partitions: %w", err)
		}
		for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
			for _, table := range partitionedTables {
				ok, err := ensurePartition(ctx, tx, table, d)
				if err != nil {
					return err
				}
				if ok {
					created = append(created, partitionName(table, d))
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot ensure partitions: %w", err)
	}
	return created, nil
}

// ensurePartition creates and attaches one daily partition unless it
// exists; it reports whether it created it.
func ensurePartition(ctx context.Context, tx pgx.Tx, table string, d time.Time) (bool, error) {
	name := partitionName(table, d)
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil {
		return false, fmt.Errorf("cannot look up partition %s: %w", name, err)
	}
	if exists {
		return false, nil
	}
	parent := pgx.Identifier{table}.Sanitize()
	def := pgx.Identifier{table + "_default"}.Sanitize()
	part := pgx.Identifier{name}.Sanitize()
	// Bounds are formatted from time values, never from input text.
	lo := "'" + d.Format(time.RFC3339) + "'"
	hi := "'" + d.AddDate(0, 0, 1).Format(time.RFC3339) + "'"
	stmts := []string{
		`CREATE TABLE ` + part + ` (LIKE ` + parent + ` INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`,
		`WITH moved AS (DELETE FROM ` + def + ` WHERE created_at >= ` + lo + ` AND created_at < ` + hi + ` RETURNING *)
			INSERT INTO ` + part + ` SELECT * FROM moved`,
		`ALTER TABLE ` + parent + ` ATTACH PARTITION ` + part + ` FOR VALUES FROM (` + lo + `) TO (` + hi + `)`,
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q); err != nil {
			return false, fmt.Errorf("cannot create partition %s: %w", name, err)
		}
	}
	return true, nil
}

// DropPartitionsBefore enforces audit retention: it drops every daily
// partition of the audit tables whose whole day ends at or before before,
// deletes older rows left in the DEFAULT partitions, and returns the names
// of the dropped partitions.
func (s *Store) DropPartitionsBefore(ctx context.Context, before time.Time) ([]string, error) {
	before = before.UTC()
	var dropped []string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		dropped = dropped[:0]
		if _, err := tx.Exec(ctx, partitionLockSQL); err != nil {
			return fmt.Errorf("cannot lock partitions: %w", err)
		}
		for _, table := range partitionedTables {
			rows, err := tx.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
				WHERE i.inhparent = $1::regclass ORDER BY c.relname`, table)
			if err != nil {
				return fmt.Errorf("cannot list partitions of %s: %w", table, err)
			}
			names, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return fmt.Errorf("cannot list partitions of %s: %w", table, err)
			}
			for _, name := range names {
				suffix, ok := strings.CutPrefix(name, table+"_p")
				if !ok {
					continue
				}
				d, err := time.Parse(partitionLayout, suffix)
				if err != nil || d.AddDate(0, 0, 1).After(before) {
					continue
				}
				if _, err := tx.Exec(ctx, `DROP TABLE `+pgx.Identifier{name}.Sanitize()); err != nil {
					return fmt.Errorf("cannot drop partition %s: %w", name, err)
				}
				dropped = append(dropped, name)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM `+pgx.Identifier{table + "_default"}.Sanitize()+` WHERE created_at < $1`, before); err != nil {
				return fmt.Errorf("cannot purge default partition of %s: %w", table, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot drop partitions: %w", err)
	}
	return dropped, nil
}
