package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/queue"
)

// Admitter admits events atomically with dedup and the revocation check
// (queue.Queue satisfies it): the seam the edge's beacons go through too.
type Admitter interface {
	Admit(ctx context.Context, entries []queue.Entry) ([]queue.Result, error)
}

// Limits of the server-side events API.
const (
	// MaxBatchEvents is the most events one batch call may carry.
	MaxBatchEvents = 1000
	// MaxEventBytes caps the body of a single-event call.
	MaxEventBytes = 64 << 10
	// MaxBatchBytes caps the body of a batch call.
	MaxBatchBytes = 8 << 20
	// MaxCustomDataBytes caps an event's custom_data, as JSON.
	MaxCustomDataBytes = 8 << 10
	// MaxEventAge and MaxEventSkew bound event_time around the server's
	// clock: at most 7 days old, at most 10 minutes ahead.
	MaxEventAge  = 7 * 24 * time.Hour
	MaxEventSkew = 10 * time.Minute
)

// Per-event statuses of the events API.
const (
	EventAccepted  = "accepted"
	EventDuplicate = "duplicate"
	EventRejected  = "rejected"
)

// Rejection reasons that are not a field's validation message.
const (
	ReasonNoConsent = "no_consent"
	ReasonRevoked   = "revoked"
	ReasonOverCap   = "over_cap"
)

// SourceServer is Event.Source for events of this API.
const SourceServer = store.SourceServer

// EventUserData is what a tenant's back end knows of the person: raw
// values, or 64-hex SHA-256 digests of the normalised values.
type EventUserData struct {
	Email       string `json:"em"`
	Phone       string `json:"ph"`
	FirstName   string `json:"fn"`
	LastName    string `json:"ln"`
	City        string `json:"ct"`
	State       string `json:"st"`
	Zip         string `json:"zp"`
	Country     string `json:"country"`
	DateOfBirth string `json:"db"`
	Gender      string `json:"ge"`
	ExternalID  string `json:"external_id"`
}

// EventInput is one server-side event (seed §3.4).
type EventInput struct {
	EventName       string          `json:"event_name"`
	EventID         string          `json:"event_id"`
	EventTime       *int64          `json:"event_time"` // unix seconds; default now
	VisitorID       string          `json:"visitor_id"`
	UserData        *EventUserData  `json:"user_data"`
	CustomData      json.RawMessage `json:"custom_data"`
	EventSourceURL  string          `json:"event_source_url"`
	ClientIPAddress string          `json:"client_ip_address"`
	ClientUserAgent string          `json:"client_user_agent"`
	FBC             string          `json:"fbc"`
	FBP             string          `json:"fbp"`
	GCLID           string          `json:"gclid"`
	GBRAID          string          `json:"gbraid"`
	WBRAID          string          `json:"wbraid"`
	TTCLID          string          `json:"ttclid"`
	TTP             string          `json:"ttp"`
	LiFatID         string          `json:"li_fat_id"`
	TWCLID          string          `json:"twclid"`
	// Platforms limits delivery to these platforms (absent or null: every
	// platform with a pixel). See eventPlatforms.
	Platforms []string `json:"platforms"`
}

