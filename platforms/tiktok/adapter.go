package tiktok

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/internal/adapt"
	"github.com/jaraba/pixelgw/platforms/normalize"
)

// Platform is the stored platform name (store.PlatformTikTok).
const Platform = "tiktok"

// MaxBatch is the Events API limit of events per request.
const MaxBatch = 1000

// TikTok's codes inside the answer body (platforms.md §4.4).
const (
	CodeOK             = 0
	CodePartialSuccess = 20001 // treated as success (rudder-transformer); meaning UNCONFIRMED
	CodeNoPermission   = 40001 // no permission on the pixel / bad token
	CodeInvalidParam   = 40002 // validation
	CodeRateLimited    = 40100
	// Token codes of the Business API (not in platforms.md): 40104 access
	// token missing, 40105 access token invalid or expired. Auth.
	codeTokenMissing = 40104
	codeTokenInvalid = 40105
)

var rules = normalize.Rules{PhonePlus: true}

// Adapter delivers events to the TikTok Events API 2.0.
type Adapter struct {
	cfg    Config
	client *http.Client
	now    func() time.Time
}

// New returns an adapter. client is the outbound client (the safe
// platforms/httpx one in production); it is copied so that it
// never follows redirects. cfg must have passed Validate.
func New(cfg Config, client *http.Client) *Adapter {
	return &Adapter{cfg: cfg, client: adapt.NoRedirects(client), now: time.Now}
}

// Platform returns "tiktok".
func (a *Adapter) Platform() string { return Platform }

// MaxBatch returns 1,000.
func (a *Adapter) MaxBatch() int { return MaxBatch }

// StandardEvent is the TikTok standard event for an internal event
// (platforms.md §6), "" when there is none: page_view (TikTok has no
// standard page view) and custom events are sent only when the pixel's
// event_map names them.
func StandardEvent(internal string) string {
	switch internal {
	case platforms.EventViewContent:
		return "ViewContent"
	case platforms.EventLead:
		return "Lead"
	case platforms.EventSignup:
		return "CompleteRegistration"
	case platforms.EventAddToCart:
		return "AddToCart"
	case platforms.EventInitiateCheckout:
		return "InitiateCheckout"
	case platforms.EventAddPaymentInfo:
		return "AddPaymentInfo"
	case platforms.EventPurchase:
		return "Purchase"
	case platforms.EventContact:
		return "Contact"
	case platforms.EventSchedule:
		return "Schedule"
	case platforms.EventSearch:
		return "Search"
	case platforms.EventSubscribe:
		return "Subscribe"
	case platforms.EventStartTrial:
		return "StartTrial"
	case platforms.EventAddToWishlist:
		return "AddToWishlist"
	}
	return ""
}

// MaxAge is how old an event may be. TikTok documents no limit
// (UNCONFIRMED, platforms.md §4.2); 7 days matches Meta's and the strict
// simulator's window, so one stale event never fails a whole batch.
const MaxAge = 7 * 24 * time.Hour

// MaxAhead is how far in the future an event time may be.
const MaxAhead = 10 * time.Minute

// Check validates one event for the pixel: marketing consent and a mapped
// name (else ErrSkip), an event time within [now-MaxAge, now+MaxAhead], a
// page URL (TikTok requires page.url for web events) and sane
// value/currency (else permanent).
func (a *Adapter) Check(p *platforms.Pixel, e *platforms.Event, now time.Time) error {
	if !e.Consent.Marketing {
		return fmt.Errorf("tiktok: no marketing consent: %w", platforms.ErrSkip)
	}
	if _, ok := p.Mapped(e.Name, StandardEvent(e.Name)); !ok {
		return fmt.Errorf("tiktok: event %q is not sent to this pixel: %w", e.Name, platforms.ErrSkip)
	}
	if now.Sub(e.Time) > MaxAge {
		return adapt.Permanent(errors.New("tiktok: event_time is more than 7 days old"))
	}
	if e.Time.Sub(now) > MaxAhead {
		return adapt.Permanent(errors.New("tiktok: event_time is in the future"))
	}
	_, err := eventJSONFor(p, e)
	return err
}

// Send delivers events in one request. Events that cannot be encoded
// (Check was skipped) are reported in a *platforms.BatchError without
// being sent.
func (a *Adapter) Send(ctx context.Context, p *platforms.Pixel, events []*platforms.Event) (platforms.Response, error) {
	red := adapt.NewRedactor(p.Credentials)
	token := p.Credentials["access_token"]
	if token == "" {
		return platforms.Response{}, adapt.AuthError(errors.New("tiktok: the pixel has no access_token"))
	}
	if len(events) == 0 {
		return platforms.Response{}, nil
	}
	data, sent, err := adapt.Encode("tiktok", MaxBatch, events, func(e *platforms.Event) (eventJSON, error) { return eventJSONFor(p, e) })
	if err != nil {
		return platforms.Response{}, err
	}
	out, resp, raw, err := adapt.Post{
		Name: "tiktok", Client: a.client, Timeout: a.cfg.Timeout, URL: a.cfg.endpoint(),
		Body: requestJSON{EventSource: "web", EventSourceID: p.PixelID, TestEventCode: p.TestEventCode, Data: data},
		Header: func(req *http.Request) error {
			req.Header.Set("Access-Token", token)
			return nil
		},
	}.Do(ctx, red)
	if err != nil {
		return out, err
	}
	return out, sent.Remap(a.classify(resp, raw, red, len(data)))
}

