// Package storesqlite is the embedded store driver: SQLite through the pure-Go
// modernc.org/sqlite (no cgo). It is the default for single-node installs.
//
// SQLite allows one writer at a time, so the Store keeps two pools over the
// same file: a single write connection (transactions begin IMMEDIATE, so
// writers queue instead of failing with SQLITE_BUSY) and a small read-only
// pool that WAL mode lets run beside the writer.
package storesqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/jaraba/pixelgw/internal/sqlitefile"
	"github.com/jaraba/pixelgw/store"
)

// busyTimeout is how long a connection waits for a lock held by another
// process (a second pixelgw, the CLI) before failing.
const busyTimeout = 10 * time.Second

// Store is a SQLite-backed store.Store and store.Migrator.
type Store struct {
	w   *sql.DB // one connection: every write
	r   *sql.DB // read-only pool
	now func() time.Time
}

// Open opens (creating it if needed, mode 0600) the database file at path
// and checks it is reachable. It does not migrate: call Migrate, or
// CheckSchema to refuse an outdated schema.
func Open(ctx context.Context, path string) (*Store, error) {
	// Created here so it is not world-readable: it holds sealed secrets and
	// visitor data.
	if err := sqlitefile.Create(path, "sqlite database"); err != nil {
		return nil, err
	}

	// WAL lets readers run beside the writer; synchronous=NORMAL is durable
	// across a process crash in WAL mode (a power cut may lose the last
	// commits, never corrupt the file).
	params := fmt.Sprintf("?_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)",
		busyTimeout.Milliseconds())
	w, err := sql.Open("sqlite", path+params+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("cannot open sqlite database: %w", err)
	}
	sqlitefile.OneConnection(w)

	r, err := sql.Open("sqlite", path+params+"&_pragma=query_only(1)")
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("cannot open sqlite database: %w", err)
	}
	readers := min(max(runtime.GOMAXPROCS(0), 2), 8)
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	r.SetConnMaxIdleTime(5 * time.Minute)

	s := &Store{w: w, r: r, now: time.Now}
	// The write connection goes first: it switches the file to WAL.
	if err := w.PingContext(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("cannot open sqlite database: %w", err)
	}
	if err := r.PingContext(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("cannot open sqlite database: %w", err)
	}
	return s, nil
}

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("cannot ping sqlite: %w", err)
	}
	return nil
}

// ConfigVersion returns the counter bumped by every configuration write.
func (s *Store) ConfigVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.r.QueryRowContext(ctx, `SELECT version FROM config_version WHERE id = 1`).Scan(&v); err != nil {
		return 0, fmt.Errorf("cannot read config version: %w", err)
	}
	return v, nil
}

// bumpConfigVersion is called inside every configuration write transaction.
func bumpConfigVersion(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `UPDATE config_version SET version = version + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("cannot bump config version: %w", err)
	}
	return nil
}

// inTx runs fn in a write transaction and commits it if fn succeeds.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// mapErr turns constraint violations into the store sentinels: a unique
// violation is ErrConflict, a missing parent row (unknown tenant) is
// ErrNotFound, sql.ErrNoRows is ErrNotFound.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return store.ErrConflict
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return store.ErrNotFound
		}
	}
	return err
}

// Times are INTEGER microseconds since the epoch, UTC.

func toMicros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// stamp returns t, or now when t is zero, at storage precision.
func (s *Store) stamp(t time.Time) time.Time {
	if t.IsZero() {
		t = s.now()
	}
	return t.UTC().Truncate(time.Microsecond)
}

// after returns a storage-precision "now" strictly after prev, so UpdatedAt
// always moves.
func (s *Store) after(prev time.Time) time.Time {
	t := s.stamp(time.Time{})
	if !t.After(prev) {
		t = prev.Add(time.Microsecond)
	}
	return t
}

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func fromJSON(s string, v any) error {
	if s == "" {
		return nil
	}
	return json.Unmarshal([]byte(s), v)
}

// sealedArgs splits a Sealed for its two columns; the zero value is (”, NULL).
func sealedArgs(v store.Sealed) (string, []byte) {
	if len(v.Ciphertext) == 0 {
		return v.KeyID, nil
	}
	return v.KeyID, v.Ciphertext
}

func sealedFrom(keyID string, ct []byte) store.Sealed {
	if len(ct) == 0 {
		ct = nil
	}
	return store.Sealed{KeyID: keyID, Ciphertext: ct}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Interface guards
var (
	_ store.Store    = (*Store)(nil)
	_ store.Migrator = (*Store)(nil)
)
