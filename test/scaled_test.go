package test

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/test/platformsim"
)

// scaledStores gives one test a fresh PostgreSQL schema and Redis key
// prefix (both dropped at cleanup) and a Redis client (closed at cleanup).
// It skips when PostgreSQL or Redis is unreachable, and fails instead in CI.
func scaledStores(t *testing.T) (schema, prefix string, rdb *redis.Client) {
	t.Helper()
	ctx := context.Background()
	unreachable := func(what string, err error) {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI: %v", what, err)
		}
		t.Skipf("%s unreachable (run `make deps`): %v", what, err)
	}
	conn, err := pgx.Connect(ctx, postgresDSN())
	if err != nil {
		unreachable("PostgreSQL", err)
	}
	defer conn.Close(ctx)
	rdb = redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(ctx).Err(); err != nil {
		unreachable("Redis", err)
	}
	suffix := strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	schema, prefix = "pgw_e2e_"+suffix, "pgwtest"+suffix
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx := context.Background()
		if c, err := pgx.Connect(ctx, postgresDSN()); err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return schema, prefix, rdb
}

// scaledEnv is the environment of a scaled instance on schema and prefix
// (scaledStores), with a fresh data dir and master key.
func scaledEnv(t *testing.T, schema, prefix string) []string {
	t.Helper()
	return append(embeddedEnv(t, t.TempDir(), newMasterKey(t)),
		"PIXELGW_MODE=scaled",
		"PIXELGW_DATABASE_POSTGRES_DSN="+postgresDSN()+"&search_path="+schema,
		"PIXELGW_REDIS_PREFIX="+prefix,
	)
}

// scaledTestEnv is the environment of a scaled instance on fresh stores.
func scaledTestEnv(t *testing.T) []string {
	t.Helper()
	schema, prefix, _ := scaledStores(t)
	return scaledEnv(t, schema, prefix)
}

// pgConn is a connection to the test database, closed at cleanup (call
// after scaledStores, which skips when PostgreSQL is unreachable).
func pgConn(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), postgresDSN())
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// seededDemo migrates the stores env names, seeds the demo tenant and
// returns a 10-minute admin token for it.
func seededDemo(t *testing.T, env []string) string {
	t.Helper()
	_, errOut, code := pixelgw(t, env, "migrate")
	require.Equal(t, 0, code, errOut)
	_, errOut, code = pixelgw(t, env, "seed-demo")
	require.Equal(t, 0, code, errOut)
	tok, errOut, code := pixelgw(t, env, "token", "-tenant", "demo", "-ttl", "10m")
	require.Equal(t, 0, code, errOut)
	return strings.TrimSpace(tok)
}

// serveSimulator serves sim on 127.0.0.1 for the test's life and returns
// the pixelgw environment pointing the five adapters at it (simulatorEnv).
// The simulator closes first, releasing requests it holds back.
func serveSimulator(t *testing.T, sim *platformsim.Sim) []string {
	t.Helper()
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { sim.Close(); srv.Close() })
	return simulatorEnv(srv.URL)
}

// simulatorEnv points the five adapters at a platformsim server under base
// (allowing its private address).
func simulatorEnv(base string) []string {
	return []string{
		"PIXELGW_PLATFORMS_ALLOW_PRIVATE_ADDRESSES=true",
		"PIXELGW_PLATFORMS_META_BASE_URL=" + base + "/meta",
		"PIXELGW_PLATFORMS_GOOGLE_BASE_URL=" + base + "/google",
		"PIXELGW_PLATFORMS_LINKEDIN_BASE_URL=" + base + "/linkedin",
		"PIXELGW_PLATFORMS_TIKTOK_BASE_URL=" + base + "/tiktok",
		"PIXELGW_PLATFORMS_X_BASE_URL=" + base + "/x",
	}
}
