// Package meta is the Meta Conversions API adapter: it checks each event
// for Meta, builds one POST {BaseURL}/{Version}/{pixel id}/events request
// per batch, sends it and classifies the answer by HTTP status and Graph
// error code. Batching and retries live in platforms/dispatch.
package meta

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/internal/adapt"
	"github.com/jaraba/pixelgw/platforms/normalize"
)

// Name is the platform name (store.PlatformMeta).
const Name = "meta"

// Limits and windows of the Conversions API (platforms.md §1).
const (
	// MaxBatch is the most events one request may carry.
	MaxBatch = 1000
	// MaxAge is how old an event may be: Meta rejects the whole request
	// when any event is older than 7 days (code 100, subcode 2804003).
	MaxAge = 7 * 24 * time.Hour
	// AgeMargin is kept below MaxAge so an event that passes Check is still
	// inside the window after the dispatcher's retries.
	AgeMargin = 30 * time.Minute
	// MaxFuture is how far in the future an event time may be.
	MaxFuture = time.Minute
	// MaxResponseBody is how much of an answer is read and kept.
	MaxResponseBody = 8 << 10
)

// Config is the operator's configuration of the Meta adapter.
type Config struct {
	// BaseURL is scheme://host[/prefix]; the adapter appends
	// /{Version}/{pixel id}/events.
	BaseURL string `yaml:"base_url"`
	// Version is the Graph API version, like v26.0.
	Version string `yaml:"version"`
	// Timeout bounds one request.
	Timeout time.Duration `yaml:"timeout"`
	// Attempts overrides platforms.dispatch.attempts for this platform
	// (0 = use it): how many requests may carry one event to one pixel.
	// The delivery engine reads it; the adapter does not.
	Attempts int `yaml:"attempts"`
}

// Defaults returns the production configuration. v26.0 is the version
// facebook-nodejs-business-sdk returns (platforms.md §1.1); each Graph
// version is supported for at least two years.
func Defaults() Config {
	return Config{BaseURL: "https://graph.facebook.com", Version: "v26.0", Timeout: 10 * time.Second}
}

