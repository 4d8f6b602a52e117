// Package ratelimit holds the edge's token buckets: one per client IP and one
// per tenant, so one noisy visitor or one flooded tenant cannot starve the
// others. Buckets are per instance (a fleet of N instances admits N times the
// configured rate); the per-IP table is a bounded LRU, so a flood of source
// addresses costs a fixed amount of memory.
package ratelimit

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// Config sets the buckets (YAML key `edge.rate_limit`).
type Config struct {
	// PerIP is the sustained beacons per second one client IP may send.
	PerIP float64 `yaml:"per_ip"`
	// BurstIP is the bucket size per client IP.
	BurstIP int `yaml:"burst_ip"`
	// PerTenant is the sustained beacons per second per tenant, per instance.
	PerTenant float64 `yaml:"per_tenant"`
	// BurstTenant is the bucket size per tenant.
	BurstTenant int `yaml:"burst_tenant"`
	// MaxIPs bounds the per-IP table (least recently seen evicted first).
	MaxIPs int `yaml:"max_ips"`
}

// Defaults returns generous limits: a page sends a few beacons a minute.
func Defaults() Config {
	return Config{PerIP: 20, BurstIP: 60, PerTenant: 20000, BurstTenant: 40000, MaxIPs: 100000}
}

// Validate names the first bad field by its YAML path.
func (c Config) Validate() error {
	switch {
	case c.PerIP <= 0 || c.PerIP > 1e6:
		return fmt.Errorf("edge.rate_limit.per_ip: %g is outside (0, 1e6]", c.PerIP)
	case c.BurstIP < 1 || c.BurstIP > 1e6:
		return fmt.Errorf("edge.rate_limit.burst_ip: %d is outside 1..1000000", c.BurstIP)
	case c.PerTenant <= 0 || c.PerTenant > 1e7:
		return fmt.Errorf("edge.rate_limit.per_tenant: %g is outside (0, 1e7]", c.PerTenant)
	case c.BurstTenant < 1 || c.BurstTenant > 1e7:
		return fmt.Errorf("edge.rate_limit.burst_tenant: %d is outside 1..10000000", c.BurstTenant)
	case c.MaxIPs < 100 || c.MaxIPs > 10_000_000:
		return fmt.Errorf("edge.rate_limit.max_ips: %d is outside 100..10000000", c.MaxIPs)
	}
	return nil
}

// Limiter decides whether a request may proceed.
type Limiter struct {
	cfg Config
	ips *lru.Cache[netip.Addr, *rate.Limiter]

	mu      sync.Mutex
	tenants map[string]*rate.Limiter
}

// New builds a limiter; cfg must be valid.
func New(cfg Config) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ips, err := lru.New[netip.Addr, *rate.Limiter](cfg.MaxIPs)
	if err != nil {
		return nil, fmt.Errorf("cannot build ip table: %w", err)
	}
	return &Limiter{cfg: cfg, ips: ips, tenants: make(map[string]*rate.Limiter)}, nil
}

// Verdict says which bucket refused, if any.
type Verdict uint8

// Verdicts.
const (
	Allowed Verdict = iota
	LimitedIP
	LimitedTenant
)

// Allow takes one token from the client IP's bucket and one from the
// tenant's. When refused it returns how long until a token is available
// (for Retry-After). An invalid ip (unknown client) is only tenant-limited.
func (l *Limiter) Allow(now time.Time, tenantID string, ip netip.Addr) (Verdict, time.Duration) {
	if ip.IsValid() {
		lim, ok := l.ips.Get(ip)
		if !ok {
			lim = rate.NewLimiter(rate.Limit(l.cfg.PerIP), l.cfg.BurstIP)
			// A concurrent first request from the same IP may add its own
			// bucket; the loser's token is the only thing lost.
			l.ips.Add(ip, lim)
		}
		if r := lim.ReserveN(now, 1); !r.OK() || r.DelayFrom(now) > 0 {
			d := r.DelayFrom(now)
			r.CancelAt(now)
			return LimitedIP, d
		}
	}
	l.mu.Lock()
	tl, ok := l.tenants[tenantID]
	if !ok {
		tl = rate.NewLimiter(rate.Limit(l.cfg.PerTenant), l.cfg.BurstTenant)
		l.tenants[tenantID] = tl
	}
	l.mu.Unlock()
	if r := tl.ReserveN(now, 1); !r.OK() || r.DelayFrom(now) > 0 {
		d := r.DelayFrom(now)
		r.CancelAt(now)
		return LimitedTenant, d
	}
	return Allowed, 0
}

// Forget drops tenants that are no longer served (after a config reload), so
// the tenant table stays bounded by the fleet's tenants.
func (l *Limiter) Forget(keep func(tenantID string) bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id := range l.tenants {
		if !keep(id) {
			delete(l.tenants, id)
		}
	}
}
