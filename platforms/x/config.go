package x

import (
	"github.com/jaraba/pixelgw/platforms/internal/adapt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Config is the operator's configuration for the X adapter (never a
// tenant field: base URLs are operator-only, SSRF).
type Config struct {
	// BaseURL is scheme and host (and an optional path prefix); the adapter
	// appends /{version}/measurement/conversions/{pixel_id}.
	BaseURL string `yaml:"base_url"`
	// Version is the Ads API version path segment (12).
	Version string `yaml:"version"`
	// Timeout bounds one request, body included.
	Timeout time.Duration `yaml:"timeout"`
	// Attempts overrides platforms.dispatch.attempts for this platform
	// (0 = use it): how many requests may carry one event to one pixel.
	// The delivery engine reads it; the adapter does not.
	Attempts int `yaml:"attempts"`
}

// DefaultVersion is the Ads API version of platforms.md §5.1.
const DefaultVersion = "12"

// Defaults returns the production configuration.
func Defaults() Config {
	return Config{BaseURL: "https://ads-api.x.com", Version: DefaultVersion, Timeout: 10 * time.Second}
}

var versionRe = regexp.MustCompile(`^[1-9][0-9]?$`)

// Validate returns one precise error for the first bad field.
func (c Config) Validate() error {
	return adapt.Settings{Key: "platforms.x", BaseURL: c.BaseURL, Version: c.Version, Timeout: c.Timeout,
		Attempts: c.Attempts, VersionRe: versionRe, VersionRule: "must be an Ads API version like " + DefaultVersion}.Validate()
}

func (c Config) endpoint(pixelID string) string {
	return strings.TrimRight(c.BaseURL, "/") + "/" + c.Version + "/measurement/conversions/" + url.PathEscape(pixelID)
}