// EventResult is the answer for one event of a batch. EventID is the id as
// sent (empty when the event had none).
type EventResult struct {
	EventID string `json:"event_id"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
}

// prepared is one event ready for Admit, or its rejection.
type prepared struct {
	result EventResult
	entry  queue.Entry
	ok     bool // entry is to be admitted
}

// TrackEvents validates the events, applies consent and admits every
// consented valid event through the Admitter in ONE call. It returns one
// result per event, in order. An error (503 + Retry-After) means nothing of
// the call was admitted.
func (a *API) TrackEvents(ctx context.Context, tenantID string, raw []json.RawMessage) ([]EventResult, error) {
	res, err := a.trackEvents(ctx, tenantID, raw)
	if err != nil {
		a.countUnavailable(len(raw))
		return nil, err
	}
	a.countResults(res)
	return res, nil
}

func (a *API) trackEvents(ctx context.Context, tenantID string, raw []json.RawMessage) ([]EventResult, error) {
	if a.adm == nil {
		return nil, errf(http.StatusServiceUnavailable, codeUnavailable, "the events API is not enabled on this server")
	}
	now := a.now()
	consents := &eventConsents{tenantID: tenantID, records: map[string]*store.ConsentRecord{}, cached: map[string]bool{}}
	ps := make([]prepared, len(raw))
	todo := make([]int, len(raw)) // indexes of ps to prepare and admit
	for i := range todo {
		todo[i] = i
	}
	results := make([]queue.Result, len(raw)) // 0: not admitted
	// At most two passes: an event refused as revoked while its consent
	// came from the process cache (consentCache) is decided again from the
	// store — the newer decision the revocation set saw may be a grant.
	for pass := 0; len(todo) > 0; pass++ {
		var entries []queue.Entry
		var idx []int
		for _, i := range todo {
			p, err := a.prepareEvent(ctx, tenantID, raw[i], now, consents)
			if err != nil {
				return nil, err
			}
			ps[i] = p
			if p.ok {
				entries = append(entries, p.entry)
				idx = append(idx, i)
			}
		}
		if len(entries) == 0 {
			break
		}
		res, err := a.adm.Admit(ctx, entries)
		if err == nil && len(res) != len(entries) {
			err = fmt.Errorf("admitter answered %d results for %d entries", len(res), len(entries))
		}
		if err != nil {
			a.log.ErrorContext(ctx, "cannot admit server events", slog.String("tenant", tenantID),
				slog.String("request_id", requestID(ctx)), slog.String("error", err.Error()))
			return nil, &retryError{errf(http.StatusServiceUnavailable, codeUnavailable, "the event queue is unavailable, retry later")}
		}
		todo = todo[:0]
		for k, i := range idx {
			results[i] = res[k]
			if v := entries[k].VisitorID; res[k] == queue.Revoked && pass == 0 && consents.cached[v] {
				todo = append(todo, i)
				consents.stale(a.consentCache, v)
			}
		}
	}
	out := make([]EventResult, len(ps))
	for i := range ps {
		out[i] = ps[i].result
		if !ps[i].ok {
			continue
		}
		switch results[i] {
		case queue.Queued:
			out[i].Status = EventAccepted
		case queue.Duplicate:
			out[i].Status = EventDuplicate
		case queue.Revoked:
			out[i].Status, out[i].Reason = EventRejected, ReasonRevoked
		case queue.OverCap:
			out[i].Status, out[i].Reason = EventRejected, ReasonOverCap
		default:
			out[i].Status, out[i].Reason = EventRejected, "internal"
		}
	}
	return out, nil
}

// prepareEvent decodes and validates one event and builds its queue entry.
// A validation failure or missing consent is a rejected result; only store
// failures are errors.
func (a *API) prepareEvent(ctx context.Context, tenantID string, raw json.RawMessage, now time.Time, consents *eventConsents) (prepared, error) {
	reject := func(id, reason string) (prepared, error) {
		if len(id) > maxEchoedID {
			id = "" // never echo a huge value back
		}
		return prepared{result: EventResult{EventID: id, Status: EventRejected, Reason: reason}}, nil
	}
	var in EventInput
	if err := decodeStrict(raw, &in); err != nil {
		return reject(peekEventID(raw), err.Error())
	}
	ev, err := validateEvent(&in, now)
	if err != nil {
		return reject(in.EventID, err.Error())
	}
	ev.TenantID = tenantID

	// Consent: the visitor's latest record under the tenant's policy
	// (package consent, see eventConsent).
	c, decided, ok, err := a.eventConsent(ctx, consents, ev.VisitorID)
	if err != nil {
		return prepared{}, err
	}
	if !ok {
		return reject(in.EventID, ReasonNoConsent)
	}
	ev.Consent = c
	if !c.Marketing {
		// Identifiers are marketing data, as on the edge.
		ev.IDs, ev.User = platforms.ClickIDs{}, platforms.UserData{}
	}
	payload, err := platforms.EncodeRecord(&ev)
	if err != nil {
		return reject(in.EventID, "custom_data: "+strings.TrimPrefix(err.Error(), platforms.ErrBadRecord.Error()+": "))
	}
	conv := ev.Class == platforms.ClassConversion
	return prepared{
		result: EventResult{EventID: in.EventID},
		ok:     true,
		entry: queue.Entry{
			TenantID: tenantID, EventID: ev.EventID, EventName: ev.Name,
			Window: ev.Class.DefaultWindow(), Conversion: conv, VisitorID: ev.VisitorID,
			// The decision time as the revocation set holds it (decisionTime):
			// a newer decision of the visitor refuses the event.
			DecidedAt: decided,
			Payload:   payload,
		},
	}, nil
}

// decodeStrict decodes one event object: no unknown fields, right types.
func decodeStrict(raw json.RawMessage, dst *EventInput) error {
	if t := strings.TrimSpace(string(raw)); t == "" || t[0] != '{' {
		return errors.New("event must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var he *httpError
		if errors.As(decodeError(err, 0), &he) {
			return errors.New(he.message)
		}
		return errors.New("malformed JSON")
	}
	return nil
}

// peekEventID reads event_id from a rejected event when it is a string.
func peekEventID(raw json.RawMessage) string {
	var v struct {
		EventID any `json:"event_id"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	s, _ := v.EventID.(string)
	return s
}

