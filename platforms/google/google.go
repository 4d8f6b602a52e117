// Package google is the GA4 Measurement Protocol adapter: it checks each
// event for GA4, builds POST {BaseURL}/mp/collect?measurement_id=…&
// api_secret=… requests, sends them and classifies the answers. GA4 answers
// 2xx to anything, so health comes from Validate, which posts samples to
// /debug/mp/collect: Sampler wraps the adapter, keeps each pixel's last
// delivered events and, on each Sweep (scheduled by cmd/pixelgw every
// platforms.google.health_interval), turns them into a red, amber or green
// light (HealthOf).
//
// One request carries one client_id (and one consent state): the
// dispatcher batches per pixel, so Send splits a batch into one request per
// distinct (client_id, marketing consent), in the order the events came.
// GA4 does not deduplicate, so when some of those requests succeed and
// others fail Send reports a *platforms.BatchError naming only the failed
// events: the accepted ones are never sent twice.
package google

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/internal/adapt"
	"github.com/jaraba/pixelgw/platforms/normalize"
)

// Name is the platform name (store.PlatformGoogle).
const Name = "google"

// Limits of the Measurement Protocol (platforms.md §2.1).
const (
	// MaxBatch is the most events one request may carry.
	MaxBatch = 25
	// MaxAge is how far back timestamp_micros may go.
	MaxAge = 72 * time.Hour
	// AgeMargin is kept below MaxAge so an event that passes Check is still
	// inside the window after the dispatcher's retries.
	AgeMargin = 30 * time.Minute
	// MaxFuture is how far ahead an event time may be (rudder: 15 min).
	MaxFuture = 15 * time.Minute
	// MaxParams is the most params per event.
	MaxParams = 25
	// MaxResponseBody is how much of an answer is read and kept.
	MaxResponseBody = 8 << 10
)

// Config is the operator's configuration of the GA4 adapter.
type Config struct {
	// BaseURL is scheme://host[/prefix]; the adapter appends /mp/collect
	// (or /debug/mp/collect). EU processing: https://region1.google-analytics.com.
	BaseURL string `yaml:"base_url"`
	// Timeout bounds one request.
	Timeout time.Duration `yaml:"timeout"`
	// Attempts overrides platforms.dispatch.attempts for this platform
	// (0 = use it): how many requests may carry one event to one pixel.
	// The delivery engine reads it; the adapter does not.
	Attempts int `yaml:"attempts"`
	// HealthInterval is how often recently delivered events of each GA4
	// pixel are validated on the debug endpoint to set its health light
	// (GA4 itself answers 204 to anything); 0 turns sampling off.
	HealthInterval time.Duration `yaml:"health_interval"`
	// HealthSamples is how many of each pixel's most recently delivered
	// events one validation carries.
	HealthSamples int `yaml:"health_samples"`
}

// Defaults returns the production configuration.
func Defaults() Config {
	return Config{BaseURL: "https://www.google-analytics.com", Timeout: 10 * time.Second,
		HealthInterval: 10 * time.Minute, HealthSamples: 3}
}

// Validate returns one error naming the first invalid field.
func (c Config) Validate() error {
	if err := adapt.ValidateBaseURL(c.BaseURL); err != nil {
		return fmt.Errorf("platforms.google.base_url: %w", err)
	}
	if c.Timeout <= 0 || c.Timeout > 5*time.Minute {
		return errors.New("platforms.google.timeout: must be between 1ns and 5m")
	}
	if err := adapt.ValidateAttempts(c.Attempts); err != nil {
		return fmt.Errorf("platforms.google.attempts: %w", err)
	}
	// Samples must still be inside GA4's 72 h window when validated.
	if c.HealthInterval < 0 || (c.HealthInterval > 0 && c.HealthInterval < time.Second) || c.HealthInterval > 24*time.Hour {
		return errors.New("platforms.google.health_interval: must be 0 (off) or between 1s and 24h")
	}
	if c.HealthSamples < 1 || c.HealthSamples > MaxBatch {
		return fmt.Errorf("platforms.google.health_samples: must be between 1 and %d", MaxBatch)
	}
	return nil
}

// Adapter delivers events to GA4.
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

