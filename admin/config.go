package admin

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"time"
)

// Config is the admin API's configuration (YAML key `api`).
type Config struct {
	// Listen is the API listener's address.
	Listen string `yaml:"listen"`
	// MaxBodyBytes caps request bodies (413 above it).
	MaxBodyBytes int64     `yaml:"max_body_bytes"`
	JWT          JWTConfig `yaml:"jwt"`
	// MaxStreams caps the live event streams open on this process
	// (GET /api/v1/tracking/events/stream; 503 beyond).
	MaxStreams int `yaml:"max_streams"`
	// MaxStreamsPerTenant caps one tenant's live streams on this process,
	// so one tenant cannot take every slot of MaxStreams (503 beyond).
	MaxStreamsPerTenant int `yaml:"max_streams_per_tenant"`
}

// JWTConfig configures bearer-token verification.
type JWTConfig struct {
	Issuer   string `yaml:"issuer"`
	Audience string `yaml:"audience"`
	// MaxTTL is the longest lifetime (exp - iat) a token may have; tokens
	// must carry both exp and iat.
	MaxTTL time.Duration `yaml:"max_ttl"`
	// Leeway tolerates clock skew on exp/nbf/iat.
	Leeway time.Duration `yaml:"leeway"`
	Keys   []JWTKey      `yaml:"keys"`
}

// JWTKey is one verification key. Exactly one algorithm per key: the token's
// kid selects the key and only that key's algorithm is accepted.
type JWTKey struct {
	KID string `yaml:"kid"`
	// Alg is HS256, RS256 or EdDSA.
	Alg string `yaml:"alg"`
	// Secret is the HS256 secret, base64 (std or url, padded or not), at
	// least 32 bytes decoded. Secret: never logged.
	Secret string `yaml:"secret"`
	// PublicKey is the PEM public key for RS256 / EdDSA.
	PublicKey string `yaml:"public_key"`
}

// Defaults returns the default configuration.
func Defaults() Config {
	return Config{
		Listen:       "127.0.0.1:8081",
		MaxBodyBytes: 1 << 20,
		MaxStreams:   100,
		// A dashboard or two per admin, a few admins.
		MaxStreamsPerTenant: 5,
		JWT: JWTConfig{
			Issuer:   "pixelgw",
			Audience: "pixelgw-admin",
			MaxTTL:   24 * time.Hour,
			Leeway:   30 * time.Second,
		},
	}
}

// Validate checks every field and names the first bad one by its YAML path
// (relative to `api`).
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("api.listen: %q is not host:port", c.Listen)
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 64<<20 {
		return fmt.Errorf("api.max_body_bytes: %d is outside 1024..67108864", c.MaxBodyBytes)
	}
	if c.MaxStreams < 1 || c.MaxStreams > 100_000 {
		return fmt.Errorf("api.max_streams: %d is outside 1..100000", c.MaxStreams)
	}
	if c.MaxStreamsPerTenant < 1 || c.MaxStreamsPerTenant > 100_000 {
		return fmt.Errorf("api.max_streams_per_tenant: %d is outside 1..100000", c.MaxStreamsPerTenant)
	}
	j := c.JWT
	if j.Issuer == "" {
		return errors.New("api.jwt.issuer: required")
	}
	if j.Audience == "" {
		return errors.New("api.jwt.audience: required")
	}
	if j.MaxTTL < time.Minute || j.MaxTTL > 30*24*time.Hour {
		return fmt.Errorf("api.jwt.max_ttl: %s is outside 1m..720h", j.MaxTTL)
	}
	if j.Leeway < 0 || j.Leeway > 5*time.Minute {
		return fmt.Errorf("api.jwt.leeway: %s is outside 0..5m", j.Leeway)
	}
	seen := map[string]bool{}
	for i, k := range j.Keys {
		p := fmt.Sprintf("api.jwt.keys[%d]", i)
		if k.KID == "" {
			return fmt.Errorf("%s.kid: required", p)
		}
		if seen[k.KID] {
			return fmt.Errorf("%s.kid: duplicate kid %q", p, k.KID)
		}
		seen[k.KID] = true
		if _, err := k.VerificationKey(); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

// VerificationKey parses the key material for its algorithm: []byte for
// HS256, *rsa.PublicKey for RS256, ed25519.PublicKey for EdDSA. Errors never
// contain the key material.
func (k JWTKey) VerificationKey() (any, error) {
	switch k.Alg {
	case "HS256":
		if k.PublicKey != "" {
			return nil, errors.New("public_key: not allowed with alg HS256")
		}
		b, err := DecodeBase64(k.Secret)
		if err != nil {
			return nil, errors.New("secret: not valid base64")
		}
		if len(b) < 32 {
			return nil, fmt.Errorf("secret: %d bytes decoded, need at least 32", len(b))
		}
		return b, nil
	case "RS256", "EdDSA":
		if k.Secret != "" {
			return nil, fmt.Errorf("secret: not allowed with alg %s", k.Alg)
		}
		blk, _ := pem.Decode([]byte(k.PublicKey))
		if blk == nil {
			return nil, errors.New("public_key: no PEM block")
		}
		pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, errors.New("public_key: not a PKIX public key")
		}
		switch pk := pub.(type) {
		case *rsa.PublicKey:
			if k.Alg != "RS256" {
				return nil, fmt.Errorf("public_key: RSA key with alg %s", k.Alg)
			}
			if pk.N.BitLen() < 2048 {
				return nil, fmt.Errorf("public_key: RSA key of %d bits, need at least 2048", pk.N.BitLen())
			}
			return pk, nil
		case ed25519.PublicKey:
			if k.Alg != "EdDSA" {
				return nil, fmt.Errorf("public_key: Ed25519 key with alg %s", k.Alg)
			}
			return pk, nil
		default:
			return nil, fmt.Errorf("public_key: unsupported key type for alg %s", k.Alg)
		}
	case "":
		return nil, errors.New("alg: required (HS256, RS256 or EdDSA)")
	default:
		return nil, fmt.Errorf("alg: %q is not one of HS256, RS256, EdDSA", k.Alg)
	}
}

// DecodeBase64 accepts standard or URL-safe base64, padded or not.
func DecodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("invalid base64")
}