var versionRe = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]{1,2}$`)

// Validate returns one error naming the first invalid field.
func (c Config) Validate() error {
	if err := adapt.ValidateBaseURL(c.BaseURL); err != nil {
		return fmt.Errorf("platforms.meta.base_url: %w", err)
	}
	if !versionRe.MatchString(c.Version) {
		return errors.New("platforms.meta.version: must look like v26.0")
	}
	if c.Timeout <= 0 || c.Timeout > 5*time.Minute {
		return errors.New("platforms.meta.timeout: must be between 1ns and 5m")
	}
	if err := adapt.ValidateAttempts(c.Attempts); err != nil {
		return fmt.Errorf("platforms.meta.attempts: %w", err)
	}
	return nil
}

// Adapter delivers events to the Meta Conversions API.
type Adapter struct {
	cfg    Config
	client *http.Client
}

// Interface guards
var _ platforms.Destination = (*Adapter)(nil)

// New returns an adapter. client is the outbound client (platforms/internal
// /httpx in production); the adapter never follows redirects, whatever the
// client's own policy.
func New(cfg Config, client *http.Client) *Adapter {
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &Adapter{cfg: cfg, client: adapt.NoRedirects(client)}
}

// Platform returns "meta".
func (a *Adapter) Platform() string { return Name }

// MaxBatch returns 1000.
func (a *Adapter) MaxBatch() int { return MaxBatch }

// StandardEvent maps internal events to Meta standard events (platforms.md
// §6); "" when there is none. The browser tag (proxy/tag) uses it too, so
// both copies carry the same name and Meta deduplicates them.
func StandardEvent(internal string) string {
	switch internal {
	case platforms.EventPageView:
		return "PageView"
	case platforms.EventViewContent:
		return "ViewContent"
	case platforms.EventLead:
		return "Lead"
	case platforms.EventSignup:
		return "CompleteRegistration"
	case platforms.EventAddToCart:
		return "AddToCart"
	case platforms.EventPurchase:
		return "Purchase"
	case platforms.EventContact:
		return "Contact"
	case platforms.EventSchedule:
		return "Schedule"
	case platforms.EventInitiateCheckout:
		return "InitiateCheckout"
	case platforms.EventAddPaymentInfo:
		return "AddPaymentInfo"
	case platforms.EventSearch:
		return "Search"
	case platforms.EventSubscribe:
		return "Subscribe"
	case platforms.EventStartTrial:
		return "StartTrial"
	case platforms.EventAddToWishlist:
		return "AddToWishlist"
	}
	if name, ok := strings.CutPrefix(internal, platforms.CustomPrefix); ok {
		return name // a custom event keeps its own name
	}
	return ""
}

func permanent(format string, args ...any) error {
	return &platforms.PermanentError{Err: fmt.Errorf(format, args...)}
}

// Check validates one event for this pixel: marketing consent (else
// ErrSkip), the event mapping (unmapped: ErrSkip), the 7-day window (minus
// AgeMargin), what a website event must carry (event_source_url,
// client_user_agent and at least one other customer-information
// parameter) and Purchase's value and currency. Failures are
// *platforms.PermanentError for that event only, so they never make Meta
// reject a whole batch.
func (a *Adapter) Check(p *platforms.Pixel, e *platforms.Event, now time.Time) error {
	if !e.Consent.Marketing {
		return platforms.ErrSkip
	}
	name, ok := p.Mapped(e.Name, StandardEvent(e.Name))
	if !ok {
		return platforms.ErrSkip
	}
	t := adapt.EventTime(e)
	if t.IsZero() || now.Sub(t) > MaxAge-AgeMargin {
		return permanent("meta: event_time older than 7 days")
	}
	if t.Sub(now) > MaxFuture {
		return permanent("meta: event_time in the future")
	}
	if !strings.HasPrefix(e.URL, "https://") && !strings.HasPrefix(e.URL, "http://") {
		return permanent("meta: website events need event_source_url (http or https)")
	}
	if e.UserAgent == "" {
		return permanent("meta: website events need client_user_agent")
	}
	if ud := userData(e); !ud.hasCustomerInfo() {
		return permanent("meta: no customer information parameter (ip, email, phone, name, address, external_id, fbp or fbc)")
	}
	if name == "Purchase" {
		if _, ok := number(e.Props["value"]); !ok {
			return permanent("meta: Purchase needs a numeric value")
		}
		if c, _ := e.Props["currency"].(string); len(strings.TrimSpace(c)) != 3 {
			return permanent("meta: Purchase needs a 3-letter currency")
		}
	}
	return nil
}

// Wire types (platforms.md §1.2–1.5).
type request struct {
	Data           []serverEvent `json:"data"`
	TestEventCode  string        `json:"test_event_code,omitempty"`
	AccessToken    string        `json:"access_token"`
	AppSecretProof string        `json:"appsecret_proof,omitempty"`
}

type serverEvent struct {
	EventName      string         `json:"event_name"`
	EventTime      int64          `json:"event_time"`
	EventID        string         `json:"event_id,omitempty"`
	ActionSource   string         `json:"action_source"`
	EventSourceURL string         `json:"event_source_url,omitempty"`
	ReferrerURL    string         `json:"referrer_url,omitempty"`
	UserData       metaUserData   `json:"user_data"`
	CustomData     map[string]any `json:"custom_data,omitempty"`
}

type metaUserData struct {
	Em         string `json:"em,omitempty"`
	Ph         string `json:"ph,omitempty"`
	Fn         string `json:"fn,omitempty"`
	Ln         string `json:"ln,omitempty"`
	Ge         string `json:"ge,omitempty"`
	Db         string `json:"db,omitempty"`
	Ct         string `json:"ct,omitempty"`
	St         string `json:"st,omitempty"`
	Zp         string `json:"zp,omitempty"`
	Country    string `json:"country,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
	ClientIP   string `json:"client_ip_address,omitempty"`
	UserAgent  string `json:"client_user_agent,omitempty"`
	FBP        string `json:"fbp,omitempty"`
	FBC        string `json:"fbc,omitempty"`
}

// hasCustomerInfo: at least one parameter besides the user agent (the
// simulator's and Meta's rule).
func (u metaUserData) hasCustomerInfo() bool {
	u.UserAgent = ""
	return u != (metaUserData{})
}

// rules: Meta phones are digits with the country code, no "+".
var rules = normalize.Rules{PhonePlus: false}

func hash(f normalize.Field, v string) string {
	if v == "" {
		return ""
	}
	h, ok := normalize.Hash(f, v, rules)
	if !ok {
		return ""
	}
	return h
}

