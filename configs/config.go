// Package configs holds pixelgw's one typed configuration: defaults, strict
// YAML loading, PIXELGW_* environment overrides (with *_FILE secrets) and
// validation that names the bad field by its YAML path.
//
// The package is named configs only because the folder name is fixed.
package configs

import (
	"errors"
	"path/filepath"
	"time"

	"github.com/jaraba/pixelgw/admin"
	"github.com/jaraba/pixelgw/platforms/dispatch"
	"github.com/jaraba/pixelgw/platforms/google"
	"github.com/jaraba/pixelgw/platforms/linkedin"
	"github.com/jaraba/pixelgw/platforms/meta"
	"github.com/jaraba/pixelgw/platforms/tiktok"
	"github.com/jaraba/pixelgw/platforms/x"
	"github.com/jaraba/pixelgw/proxy"
)

// Mode selects the storage topology.
type Mode string

const (
	// ModeEmbedded is the single-node default: SQLite, no Redis.
	ModeEmbedded Mode = "embedded"
	// ModeScaled runs on PostgreSQL and Redis.
	ModeScaled Mode = "scaled"
)

// Redacted replaces secret values in Config.Redacted output.
const Redacted = "[redacted]"

// ErrNoMasterKey is returned by MasterKeys when secrets.master_key is empty
// (allowed only in dev embedded mode, where cmd generates one).
var ErrNoMasterKey = errors.New("secrets.master_key: not configured")

// Config is pixelgw's whole configuration. YAML keys are snake_case.
type Config struct {
	// Mode is embedded (SQLite, no Redis) or scaled (PostgreSQL + Redis).
	Mode Mode `yaml:"mode"`
	// DataDir holds the SQLite database and, in dev mode, generated keys.
	DataDir string `yaml:"data_dir"`
	// Dev lets embedded mode generate a dev master key and a dev JWT key in
	// DataDir when none is configured.
	Dev      bool           `yaml:"dev"`
	Database DatabaseConfig `yaml:"database"`
	Redis    RedisConfig    `yaml:"redis"`
	Secrets  SecretsConfig  `yaml:"secrets"`
	Edge     proxy.Config   `yaml:"edge"`
	Ops      OpsConfig      `yaml:"ops"`
	API      admin.Config   `yaml:"api"`
	// Platforms configures the outbound side: each API's base URL, version
	// and timeout (operator config only, never tenant-editable: SSRF).
	Platforms PlatformsConfig `yaml:"platforms"`
	Log       LogConfig       `yaml:"log"`
	Shutdown  ShutdownConfig  `yaml:"shutdown"`
}

// DatabaseConfig selects and sizes the store.
type DatabaseConfig struct {
	// SQLitePath is the embedded-mode database file. Empty means
	// <data_dir>/pixelgw.db (filled in by Load).
	SQLitePath string `yaml:"sqlite_path"`
	// PostgresDSN is the scaled-mode connection string. Secret.
	PostgresDSN string `yaml:"postgres_dsn"`
	// MaxConns caps the connection pool.
	MaxConns int `yaml:"max_conns"`
}

// RedisConfig is the scaled-mode Redis connection.
type RedisConfig struct {
	Addr string `yaml:"addr"`
	// Password is the AUTH password. Secret.
	Password string `yaml:"password"`
	DB       int    `yaml:"db"`
	// Prefix starts every key pixelgw writes, so several fleets (or test
	// runs) can share one Redis.
	Prefix string `yaml:"prefix"`
}

// SecretsConfig holds the master keys that encrypt stored secrets.
type SecretsConfig struct {
	// MasterKeyID is stored with every ciphertext sealed under MasterKey.
	MasterKeyID string `yaml:"master_key_id"`
	// MasterKey is base64 of exactly 32 bytes. Secret.
	MasterKey string `yaml:"master_key"`
	// PreviousKeys still open values sealed before a rotation.
	PreviousKeys []PreviousKey `yaml:"previous_keys"`
}

// PreviousKey is a retired master key, accepted for decryption only.
type PreviousKey struct {
	ID string `yaml:"id"`
	// Key is base64 of exactly 32 bytes. Secret.
	Key string `yaml:"key"`
}

// OpsConfig configures the ops listener (/metrics, /healthz, /readyz).
type OpsConfig struct {
	Listen string `yaml:"listen"`
	// Pprof serves /debug/pprof/ on the ops listener (off by default).
	Pprof bool `yaml:"pprof"`
}