// maxEchoedID is the longest event_id a result echoes back.
const maxEchoedID = 64

// validateEvent checks in and builds the event (without tenant and
// consent). The error message names the field.
func validateEvent(in *EventInput, now time.Time) (platforms.Event, error) {
	ferr := func(field, format string, args ...any) error {
		return errors.New(field + ": " + fmt.Sprintf(format, args...))
	}
	var ev platforms.Event
	if in.EventName == "" {
		return ev, ferr("event_name", "required")
	}
	spec, ok := platforms.Canonical(in.EventName)
	if !ok {
		return ev, ferr("event_name", "unknown event (an internal name, a platform's standard name, or custom:NAME with NAME of 1-40 [a-z0-9_])")
	}
	name := spec.Name
	if in.EventID == "" {
		return ev, ferr("event_id", "required")
	}
	id, ok := canonicalUUID(in.EventID)
	if !ok {
		return ev, ferr("event_id", "must be a UUID")
	}
	at := now
	if in.EventTime != nil {
		at = time.Unix(*in.EventTime, 0)
		switch {
		case *in.EventTime <= 0 || at.Before(now.Add(-MaxEventAge)):
			return ev, ferr("event_time", "older than 7 days")
		case at.After(now.Add(MaxEventSkew)):
			return ev, ferr("event_time", "more than 10 minutes in the future")
		}
	}
	var vid string
	if in.VisitorID != "" {
		if vid, ok = canonicalUUID(in.VisitorID); !ok {
			return ev, ferr("visitor_id", "must be a UUID")
		}
	}
	if in.EventSourceURL != "" {
		u, err := url.Parse(in.EventSourceURL)
		if len(in.EventSourceURL) > 2048 || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return ev, ferr("event_source_url", "must be an absolute http(s) URL of at most 2048 bytes")
		}
	}
	var ip string
	if in.ClientIPAddress != "" {
		addr, err := netip.ParseAddr(in.ClientIPAddress)
		if err != nil || addr.Zone() != "" {
			return ev, ferr("client_ip_address", "must be an IPv4 or IPv6 address")
		}
		ip = addr.Unmap().String()
	}
	if err := checkPlain("client_user_agent", in.ClientUserAgent, 512); err != nil {
		return ev, err
	}
	ids := platforms.ClickIDs{FBP: in.FBP, FBC: in.FBC, GCLID: in.GCLID, GBRAID: in.GBRAID, WBRAID: in.WBRAID,
		TTCLID: in.TTCLID, TTP: in.TTP, LiFatID: in.LiFatID, TWCLID: in.TWCLID}
	for _, f := range []struct{ name, v string }{
		{"fbp", ids.FBP}, {"fbc", ids.FBC}, {"gclid", ids.GCLID}, {"gbraid", ids.GBRAID}, {"wbraid", ids.WBRAID},
		{"ttclid", ids.TTCLID}, {"ttp", ids.TTP}, {"li_fat_id", ids.LiFatID}, {"twclid", ids.TWCLID},
	} {
		if err := checkToken(f.name, f.v); err != nil {
			return ev, err
		}
	}
	var user platforms.UserData
	if in.UserData != nil {
		var err error
		if user, err = validateUserData(in.UserData); err != nil {
			return ev, err
		}
	}
	targets, err := eventPlatforms(in.Platforms)
	if err != nil {
		return ev, err
	}
	var props map[string]any
	if len(in.CustomData) > 0 && string(in.CustomData) != "null" {
		if len(in.CustomData) > MaxCustomDataBytes {
			return ev, ferr("custom_data", "exceeds %d bytes", MaxCustomDataBytes)
		}
		if in.CustomData[0] != '{' {
			return ev, ferr("custom_data", "must be an object")
		}
		if err := json.Unmarshal(in.CustomData, &props); err != nil {
			return ev, ferr("custom_data", "must be an object")
		}
	}
	ev = platforms.Event{
		EventID: id, Name: name, Class: spec.Class, Source: SourceServer,
		Time: at.UTC(), Received: now.UTC(), URL: in.EventSourceURL,
		VisitorID: vid, ClientIP: ip, UserAgent: in.ClientUserAgent,
		IDs: ids, User: user, Props: props, Platforms: targets,
	}
	return ev, nil
}

