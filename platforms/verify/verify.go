// Package verify runs the live check behind a pixel's verify button: a test
// event where the platform has a test mode (Meta and TikTok with the
// pixel's test_event_code), GA4's validation endpoint, and for LinkedIn and
// X — which have no test mode, so any accepted conversion would be real —
// a check of the pixel's configuration only, said plainly.
package verify

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jaraba/pixelgw/platforms"
)

// Result is one check's outcome. Message is the platform's answer or the
// reason, already free of secrets (adapters redact their errors).
type Result struct {
	Check   string `json:"check"`
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

// Validator is GA4's debug validation (platforms/google.Adapter).
type Validator interface {
	Validate(ctx context.Context, p *platforms.Pixel, events []*platforms.Event) ([]string, error)
}

// Verifier checks pixels against their platforms.
type Verifier struct {
	dests map[string]platforms.Destination
	now   func() time.Time
}

// New builds a verifier over the adapters (keyed by Platform()).
func New(dests []platforms.Destination, now func() time.Time) *Verifier {
	v := &Verifier{dests: map[string]platforms.Destination{}, now: now}
	if v.now == nil {
		v.now = time.Now
	}
	for _, d := range dests {
		v.dests[d.Platform()] = d
	}
	return v
}

// Verify runs the checks for one pixel.
func (v *Verifier) Verify(ctx context.Context, p *platforms.Pixel) []Result {
	d, ok := v.dests[p.Platform]
	if !ok {
		return []Result{{Check: "platform", Message: "no adapter for platform " + p.Platform}}
	}
	ev := v.testEvent(p)
	if err := d.Check(p, ev, v.now()); err != nil {
		return []Result{{Check: "configuration", Message: "a test event cannot be built: " + err.Error()}}
	}
	out := []Result{{Check: "configuration", OK: true, Message: "the pixel's settings build a valid request"}}
	switch p.Platform {
	case "google":
		val, ok := d.(Validator)
		if !ok {
			return append(out, Result{Check: "validation", Message: "the adapter has no validation endpoint"})
		}
		msgs, err := val.Validate(ctx, p, []*platforms.Event{ev})
		switch {
		case err != nil:
			out = append(out, Result{Check: "validation", Message: err.Error()})
		case len(msgs) > 0:
			out = append(out, Result{Check: "validation", Message: fmt.Sprint(msgs)})
		default:
			out = append(out, Result{Check: "validation", OK: true, Message: "GA4's validation endpoint accepted the event (note: a wrong api_secret is only visible in GA4's reports)"})
		}
	case "meta", "tiktok":
		if p.TestEventCode == "" {
			return append(out, Result{Check: "test_event", Message: "set the pixel's test_event_code to send a test event (without it the event would be real)"})
		}
		_, err := d.Send(ctx, p, []*platforms.Event{ev})
		out = append(out, sendResult(err))
	default: // linkedin, twitter: no test mode
		out = append(out, Result{Check: "credentials", Message: "this platform has no test mode; the credentials are checked by the first real delivery (a refused token turns the pixel red)"})
	}
	return out
}

func sendResult(err error) Result {
	if err == nil {
		return Result{Check: "test_event", OK: true, Message: "the platform accepted the test event"}
	}
	var pe *platforms.PermanentError
	if errors.As(err, &pe) && pe.Auth {
		return Result{Check: "test_event", Message: "the platform refused the credentials: " + err.Error()}
	}
	return Result{Check: "test_event", Message: err.Error()}
}

// testEvent is a consented view_content (or, for LinkedIn and X, the first
// event the pixel maps) with the identifiers the platforms require, marked
// as a test (documentation IP, pixelgw user agent).
func (v *Verifier) testEvent(p *platforms.Pixel) *platforms.Event {
	now := v.now().UTC()
	name := platforms.EventViewContent
	keys := slices.Sorted(maps.Keys(p.EventMap))
	if p.Platform == "linkedin" || p.Platform == "twitter" {
		for _, k := range keys {
			if spec, ok := platforms.Canonical(k); ok && p.EventMap[k] != "" {
				name = spec.Name
				break
			}
		}
	}
	spec, _ := platforms.Canonical(name)
	return &platforms.Event{
		TenantID: p.TenantID, EventID: uuid4(), Name: name, Class: spec.Class,
		Source: "server", Time: now, Received: now,
		URL: "https://pixelgw.invalid/verify", ClientIP: "192.0.2.1", UserAgent: "pixelgw-verify/1",
		VisitorID: uuid4(), SessionID: fmt.Sprint(now.Unix()), EngagementMS: 1,
		Consent: platforms.Consent{Analytics: true, Marketing: true},
		User:    platforms.UserData{ExternalID: "pixelgw-verify", Email: "verify@pixelgw.invalid"},
	}
}

func uuid4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
