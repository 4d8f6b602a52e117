package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/jaraba/pixelgw/admin"
	"github.com/jaraba/pixelgw/configs"
	"github.com/jaraba/pixelgw/internal/logging"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/queue"
	"github.com/jaraba/pixelgw/store/queue/queueredis"
	"github.com/jaraba/pixelgw/store/queue/queuesqlite"
	"github.com/jaraba/pixelgw/store/secret"
	"github.com/jaraba/pixelgw/store/storepg"
	"github.com/jaraba/pixelgw/store/storesqlite"
)

// Files that dev mode keeps in data_dir.
const (
	devMasterKeyFile = "dev-master.key"
	devJWTKeyFile    = "dev-jwt.key"
	devJWTKeyID      = "dev"
)

// fullStore is what a driver provides.
type fullStore interface {
	store.Store
	store.Migrator
}

// loadFlags parses args into fs (from newFlags, with the command's own flags
// added) and loads the configuration -config names.
func loadFlags(fs *flag.FlagSet, cfgPath *string, args, env []string) (configs.Config, error) {
	if err := parseFlags(fs, args); err != nil {
		return configs.Config{}, err
	}
	return loadConfig(*cfgPath, env)
}

// loadConfig loads and validates the configuration, filling in dev keys
// when dev mode asks for them.
func loadConfig(path string, env []string) (configs.Config, error) {
	cfg, err := configs.Load(path, env)
	if err != nil {
		return configs.Config{}, err
	}
	if cfg.Dev && cfg.Mode == configs.ModeEmbedded {
		if err := fillDevKeys(&cfg); err != nil {
			return configs.Config{}, err
		}
		if err := cfg.Validate(); err != nil {
			return configs.Config{}, err
		}
	}
	return cfg, nil
}

// fillDevKeys reads, or generates once, a master key and an HS256 JWT key
// in data_dir, for whichever of the two the configuration leaves empty.
func fillDevKeys(cfg *configs.Config) error {
	if cfg.Secrets.MasterKey == "" {
		k, err := devKey(filepath.Join(cfg.DataDir, devMasterKeyFile))
		if err != nil {
			return err
		}
		cfg.Secrets.MasterKey = k
	}
	if len(cfg.API.JWT.Keys) == 0 {
		k, err := devKey(filepath.Join(cfg.DataDir, devJWTKeyFile))
		if err != nil {
			return err
		}
		cfg.API.JWT.Keys = []admin.JWTKey{{KID: devJWTKeyID, Alg: "HS256", Secret: k}}
	}
	return nil
}

// devKey returns the base64 key stored at path, creating it (32 random
// bytes, mode 0600) on first use.
func devKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("cannot read dev key %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("cannot create data directory: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("cannot generate dev key: %w", err)
	}
	k := base64.StdEncoding.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("cannot create dev key %s: %w", path, err)
	}
	_, werr := f.WriteString(k + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return "", fmt.Errorf("cannot write dev key %s: %w", path, werr)
	}
	return k, nil
}

func newLogger(cfg configs.Config, w io.Writer) (*slog.Logger, error) {
	return logging.New(w, cfg.Log.Level, cfg.Log.Format)
}

func newKeyring(cfg configs.Config) (*secret.Keyring, error) {
	active, keys, err := cfg.MasterKeys()
	if err != nil {
		return nil, err
	}
	kr, err := secret.NewKeyring(active, keys)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return kr, nil
}

// openStore opens the driver the mode selects. It does not migrate.
func openStore(ctx context.Context, cfg configs.Config) (fullStore, error) {
	switch cfg.Mode {
	case configs.ModeScaled:
		s, err := storepg.OpenConfig(ctx, storepg.Config{
			DSN:      cfg.Database.PostgresDSN,
			MaxConns: int32(cfg.Database.MaxConns),
		})
		if err != nil {
			return nil, fmt.Errorf("cannot open postgres: %s", logging.SanitizeError(err))
		}
		return s, nil
	default:
		if err := os.MkdirAll(filepath.Dir(cfg.Database.SQLitePath), 0o700); err != nil {
			return nil, fmt.Errorf("cannot create data directory: %w", err)
		}
		s, err := storesqlite.Open(ctx, cfg.Database.SQLitePath)
		if err != nil {
			return nil, fmt.Errorf("cannot open sqlite %s: %w", cfg.Database.SQLitePath, err)
		}
		return s, nil
	}
}

// openKeyed opens the secrets keyring and the store (schema checked): what
// every command that reads or writes secrets needs. Close the store.
func openKeyed(ctx context.Context, cfg configs.Config) (*secret.Keyring, fullStore, error) {
	kr, err := newKeyring(cfg)
	if err != nil {
		return nil, nil, err
	}
	st, err := openChecked(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return kr, st, nil
}

// openChecked opens the store and refuses an outdated schema.
func openChecked(ctx context.Context, cfg configs.Config) (fullStore, error) {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := st.CheckSchema(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("refusing to start: %w", err)
	}
	return st, nil
}

// hs256Key picks the key `pixelgw token` signs with: the named kid, or the
// first HS256 key.
func hs256Key(cfg configs.Config, kid string) (admin.JWTKey, error) {
	for _, k := range cfg.API.JWT.Keys {
		if k.Alg == "HS256" && (kid == "" || k.KID == kid) {
			return k, nil
		}
	}
	if kid != "" {
		return admin.JWTKey{}, fmt.Errorf("api.jwt.keys: no HS256 key with kid %q", kid)
	}
	return admin.JWTKey{}, errors.New("api.jwt.keys: no HS256 key to sign with (RS256/EdDSA keys are verification-only; sign those tokens with your identity provider)")
}

// batcherConfig: the defaults (queue.BatcherConfig.MaxWait says why).
func batcherConfig() queue.BatcherConfig { return queue.BatcherConfig{} }

// openQueue opens the durable hand-off the mode selects: SQLite beside the
// store in embedded mode, Redis Streams (behind a micro-batcher) in scaled
// mode. It returns the components to start (their background loops) and a
// close function for after they stopped.
func openQueue(ctx context.Context, cfg configs.Config, log *slog.Logger) (queue.Queue, []component, func(), error) {
	qlog := log.With(slog.String("component", "queue"))
	opts := queue.Options{MaxKeysPerTenant: cfg.Edge.MaxLiveIDsPerTenant}
	if cfg.Mode == configs.ModeScaled {
		rdb := redis.NewClient(&redis.Options{Addr: cfg.Redis.Addr, Password: cfg.Redis.Password, DB: cfg.Redis.DB})
		if err := rdb.Ping(ctx).Err(); err != nil {
			rdb.Close()
			return nil, nil, nil, fmt.Errorf("cannot reach redis at %s: %s", cfg.Redis.Addr, logging.SanitizeError(err))
		}
		q := queueredis.New(rdb, queueredis.Config{Prefix: cfg.Redis.Prefix, Options: opts}, qlog)
		b := queue.NewBatcher(q, batcherConfig())
		comps := []component{{"queue", q.Start, q.Stop}, {"batcher", b.Start, b.Stop}}
		return b, comps, func() { rdb.Close() }, nil
	}
	path := filepath.Join(filepath.Dir(cfg.Database.SQLitePath), "queue.db")
	q, err := queuesqlite.Open(ctx, path, queuesqlite.Options{Options: opts, Logger: qlog})
	if err != nil {
		return nil, nil, nil, err
	}
	b := queue.NewBatcher(q, batcherConfig())
	return b, []component{{"queue", q.Start, q.Stop}, {"batcher", b.Start, b.Stop}}, func() { q.Close() }, nil
}
