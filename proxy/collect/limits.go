package collect

import (
	"errors"
	"fmt"
	"time"
)

// Limits bounds what one beacon may carry. Zero values are not defaults:
// start from DefaultLimits and override fields.
type Limits struct {
	// MaxBodyBytes caps the body (browsers cap all in-flight keepalive
	// bodies of a page at 64 KiB together).
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// MaxEvents caps the events of one beacon.
	MaxEvents int `yaml:"max_events"`
	// MaxPastSkew is how far before now an event's ts may be. The loader
	// keeps unsent events for the page's life and retries with backoff, so
	// this must cover a long-open tab.
	MaxPastSkew time.Duration `yaml:"max_past_skew"`
	// MaxFutureSkew is how far after now an event's ts may be (visitors'
	// clocks run fast).
	MaxFutureSkew time.Duration `yaml:"max_future_skew"`
	// MaxURLBytes caps url and ref.
	MaxURLBytes int `yaml:"max_url_bytes"`
	// MaxStringBytes caps every other string: prop values, user fields,
	// consent policy.
	MaxStringBytes int `yaml:"max_string_bytes"`
	// MaxProps caps the keys of one event's props.
	MaxProps int `yaml:"max_props"`
	// MaxArrayLen caps the elements of one array prop (contents, items,
	// content_ids).
	MaxArrayLen int `yaml:"max_array_len"`
	// MaxItemFields caps the keys of one object inside an array prop.
	MaxItemFields int `yaml:"max_item_fields"`
	// MaxClickIDBytes caps each value of "ids".
	MaxClickIDBytes int `yaml:"max_click_id_bytes"`
}

// DefaultLimits returns the limits the edge uses unless configured.
func DefaultLimits() Limits {
	return Limits{
		MaxBodyBytes:    32 << 10,
		MaxEvents:       25,
		MaxPastSkew:     24 * time.Hour,
		MaxFutureSkew:   10 * time.Minute,
		MaxURLBytes:     2048,
		MaxStringBytes:  512,
		MaxProps:        32,
		MaxArrayLen:     50,
		MaxItemFields:   16,
		MaxClickIDBytes: 512,
	}
}

// Validate names the first bad field by its YAML key.
func (l Limits) Validate() error {
	check := func(name string, v, lo, hi int) error {
		if v < lo || v > hi {
			return fmt.Errorf("cannot use limits: %s must be in [%d, %d], got %d", name, lo, hi, v)
		}
		return nil
	}
	// Upper bounds keep a misconfiguration from turning the parser into a
	// memory sink; 1 MiB is far above what a browser can send.
	err := errors.Join(
		check("max_body_bytes", l.MaxBodyBytes, 64, 1<<20),
		check("max_events", l.MaxEvents, 1, 1000),
		check("max_url_bytes", l.MaxURLBytes, 16, 64<<10),
		check("max_string_bytes", l.MaxStringBytes, 1, 64<<10),
		check("max_props", l.MaxProps, 0, 1000),
		check("max_array_len", l.MaxArrayLen, 0, 1000),
		check("max_item_fields", l.MaxItemFields, 0, 100),
		check("max_click_id_bytes", l.MaxClickIDBytes, 16, 4096),
	)
	if err != nil {
		return err
	}
	if l.MaxPastSkew <= 0 {
		return errors.New("cannot use limits: max_past_skew must be positive")
	}
	if l.MaxFutureSkew <= 0 {
		return errors.New("cannot use limits: max_future_skew must be positive")
	}
	return nil
}