// Platform returns "google".
func (a *Adapter) Platform() string { return Name }

// MaxBatch returns 25.
func (a *Adapter) MaxBatch() int { return MaxBatch }

// StandardEvent maps internal events to GA4 recommended events
// (platforms.md §6); events without one keep their internal name as a
// custom event. The browser tag (proxy/tag) uses it too.
func StandardEvent(internal string) string {
	switch internal {
	case platforms.EventViewContent:
		return "view_item"
	case platforms.EventLead:
		return "generate_lead"
	case platforms.EventSignup:
		return "sign_up"
	case platforms.EventInitiateCheckout:
		return "begin_checkout"
	case platforms.EventPageView, platforms.EventAddToCart, platforms.EventPurchase, platforms.EventContact,
		platforms.EventSchedule, platforms.EventAddPaymentInfo, platforms.EventSearch, platforms.EventSubscribe,
		platforms.EventStartTrial, platforms.EventAddToWishlist:
		return internal
	}
	if name, ok := strings.CutPrefix(internal, platforms.CustomPrefix); ok {
		return name
	}
	return ""
}

// reserved are GA4's reserved event names (platforms.md §2.1).
var reserved = []string{
	"ad_activeview", "ad_click", "ad_exposure", "ad_impression", "ad_query", "adunit_exposure",
	"app_clear_data", "app_install", "app_update", "app_remove", "error", "first_open", "first_visit",
	"in_app_purchase", "notification_dismiss", "notification_foreground", "notification_open",
	"notification_receive", "os_update", "screen_view", "session_start", "user_engagement",
}

var nameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,39}$`)

func reservedPrefix(s string) bool {
	return strings.HasPrefix(s, "google_") || strings.HasPrefix(s, "ga_") || strings.HasPrefix(s, "firebase_")
}

// ValidName reports whether name may be sent as a GA4 event name.
func ValidName(name string) bool {
	return nameRe.MatchString(name) && !slices.Contains(reserved, name) && !reservedPrefix(name)
}

func permanent(format string, args ...any) error {
	return &platforms.PermanentError{Err: fmt.Errorf(format, args...)}
}

// Check validates one event for this pixel: analytics consent (else
// ErrSkip), the mapping (unmapped: ErrSkip), a valid non-reserved name and
// the 72-hour window (minus AgeMargin). Failures are
// *platforms.PermanentError. Marketing consent is not required: without it
// the request says ad_user_data/ad_personalization DENIED and carries no
// user_data.
func (a *Adapter) Check(p *platforms.Pixel, e *platforms.Event, now time.Time) error {
	if !e.Consent.Analytics {
		return platforms.ErrSkip
	}
	name, ok := p.Mapped(e.Name, StandardEvent(e.Name))
	if !ok {
		return platforms.ErrSkip
	}
	if !ValidName(name) {
		return permanent("google: %q is not a valid GA4 event name (reserved or malformed)", name)
	}
	t := adapt.EventTime(e)
	if t.IsZero() || now.Sub(t) > MaxAge-AgeMargin {
		return permanent("google: event older than 72 hours")
	}
	if t.Sub(now) > MaxFuture {
		return permanent("google: event time in the future")
	}
	return nil
}

// Wire types.
type mpRequest struct {
	ClientID        string      `json:"client_id"`
	TimestampMicros int64       `json:"timestamp_micros"`
	Consent         mpConsent   `json:"consent"`
	UserData        *mpUserData `json:"user_data,omitempty"`
	IPOverride      string      `json:"ip_override,omitempty"`
	Events          []mpEvent   `json:"events"`
}

type mpConsent struct {
	AdUserData        string `json:"ad_user_data"`
	AdPersonalization string `json:"ad_personalization"`
}

type mpUserData struct {
	Email   []string    `json:"sha256_email_address,omitempty"`
	Phone   []string    `json:"sha256_phone_number,omitempty"`
	Address []mpAddress `json:"address,omitempty"`
}

type mpAddress struct {
	FirstName  string `json:"sha256_first_name,omitempty"`
	LastName   string `json:"sha256_last_name,omitempty"`
	City       string `json:"city,omitempty"`
	Region     string `json:"region,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	Country    string `json:"country,omitempty"`
}