// platformAliases maps the names the events API accepts in "platforms" to
// the stored platform names: the stored names themselves, and "x" for X
// (stored as "twitter").
var platformAliases = map[string]string{
	store.PlatformMeta: store.PlatformMeta, store.PlatformGoogle: store.PlatformGoogle,
	store.PlatformLinkedIn: store.PlatformLinkedIn, store.PlatformTikTok: store.PlatformTikTok,
	store.PlatformX: store.PlatformX, "x": store.PlatformX,
}

// eventPlatforms validates an event's "platforms": nil (absent or null) is
// every platform; otherwise 1..10 names (case-insensitive) from
// platformAliases, returned as stored names, deduplicated, in
// store.Platforms() order. An empty list is refused (it would send the
// event nowhere; omit the field for every platform).
func eventPlatforms(names []string) ([]string, error) {
	if names == nil {
		return nil, nil
	}
	if len(names) == 0 {
		return nil, errors.New("platforms: at least one platform (omit the field for every platform)")
	}
	if len(names) > 10 {
		return nil, errors.New("platforms: at most 10 names")
	}
	want := map[string]bool{}
	for _, n := range names {
		p, ok := platformAliases[strings.ToLower(n)]
		if !ok {
			if len(n) > 32 || !utf8.ValidString(n) {
				return nil, errors.New("platforms: unknown platform (meta, google, linkedin, tiktok, twitter or x)")
			}
			return nil, fmt.Errorf("platforms: unknown platform %q (meta, google, linkedin, tiktok, twitter or x)", n)
		}
		want[p] = true
	}
	out := make([]string, 0, len(want))
	for _, p := range store.Platforms() {
		if want[p] {
			out = append(out, p)
		}
	}
	return out, nil
}

// checkPlain: at most max bytes of valid UTF-8 without control characters.
func checkPlain(field, v string, max int) error {
	if len(v) > max {
		return fmt.Errorf("%s: longer than %d bytes", field, max)
	}
	if !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("%s: must be printable text", field)
	}
	return nil
}

// checkToken: a click id or cookie value: 1-500 printable ASCII, no spaces.
func checkToken(field, v string) error {
	if len(v) > 500 {
		return fmt.Errorf("%s: longer than 500 bytes", field)
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= 0x20 || v[i] >= 0x7f {
			return fmt.Errorf("%s: must be printable ASCII without spaces", field)
		}
	}
	return nil
}

