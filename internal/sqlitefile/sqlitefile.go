// Package sqlitefile holds what the embedded mode's two SQLite databases
// (the store and the queue) do alike before the driver opens them: a path
// check and a private file.
package sqlitefile

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Create checks that path names a plain file (not ":memory:", no DSN
// parameters) and creates it, and its directory, readable by this user only
// (0600 / 0700): the databases hold sealed secrets and visitor data. An
// existing file is kept as it is. what names the database in errors.
func Create(path, what string) error {
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") {
		return fmt.Errorf("cannot open %s %q: want a file path without '?' or '#'", what, path)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("cannot create %s directory: %w", what, err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("cannot create %s: %w", what, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot create %s: %w", what, err)
	}
	return nil
}

// OneConnection makes db a pool of exactly one connection kept forever:
// SQLite has one writer, and the connection holds the prepared statements.
func OneConnection(db *sql.DB) {
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
}