type answer struct {
	Code    *int   `json:"code"`
	Message string `json:"message"`
	Data    struct {
		// FailedEvents lists the rejected events of a partial success
		// (code 20001). The shape is UNCONFIRMED (platforms.md §4.4); it is
		// the one test/platformsim answers.
		FailedEvents []struct {
			Index   int    `json:"index"`
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"failed_events"`
	} `json:"data"`
}

// classify decides from TikTok's code (errors come inside a 200) and the
// HTTP status.
func (a *Adapter) classify(resp *http.Response, raw []byte, red adapt.Redactor, n int) error {
	st := resp.StatusCode
	var ans answer
	parsed := json.Unmarshal(raw, &ans) == nil && ans.Code != nil
	if parsed {
		msg := fmt.Errorf("tiktok: HTTP %d code %d: %s", st, *ans.Code, red.Quote(ans.Message))
		switch code := *ans.Code; {
		case code == CodeOK:
			if st >= 200 && st < 300 {
				return nil
			}
		case code == CodePartialSuccess:
			if st >= 200 && st < 300 {
				return a.partial(ans, resp, red, n)
			}
		case code == CodeRateLimited:
			return adapt.Retryable(msg, adapt.RetryAfter(resp.Header, a.now()))
		case code == CodeNoPermission || code == codeTokenMissing || code == codeTokenInvalid:
			return adapt.AuthError(msg)
		case code == CodeInvalidParam:
			return adapt.Permanent(msg)
		case code >= 50000 && code < 60000: // TikTok-side errors
			return adapt.Retryable(msg, adapt.RetryAfter(resp.Header, a.now()))
		default:
			if st >= 200 && st < 300 {
				return adapt.Permanent(msg)
			}
		}
	}
	if st >= 200 && st < 300 {
		// A 2xx without TikTok's envelope (a proxy page?): unknown outcome.
		return adapt.Retryable(fmt.Errorf("tiktok: HTTP %d without a result code", st), 0)
	}
	return adapt.StatusError("tiktok", st, detail(ans, parsed, red), adapt.RetryAfter(resp.Header, a.now()))
}

// partial reads a partial success: the failed events' own codes classify
// them; the others were accepted.
func (a *Adapter) partial(ans answer, resp *http.Response, red adapt.Redactor, n int) error {
	errs := map[int]error{}
	for _, f := range ans.Data.FailedEvents {
		if f.Index < 0 || f.Index >= n {
			continue
		}
		err := fmt.Errorf("tiktok: event rejected, code %d: %s", f.Code, red.Quote(f.Message))
		switch {
		case f.Code == CodeRateLimited || (f.Code >= 50000 && f.Code < 60000):
			errs[f.Index] = adapt.Retryable(err, adapt.RetryAfter(resp.Header, a.now()))
		case f.Code == CodeNoPermission || f.Code == codeTokenMissing || f.Code == codeTokenInvalid:
			errs[f.Index] = adapt.AuthError(err)
		default:
			errs[f.Index] = adapt.Permanent(err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &platforms.BatchError{Errs: errs}
}

func detail(ans answer, parsed bool, red adapt.Redactor) string {
	if !parsed {
		return ""
	}
	return fmt.Sprintf(" code %d: %s", *ans.Code, red.Quote(ans.Message))
}

type requestJSON struct {
	EventSource   string      `json:"event_source"`
	EventSourceID string      `json:"event_source_id"`
	TestEventCode string      `json:"test_event_code,omitempty"`
	Data          []eventJSON `json:"data"`
}

type eventJSON struct {
	Event      string          `json:"event"`
	EventTime  int64           `json:"event_time"`
	EventID    string          `json:"event_id,omitempty"`
	User       userJSON        `json:"user"`
	Page       pageJSON        `json:"page"`
	Properties *propertiesJSON `json:"properties,omitempty"`
}

type userJSON struct {
	Email      string `json:"email,omitempty"`
	Phone      string `json:"phone,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
	FirstName  string `json:"first_name,omitempty"`
	LastName   string `json:"last_name,omitempty"`
	ZipCode    string `json:"zip_code,omitempty"`
	City       string `json:"city,omitempty"`
	State      string `json:"state,omitempty"`
	Country    string `json:"country,omitempty"`
	IP         string `json:"ip,omitempty"`
	UserAgent  string `json:"user_agent,omitempty"`
	TTCLID     string `json:"ttclid,omitempty"`
	TTP        string `json:"ttp,omitempty"`
}

type pageJSON struct {
	URL      string `json:"url"`
	Referrer string `json:"referrer,omitempty"`
}

type propertiesJSON struct {
	Currency    string        `json:"currency,omitempty"`
	Value       *float64      `json:"value,omitempty"`
	ContentType string        `json:"content_type,omitempty"`
	Contents    []contentJSON `json:"contents,omitempty"`
	OrderID     string        `json:"order_id,omitempty"`
	Query       string        `json:"query,omitempty"`
}

type contentJSON struct {
	ContentID   string   `json:"content_id"`
	ContentName string   `json:"content_name,omitempty"`
	Price       *float64 `json:"price,omitempty"`
	Quantity    int      `json:"quantity,omitempty"`
}

// eventJSONFor maps one event; errors are permanent (or ErrSkip).
func eventJSONFor(p *platforms.Pixel, e *platforms.Event) (eventJSON, error) {
	name, ok := p.Mapped(e.Name, StandardEvent(e.Name))
	if !ok {
		return eventJSON{}, fmt.Errorf("tiktok: event %q is not sent to this pixel: %w", e.Name, platforms.ErrSkip)
	}
	if strings.TrimSpace(e.URL) == "" {
		return eventJSON{}, adapt.Permanent(errors.New("tiktok: page.url is required for web events"))
	}
	if e.Time.IsZero() {
		return eventJSON{}, adapt.Permanent(errors.New("tiktok: event_time missing"))
	}
	ev := eventJSON{
		Event: name, EventTime: e.Time.Unix(), EventID: e.EventID,
		Page: pageJSON{URL: e.URL, Referrer: e.Referrer},
		User: userJSON{
			IP: e.ClientIP, UserAgent: e.UserAgent,
			TTCLID: strings.TrimSpace(e.IDs.TTCLID), TTP: strings.TrimSpace(e.IDs.TTP),
		},
	}
	u := e.User
	ev.User.Email, _ = normalize.Hash(normalize.Email, u.Email, rules)
	ev.User.Phone, _ = normalize.Hash(normalize.Phone, u.Phone, rules)
	ev.User.ExternalID, _ = normalize.Hash(normalize.ExternalID, u.ExternalID, rules)
	ev.User.FirstName, _ = normalize.Hash(normalize.FirstName, u.FirstName, rules)
	ev.User.LastName, _ = normalize.Hash(normalize.LastName, u.LastName, rules)
	ev.User.ZipCode, _ = normalize.Hash(normalize.Zip, u.Zip, rules)
	// city, state and country are sent normalised but not hashed; a value
	// that arrived hashed cannot be sent.
	ev.User.City = plain(normalize.City, u.City)
	ev.User.State = plain(normalize.State, u.State)
	ev.User.Country = plain(normalize.Country, u.Country)

	props, err := properties(e.Props)
	if err != nil {
		return eventJSON{}, err
	}
	ev.Properties = props
	return ev, nil
}

func plain(f normalize.Field, v string) string {
	if normalize.IsSHA256Hex(v) {
		return ""
	}
	n, _ := normalize.Normalize(f, v, rules)
	return n
}

func properties(props map[string]any) (*propertiesJSON, error) {
	if len(props) == 0 {
		return nil, nil
	}
	var out propertiesJSON
	v, ok, err := adapt.Number(props, "value")
	if err != nil || (ok && (v < 0 || v > 1e12)) {
		return nil, adapt.Permanent(errors.New("tiktok: props.value is not a sane number"))
	}
	if ok {
		out.Value = &v
	}
	if out.Currency, err = adapt.Currency(props); err != nil {
		return nil, adapt.Permanent(fmt.Errorf("tiktok: %w", err))
	}
	for _, it := range adapt.Items(props) {
		c := contentJSON{ContentID: it.ID, ContentName: it.Name, Quantity: it.Quantity}
		if it.HasPrice {
			c.Price = &it.Price
		}
		out.Contents = append(out.Contents, c)
	}
	if len(out.Contents) > 0 {
		out.ContentType = "product"
		if ct := adapt.Text(props, "content_type"); ct == "product" || ct == "product_group" {
			out.ContentType = ct
		}
	}
	out.OrderID = adapt.Text(props, "order_id")
	for _, k := range []string{"query", "search_string", "search_term"} {
		if q := adapt.Text(props, k); q != "" {
			out.Query = q
			break
		}
	}
	if out.Value == nil && out.Currency == "" && len(out.Contents) == 0 && out.OrderID == "" && out.Query == "" {
		return nil, nil
	}
	return &out, nil
}

// Interface guards
var _ platforms.Destination = (*Adapter)(nil)