// isHex reports whether s is only hexadecimal digits.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// validateUserData checks each value: a 64-hex digest (lowercased) or a raw
// value (hashed per platform at delivery). A hex string of 32..128 digits
// other than 64 is a digest of the wrong kind (MD5, SHA-1, SHA-512...) and
// refused, except for external_id, which may be any id.
func validateUserData(u *EventUserData) (platforms.UserData, error) {
	fields := []struct {
		name string
		v    *string
	}{
		{"em", &u.Email}, {"ph", &u.Phone}, {"fn", &u.FirstName}, {"ln", &u.LastName}, {"ct", &u.City},
		{"st", &u.State}, {"zp", &u.Zip}, {"country", &u.Country}, {"db", &u.DateOfBirth}, {"ge", &u.Gender},
		{"external_id", &u.ExternalID},
	}
	for _, f := range fields {
		name := "user_data." + f.name
		v := strings.TrimSpace(*f.v)
		if err := checkPlain(name, v, 256); err != nil {
			return platforms.UserData{}, err
		}
		switch {
		case len(v) == 64 && isHex(v):
			v = strings.ToLower(v)
		case f.name != "external_id" && len(v) >= 32 && isHex(v):
			return platforms.UserData{}, fmt.Errorf("%s: a pre-hashed value must be a 64-hex SHA-256 digest", name)
		case f.name == "em" && v != "" && !strings.Contains(v, "@"):
			return platforms.UserData{}, fmt.Errorf("%s: neither an email address nor a 64-hex SHA-256 digest", name)
		}
		*f.v = v
	}
	return platforms.UserData{
		Email: u.Email, Phone: u.Phone, FirstName: u.FirstName, LastName: u.LastName, Gender: u.Gender,
		DateOfBirth: u.DateOfBirth, City: u.City, State: u.State, Zip: u.Zip, Country: u.Country, ExternalID: u.ExternalID,
	}, nil
}

// readEventsBody reads a JSON body of at most limit bytes (413 above it;
// 415 unless application/json).
func readEventsBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/json" {
		return nil, errf(http.StatusUnsupportedMediaType, codeUnsupportedMedia, "Content-Type must be application/json")
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errf(http.StatusRequestEntityTooLarge, codeTooLarge, "request body exceeds %d bytes", limit)
		}
		return nil, errf(http.StatusBadRequest, codeBadRequest, "cannot read request body")
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, errf(http.StatusBadRequest, codeBadRequest, "request body is empty")
	}
	return b, nil
}

func (a *API) handleTrackEvent(w http.ResponseWriter, r *http.Request, p principal) error {
	b, err := readEventsBody(w, r, MaxEventBytes)
	if err != nil {
		return err
	}
	if !json.Valid(b) {
		return errf(http.StatusBadRequest, codeBadRequest, "malformed JSON")
	}
	// Shape errors (not an object, unknown field, wrong type) are a 400
	// here, as on every route; in a batch they reject only their event.
	var probe EventInput
	if err := decodeStrict(b, &probe); err != nil {
		return errf(http.StatusBadRequest, codeBadRequest, "%s", err.Error())
	}
	res, err := a.TrackEvents(r.Context(), p.tenantID, []json.RawMessage{b})
	if err != nil {
		return withRetryAfter(w, err)
	}
	switch res[0].Status {
	case EventAccepted, EventDuplicate:
		writeJSON(w, http.StatusAccepted, map[string]string{"status": res[0].Status})
		return nil
	}
	switch res[0].Reason {
	case ReasonNoConsent:
		return errf(http.StatusUnprocessableEntity, ReasonNoConsent, "the visitor has no consent on record for analytics or marketing")
	case ReasonRevoked:
		return errf(http.StatusUnprocessableEntity, ReasonRevoked, "the visitor's consent was revoked")
	case ReasonOverCap:
		w.Header().Set("Retry-After", "60")
		return errf(http.StatusTooManyRequests, ReasonOverCap, "the tenant has too many live event ids, retry later")
	}
	return &httpError{status: http.StatusUnprocessableEntity, code: codeValidation, message: res[0].Reason}
}

func (a *API) handleTrackEventBatch(w http.ResponseWriter, r *http.Request, p principal) error {
	b, err := readEventsBody(w, r, MaxBatchBytes)
	if err != nil {
		return err
	}
	var in struct {
		Events []json.RawMessage `json:"events"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return decodeError(err, MaxBatchBytes)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errf(http.StatusBadRequest, codeBadRequest, "request body must hold a single JSON object")
	}
	switch {
	case in.Events == nil:
		return fieldError("events", "required")
	case len(in.Events) == 0:
		return fieldError("events", "at least one event")
	case len(in.Events) > MaxBatchEvents:
		return errf(http.StatusRequestEntityTooLarge, codeTooLarge, "events: %d events, at most %d per batch", len(in.Events), MaxBatchEvents)
	}
	res, err := a.TrackEvents(r.Context(), p.tenantID, in.Events)
	if err != nil {
		return withRetryAfter(w, err)
	}
	writeJSON(w, http.StatusOK, map[string][]EventResult{"results": res})
	return nil
}
