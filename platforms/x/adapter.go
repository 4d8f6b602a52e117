package x

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/internal/adapt"
	"github.com/jaraba/pixelgw/platforms/normalize"
)

// Platform is the stored platform name (store.PlatformX).
const Platform = "twitter"

// MaxBatch is the Conversion API limit of conversions per request.
const MaxBatch = 500

var rules = normalize.Rules{PhonePlus: true}

// Adapter delivers events to the X Conversion API.
type Adapter struct {
	cfg    Config
	client *http.Client
	now    func() time.Time
	nonce  func() string
}

// New returns an adapter. client is the outbound client (the safe
// platforms/httpx one in production); it is copied so that it
// never follows redirects. cfg must have passed Validate.
func New(cfg Config, client *http.Client) *Adapter {
	return &Adapter{cfg: cfg, client: adapt.NoRedirects(client), now: time.Now, nonce: newNonce}
}

// Platform returns "twitter" (the store's name for X).
func (a *Adapter) Platform() string { return Platform }

// MaxBatch returns 500.
func (a *Adapter) MaxBatch() int { return MaxBatch }

var tagRe = regexp.MustCompile(`^([a-z0-9]{1,32}|tw-[a-z0-9]{1,32}-[a-z0-9]{1,32})$`)

// Check validates one event for the pixel: marketing consent and an event
// tag id in the pixel's event_map (else ErrSkip); at least one identifier
// (twclid, hashed email or phone) and sane value/currency (else
// permanent).
func (a *Adapter) Check(p *platforms.Pixel, e *platforms.Event, _ time.Time) error {
	if !e.Consent.Marketing {
		return fmt.Errorf("x: no marketing consent: %w", platforms.ErrSkip)
	}
	_, err := conversion(p, e)
	return err
}

// auth sets the request's credentials: a pixel token, or an OAuth 1.0a
// user-context signature.
func (a *Adapter) auth(req *http.Request, creds map[string]string) error {
	if t := creds["pixel_token"]; t != "" {
		// The pixel access token's header is UNCONFIRMED (platforms.md
		// §5.1: X-Pixel-Token per stape); send it both ways.
		req.Header.Set("X-Pixel-Token", t)
		req.Header.Set("Authorization", "Bearer "+t)
		return nil
	}
	o := OAuth1{ConsumerKey: creds["consumer_key"], ConsumerSecret: creds["consumer_secret"],
		Token: creds["access_token"], TokenSecret: creds["access_token_secret"]}
	if o.ConsumerKey == "" || o.ConsumerSecret == "" || o.Token == "" || o.TokenSecret == "" {
		return adapt.AuthError(errors.New("x: the pixel has neither pixel_token nor the four OAuth 1.0a keys"))
	}
	h, err := o.Header(req.Method, req.URL.String(), nil, a.nonce(), a.now().Unix())
	if err != nil {
		return adapt.Permanent(fmt.Errorf("x: cannot sign the request: %w", err))
	}
	req.Header.Set("Authorization", h)
	return nil
}

// Send delivers events in one request. Events that cannot be encoded
// (Check was skipped) are reported in a *platforms.BatchError without
// being sent.
func (a *Adapter) Send(ctx context.Context, p *platforms.Pixel, events []*platforms.Event) (platforms.Response, error) {
	red := adapt.NewRedactor(p.Credentials)
	if len(events) == 0 {
		return platforms.Response{}, nil
	}
	conversions, sent, err := adapt.Encode("x", MaxBatch, events, func(e *platforms.Event) (conversionJSON, error) { return conversion(p, e) })
	if err != nil {
		return platforms.Response{}, err
	}
	out, resp, raw, err := adapt.Post{
		Name: "x", Client: a.client, Timeout: a.cfg.Timeout, URL: a.cfg.endpoint(p.PixelID),
		Body:   requestJSON{Conversions: conversions},
		Header: func(req *http.Request) error { return a.auth(req, p.Credentials) },
	}.Do(ctx, red)
	if err != nil {
		return out, err
	}
	return out, sent.Remap(a.classify(resp, raw, red))
}

// classify decides from the HTTP status (X reports errors only there).
func (a *Adapter) classify(resp *http.Response, raw []byte, red adapt.Redactor) error {
	st := resp.StatusCode
	if st >= 200 && st < 300 {
		return nil
	}
	after := adapt.RetryAfter(resp.Header, a.now())
	if after == 0 && st == http.StatusTooManyRequests {
		after = rateLimitReset(resp.Header, a.now())
	}
	return adapt.StatusError("x", st, errorDetail(raw, red), after)
}

// rateLimitReset reads X's x-rate-limit-reset (Unix seconds) when
// Retry-After is absent.
func rateLimitReset(h http.Header, now time.Time) time.Duration {
	s, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-Rate-Limit-Reset")), 10, 64)
	if err != nil {
		return 0
	}
	d := time.Unix(s, 0).Sub(now)
	if d <= 0 {
		return 0
	}
	return min(d, 15*time.Minute)
}