type mpEvent struct {
	Name            string         `json:"name"`
	Params          map[string]any `json:"params"`
	TimestampMicros int64          `json:"timestamp_micros,omitempty"`
}

// ClientID is the GA4 client_id of an event: the visitor id, or, for an
// event without one (server-sent), a stable "<n>.<n>" derived from the
// tenant and the person's external id, email or, last, the event id.
func ClientID(e *platforms.Event) string {
	if e.VisitorID != "" {
		return e.VisitorID
	}
	seed := e.User.ExternalID
	if seed == "" {
		seed = e.User.Email
	}
	if seed == "" {
		seed = e.EventID
	}
	sum := sha256.Sum256([]byte(e.TenantID + "\x00" + seed))
	return strconv.FormatUint(uint64(binary.BigEndian.Uint32(sum[:4])), 10) + "." +
		strconv.FormatUint(uint64(binary.BigEndian.Uint32(sum[4:8])), 10)
}

// sessionID: the loader's digits as a number; anything else hashed to a
// stable positive number.
func sessionID(s string) int64 {
	if s == "" {
		return 0
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return n
	}
	sum := sha256.Sum256([]byte(s))
	return int64(binary.BigEndian.Uint64(sum[:8]) >> 12) // < 2^52: exact in JSON numbers
}

var plusRules = normalize.Rules{PhonePlus: true}

// userDataOf is the hashed user-provided data (Google's enhanced
// conversions rules: E.164 phone with "+", gmail dots removed).
func userDataOf(u platforms.UserData) *mpUserData {
	var out mpUserData
	if em := gaEmail(u.Email); em != "" {
		out.Email = []string{em}
	}
	if ph, ok := normalize.Hash(normalize.Phone, u.Phone, plusRules); ok && u.Phone != "" {
		out.Phone = []string{ph}
	}
	var ad mpAddress
	ad.FirstName, _ = hashIf(normalize.FirstName, u.FirstName)
	ad.LastName, _ = hashIf(normalize.LastName, u.LastName)
	ad.City = plain(normalize.City, u.City)
	ad.Region = plain(normalize.State, u.State)
	ad.PostalCode = plain(normalize.Zip, u.Zip)
	ad.Country = plain(normalize.Country, u.Country)
	if ad != (mpAddress{}) {
		out.Address = []mpAddress{ad}
	}
	if out.Email == nil && out.Phone == nil && out.Address == nil {
		return nil
	}
	return &out
}

func hashIf(f normalize.Field, v string) (string, bool) {
	if v == "" {
		return "", false
	}
	return normalize.Hash(f, v, plusRules)
}

// plain is a normalised clear-text address field; an already hashed value
// cannot be sent in clear and is dropped.
func plain(f normalize.Field, v string) string {
	if v == "" || normalize.IsSHA256Hex(strings.ToLower(strings.TrimSpace(v))) {
		return ""
	}
	s, _ := normalize.Normalize(f, v, plusRules)
	return s
}

