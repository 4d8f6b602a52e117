package storesqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/jaraba/pixelgw/internal/sqlmigrate"
	"github.com/jaraba/pixelgw/store"
)

// The PostgreSQL driver uses the same numbers.
//
//go:embed migration/*.sql
var migrationFS embed.FS

// migrations reads the embedded files, sorted by version.
func migrations() ([]sqlmigrate.Step, error) { return sqlmigrate.Parse(migrationFS, "migration") }

const createSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at INTEGER NOT NULL
) STRICT`

// Migrate applies pending migrations, each in its own transaction, and
// returns the versions it applied. Concurrent callers (two processes) are
// serialised by the write lock.
func (s *Store) Migrate(ctx context.Context) ([]int, error) {
	all, err := migrations()
	if err != nil {
		return nil, err
	}
	var applied []int
	for _, m := range all {
		done := false
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, createSchemaMigrations); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				done = true
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.Up); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, toMicros(s.stamp(s.now())))
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("cannot apply migration %03d_%s: %w", m.Version, m.Name, err)
		}
		if !done {
			applied = append(applied, m.Version)
		}
	}
	return applied, nil
}

// SchemaVersion returns the highest applied migration and the latest known.
func (s *Store) SchemaVersion(ctx context.Context) (applied, latest int, err error) {
	all, err := migrations()
	if err != nil {
		return 0, 0, err
	}
	if len(all) > 0 {
		latest = all[len(all)-1].Version
	}
	var exists int
	err = s.r.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&exists)
	if err != nil {
		return 0, 0, fmt.Errorf("cannot read schema version: %w", err)
	}
	if exists == 0 {
		return 0, latest, nil
	}
	if err := s.r.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&applied); err != nil {
		return 0, 0, fmt.Errorf("cannot read schema version: %w", err)
	}
	return applied, latest, nil
}

// CheckSchema returns an error wrapping store.ErrSchemaOutdated while
// migrations are pending, and an error if the database is newer than this
// binary.
func (s *Store) CheckSchema(ctx context.Context) error {
	applied, latest, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	switch {
	case applied < latest:
		return fmt.Errorf("sqlite schema at version %d, binary needs %d: %w", applied, latest, store.ErrSchemaOutdated)
	case applied > latest:
		return fmt.Errorf("sqlite schema at version %d is newer than this binary (%d): upgrade pixelgw", applied, latest)
	}
	missing, err := s.missingMigrations(ctx)
	if err != nil {
		return err
	}
	if missing > 0 {
		return fmt.Errorf("sqlite schema lacks %d migrations below version %d: %w", missing, applied, store.ErrSchemaOutdated)
	}
	return nil
}

// missingMigrations counts the known migrations not applied (a version
// below the highest applied one can be missing after a merge of branches).
func (s *Store) missingMigrations(ctx context.Context) (int, error) {
	all, err := migrations()
	if err != nil {
		return 0, err
	}
	missing := 0
	for _, m := range all {
		var n int
		err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("cannot read schema version: %w", err)
		}
		if n == 0 {
			missing++
		}
	}
	return missing, nil
}
