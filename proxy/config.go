package proxy

import (
	"fmt"
	"net"
	"time"

	"github.com/jaraba/pixelgw/proxy/ratelimit"
	"github.com/jaraba/pixelgw/proxy/tenant"
)

// Config is the edge's configuration (YAML key `edge`).
type Config struct {
	// Listen is the public listener's address.
	Listen string `yaml:"listen"`
	// TLSCertFile and TLSKeyFile enable https on the edge (both or none).
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// TrustedProxies are the fleet's load balancers (CIDRs): only from them
	// is X-Forwarded-For believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// MaxBeaconBytes caps a collect body (browsers cap all in-flight
	// keepalive bodies at 64 KiB).
	MaxBeaconBytes int `yaml:"max_beacon_bytes"`
	// MaxEvents caps the events of one beacon.
	MaxEvents int `yaml:"max_events"`
	// ConversionWindow and HighVolumeWindow are the dedup windows per event
	// class.
	ConversionWindow time.Duration `yaml:"conversion_window"`
	HighVolumeWindow time.Duration `yaml:"high_volume_window"`
	// MaxLiveIDsPerTenant caps a tenant's live dedup keys: a flood of random
	// event ids gets 429 for that tenant, never evicts another tenant's keys.
	MaxLiveIDsPerTenant int64 `yaml:"max_live_ids_per_tenant"`
	// AdmitTimeout bounds the durable enqueue of one beacon; past it the
	// edge answers 503 and the loader retries.
	AdmitTimeout time.Duration `yaml:"admit_timeout"`
	// MaxQueueLag: when the delivery queue's slowest consumer is this many
	// entries behind, collect answers 503 (back-pressure) until it catches
	// up. 0 disables the check.
	MaxQueueLag int64 `yaml:"max_queue_lag"`
	// ReloadInterval is how often the tenant snapshot polls for changes.
	ReloadInterval time.Duration `yaml:"reload_interval"`
	// Demo serves a demo shop page at / on tenant hosts named www.*, loading
	// the loader from t.* (make run).
	Demo bool `yaml:"demo"`
	// RateLimit holds the per-IP and per-tenant token buckets.
	RateLimit ratelimit.Config `yaml:"rate_limit"`
}

// Defaults returns the default edge configuration.
func Defaults() Config {
	return Config{
		Listen:              ":8080",
		MaxBeaconBytes:      32 << 10,
		MaxEvents:           25,
		ConversionWindow:    48 * time.Hour,
		HighVolumeWindow:    10 * time.Minute,
		AdmitTimeout:        2 * time.Second,
		MaxLiveIDsPerTenant: 1_000_000,
		MaxQueueLag:         5_000_000,
		ReloadInterval:      250 * time.Millisecond,
		RateLimit:           ratelimit.Defaults(),
	}
}

// Validate names the first bad field by its YAML path.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("edge.listen: %q is not host:port", c.Listen)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return fmt.Errorf("edge.tls_cert_file, edge.tls_key_file: give both or neither")
	}
	for i, s := range c.TrustedProxies {
		if _, err := tenant.ParseCIDR(s); err != nil {
			return fmt.Errorf("edge.trusted_proxies[%d]: %w", i, err)
		}
	}
	switch {
	case c.MaxBeaconBytes < 1024 || c.MaxBeaconBytes > 64<<10:
		return fmt.Errorf("edge.max_beacon_bytes: %d is outside 1024..65536", c.MaxBeaconBytes)
	case c.MaxEvents < 1 || c.MaxEvents > 1000:
		return fmt.Errorf("edge.max_events: %d is outside 1..1000", c.MaxEvents)
	case c.ConversionWindow < time.Minute || c.ConversionWindow > 30*24*time.Hour:
		return fmt.Errorf("edge.conversion_window: %s is outside 1m..720h", c.ConversionWindow)
	case c.HighVolumeWindow < 10*time.Second || c.HighVolumeWindow > 24*time.Hour:
		return fmt.Errorf("edge.high_volume_window: %s is outside 10s..24h", c.HighVolumeWindow)
	case c.AdmitTimeout < 10*time.Millisecond || c.AdmitTimeout > time.Minute:
		return fmt.Errorf("edge.admit_timeout: %s is outside 10ms..1m", c.AdmitTimeout)
	case c.MaxLiveIDsPerTenant < 10 || c.MaxLiveIDsPerTenant > 1e9:
		return fmt.Errorf("edge.max_live_ids_per_tenant: %d is outside 10..1000000000", c.MaxLiveIDsPerTenant)
	case c.MaxQueueLag < 0:
		return fmt.Errorf("edge.max_queue_lag: %d is negative", c.MaxQueueLag)
	case c.ReloadInterval < 10*time.Millisecond || c.ReloadInterval > time.Second:
		return fmt.Errorf("edge.reload_interval: %s is outside 10ms..1s (changes must reach every instance within 1s)", c.ReloadInterval)
	}
	return c.RateLimit.Validate()
}
