package dispatch_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms/dispatch"
	"github.com/jaraba/pixelgw/store/queue/queueredis"
	"github.com/jaraba/pixelgw/store/storepg"
)

// unreachable skips t when a scaled-mode dependency cannot be reached, and
// fails it instead under CI (as the driver tests do).
func unreachable(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is required in CI: %v", what, err)
	}
	t.Skipf("%s unreachable, skipping (run `make deps`; CI would fail): %v", what, err)
}

// newScaledEnv is an env in scaled mode: the Redis queue under a random key
// prefix (its keys unlinked at cleanup) and the PostgreSQL store on a fresh,
// migrated schema (dropped at cleanup). PIXELGW_TEST_POSTGRES_DSN and
// REDIS_ADDR override the local defaults.
func newScaledEnv(t testing.TB, cfg dispatch.Config) *env {
	t.Helper()
	dsn := os.Getenv("PIXELGW_TEST_POSTGRES_DSN")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	addr := os.Getenv("REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		unreachable(t, "PostgreSQL", err)
	}
	defer conn.Close(context.Background())
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 64})
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		unreachable(t, "Redis", err)
	}

	var r [6]byte
	_, _ = rand.Read(r[:])
	suffix := hex.EncodeToString(r[:])
	schema, prefix := "pgw_dispatch_"+suffix, "pgwtest:dispatch"+suffix
	_, err = conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize())
	require.NoError(t, err)
	t.Cleanup(func() { // registered first: runs after the store closed
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("cannot drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("cannot drop schema %s: %v", schema, err)
		}
	})
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
			if len(keys) == 1000 {
				require.NoError(t, rdb.Unlink(ctx, keys...).Err())
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			require.NoError(t, rdb.Unlink(ctx, keys...).Err())
		}
		require.NoError(t, iter.Err())
		_ = rdb.Close()
	})

	st, err := storepg.OpenConfig(t.Context(), storepg.Config{DSN: dsn, SearchPath: schema, MaxConns: 8})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(t.Context())
	require.NoError(t, err)
	q := queueredis.New(rdb, queueredis.Config{Prefix: prefix}, slog.New(slog.DiscardHandler))
	return newEnvOn(t, cfg, q, st)
}