// userData hashes what platforms.md §1.4 says to hash and passes IP, user
// agent, fbp and fbc as they are. external_id falls back to the visitor id.
func userData(e *platforms.Event) metaUserData {
	u := e.User
	ext := u.ExternalID
	if ext == "" {
		ext = e.VisitorID
	}
	return metaUserData{
		Em: hash(normalize.Email, u.Email), Ph: hash(normalize.Phone, u.Phone),
		Fn: hash(normalize.FirstName, u.FirstName), Ln: hash(normalize.LastName, u.LastName),
		Ge: hash(normalize.Gender, u.Gender), Db: hash(normalize.DateOfBirth, u.DateOfBirth),
		Ct: hash(normalize.City, u.City), St: hash(normalize.State, u.State),
		Zp: hash(normalize.Zip, u.Zip), Country: hash(normalize.Country, u.Country),
		ExternalID: hash(normalize.ExternalID, ext),
		ClientIP:   e.ClientIP, UserAgent: e.UserAgent, FBP: e.IDs.FBP, FBC: e.IDs.FBC,
	}
}

// Build returns the request body for events (exported for tests and the
// verify button's preview). It does not check the events.
func (a *Adapter) Build(p *platforms.Pixel, events []*platforms.Event) ([]byte, error) {
	token := p.Credentials["access_token"]
	req := request{Data: make([]serverEvent, 0, len(events)), TestEventCode: p.TestEventCode, AccessToken: token}
	if secret := p.Credentials["app_secret"]; secret != "" {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(token))
		req.AppSecretProof = hex.EncodeToString(m.Sum(nil))
	}
	for _, e := range events {
		name, _ := p.Mapped(e.Name, StandardEvent(e.Name))
		req.Data = append(req.Data, serverEvent{
			EventName: name, EventTime: adapt.EventTime(e).Unix(), EventID: e.EventID,
			ActionSource: "website", EventSourceURL: e.URL, ReferrerURL: e.Referrer,
			UserData: userData(e), CustomData: customData(e.Props),
		})
	}
	return json.Marshal(req)
}

// customData maps Props to custom_data with Meta's types (platforms.md
// §1.5). Unknown scalar props pass through as custom properties.
func customData(props map[string]any) map[string]any {
	if len(props) == 0 {
		return nil
	}
	out := make(map[string]any, len(props))
	for k, v := range props {
		switch k {
		case "value", "predicted_ltv", "net_revenue":
			if n, ok := number(v); ok {
				out[k] = n
			}
		case "num_items":
			if n, ok := number(v); ok && n >= 0 {
				out[k] = int64(n)
			}
		case "currency":
			if s, ok := v.(string); ok && s != "" {
				out[k] = strings.ToUpper(strings.TrimSpace(s))
			}
		case "content_ids":
			if ids := stringList(v); len(ids) > 0 {
				out[k] = ids
			}
		case "contents":
			if c := contents(v); len(c) > 0 {
				out[k] = c
			}
		case "content_name", "content_category", "content_type", "order_id", "search_string",
			"status", "delivery_category", "item_number":
			if s := scalarString(v); s != "" {
				out[k] = s
			}
		case "transaction_id":
			if s := scalarString(v); s != "" {
				if _, dup := props["order_id"]; !dup {
					out["order_id"] = s
				}
			}
		case "event_id", "items", "search_term", "title":
			// Routing or other platforms' spellings, not custom data.
		default:
			switch v.(type) {
			case string, float64, bool:
				out[k] = v
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		return f, err == nil
	}
	return 0, false
}

func scalarString(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case float64:
		return strconv.FormatFloat(s, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(s)
	}
	return ""
}

func stringList(v any) []string {
	list, ok := v.([]any)
	if !ok {
		if s := scalarString(v); s != "" {
			return []string{s}
		}
		return nil
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s := scalarString(x); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func contents(v any) []map[string]any {
	list, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]map[string]any, 0, len(list))
	for _, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			continue
		}
		c := map[string]any{}
		for k, f := range m {
			switch k {
			case "id", "item_id":
				if s := scalarString(f); s != "" {
					c["id"] = s
				}
			case "quantity":
				if n, ok := number(f); ok {
					c["quantity"] = int64(n)
				}
			case "item_price", "price":
				if n, ok := number(f); ok {
					c["item_price"] = n
				}
			case "title", "item_name":
				if s := scalarString(f); s != "" {
					c["title"] = s
				}
			case "description", "brand", "category", "delivery_category":
				if s := scalarString(f); s != "" {
					c[k] = s
				}
			}
		}
		if _, ok := c["id"]; ok {
			out = append(out, c)
		}
	}
	return out
}

