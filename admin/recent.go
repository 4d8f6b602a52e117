package admin

import (
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/secret"
)

// RecentEventView is one audited event for the debug view, personal data
// masked: the IP to its network (/24, /48), click ids and browser ids to a
// hint, user data never shown.
type RecentEventView struct {
	EventID     string        `json:"event_id"`
	EventName   string        `json:"event_name"`
	Source      string        `json:"source"`
	URL         string        `json:"url,omitempty"`
	ClientIP    string        `json:"client_ip,omitempty"`
	UserAgent   string        `json:"user_agent,omitempty"`
	FBP         string        `json:"fbp,omitempty"`
	FBC         string        `json:"fbc,omitempty"`
	GCLID       string        `json:"gclid,omitempty"`
	HasUserData bool          `json:"has_user_data"`
	CreatedAt   time.Time     `json:"created_at"`
	Deliveries  []DeliveryOut `json:"deliveries"`
}

// DeliveryOut is one pixel's outcome for an event.
type DeliveryOut struct {
	Pixel    string    `json:"pixel"`
	Platform string    `json:"platform"`
	Status   string    `json:"status"`
	Attempts int       `json:"attempts"`
	At       time.Time `json:"at"`
	// Source is the source of the copy the outcome is about ("" for rows
	// written before migration 003).
	Source string `json:"source,omitempty"`
	// Test marks debug mode: the pixel had a test_event_code (absent
	// otherwise).
	Test bool `json:"test,omitempty"`
	// Response is the platform's answer to the request that carried the
	// event (none for outcomes settled without a request).
	Response *ResponseOut `json:"response,omitempty"`
}

// ResponseOut is a platform's answer as stored: the adapters truncate the
// body and remove secrets from it before it is stored.
type ResponseOut struct {
	HTTPStatus int    `json:"http_status"`
	Body       string `json:"body"`
}

const (
	recentLimit = 50  // events returned
	recentScan  = 500 // events read to apply the filters
)

var recentSources = map[string]bool{store.SourceClient: true, store.SourceServer: true, store.SourceBoth: true}

func (a *API) handleRecentEvents(w http.ResponseWriter, r *http.Request, p principal) error {
	q := r.URL.Query()
	pixel, platform, status, source := q.Get("pixel"), q.Get("platform"), q.Get("status"), q.Get("source")
	if pixel != "" {
		if _, ok := canonicalUUID(pixel); !ok {
			return fieldError("pixel", "must be a pixel uuid")
		}
	}
	if platform != "" && !isPlatform(platform) {
		return fieldError("platform", "must be one of meta, google, linkedin, tiktok, twitter")
	}
	if status != "" && !validOutcome(status) {
		return fieldError("status", "must be one of delivered, retrying, failed, dead, skipped, merged, unconfirmed, erased")
	}
	if source != "" && !recentSources[source] {
		return fieldError("source", "must be client, server or both")
	}
	evs, err := a.store.RecentEvents(r.Context(), p.tenantID, recentScan)
	if err != nil {
		return err
	}
	out := make([]RecentEventView, 0, recentLimit)
	for _, re := range evs {
		if len(out) == recentLimit {
			break
		}
		e := re.Event
		src := eventSource(re)
		if source != "" && src != source {
			continue
		}
		v := eventView(&e)
		v.Source = src
		match := pixel == "" && platform == "" && status == ""
		for _, o := range re.Outcomes {
			d := DeliveryOut{Pixel: o.PixelUUID, Platform: o.Platform, Status: o.Status, Attempts: o.Attempts, At: o.CreatedAt.UTC(),
				Source: o.Source, Test: o.Test}
			if r, ok := re.Responses[o.ResponseID]; ok && o.ResponseID != "" {
				d.Response = &ResponseOut{HTTPStatus: r.HTTPStatus, Body: strings.ToValidUTF8(string(r.Body), "\uFFFD")}
			}
			v.Deliveries = append(v.Deliveries, d)
			if (pixel == "" || o.PixelUUID == pixel) && (platform == "" || o.Platform == platform) && (status == "" || o.Status == status) {
				match = true
			}
		}
		if match {
			out = append(out, v)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out})
	return nil
}

// eventSource is the event's source as the view shows it: "both" when the
// audit row (written once, from the first copy) and the outcomes (each
// carrying the source of its copy: a merge entry's own, the sent event's
// after a merge) together name the browser and the back end.
func eventSource(re store.RecentEvent) string {
	var client, server bool
	mark := func(s string) {
		switch s {
		case store.SourceClient:
			client = true
		case store.SourceServer:
			server = true
		case store.SourceBoth:
			client, server = true, true
		}
	}
	mark(re.Event.EventSource)
	for _, o := range re.Outcomes {
		mark(o.Source)
	}
	if client && server {
		return store.SourceBoth
	}
	return re.Event.EventSource
}

// eventView is the debug view of an audited event, personal data masked
// (the recent view and the live stream's "accepted" events).
func eventView(e *store.AuditEvent) RecentEventView {
	return RecentEventView{
		EventID: e.EventID, EventName: e.EventName, Source: e.EventSource, URL: e.EventSourceURL,
		ClientIP: maskIP(e.ClientIP), UserAgent: e.ClientUserAgent,
		FBP: maskID(e.FBP), FBC: maskID(e.FBC), GCLID: maskID(e.GCLID),
		HasUserData: !e.UserData.IsZero(), CreatedAt: e.CreatedAt.UTC(), Deliveries: []DeliveryOut{},
	}
}

func isPlatform(p string) bool {
	for _, x := range store.Platforms() {
		if x == p {
			return true
		}
	}
	return false
}

func validOutcome(s string) bool {
	switch s {
	case "delivered", "retrying", "failed", "dead", "skipped", "merged", "unconfirmed", "erased":
		return true
	}
	return false
}

// maskIP keeps the network of an address: 203.0.113.0/24, 2001:db8:1::/48.
func maskIP(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return ""
	}
	bits := 24
	if a.Is6() && !a.Is4In6() {
		bits = 48
	}
	pfx, err := a.Unmap().Prefix(bits)
	if err != nil {
		return ""
	}
	return pfx.String()
}

// maskID shows only the end of an identifier.
func maskID(s string) string {
	if s == "" {
		return ""
	}
	return secret.Mask(s)
}
