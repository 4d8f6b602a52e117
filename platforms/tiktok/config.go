package tiktok

import (
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
	return adapt.Settings{Key: "platforms.tiktok", BaseURL: c.BaseURL, Version: c.Version, Timeout: c.Timeout,
		Attempts: c.Attempts, VersionRe: versionRe, VersionRule: "must be a Business API version like " + DefaultVersion}.Validate()
}

func (c Config) endpoint() string {
	return strings.TrimRight(c.BaseURL, "/") + "/open_api/" + c.Version + "/event/track/"
}
