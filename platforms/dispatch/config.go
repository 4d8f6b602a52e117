package dispatch

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Config is the delivery engine's configuration (the platforms.dispatch
// section).
type Config struct {
	// MaxWait is how long a pixel's batch waits for more events before it
	// is sent (it is sent at once when it reaches the platform's MaxBatch).
	MaxWait time.Duration `yaml:"max_wait"`
	// Attempts is how many requests may carry one event to one pixel
	// before it is dead (1 = no retry).
	Attempts int `yaml:"attempts"`
	// PlatformAttempts overrides Attempts per platform (by
	// platforms.Destination.Platform name; the platforms.<name>.attempts
	// keys, which configs copies here).
	PlatformAttempts map[string]int `yaml:"-"`
	// BackoffBase is the first retry's delay; each retry doubles it, with
	// jitter, up to BackoffMax. A platform's Retry-After is honoured (up
	// to BackoffMax).
	BackoffBase time.Duration `yaml:"backoff_base"`
	BackoffMax  time.Duration `yaml:"backoff_max"`
	// MaxInFlight bounds the requests in flight per platform.
	MaxInFlight int `yaml:"max_in_flight"`
	// ReadBatch is how many queued messages one read claims.
	ReadBatch int `yaml:"read_batch"`
	// PixelsRefresh is how often the active-pixel snapshot is rebuilt.
	PixelsRefresh time.Duration `yaml:"pixels_refresh"`
	// MergeWindow is how long a conversion waits before its first send, so
	// that the other copy of it (browser or server, a "merge" queue entry)
	// can fold its identifiers in. 0 turns the window off.
	MergeWindow time.Duration `yaml:"merge_window"`
	// MergeMaxWaiting caps the conversions waiting in the merge window,
	// all platforms together; past it a conversion is sent at once
	// (pixelgw_merge_window_overflow_total counts them).
	MergeMaxWaiting int `yaml:"merge_max_waiting"`
	// ReclaimInterval is how often each consumer group claims the entries
	// another consumer read and never acknowledged (a dead process).
	ReclaimInterval time.Duration `yaml:"reclaim_interval"`
	// ClaimMinIdle is how long an entry must have been pending before it is
	// reclaimed. It must exceed the longest time a live engine holds an
	// entry: the merge window, the batch wait and every retry's backoff —
	// plus every attempt's request timeout, which is the adapters' to set
	// (keep a margin).
	ClaimMinIdle time.Duration `yaml:"claim_min_idle"`
}

// Defaults returns the production configuration.
func Defaults() Config {
	return Config{
		MaxWait:         200 * time.Millisecond,
		Attempts:        3,
		BackoffBase:     500 * time.Millisecond,
		BackoffMax:      30 * time.Second,
		MaxInFlight:     8,
		ReadBatch:       500,
		PixelsRefresh:   time.Second,
		MergeWindow:     20 * time.Second,
		MergeMaxWaiting: 100_000,
		ReclaimInterval: 30 * time.Second,
		ClaimMinIdle:    5 * time.Minute,
	}
}

// AttemptsFor is how many requests may carry one event to one of the
// platform's pixels: its PlatformAttempts override, else Attempts.
func (c Config) AttemptsFor(platform string) int {
	if n := c.PlatformAttempts[platform]; n > 0 {
		return n
	}
	return c.Attempts
}

// maxAttempts is the largest attempts setting of any platform.
func (c Config) maxAttempts() int {
	n := c.Attempts
	for _, a := range c.PlatformAttempts {
		n = max(n, a)
	}
	return n
}

// badPlatformAttempts names a platform whose override is out of range
// (the first in name order), or "".
func (c Config) badPlatformAttempts() string {
	for _, p := range slices.Sorted(maps.Keys(c.PlatformAttempts)) {
		if n := c.PlatformAttempts[p]; n < 0 || n > 100 {
			return p
		}
	}
	return ""
}

// holdMax is the longest a live engine holds an entry before its last
// attempt starts (request timeouts not included).
func (c Config) holdMax() time.Duration {
	return c.MergeWindow + c.MaxWait + time.Duration(c.maxAttempts())*c.BackoffMax
}

// Validate returns one error naming the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.MaxWait <= 0 || c.MaxWait > time.Minute:
		return errors.New("platforms.dispatch.max_wait: must be between 1ns and 1m")
	case c.Attempts < 1 || c.Attempts > 100:
		return errors.New("platforms.dispatch.attempts: must be between 1 and 100")
	case c.badPlatformAttempts() != "":
		return fmt.Errorf("platforms.%s.attempts: must be 0 (platforms.dispatch.attempts) or between 1 and 100", c.badPlatformAttempts())
	case c.BackoffBase <= 0:
		return errors.New("platforms.dispatch.backoff_base: must be positive")
	case c.BackoffMax < c.BackoffBase || c.BackoffMax > time.Hour:
		return errors.New("platforms.dispatch.backoff_max: must be between backoff_base and 1h")
	case c.MaxInFlight < 1 || c.MaxInFlight > 1024:
		return errors.New("platforms.dispatch.max_in_flight: must be between 1 and 1024")
	case c.ReadBatch < 1 || c.ReadBatch > 10_000:
		return errors.New("platforms.dispatch.read_batch: must be between 1 and 10000")
	case c.PixelsRefresh <= 0 || c.PixelsRefresh > time.Hour:
		return errors.New("platforms.dispatch.pixels_refresh: must be between 1ns and 1h")
	case c.MergeWindow < 0 || c.MergeWindow > 10*time.Minute:
		return errors.New("platforms.dispatch.merge_window: must be between 0 (off) and 10m")
	case c.MergeMaxWaiting < 1 || c.MergeMaxWaiting > 10_000_000:
		return errors.New("platforms.dispatch.merge_max_waiting: must be between 1 and 10000000")
	case c.ReclaimInterval <= 0 || c.ReclaimInterval > time.Hour:
		return errors.New("platforms.dispatch.reclaim_interval: must be between 1ns and 1h")
	case c.ClaimMinIdle <= c.holdMax() || c.ClaimMinIdle > 24*time.Hour:
		return fmt.Errorf("platforms.dispatch.claim_min_idle: must exceed merge_window + max_wait + attempts × backoff_max (%s, with the largest attempts of any platform) and be at most 24h", c.holdMax())
	}
	return nil
}
