package linkedin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/internal/adapt"
	"github.com/jaraba/pixelgw/platforms/normalize"
)

// Platform is the stored platform name (store.PlatformLinkedIn).
const Platform = "linkedin"

// MaxBatch is LinkedIn's BATCH_CREATE limit.
const MaxBatch = 5000

// MaxAge is how old a conversion may be (conversionHappenedAt).
const MaxAge = 90 * 24 * time.Hour

// MaxAhead is how far in the future a conversion time may be (clock skew).
const MaxAhead = 5 * time.Minute

// URNPrefix starts every conversion rule URN.
const URNPrefix = "urn:lla:llaPartnerConversion:"

// Adapter delivers events to the LinkedIn Conversions API.
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

// Platform returns "linkedin".
func (a *Adapter) Platform() string { return Platform }

// MaxBatch returns 5,000.
func (a *Adapter) MaxBatch() int { return MaxBatch }

var urnRe = regexp.MustCompile(`^urn:lla:llaPartnerConversion:[0-9]{1,20}$`)

// Check validates one event for the pixel (see the package doc).
func (a *Adapter) Check(p *platforms.Pixel, e *platforms.Event, now time.Time) error {
	if !e.Consent.Marketing {
		return fmt.Errorf("linkedin: no marketing consent: %w", platforms.ErrSkip)
	}
	if _, ok := p.Mapped(e.Name, ""); !ok {
		return fmt.Errorf("linkedin: event %q has no conversion rule: %w", e.Name, platforms.ErrSkip)
	}
	if e.Time.IsZero() || now.Sub(e.Time) > MaxAge {
		return adapt.Permanent(errors.New("linkedin: conversionHappenedAt is more than 90 days old"))
	}
	if e.Time.Sub(now) > MaxAhead {
		return adapt.Permanent(errors.New("linkedin: conversionHappenedAt is in the future"))
	}
	_, err := element(p, e)
	return err
}

// Send delivers events in one BATCH_CREATE request. Events that cannot be
// encoded (Check was skipped) are reported in a *platforms.BatchError
// without being sent.
func (a *Adapter) Send(ctx context.Context, p *platforms.Pixel, events []*platforms.Event) (platforms.Response, error) {
	red := adapt.NewRedactor(p.Credentials)
	token := p.Credentials["access_token"]
	if token == "" {
		return platforms.Response{}, adapt.AuthError(errors.New("linkedin: the pixel has no access_token"))
	}
	if len(events) == 0 {
		return platforms.Response{}, nil
	}
	elems, sent, err := adapt.Encode("linkedin", MaxBatch, events, func(e *platforms.Event) (elementJSON, error) { return element(p, e) })
	if err != nil {
		return platforms.Response{}, err
	}
	out, resp, raw, err := adapt.Post{
		Name: "linkedin", Client: a.client, Timeout: a.cfg.Timeout, URL: a.cfg.endpoint(),
		Body: batchJSON{Elements: elems},
		Header: func(req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("LinkedIn-Version", a.cfg.Version)
			req.Header.Set("X-Restli-Protocol-Version", "2.0.0")
			req.Header.Set("X-RestLi-Method", "BATCH_CREATE")
			return nil
		},
	}.Do(ctx, red)
	if err != nil {
		return out, err
	}
	return out, sent.Remap(a.classify(resp, raw, red, len(elems)))
}

// classify decides from the HTTP status and LinkedIn's error body. n is
// the number of elements sent; a *platforms.BatchError it returns is
// indexed by element.
func (a *Adapter) classify(resp *http.Response, raw []byte, red adapt.Redactor, n int) error {
	st := resp.StatusCode
	switch {
	case st == http.StatusOK:
		return batchStatuses(raw, red, n)
	case st >= 200 && st < 300:
		return nil
	case st == http.StatusUpgradeRequired:
		return adapt.Permanent(fmt.Errorf("linkedin: HTTP 426: LinkedIn-Version %s is retired; set platforms.linkedin.version to a current YYYYMM%s", a.cfg.Version, errorDetail(raw, red)))
	case st == http.StatusUnprocessableEntity:
		return unprocessable(raw, red, n)
	default:
		return adapt.StatusError("linkedin", st, errorDetail(raw, red), adapt.RetryAfter(resp.Header, a.now()))
	}
}