// PlatformsConfig holds each platform adapter's configuration.
type PlatformsConfig struct {
	// AllowPrivateAddresses lets outbound requests reach loopback, private
	// and link-local addresses: only for the local simulators (tests, the
	// demo). Never in production.
	AllowPrivateAddresses bool `yaml:"allow_private_addresses"`
	// Deliver runs the delivery engine in this instance (default true).
	// Fleets may run edge-only instances (false) and delivery instances
	// separately; each scales on its own.
	Deliver bool `yaml:"deliver"`
	// Simulator runs the strict platform simulator in-process and sends
	// every platform's traffic to it (make run's demo delivers offline).
	Simulator bool            `yaml:"simulator"`
	Dispatch  dispatch.Config `yaml:"dispatch"`
	Meta      meta.Config     `yaml:"meta"`
	Google    google.Config   `yaml:"google"`
	LinkedIn  linkedin.Config `yaml:"linkedin"`
	TikTok    tiktok.Config   `yaml:"tiktok"`
	X         x.Config        `yaml:"x"`
}

// Validate checks every adapter's configuration.
func (p PlatformsConfig) Validate() error {
	for _, v := range []interface{ Validate() error }{p.Meta, p.Google, p.LinkedIn, p.TikTok, p.X, p.DispatchConfig()} {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// DispatchConfig is the delivery engine's configuration with each
// platform's attempts override (platforms.<name>.attempts, 0 = unset)
// keyed by the platform's delivery name.
func (p PlatformsConfig) DispatchConfig() dispatch.Config {
	d := p.Dispatch
	d.PlatformAttempts = map[string]int{}
	for name, n := range map[string]int{
		meta.Name: p.Meta.Attempts, google.Name: p.Google.Attempts, linkedin.Platform: p.LinkedIn.Attempts,
		tiktok.Platform: p.TikTok.Attempts, x.Platform: p.X.Attempts,
	} {
		if n != 0 {
			d.PlatformAttempts[name] = n
		}
	}
	return d
}

// LogConfig configures log/slog output.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is json or text.
	Format string `yaml:"format"`
}

// ShutdownConfig configures graceful shutdown.
type ShutdownConfig struct {
	// ReadyDelay is how long /readyz answers 503 before listeners close.
	ReadyDelay time.Duration `yaml:"ready_delay"`
	// Timeout bounds the whole shutdown.
	Timeout time.Duration `yaml:"timeout"`
}

// Defaults returns the default configuration. Database.SQLitePath is left
// empty: Load derives it from DataDir after the file and environment are
// applied.
func Defaults() Config {
	return Config{
		Mode:     ModeEmbedded,
		DataDir:  "./data",
		Database: DatabaseConfig{MaxConns: 10},
		Redis:    RedisConfig{Addr: "127.0.0.1:6379", Prefix: "pgw"},
		Secrets:  SecretsConfig{MasterKeyID: "k1"},
		Edge:     proxy.Defaults(),
		Ops:      OpsConfig{Listen: "127.0.0.1:9090"},
		API:      admin.Defaults(),
		Platforms: PlatformsConfig{
			Deliver: true,
			Meta:    meta.Defaults(), Google: google.Defaults(), LinkedIn: linkedin.Defaults(),
			TikTok: tiktok.Defaults(), X: x.Defaults(), Dispatch: dispatch.Defaults(),
		},
		Log:      LogConfig{Level: "info", Format: "json"},
		Shutdown: ShutdownConfig{ReadyDelay: 5 * time.Second, Timeout: 30 * time.Second},
	}
}

// applyDerived fills in defaults that depend on other fields.
// Empty lists become nil so that `keys: []` equals an absent key.
func (c *Config) applyDerived() {
	if c.Database.SQLitePath == "" && c.DataDir != "" {
		c.Database.SQLitePath = filepath.Join(c.DataDir, "pixelgw.db")
	}
	if len(c.Secrets.PreviousKeys) == 0 {
		c.Secrets.PreviousKeys = nil
	}
	if len(c.API.JWT.Keys) == 0 {
		c.API.JWT.Keys = nil
	}
	if len(c.Edge.TrustedProxies) == 0 {
		c.Edge.TrustedProxies = nil
	}
}

// MasterKeys returns the keyring inputs for secret.NewKeyring: the active key
// id and every key (active and previous) decoded. It returns ErrNoMasterKey
// when no master key is configured. Errors never contain key material.
func (c Config) MasterKeys() (activeID string, keys map[string][]byte, err error) {
	s := c.Secrets
	if s.MasterKey == "" {
		return "", nil, ErrNoMasterKey
	}
	active, err := decodeMasterKey(s.MasterKey)
	if err != nil {
		return "", nil, prefixErr("secrets.master_key", err)
	}
	keys = map[string][]byte{s.MasterKeyID: active}
	for i, pk := range s.PreviousKeys {
		b, err := decodeMasterKey(pk.Key)
		if err != nil {
			return "", nil, prefixErr(indexPath("secrets.previous_keys", i)+".key", err)
		}
		if _, dup := keys[pk.ID]; dup {
			return "", nil, prefixErr(indexPath("secrets.previous_keys", i)+".id", errDuplicateKeyID(pk.ID))
		}
		keys[pk.ID] = b
	}
	return s.MasterKeyID, keys, nil
}