func gaEmail(v string) string {
	if v == "" {
		return ""
	}
	if t := strings.ToLower(strings.TrimSpace(v)); normalize.IsSHA256Hex(t) {
		return t
	}
	n, ok := normalize.Normalize(normalize.Email, v, plusRules)
	if !ok {
		return ""
	}
	local, domain, _ := strings.Cut(n, "@")
	if domain == "gmail.com" || domain == "googlemail.com" {
		n = strings.ReplaceAll(local, ".", "") + "@" + domain
	}
	return normalize.SHA256Hex(n)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// params builds one event's params: session attribution first, then page,
// e-commerce fields and the other scalar props, at most MaxParams.
func params(e *platforms.Event) map[string]any {
	p := make(map[string]any, 8)
	if sid := sessionID(e.SessionID); sid > 0 {
		p["session_id"] = sid
	}
	p["engagement_time_msec"] = max(e.EngagementMS, 1)
	if e.EventID != "" {
		// GA4 does not deduplicate; the id lets reports and the simulator
		// tell a resend from a second event.
		p["event_id"] = truncate(e.EventID, 100)
	}
	if e.URL != "" {
		p["page_location"] = truncate(e.URL, 1000)
	}
	if e.Referrer != "" {
		p["page_referrer"] = truncate(e.Referrer, 420)
	}
	props := e.Props
	if t := str(props["page_title"]); t != "" {
		p["page_title"] = truncate(t, 300)
	} else if t := str(props["title"]); t != "" {
		p["page_title"] = truncate(t, 300)
	}
	if v, ok := number(props["value"]); ok {
		p["value"] = v
	}
	if c := str(props["currency"]); c != "" {
		p["currency"] = strings.ToUpper(strings.TrimSpace(c))
	}
	if id := str(props["transaction_id"]); id != "" {
		p["transaction_id"] = truncate(id, 100)
	} else if id := str(props["order_id"]); id != "" {
		p["transaction_id"] = truncate(id, 100)
	}
	if s := str(props["search_term"]); s != "" {
		p["search_term"] = truncate(s, 100)
	} else if s := str(props["search_string"]); s != "" {
		p["search_term"] = truncate(s, 100)
	}
	if it := items(props); len(it) > 0 {
		p["items"] = it
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if len(p) >= MaxParams {
			break
		}
		switch k {
		case "value", "currency", "transaction_id", "order_id", "search_term", "search_string", "items",
			"contents", "content_ids", "page_title", "title", "event_id", "session_id", "engagement_time_msec":
			continue
		}
		if !nameRe.MatchString(k) || reservedPrefix(k) {
			continue
		}
		switch v := props[k].(type) {
		case string:
			p[k] = truncate(v, 100)
		case float64, bool:
			p[k] = v
		}
	}
	return p
}

func str(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case float64:
		return strconv.FormatFloat(s, 'f', -1, 64)
	}
	return ""
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		return f, err == nil
	}
	return 0, false
}

// items: GA4 items from props.items, else from Meta-style contents or
// content_ids.
func items(props map[string]any) []map[string]any {
	var out []map[string]any
	if list, ok := props["items"].([]any); ok {
		for _, x := range list {
			m, ok := x.(map[string]any)
			if !ok {
				continue
			}
			it := map[string]any{}
			for k, v := range m {
				if !nameRe.MatchString(k) {
					continue
				}
				switch v := v.(type) {
				case string:
					it[k] = truncate(v, 100)
				case float64, bool:
					it[k] = v
				}
			}
			if len(it) > 0 {
				out = append(out, it)
			}
		}
		return out
	}
	if list, ok := props["contents"].([]any); ok {
		for _, x := range list {
			m, ok := x.(map[string]any)
			if !ok {
				continue
			}
			it := map[string]any{}
			if id := str(m["id"]); id != "" {
				it["item_id"] = id
			}
			if n := str(m["title"]); n != "" {
				it["item_name"] = truncate(n, 100)
			}
			if v, ok := number(m["item_price"]); ok {
				it["price"] = v
			}
			if v, ok := number(m["quantity"]); ok {
				it["quantity"] = int64(v)
			}
			if _, ok := it["item_id"]; ok {
				out = append(out, it)
			}
		}
		return out
	}
	if list, ok := props["content_ids"].([]any); ok {
		for _, x := range list {
			if id := str(x); id != "" {
				out = append(out, map[string]any{"item_id": id})
			}
		}
	}
	return out
}

// group is the events of one request.
type group struct {
	idx []int
	req mpRequest
}

// Build splits events into requests, one per (client_id, marketing
// consent), in the order the events came, and returns each body with the
// indexes of the events it carries.
func (a *Adapter) Build(p *platforms.Pixel, events []*platforms.Event) (bodies [][]byte, indexes [][]int, err error) {
	groups := a.groups(p, events)
	for _, g := range groups {
		b, err := json.Marshal(g.req)
		if err != nil {
			return nil, nil, err
		}
		bodies = append(bodies, b)
		indexes = append(indexes, g.idx)
	}
	return bodies, indexes, nil
}

