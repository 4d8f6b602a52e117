package tiktok

import (
	"fmt"
	"github.com/jaraba/pixelgw/platforms/internal/adapt"
	"regexp"
	"strings"
	"time"
)

// Config is the operator's configuration for the TikTok adapter (never a
// tenant field: base URLs are operator-only, SSRF).
type Config struct {
	// BaseURL is scheme and host (and an optional path prefix); the adapter
	// appends /open_api/{version}/event/track/.
	BaseURL string `yaml:"base_url"`
	// Version is the Business API version path segment (v1.3).
	Version string `yaml:"version"`
	// Timeout bounds one request, body included.
	Timeout time.Duration `yaml:"timeout"`
	// Attempts overrides platforms.dispatch.attempts for this platform
	// (0 = use it): how many requests may carry one event to one pixel.
	// The delivery engine reads it; the adapter does not.
	Attempts int `yaml:"attempts"`
}

// DefaultVersion is the Business API version of Events API 2.0.
const DefaultVersion = "v1.3"

// Defaults returns the production configuration.
func Defaults() Config {
	return Config{BaseURL: "https://business-api.tiktok.com", Version: DefaultVersion, Timeout: 10 * time.Second}
}

var versionRe = regexp.MustCompile(`^v[0-9]{1,2}\.[0-9]{1,2}$`)

// Validate returns one precise error for the first bad field.
func (c Config) Validate() error {
	if err := adapt.ValidateBaseURL(c.BaseURL); err != nil {
		return fmt.Errorf("platforms.tiktok.base_url: %w", err)
	}
	if !versionRe.MatchString(c.Version) {
		return fmt.Errorf("platforms.tiktok.version: must be a Business API version like %s", DefaultVersion)
	}
	if c.Timeout <= 0 || c.Timeout > 5*time.Minute {
		return fmt.Errorf("platforms.tiktok.timeout: must be > 0 and at most 5m")
	}
	if err := adapt.ValidateAttempts(c.Attempts); err != nil {
		return fmt.Errorf("platforms.tiktok.attempts: %w", err)
	}
	return nil
}

func (c Config) endpoint() string {
	return strings.TrimRight(c.BaseURL, "/") + "/open_api/" + c.Version + "/event/track/"
}
