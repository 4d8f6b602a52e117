package linkedin

import (
	"github.com/jaraba/pixelgw/platforms/internal/adapt"
	"regexp"
	"strings"
	"time"
)

// Config is the operator's configuration for the LinkedIn adapter (never a
// tenant field: base URLs are operator-only, SSRF).
type Config struct {
	// BaseURL is scheme and host (and an optional path prefix); the adapter
	// appends /rest/conversionEvents.
	BaseURL string `yaml:"base_url"`
	// Version is the LinkedIn-Version header, YYYYMM. LinkedIn retires a
	// version about a year after its release (answering 426).
	Version string `yaml:"version"`
	// Timeout bounds one request, body included.
	Timeout time.Duration `yaml:"timeout"`
	// Attempts overrides platforms.dispatch.attempts for this platform
	// (0 = use it): how many requests may carry one event to one pixel.
	// The delivery engine reads it; the adapter does not.
	Attempts int `yaml:"attempts"`
}

// DefaultVersion is the newest LinkedIn-Version seen in platforms.md §3.1
// (202511 sunsets on 2026-11-16).
const DefaultVersion = "202604"

// Defaults returns the production configuration.
func Defaults() Config {
	return Config{BaseURL: "https://api.linkedin.com", Version: DefaultVersion, Timeout: 10 * time.Second}
}

var versionRe = regexp.MustCompile(`^20[0-9]{2}(0[1-9]|1[0-2])$`)

// Validate returns one precise error for the first bad field.
func (c Config) Validate() error {
	return adapt.Settings{Key: "platforms.linkedin", BaseURL: c.BaseURL, Version: c.Version, Timeout: c.Timeout,
		Attempts: c.Attempts, VersionRe: versionRe, VersionRule: "must be a LinkedIn-Version YYYYMM like " + DefaultVersion}.Validate()
}

func (c Config) endpoint() string {
	return strings.TrimRight(c.BaseURL, "/") + "/rest/conversionEvents"
}
