package storesqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/jaraba/pixelgw/store"
)

// The PostgreSQL driver uses the same numbers.
//
//go:embed migration/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	up      string
}

// migrations parses the embedded NNN_name.up.sql files, in order.
func migrations() ([]migration, error) {
	files, err := fs.Glob(migrationFS, "migration/*.up.sql")
	if err != nil {
		return nil, fmt.Errorf("cannot list migrations: %w", err)
	}
	out := make([]migration, 0, len(files))
	for _, f := range files {
		base := strings.TrimSuffix(strings.TrimPrefix(f, "migration/"), ".up.sql")
		num, name, ok := strings.Cut(base, "_")
		if !ok {
			return nil, fmt.Errorf("cannot parse migration file name %q", f)
		}
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("cannot parse migration number of %q", f)
		}
		body, err := migrationFS.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("cannot read migration %q: %w", f, err)
		}
		out = append(out, migration{version: v, name: name, up: string(body)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	// Numbers must be unique; a gap is allowed (parallel branches take
	// numbers ahead of each other), and Migrate and CheckSchema look at
	// each version, not at the highest one only.
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("cannot order migrations: two migrations numbered %03d", out[i].version)
		}
	}
	return out, nil
}

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
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				done = true
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.up); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, toMicros(s.stamp(s.now())))
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("cannot apply migration %03d_%s: %w", m.version, m.name, err)
		}
		if !done {
			applied = append(applied, m.version)
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
		latest = all[len(all)-1].version
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
		err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("cannot read schema version: %w", err)
		}
		if n == 0 {
			missing++
		}
	}
	return missing, nil
}