// batchStatuses reads a BATCH_CREATE answer: one status per element.
func batchStatuses(raw []byte, red adapt.Redactor, n int) error {
	var body struct {
		Elements []struct {
			Status  int    `json:"status"`
			Message string `json:"message"`
			Error   *struct {
				Message string `json:"message"`
			} `json:"error"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || body.Elements == nil {
		// Not LinkedIn's JSON (a proxy page?): the outcome is unknown.
		return adapt.Retryable(errors.New("linkedin: HTTP 200 without a batch result"), 0)
	}
	errs := map[int]error{}
	for i := range n {
		if i >= len(body.Elements) {
			errs[i] = adapt.Retryable(fmt.Errorf("linkedin: no status for element %d", i), 0)
			continue
		}
		el := body.Elements[i]
		if el.Status >= 200 && el.Status < 300 {
			continue
		}
		msg := el.Message
		if msg == "" && el.Error != nil {
			msg = el.Error.Message
		}
		err := fmt.Errorf("linkedin: element status %d: %s", el.Status, red.Quote(msg))
		if el.Status == http.StatusTooManyRequests || el.Status >= 500 {
			errs[i] = adapt.Retryable(err, 0)
		} else {
			errs[i] = adapt.Permanent(err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &platforms.BatchError{Errs: errs}
}

var indexRe = regexp.MustCompile(`Index: ?([0-9]{1,5}),`)

// unprocessable classifies a 422: the elements it names are permanent, the
// others retryable (nothing of the request was accepted).
func unprocessable(raw []byte, red adapt.Redactor, n int) error {
	msg := errorMessage(raw)
	bad := map[int]string{}
	for _, line := range strings.Split(msg, "\n") {
		if m := indexRe.FindStringSubmatch(line); m != nil {
			i, _ := strconv.Atoi(m[1])
			if i < n {
				bad[i] += line + "\n"
			}
		}
	}
	if len(bad) == 0 {
		return adapt.Permanent(fmt.Errorf("linkedin: HTTP 422%s", errorDetail(raw, red)))
	}
	errs := make(map[int]error, n)
	for i := range n {
		if m, ok := bad[i]; ok {
			errs[i] = adapt.Permanent(fmt.Errorf("linkedin: HTTP 422: %s", red.Quote(m)))
		} else {
			errs[i] = adapt.Retryable(errors.New("linkedin: HTTP 422 for another element of the batch"), 0)
		}
	}
	return &platforms.BatchError{Errs: errs}
}

// errorMessage extracts LinkedIn's message ({status, serviceErrorCode,
// code, message}).
func errorMessage(raw []byte) string {
	var body struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &body) == nil {
		return body.Message
	}
	return ""
}

func errorDetail(raw []byte, red adapt.Redactor) string {
	var body struct {
		ServiceErrorCode int    `json:"serviceErrorCode"`
		Code             string `json:"code"`
		Message          string `json:"message"`
	}
	if json.Unmarshal(raw, &body) != nil || (body.Message == "" && body.Code == "") {
		if len(bytes.TrimSpace(raw)) == 0 {
			return ""
		}
		return ": non-JSON answer"
	}
	s := ": "
	if body.Code != "" {
		s += body.Code + " "
	}
	if body.ServiceErrorCode != 0 {
		s += "(" + strconv.Itoa(body.ServiceErrorCode) + ") "
	}
	return s + red.Quote(body.Message)
}

type batchJSON struct {
	Elements []elementJSON `json:"elements"`
}

type elementJSON struct {
	Conversion           string     `json:"conversion"`
	ConversionHappenedAt int64      `json:"conversionHappenedAt"`
	EventID              string     `json:"eventId,omitempty"`
	ConversionValue      *valueJSON `json:"conversionValue,omitempty"`
	User                 userJSON   `json:"user"`
}

type valueJSON struct {
	CurrencyCode string `json:"currencyCode"`
	Amount       string `json:"amount"`
}

type userJSON struct {
	UserIDs  []userIDJSON  `json:"userIds"`
	UserInfo *userInfoJSON `json:"userInfo,omitempty"`
}

type userIDJSON struct {
	IDType  string `json:"idType"`
	IDValue string `json:"idValue"`
}

type userInfoJSON struct {
	FirstName   string `json:"firstName"`
	LastName    string `json:"lastName"`
	CountryCode string `json:"countryCode,omitempty"`
}

// maxEventID is LinkedIn's eventId limit; maxName its firstName limit.
const (
	maxEventID = 64
	maxName    = 35
)

// element maps one event; errors are permanent (or ErrSkip).
func element(p *platforms.Pixel, e *platforms.Event) (elementJSON, error) {
	urn, ok := p.Mapped(e.Name, "")
	if !ok {
		return elementJSON{}, fmt.Errorf("linkedin: event %q has no conversion rule: %w", e.Name, platforms.ErrSkip)
	}
	if !urnRe.MatchString(urn) {
		return elementJSON{}, adapt.Permanent(fmt.Errorf("linkedin: the pixel's rule for %q is not a conversion rule URN", e.Name))
	}
	if len(e.EventID) > maxEventID {
		return elementJSON{}, adapt.Permanent(fmt.Errorf("linkedin: eventId longer than %d characters", maxEventID))
	}
	el := elementJSON{Conversion: urn, ConversionHappenedAt: e.Time.UnixMilli(), EventID: e.EventID}
	if h, ok := normalize.Hash(normalize.Email, e.User.Email, normalize.Rules{}); ok {
		el.User.UserIDs = append(el.User.UserIDs, userIDJSON{IDType: "SHA256_EMAIL", IDValue: h})
	}
	if id := strings.TrimSpace(e.IDs.LiFatID); id != "" {
		el.User.UserIDs = append(el.User.UserIDs, userIDJSON{IDType: "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", IDValue: id})
	}
	if len(el.User.UserIDs) == 0 {
		return elementJSON{}, adapt.Permanent(errors.New("linkedin: no user id (needs a valid email or li_fat_id)"))
	}
	el.User.UserInfo = userInfo(e.User)
	v, err := conversionValue(e.Props)
	if err != nil {
		return elementJSON{}, err
	}
	el.ConversionValue = v
	return el, nil
}

// userInfo returns plain first and last name (both or nothing: LinkedIn
// answers 422 for one alone); hashed values are useless here.
func userInfo(u platforms.UserData) *userInfoJSON {
	fn, ln := strings.TrimSpace(u.FirstName), strings.TrimSpace(u.LastName)
	if fn == "" || ln == "" || normalize.IsSHA256Hex(fn) || normalize.IsSHA256Hex(ln) ||
		utf8.RuneCountInString(fn) > maxName || utf8.RuneCountInString(ln) > maxName {
		return nil
	}
	info := &userInfoJSON{FirstName: fn, LastName: ln}
	if c, ok := normalize.Normalize(normalize.Country, u.Country, normalize.Rules{}); ok && len(c) == 2 {
		info.CountryCode = strings.ToUpper(c)
	}
	return info
}

var currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)

// conversionValue reads props value + currency. A value without a
// currency is not sent (LinkedIn needs both); an absurd one is permanent.
func conversionValue(props map[string]any) (*valueJSON, error) {
	raw, ok := props["value"]
	if !ok || raw == nil {
		return nil, nil
	}
	var v float64
	switch x := raw.(type) {
	case float64:
		v = x
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return nil, adapt.Permanent(errors.New("linkedin: props.value is not a number"))
		}
		v = f
	default:
		return nil, adapt.Permanent(errors.New("linkedin: props.value is not a number"))
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1e12 {
		return nil, adapt.Permanent(errors.New("linkedin: props.value out of range"))
	}
	cur, _ := props["currency"].(string)
	cur = strings.ToUpper(strings.TrimSpace(cur))
	if cur == "" {
		return nil, nil
	}
	if !currencyRe.MatchString(cur) {
		return nil, adapt.Permanent(errors.New("linkedin: props.currency is not an ISO 4217 code"))
	}
	return &valueJSON{CurrencyCode: cur, Amount: strconv.FormatFloat(v, 'f', -1, 64)}, nil
}

// Interface guards
var _ platforms.Destination = (*Adapter)(nil)
