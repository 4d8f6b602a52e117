package platforms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Event is one event to deliver, decoded from the queued record (the edge's
// collect.AppendPayload, or the server-side events API). User data is raw
// as the page or back end gave it, or already a SHA-256 hex digest: each
// adapter normalises and hashes it by its platform's rules.
type Event struct {
	TenantID     string
	EventID      string
	Name         string // canonical internal name (see Canonical)
	Class        Class
	Source       string // client|server|both
	Time         time.Time
	Received     time.Time
	URL          string
	Referrer     string
	EngagementMS int64
	SessionID    string // the loader's session id (GA4 session_id)
	VisitorID    string // jaraba_visitor_id (GA4 client_id, Meta external_id fallback)
	ClientIP     string
	UserAgent    string
	Consent      Consent
	IDs          ClickIDs
	User         UserData
	// Props are the custom data: JSON values (string, float64, bool,
	// []any, map[string]any).
	Props map[string]any
	// Platforms are the platforms (store names: meta, google, linkedin,
	// tiktok, twitter) the event is for; nil means every platform. Only the
	// server-side events API sets it.
	Platforms []string
}

// Targets reports whether e is for platform (no list: every platform).
func (e *Event) Targets(platform string) bool {
	if len(e.Platforms) == 0 {
		return true
	}
	for _, p := range e.Platforms {
		if p == platform {
			return true
		}
	}
	return false
}

// Consent is the decision the event was accepted under.
type Consent struct {
	Analytics  bool
	Marketing  bool
	Functional bool
	GPC        bool
	Policy     string
}

// ClickIDs are the advertising ids (never hashed).
type ClickIDs struct {
	FBP, FBC, GCLID, GBRAID, WBRAID, TTCLID, TTP, LiFatID, TWCLID string
}

// UserData is what is known of the person (raw, or 64-lowercase-hex
// SHA-256 digests). Empty means absent.
type UserData struct {
	Email, Phone, FirstName, LastName, Gender, DateOfBirth, City, State, Zip, Country, ExternalID string
}

// record is the JSON shape of a queued event (collect.AppendPayload v1).
type record struct {
	V       int    `json:"v"`
	Src     string `json:"src"`
	Tenant  string `json:"tenant"`
	ID      string `json:"id"`
	Name    string `json:"name"`
	TS      int64  `json:"ts"`
	Recv    int64  `json:"recv"`
	URL     string `json:"url"`
	Ref     string `json:"ref"`
	Eng     int64  `json:"eng"`
	SID     string `json:"sid"`
	Visitor string `json:"visitor"`
	IP      string `json:"ip"`
	UA      string `json:"ua"`
	Consent struct {
		A      bool   `json:"a"`
		M      bool   `json:"m"`
		F      bool   `json:"f"`
		Policy string `json:"policy"`
		GPC    bool   `json:"gpc"`
	} `json:"consent"`
	IDs struct {
		FBP     string `json:"fbp"`
		FBC     string `json:"fbc"`
		GCLID   string `json:"gclid"`
		GBRAID  string `json:"gbraid"`
		WBRAID  string `json:"wbraid"`
		TTCLID  string `json:"ttclid"`
		TTP     string `json:"ttp"`
		LiFatID string `json:"li_fat_id"`
		TWCLID  string `json:"twclid"`
	} `json:"ids"`
	Props     map[string]any `json:"props"`
	Platforms []string       `json:"platforms"`
	User      struct {
		EM         string `json:"em"`
		PH         string `json:"ph"`
		FN         string `json:"fn"`
		LN         string `json:"ln"`
		GE         string `json:"ge"`
		DB         string `json:"db"`
		CT         string `json:"ct"`
		ST         string `json:"st"`
		ZP         string `json:"zp"`
		Country    string `json:"country"`
		ExternalID string `json:"external_id"`
	} `json:"user"`
}

// ErrBadRecord: a queued payload is not a valid event record.
var ErrBadRecord = errors.New("invalid event record")

// DecodeEvent decodes a queued event record. The delivery engine is off the
// request path, so encoding/json is fine here.
func DecodeEvent(payload []byte) (Event, error) {
	var r record
	if err := json.Unmarshal(payload, &r); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	if r.V != 1 {
		return Event{}, fmt.Errorf("%w: version %d", ErrBadRecord, r.V)
	}
	spec, ok := Canonical(r.Name)
	if !ok || r.Tenant == "" || r.ID == "" || r.TS <= 0 {
		return Event{}, fmt.Errorf("%w: missing or unknown tenant, id, name or ts", ErrBadRecord)
	}
	if r.Platforms != nil && len(r.Platforms) == 0 {
		// Never read "for no platform" as "for every platform".
		return Event{}, fmt.Errorf("%w: empty platforms list", ErrBadRecord)
	}
	name := spec.Name
	if spec.Custom {
		name = r.Name
	}
	e := Event{
		TenantID: r.Tenant, EventID: r.ID, Name: name, Class: spec.Class, Source: r.Src,
		Time: time.UnixMilli(r.TS).UTC(), Received: time.UnixMilli(r.Recv).UTC(),
		URL: r.URL, Referrer: r.Ref, EngagementMS: r.Eng, SessionID: r.SID, VisitorID: r.Visitor,
		ClientIP: r.IP, UserAgent: r.UA,
		Consent: Consent{Analytics: r.Consent.A, Marketing: r.Consent.M, Functional: r.Consent.F, GPC: r.Consent.GPC, Policy: r.Consent.Policy},
		IDs: ClickIDs{FBP: r.IDs.FBP, FBC: r.IDs.FBC, GCLID: r.IDs.GCLID, GBRAID: r.IDs.GBRAID, WBRAID: r.IDs.WBRAID,
			TTCLID: r.IDs.TTCLID, TTP: r.IDs.TTP, LiFatID: r.IDs.LiFatID, TWCLID: r.IDs.TWCLID},
		User: UserData{Email: r.User.EM, Phone: r.User.PH, FirstName: r.User.FN, LastName: r.User.LN, Gender: r.User.GE,
			DateOfBirth: r.User.DB, City: r.User.CT, State: r.User.ST, Zip: r.User.ZP, Country: r.User.Country, ExternalID: r.User.ExternalID},
		Props: r.Props, Platforms: r.Platforms,
	}
	return e, nil
}

// Pixel is what an adapter needs of one tracking pixel, its credentials
// opened (they never leave the delivery engine's memory).
type Pixel struct {
	UUID          string
	TenantID      string
	Platform      string // meta|google|linkedin|tiktok|twitter
	PixelID       string
	Credentials   map[string]string // access_token, api_secret, X OAuth keys...
	Extras        map[string]string
	EventMap      map[string]string // internal event -> platform value; "" = do not send
	TestEventCode string
}

// Mapped returns the platform value for the internal event: the pixel's
// override when it has one ("" there means "do not send": ok false), else
// def (the adapter's standard mapping; "" means the platform has none).
func (p *Pixel) Mapped(internal, def string) (string, bool) {
	if v, ok := p.EventMap[internal]; ok {
		return v, v != ""
	}
	return def, def != ""
}

// Response is the platform's answer to one request, kept for the audit
// (the adapter truncates the body and removes secrets from it).
type Response struct {
	HTTPStatus int
	Body       []byte
}

// Destination is one platform's adapter: map, send, classify. Batching,
// retries and backoff live in platforms/dispatch only.
type Destination interface {
	// Platform is the platform name (store.Platform*).
	Platform() string
	// MaxBatch is the most events one request may carry.
	MaxBatch() int
	// Check validates one event for this pixel (consent, required
	// identifiers, age window, mapping): a non-nil error means the event is
	// not sent to this pixel (ErrSkip: by design, e.g. unmapped; anything
	// else: a permanent failure recorded for it). One bad event never fails
	// a batch.
	Check(p *Pixel, e *Event, now time.Time) error
	// Send delivers events (all passed Check) in one request and
	// classifies the answer: nil (every event accepted), *RetryableError,
	// *PermanentError, or *BatchError (some events rejected).
	Send(ctx context.Context, p *Pixel, events []*Event) (Response, error)
}

// ErrSkip: the event is not for this pixel (unmapped, "do not send", no
// consent for this platform); not a failure.
var ErrSkip = errors.New("not sent to this pixel")

// RetryableError is a failure worth retrying (429, 5xx, timeouts,
// connection errors, platform throttling codes).
type RetryableError struct {
	Err error
	// RetryAfter is the platform's hint (Retry-After), 0 when none.
	RetryAfter time.Duration
}

func (e *RetryableError) Error() string { return "retryable: " + e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// PermanentError is a failure retrying cannot fix (validation, auth,
// retired API version).
type PermanentError struct {
	Err error
	// Auth marks credential failures: the pixel's status turns red.
	Auth bool
}

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// BatchError reports per-event failures inside an otherwise accepted
// request: Errs maps an index of the sent events to its error (itself
// retryable or permanent); events not in Errs were accepted.
type BatchError struct {
	Errs map[int]error
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("%d events rejected in the batch", len(e.Errs))
}
