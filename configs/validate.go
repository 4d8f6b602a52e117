package configs

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jaraba/pixelgw/admin"
)

// masterKeySize is the decoded length of every master key (AES-256).
const masterKeySize = 32

// keyIDRe matches the key ids store/secret accepts.
var keyIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)

func prefixErr(path string, err error) error { return fmt.Errorf("%s: %w", path, err) }

func indexPath(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

func errDuplicateKeyID(id string) error { return fmt.Errorf("duplicate key id %q", id) }

// decodeMasterKey decodes base64 (std or url, padded or not) of exactly 32
// bytes. The error never contains the key.
func decodeMasterKey(s string) ([]byte, error) {
	b, err := admin.DecodeBase64(s)
	if err != nil {
		return nil, errors.New("not valid base64")
	}
	if len(b) != masterKeySize {
		return nil, fmt.Errorf("decodes to %d bytes, need %d", len(b), masterKeySize)
	}
	return b, nil
}

// Validate checks every field and returns the first problem, naming it by its
// YAML path. Messages never contain secret values.
func (c Config) Validate() error {
	switch c.Mode {
	case ModeEmbedded, ModeScaled:
	default:
		return fmt.Errorf("mode: %q is not one of embedded, scaled", c.Mode)
	}
	if strings.TrimSpace(c.DataDir) == "" {
		return errors.New("data_dir: required")
	}
	if err := c.validateDatabase(); err != nil {
		return err
	}
	if err := c.validateRedis(); err != nil {
		return err
	}
	if err := c.validateSecrets(); err != nil {
		return err
	}
	if err := validateListen("edge.listen", c.Edge.Listen); err != nil {
		return err
	}
	if err := c.Edge.Validate(); err != nil {
		return err
	}
	if err := validateListen("ops.listen", c.Ops.Listen); err != nil {
		return err
	}
	if err := c.API.Validate(); err != nil {
		return err
	}
	if err := c.Platforms.Validate(); err != nil {
		return err
	}
	if err := c.validateListenersDistinct(); err != nil {
		return err
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		return fmt.Errorf("log.format: %q is not one of json, text", c.Log.Format)
	}
	if d := c.Shutdown.ReadyDelay; d < 0 || d > 5*time.Minute {
		return fmt.Errorf("shutdown.ready_delay: %s is outside 0s..5m", d)
	}
	if d := c.Shutdown.Timeout; d < time.Second || d > 10*time.Minute {
		return fmt.Errorf("shutdown.timeout: %s is outside 1s..10m", d)
	}
	if c.Shutdown.Timeout <= c.Shutdown.ReadyDelay {
		return fmt.Errorf("shutdown.timeout: %s must exceed shutdown.ready_delay %s", c.Shutdown.Timeout, c.Shutdown.ReadyDelay)
	}
	return nil
}

func (c Config) validateDatabase() error {
	d := c.Database
	if c.Mode == ModeEmbedded && strings.TrimSpace(d.SQLitePath) == "" {
		return errors.New("database.sqlite_path: required in embedded mode")
	}
	if c.Mode == ModeScaled && d.PostgresDSN == "" {
		return errors.New("database.postgres_dsn: required in scaled mode")
	}
	if d.PostgresDSN != "" {
		if err := validateDSN(d.PostgresDSN); err != nil {
			return prefixErr("database.postgres_dsn", err)
		}
	}
	if d.MaxConns < 1 || d.MaxConns > 1000 {
		return fmt.Errorf("database.max_conns: %d is outside 1..1000", d.MaxConns)
	}
	return nil
}

// validateDSN checks the shape of a PostgreSQL connection string without ever
// echoing it (it usually carries a password).
func validateDSN(dsn string) error {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return errors.New("not a valid postgres:// URL")
		}
		if u.Host == "" && u.Query().Get("host") == "" {
			return errors.New("postgres:// URL has no host")
		}
		return nil
	}
	if strings.Contains(dsn, "://") {
		return errors.New("URL scheme must be postgres:// or postgresql://")
	}
	if !strings.Contains(dsn, "=") {
		return errors.New("neither a postgres:// URL nor key=value pairs")
	}
	return nil
}

var redisPrefixRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)

func (c Config) validateRedis() error {
	r := c.Redis
	if !redisPrefixRe.MatchString(r.Prefix) {
		return fmt.Errorf("redis.prefix: %q must be 1-32 of [A-Za-z0-9_.-]", r.Prefix)
	}
	if c.Mode == ModeScaled && r.Addr == "" {
		return errors.New("redis.addr: required in scaled mode")
	}
	if r.Addr != "" {
		if err := validateHostPort("redis.addr", r.Addr, false); err != nil {
			return err
		}
	}
	if r.DB < 0 || r.DB > 15 {
		return fmt.Errorf("redis.db: %d is outside 0..15", r.DB)
	}
	return nil
}

func (c Config) validateSecrets() error {
	s := c.Secrets
	if !keyIDRe.MatchString(s.MasterKeyID) {
		return fmt.Errorf("secrets.master_key_id: %q is not 1-32 of [A-Za-z0-9._-]", s.MasterKeyID)
	}
	if s.MasterKey == "" {
		switch {
		case c.Dev && c.Mode == ModeEmbedded:
			// cmd generates a dev key in data_dir.
		case c.Dev:
			return errors.New("secrets.master_key: required (dev only generates a key in embedded mode)")
		default:
			return errors.New("secrets.master_key: required (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)")
		}
	} else if _, err := decodeMasterKey(s.MasterKey); err != nil {
		return prefixErr("secrets.master_key", err)
	}
	seen := map[string]bool{s.MasterKeyID: true}
	for i, pk := range s.PreviousKeys {
		p := indexPath("secrets.previous_keys", i)
		if !keyIDRe.MatchString(pk.ID) {
			return fmt.Errorf("%s.id: %q is not 1-32 of [A-Za-z0-9._-]", p, pk.ID)
		}
		if seen[pk.ID] {
			return prefixErr(p+".id", errDuplicateKeyID(pk.ID))
		}
		seen[pk.ID] = true
		if pk.Key == "" {
			return fmt.Errorf("%s.key: required", p)
		}
		if _, err := decodeMasterKey(pk.Key); err != nil {
			return prefixErr(p+".key", err)
		}
	}
	return nil
}

// validateListen checks a listener address: host:port with an optional host
// and a numeric port (0 picks a free port).
func validateListen(path, addr string) error {
	return validateHostPort(path, addr, true)
}

func validateHostPort(path, addr string, allowEmptyHost bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s: %q is not host:port", path, addr)
	}
	if host == "" && !allowEmptyHost {
		return fmt.Errorf("%s: %q has no host", path, addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%s: %q has no numeric port 0..65535", path, addr)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("%s: %q has an invalid host", path, addr)
	}
	return nil
}

// validateListenersDistinct refuses two listeners on the same port when
// their hosts overlap (equal, or one is a wildcard).
func (c Config) validateListenersDistinct() error {
	type listener struct{ path, addr string }
	ls := []listener{{"edge.listen", c.Edge.Listen}, {"api.listen", c.API.Listen}, {"ops.listen", c.Ops.Listen}}
	for i := range ls {
		hi, pi, _ := net.SplitHostPort(ls[i].addr)
		for j := range i {
			hj, pj, _ := net.SplitHostPort(ls[j].addr)
			if pi != pj || pi == "0" {
				continue
			}
			if hi == hj || isWildcard(hi) || isWildcard(hj) {
				return fmt.Errorf("%s: %q uses the same port as %s %q", ls[i].path, ls[i].addr, ls[j].path, ls[j].addr)
			}
		}
	}
	return nil
}

func isWildcard(host string) bool {
	return host == "" || host == "0.0.0.0" || host == "::" || host == "[::]"
}