func (a *Adapter) groups(p *platforms.Pixel, events []*platforms.Event) []*group {
	type key struct {
		client    string
		marketing bool
	}
	var order []*group
	byKey := map[key]*group{}
	for i, e := range events {
		k := key{ClientID(e), e.Consent.Marketing}
		g := byKey[k]
		if g == nil {
			g = &group{req: mpRequest{ClientID: k.client, TimestampMicros: adapt.EventTime(e).UnixMicro(),
				Consent: mpConsent{AdUserData: "DENIED", AdPersonalization: "DENIED"}}}
			if k.marketing {
				g.req.Consent = mpConsent{AdUserData: "GRANTED", AdPersonalization: "GRANTED"}
			}
			byKey[k] = g
			order = append(order, g)
		}
		if k.marketing && g.req.UserData == nil {
			g.req.UserData = userDataOf(e.User)
		}
		if g.req.IPOverride == "" {
			g.req.IPOverride = e.ClientIP
		}
		name, _ := p.Mapped(e.Name, StandardEvent(e.Name))
		g.idx = append(g.idx, i)
		g.req.Events = append(g.req.Events, mpEvent{Name: name, Params: params(e), TimestampMicros: adapt.EventTime(e).UnixMicro()})
	}
	return order
}

func (a *Adapter) endpoint(path string, p *platforms.Pixel) string {
	q := url.Values{"measurement_id": {p.PixelID}, "api_secret": {p.Credentials["api_secret"]}}
	return a.cfg.BaseURL + path + "?" + q.Encode()
}

// post sends one body and returns the (capped, redacted) answer. The URL
// carries api_secret: errors never include it.
func (a *Adapter) post(ctx context.Context, p *platforms.Pixel, path string, body []byte) (platforms.Response, http.Header, error) {
	if a.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.cfg.Timeout)
		defer cancel()
	}
	secrets := []string{p.Credentials["api_secret"]}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.endpoint(path, p), bytes.NewReader(body))
	if err != nil {
		return platforms.Response{}, nil, permanent("google: cannot build request: %v", adapt.RedactErr(adapt.StripURL(err), secrets))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return platforms.Response{}, nil, &platforms.RetryableError{Err: adapt.RedactErr(fmt.Errorf("google: cannot send: %w", adapt.StripURL(err)), secrets)}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody))
	return platforms.Response{HTTPStatus: resp.StatusCode, Body: adapt.Redact(raw, secrets)}, resp.Header, nil
}

// classify: 2xx success (GA4 answers 204 even to malformed payloads);
// 429, 5xx retryable with Retry-After; 3xx (a redirect is a wrong base URL)
// and other 4xx permanent, 401/403 as auth failures.
func classify(status int, h http.Header) error {
	switch {
	case status >= 200 && status < 300:
		return nil
	case status == http.StatusTooManyRequests || status >= 500:
		return &platforms.RetryableError{Err: fmt.Errorf("google: HTTP %d", status), RetryAfter: adapt.RetryAfterRounded(h, time.Now())}
	case status >= 300 && status < 400:
		return permanent("google: HTTP %d redirect refused (check platforms.google.base_url)", status)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return &platforms.PermanentError{Err: fmt.Errorf("google: HTTP %d", status), Auth: true}
	default:
		return permanent("google: HTTP %d", status)
	}
}

// Send delivers events, one request per (client_id, consent) group (see
// the package comment). With one group the result is that request's: nil,
// *platforms.RetryableError or *platforms.PermanentError. With several,
// failures of every group are merged into one error of their class, and
// a mix of accepted and failed groups is a *platforms.BatchError naming the
// failed events. The Response is the first failed request's, else the
// last one's.
func (a *Adapter) Send(ctx context.Context, p *platforms.Pixel, events []*platforms.Event) (platforms.Response, error) {
	if len(events) == 0 {
		return platforms.Response{}, nil
	}
	if len(events) > MaxBatch {
		return platforms.Response{}, permanent("google: %d events in one call, at most %d", len(events), MaxBatch)
	}
	bodies, indexes, err := a.Build(p, events)
	if err != nil {
		return platforms.Response{}, permanent("google: cannot encode request: %v", err)
	}
	var (
		out      platforms.Response
		failed   bool
		errs     = map[int]error{}
		groupErr []error
	)
	for i, body := range bodies {
		var (
			resp platforms.Response
			h    http.Header
			err  error
		)
		if cerr := ctx.Err(); cerr != nil {
			err = &platforms.RetryableError{Err: fmt.Errorf("google: not sent: %w", cerr)}
		} else {
			resp, h, err = a.post(ctx, p, "/mp/collect", body)
			if err == nil {
				err = classify(resp.HTTPStatus, h)
			}
		}
		if err == nil {
			if !failed {
				out = resp
			}
			continue
		}
		if !failed {
			out, failed = resp, true
		}
		groupErr = append(groupErr, err)
		for _, j := range indexes[i] {
			errs[j] = err
		}
	}
	switch {
	case len(errs) == 0:
		return out, nil
	case len(groupErr) == 1 && len(bodies) == 1:
		return out, groupErr[0]
	}
	if len(errs) == len(events) {
		if err, ok := merge(groupErr); ok {
			return out, err
		}
	}
	return out, &platforms.BatchError{Errs: errs}
}