// Send posts the events in one request and classifies the answer: nil on
// 200, *platforms.RetryableError for 429, 5xx, network errors, throttling
// codes and non-JSON answers, *platforms.PermanentError otherwise (Auth
// for token and permission codes). Meta rejects or accepts a request as a
// whole, so Send never returns a *platforms.BatchError.
func (a *Adapter) Send(ctx context.Context, p *platforms.Pixel, events []*platforms.Event) (platforms.Response, error) {
	if len(events) == 0 {
		return platforms.Response{}, nil
	}
	if len(events) > MaxBatch {
		return platforms.Response{}, permanent("meta: %d events in one request, at most %d", len(events), MaxBatch)
	}
	secrets := []string{p.Credentials["access_token"], p.Credentials["app_secret"]}
	body, err := a.Build(p, events)
	if err != nil {
		return platforms.Response{}, permanent("meta: cannot encode request: %v", err)
	}
	if a.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.cfg.Timeout)
		defer cancel()
	}
	endpoint := a.cfg.BaseURL + "/" + a.cfg.Version + "/" + url.PathEscape(p.PixelID) + "/events"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return platforms.Response{}, permanent("meta: cannot build request: %v", adapt.StripURL(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return platforms.Response{}, &platforms.RetryableError{Err: adapt.RedactErr(fmt.Errorf("meta: cannot send: %w", adapt.StripURL(err)), secrets)}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody))
	raw = adapt.Redact(raw, secrets)
	out := platforms.Response{HTTPStatus: resp.StatusCode, Body: raw}
	return out, classify(resp, raw, secrets)
}

// graphError is the Graph API error envelope (platforms.md §1.9).
type graphError struct {
	Error *struct {
		Message     string `json:"message"`
		Type        string `json:"type"`
		Code        int    `json:"code"`
		Subcode     int    `json:"error_subcode"`
		IsTransient bool   `json:"is_transient"`
		UserTitle   string `json:"error_user_title"`
		UserMessage string `json:"error_user_msg"`
		FBTraceID   string `json:"fbtrace_id"`
	} `json:"error"`
}

// classify decides from the status and the Graph error code.
func classify(resp *http.Response, body []byte, secrets []string) error {
	status := resp.StatusCode
	retryAfter := adapt.RetryAfterRounded(resp.Header, time.Now())
	var ge graphError
	isJSON := json.Unmarshal(body, &ge) == nil
	if status >= 200 && status < 300 {
		var ok struct {
			EventsReceived *int `json:"events_received"`
		}
		if json.Unmarshal(body, &ok) != nil || ok.EventsReceived == nil {
			// A proxy's page instead of Meta's answer: Meta deduplicates on
			// event_id, so sending again is safe.
			return &platforms.RetryableError{Err: fmt.Errorf("meta: HTTP %d without a Conversions API answer", status), RetryAfter: retryAfter}
		}
		return nil
	}
	if status >= 300 && status < 400 {
		return permanent("meta: HTTP %d redirect refused (check platforms.meta.base_url)", status)
	}
	var err error
	code, sub := 0, 0
	if isJSON && ge.Error != nil {
		code, sub = ge.Error.Code, ge.Error.Subcode
		msg := ge.Error.Message
		if ge.Error.UserTitle != "" {
			msg += " (" + ge.Error.UserTitle + ")"
		}
		err = adapt.RedactErr(fmt.Errorf("meta: HTTP %d code %d subcode %d: %s", status, code, sub, truncate(msg, 300)), secrets)
	} else {
		err = fmt.Errorf("meta: HTTP %d", status)
	}
	switch {
	case status == http.StatusTooManyRequests || status >= 500:
		return &platforms.RetryableError{Err: err, RetryAfter: retryAfter}
	case !isJSON || ge.Error == nil:
		if status == http.StatusUnauthorized || status == http.StatusForbidden {
			return &platforms.PermanentError{Err: err, Auth: true}
		}
		return &platforms.PermanentError{Err: err}
	}
	switch code {
	case 1, 2, 4, 17, 32, 341, 368, 613, 5000, 21009, 80003, 80004:
		// Unknown/transient errors and throttling (platforms.md §1.8–1.9).
		return &platforms.RetryableError{Err: err, RetryAfter: retryAfter}
	case 102, 190:
		return &platforms.PermanentError{Err: err, Auth: true}
	case 3, 10:
		return &platforms.PermanentError{Err: err, Auth: true}
	case 100:
		if sub == 33 { // the pixel does not exist or the token may not use it
			return &platforms.PermanentError{Err: err, Auth: true}
		}
	}
	if code >= 200 && code < 300 { // permission errors
		return &platforms.PermanentError{Err: err, Auth: true}
	}
	if ge.Error.IsTransient {
		return &platforms.RetryableError{Err: err, RetryAfter: retryAfter}
	}
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		return &platforms.PermanentError{Err: err, Auth: true}
	}
	return &platforms.PermanentError{Err: err}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