// errorDetail quotes the Ads API error envelope
// {"errors":[{"code","message"}]} (UNCONFIRMED shape).
func errorDetail(raw []byte, red adapt.Redactor) string {
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(raw, &body) != nil || len(body.Errors) == 0 {
		if len(bytes.TrimSpace(raw)) == 0 {
			return ""
		}
		return ": non-JSON answer"
	}
	e := body.Errors[0]
	return ": " + e.Code + " " + red.Quote(e.Message)
}

type requestJSON struct {
	Conversions []conversionJSON `json:"conversions"`
}

type conversionJSON struct {
	ConversionTime string           `json:"conversion_time"`
	EventID        string           `json:"event_id"`
	Identifiers    []map[string]any `json:"identifiers"`
	ConversionID   string           `json:"conversion_id,omitempty"`
	Value          *float64         `json:"value,omitempty"`
	PriceCurrency  string           `json:"price_currency,omitempty"`
	NumberItems    int              `json:"number_items,omitempty"`
	SearchString   string           `json:"search_string,omitempty"`
	Contents       []contentJSON    `json:"contents,omitempty"`
}

type contentJSON struct {
	ContentID    string   `json:"content_id"`
	ContentName  string   `json:"content_name,omitempty"`
	ContentPrice *float64 `json:"content_price,omitempty"`
	NumItems     int      `json:"num_items,omitempty"`
}

// conversion maps one event; errors are permanent (or ErrSkip).
func conversion(p *platforms.Pixel, e *platforms.Event) (conversionJSON, error) {
	tag, ok := p.Mapped(e.Name, "")
	if !ok {
		return conversionJSON{}, fmt.Errorf("x: event %q has no event tag: %w", e.Name, platforms.ErrSkip)
	}
	if !tagRe.MatchString(tag) {
		return conversionJSON{}, adapt.Permanent(fmt.Errorf("x: the pixel's tag for %q is not an event tag id", e.Name))
	}
	if e.Time.IsZero() {
		return conversionJSON{}, adapt.Permanent(errors.New("x: conversion_time missing"))
	}
	c := conversionJSON{
		ConversionTime: e.Time.UTC().Format("2006-01-02T15:04:05.000Z"),
		EventID:        tag,
		ConversionID:   e.EventID,
	}
	if id := strings.TrimSpace(e.IDs.TWCLID); id != "" {
		c.Identifiers = append(c.Identifiers, map[string]any{"twclid": id})
	}
	if h, ok := normalize.Hash(normalize.Email, e.User.Email, rules); ok {
		c.Identifiers = append(c.Identifiers, map[string]any{"hashed_email": h})
	}
	if h, ok := normalize.Hash(normalize.Phone, e.User.Phone, rules); ok {
		c.Identifiers = append(c.Identifiers, map[string]any{"hashed_phone_number": h})
	}
	if len(c.Identifiers) == 0 {
		return conversionJSON{}, adapt.Permanent(errors.New("x: no identifier (needs twclid, a valid email or a valid phone)"))
	}
	// ip_address and user_agent only accompany another identifier.
	if e.ClientIP != "" && e.UserAgent != "" {
		c.Identifiers = append(c.Identifiers, map[string]any{"ip_address": e.ClientIP, "user_agent": e.UserAgent})
	}
	if err := props(&c, e.Props); err != nil {
		return conversionJSON{}, err
	}
	return c, nil
}

func props(c *conversionJSON, p map[string]any) error {
	if len(p) == 0 {
		return nil
	}
	v, ok, err := adapt.Number(p, "value")
	if err != nil || (ok && (v < 0 || v > 1e12)) {
		return adapt.Permanent(errors.New("x: props.value is not a sane number"))
	}
	if ok {
		c.Value = &v
	}
	if c.PriceCurrency, err = adapt.Currency(p); err != nil {
		return adapt.Permanent(fmt.Errorf("x: %w", err))
	}
	total := 0
	for _, it := range adapt.Items(p) {
		ct := contentJSON{ContentID: it.ID, ContentName: it.Name, NumItems: it.Quantity}
		if it.HasPrice {
			ct.ContentPrice = &it.Price
		}
		total += it.Quantity
		c.Contents = append(c.Contents, ct)
	}
	if n, ok, err := adapt.Number(p, "num_items"); err == nil && ok && n >= 1 && n <= 1e6 {
		c.NumberItems = int(n)
	} else if total > 0 {
		c.NumberItems = total
	}
	for _, k := range []string{"search_string", "query", "search_term"} {
		if s := adapt.Text(p, k); s != "" {
			c.SearchString = s
			break
		}
	}
	return nil
}

// Interface guards
var _ platforms.Destination = (*Adapter)(nil)
