package storepg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jaraba/pixelgw/store"
)

// Config tunes Open. Zero fields take the defaults below.
type Config struct {
	// DSN is a PostgreSQL URL or key=value string.
	DSN string
	// SearchPath, if set, is the session search_path of every connection
	// (tests use one schema each).
	SearchPath string
	// MaxConns caps the pool (default 16).
	MaxConns int32
	// MinConns keeps connections warm (default 0).
	MinConns int32
	// MaxConnLifetime recycles connections (default 30m).
	MaxConnLifetime time.Duration
	// MaxConnIdleTime closes idle connections (default 5m).
	MaxConnIdleTime time.Duration
	// ConnectTimeout bounds each new connection (default 5s).
	ConnectTimeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Defaults of Config.
const (
	DefaultMaxConns        = 16
	DefaultMaxConnLifetime = 30 * time.Minute
	DefaultMaxConnIdleTime = 5 * time.Minute
	DefaultConnectTimeout  = 5 * time.Second
)

// Store is the PostgreSQL store. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// Open connects to dsn with the default Config and pings the server.
func Open(ctx context.Context, dsn string) (*Store, error) {
	return OpenConfig(ctx, Config{DSN: dsn})
}

// OpenConfig connects with cfg and pings the server. Errors never contain
// the DSN (it may hold a password).
func OpenConfig(ctx context.Context, cfg Config) (*Store, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		// pgconn's parse errors may quote the DSN; do not wrap them.
		return nil, errors.New("cannot parse postgres dsn: invalid format")
	}
	pcfg.MaxConns = orDefault(cfg.MaxConns, DefaultMaxConns)
	pcfg.MinConns = cfg.MinConns
	pcfg.MaxConnLifetime = orDefault(cfg.MaxConnLifetime, DefaultMaxConnLifetime)
	pcfg.MaxConnIdleTime = orDefault(cfg.MaxConnIdleTime, DefaultMaxConnIdleTime)
	pcfg.ConnConfig.ConnectTimeout = orDefault(cfg.ConnectTimeout, DefaultConnectTimeout)
	if pcfg.ConnConfig.RuntimeParams == nil {
		pcfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	if _, ok := pcfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		pcfg.ConnConfig.RuntimeParams["application_name"] = "pixelgw"
	}
	if cfg.SearchPath != "" {
		pcfg.ConnConfig.RuntimeParams["search_path"] = cfg.SearchPath
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("cannot create postgres pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot ping postgres: %w", err)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Store{pool: pool, now: now}, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("cannot ping postgres: %w", err)
	}
	return nil
}

// Close closes the pool, waiting for connections in use to be released.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// timestamp returns t, or now if t is zero, in UTC at the microsecond
// precision PostgreSQL keeps.
func (s *Store) timestamp(t time.Time) time.Time {
	if t.IsZero() {
		t = s.now()
	}
	return t.UTC().Truncate(time.Microsecond)
}

// parseID parses a UUID; ok is false for anything that is not one.
func parseID(id string) (pgtype.UUID, bool) {
	u, err := uuid.Parse(id)
	if err != nil {
		return pgtype.UUID{}, false
	}
	return pgtype.UUID{Bytes: u, Valid: true}, true
}

// optionalID parses an optional UUID: "" is NULL.
func optionalID(id string) (pgtype.UUID, error) {
	if id == "" {
		return pgtype.UUID{}, nil
	}
	u, ok := parseID(id)
	if !ok {
		return pgtype.UUID{}, fmt.Errorf("invalid uuid %q", id)
	}
	return u, nil
}

func uuidString(u pgtype.UUID) string {
	if !u.Valid {
		return ""
	}
	return uuid.UUID(u.Bytes).String()
}

func nullText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// wrap turns driver errors into store sentinels and adds "cannot <op>".
func wrap(op string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("cannot %s: %w", op, store.ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return fmt.Errorf("cannot %s: %w", op, store.ErrConflict)
		case "23503": // foreign_key_violation: the tenant does not exist
			return fmt.Errorf("cannot %s: %w", op, store.ErrNotFound)
		}
	}
	return fmt.Errorf("cannot %s: %w", op, err)
}

func notFound(op string) error {
	return fmt.Errorf("cannot %s: %w", op, store.ErrNotFound)
}

// ConfigVersion reads the counter the config-table triggers bump.
func (s *Store) ConfigVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.pool.QueryRow(ctx, `SELECT version FROM config_version`).Scan(&v); err != nil {
		return 0, wrap("read config version", err)
	}
	return v, nil
}

// Interface guards
var (
	_ store.Store    = (*Store)(nil)
	_ store.Migrator = (*Store)(nil)
)
