package storepg

import (
	"context"
	"embed"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/jaraba/pixelgw/internal/sqlmigrate"
	"github.com/jaraba/pixelgw/store"
)

//go:embed migration/*.sql
var migrationFS embed.FS

// migrations reads the embedded files, sorted by version.
func migrations() ([]sqlmigrate.Step, error) { return sqlmigrate.Parse(migrationFS, "migration") }

// lockSQL serializes schema changes per schema across every instance, for
// the length of the transaction.
const lockSQL = `SELECT pg_advisory_xact_lock(hashtext('pixelgw.migrate.' || current_schema()))`

const createMigrationsSQL = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`

// inMigrationTx runs fn in one transaction holding the schema's migration
// lock (every instance serializes here), with schema_migrations created and
// the versions already applied read.
func (s *Store) inMigrationTx(ctx context.Context, fn func(tx pgx.Tx, done map[int]bool) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockSQL); err != nil {
			return fmt.Errorf("cannot lock migrations: %w", err)
		}
		if _, err := tx.Exec(ctx, createMigrationsSQL); err != nil {
			return fmt.Errorf("cannot create schema_migrations: %w", err)
		}
		done, err := appliedVersions(ctx, tx)
		if err != nil {
			return err
		}
		return fn(tx, done)
	})
}

// Migrate applies every pending migration in one transaction and returns
// the versions applied (none if the schema is current).
func (s *Store) Migrate(ctx context.Context) ([]int, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	var applied []int
	err = s.inMigrationTx(ctx, func(tx pgx.Tx, done map[int]bool) error {
		for _, m := range ms {
			if done[m.Version] {
				continue
			}
			if _, err := tx.Exec(ctx, m.Up); err != nil {
				return fmt.Errorf("cannot apply migration %03d_%s: %w", m.Version, m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
				return fmt.Errorf("cannot record migration %03d: %w", m.Version, err)
			}
			applied = append(applied, m.Version)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot migrate: %w", err)
	}
	return applied, nil
}

// MigrateDown reverts applied migrations newer than target (0 reverts
// everything), newest first, in one transaction, and returns the versions
// reverted.
func (s *Store) MigrateDown(ctx context.Context, target int) ([]int, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	var reverted []int
	err = s.inMigrationTx(ctx, func(tx pgx.Tx, done map[int]bool) error {
		for _, m := range slices.Backward(ms) {
			if m.Version <= target || !done[m.Version] {
				continue
			}
			if m.Down == "" {
				return fmt.Errorf("migration %03d has no down file", m.Version)
			}
			if _, err := tx.Exec(ctx, m.Down); err != nil {
				return fmt.Errorf("cannot revert migration %03d_%s: %w", m.Version, m.Name, err)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM schema_migrations WHERE version = $1`, m.Version); err != nil {
				return fmt.Errorf("cannot unrecord migration %03d: %w", m.Version, err)
			}
			reverted = append(reverted, m.Version)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot migrate down: %w", err)
	}
	return reverted, nil
}

func appliedVersions(ctx context.Context, tx pgx.Tx) (map[int]bool, error) {
	rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("cannot read schema_migrations: %w", err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("cannot read schema_migrations: %w", err)
	}
	done := make(map[int]bool, len(vs))
	for _, v := range vs {
		done[int(v)] = true
	}
	return done, nil
}

// SchemaVersion returns the newest applied migration (0 for an empty
// database) and the newest embedded one.
func (s *Store) SchemaVersion(ctx context.Context) (applied, latest int, err error) {
	ms, err := migrations()
	if err != nil {
		return 0, 0, err
	}
	if len(ms) > 0 {
		latest = ms[len(ms)-1].Version
	}
	done, err := s.readApplied(ctx)
	if err != nil {
		return 0, 0, err
	}
	for v := range done {
		applied = max(applied, v)
	}
	return applied, latest, nil
}

// CheckSchema returns an error wrapping store.ErrSchemaOutdated when
// migrations are pending.
func (s *Store) CheckSchema(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	done, err := s.readApplied(ctx)
	if err != nil {
		return err
	}
	var pending []string
	for _, m := range ms {
		if !done[m.Version] {
			pending = append(pending, fmt.Sprintf("%03d_%s", m.Version, m.Name))
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("pending migrations %s: %w", strings.Join(pending, ", "), store.ErrSchemaOutdated)
	}
	return nil
}

// readApplied lists applied versions; none if schema_migrations is absent.
func (s *Store) readApplied(ctx context.Context) (map[int]bool, error) {
	var done map[int]bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			done = map[int]bool{}
			return nil
		}
		var err error
		done, err = appliedVersions(ctx, tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read schema version: %w", err)
	}
	return done, nil
}