// merge folds the errors of every failed group into one when they are of
// one class: retryable (the largest Retry-After) or permanent (an auth
// failure first). ok is false for a mix.
func merge(errs []error) (err error, ok bool) {
	var (
		maxAfter time.Duration
		retry    *platforms.RetryableError
		perm     *platforms.PermanentError
	)
	for _, err := range errs {
		var re *platforms.RetryableError
		var pe *platforms.PermanentError
		switch {
		case errors.As(err, &re):
			maxAfter = max(maxAfter, re.RetryAfter)
			if retry == nil {
				retry = re
			}
		case errors.As(err, &pe):
			if perm == nil || (pe.Auth && !perm.Auth) {
				perm = pe
			}
		default:
			return nil, false
		}
	}
	switch {
	case retry != nil && perm != nil:
		return nil, false
	case perm != nil:
		return perm, true
	}
	return &platforms.RetryableError{Err: retry.Err, RetryAfter: maxAfter}, true
}

// Validate posts events to /debug/mp/collect (nothing is recorded) and
// returns GA4's validation messages, "CODE fieldPath: description"; none
// means GA4 would accept them. Health sampling and the verify button use
// it. The error reports a failure to get an answer.
func (a *Adapter) Validate(ctx context.Context, p *platforms.Pixel, events []*platforms.Event) ([]string, error) {
	ms, err := a.validate(ctx, p, events)
	if err != nil {
		return nil, err
	}
	msgs := make([]string, 0, len(ms))
	for _, m := range ms {
		msgs = append(msgs, m.String())
	}
	return msgs, nil
}

// Message is one message of GA4's validation endpoint.
type Message struct {
	FieldPath   string `json:"fieldPath"`
	Description string `json:"description"`
	Code        string `json:"validationCode"`
}

func (m Message) String() string {
	return strings.TrimSpace(m.Code + " " + m.FieldPath + ": " + m.Description)
}

// validate posts the events' requests to the validation endpoint and
// returns its messages (none: valid).
func (a *Adapter) validate(ctx context.Context, p *platforms.Pixel, events []*platforms.Event) ([]Message, error) {
	if len(events) > MaxBatch {
		return nil, permanent("google: %d events in one call, at most %d", len(events), MaxBatch)
	}
	bodies, _, err := a.Build(p, events)
	if err != nil {
		return nil, permanent("google: cannot encode request: %v", err)
	}
	msgs := []Message{}
	for _, body := range bodies {
		resp, h, err := a.post(ctx, p, "/debug/mp/collect", body)
		if err != nil {
			return nil, err
		}
		if resp.HTTPStatus != http.StatusOK {
			if err := classify(resp.HTTPStatus, h); err != nil {
				return nil, err
			}
			return nil, permanent("google: debug endpoint answered HTTP %d", resp.HTTPStatus)
		}
		var v struct {
			Messages *[]Message `json:"validationMessages"`
		}
		if json.Unmarshal(resp.Body, &v) != nil || v.Messages == nil {
			return nil, &platforms.RetryableError{Err: errors.New("google: debug endpoint answered without validationMessages")}
		}
		msgs = append(msgs, *v.Messages...)
	}
	return msgs, nil
}
