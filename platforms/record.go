package platforms

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// RecordVersion is the version of the queued event record EncodeRecord
// writes and DecodeEvent reads (collect.PayloadVersion for the edge).
const RecordVersion = 1

// wireRecord is the queued record (v1) as EncodeRecord writes it: the
// members of collect.AppendPayload, absent optional values omitted.
type wireRecord struct {
	V       int            `json:"v"`
	Src     string         `json:"src"`
	Tenant  string         `json:"tenant"`
	ID      string         `json:"id"`
	Name    string         `json:"name"`
	Class   string         `json:"class"`
	TS      int64          `json:"ts"`
	Recv    int64          `json:"recv"`
	URL     string         `json:"url,omitempty"`
	Ref     string         `json:"ref,omitempty"`
	Eng     int64          `json:"eng,omitempty"`
	SID     string         `json:"sid,omitempty"`
	Visitor string         `json:"visitor,omitempty"`
	IP      string         `json:"ip,omitempty"`
	UA      string         `json:"ua,omitempty"`
	Consent wireConsent    `json:"consent"`
	IDs     *wireIDs       `json:"ids,omitempty"`
	Props   map[string]any `json:"props,omitempty"`
	User    *wireUser      `json:"user,omitempty"`
	// Platforms targets the event (server-side events API); absent: every
	// platform (every record written before it existed reads so).
	Platforms []string `json:"platforms,omitempty"`
}

type wireConsent struct {
	A      bool   `json:"a"`
	M      bool   `json:"m"`
	F      bool   `json:"f"`
	Policy string `json:"policy"`
	GPC    bool   `json:"gpc"`
}

type wireIDs struct {
	FBP     string `json:"fbp,omitempty"`
	FBC     string `json:"fbc,omitempty"`
	GCLID   string `json:"gclid,omitempty"`
	GBRAID  string `json:"gbraid,omitempty"`
	WBRAID  string `json:"wbraid,omitempty"`
	TTCLID  string `json:"ttclid,omitempty"`
	TTP     string `json:"ttp,omitempty"`
	LiFatID string `json:"li_fat_id,omitempty"`
	TWCLID  string `json:"twclid,omitempty"`
}

type wireUser struct {
	EM         string `json:"em,omitempty"`
	PH         string `json:"ph,omitempty"`
	FN         string `json:"fn,omitempty"`
	LN         string `json:"ln,omitempty"`
	GE         string `json:"ge,omitempty"`
	DB         string `json:"db,omitempty"`
	CT         string `json:"ct,omitempty"`
	ST         string `json:"st,omitempty"`
	ZP         string `json:"zp,omitempty"`
	Country    string `json:"country,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
}

// EncodeRecord encodes e as the queued event record (v1) that DecodeEvent
// reads back: the format collect.AppendPayload writes for browser events,
// with "src" set to e.Source (the server-side events API sets "server") and
// "platforms" when e.Platforms targets some platforms (absent: every one; an
// empty non-nil list is refused, so it never reads back as "every one").
// The name is canonicalised (Canonical) and the class derived from it, so
// DecodeEvent(EncodeRecord(e)) equals e up to that, millisecond time
// precision and UTC. It returns ErrBadRecord when e lacks a tenant, event id,
// source or positive time, has an unknown name, or props JSON cannot encode
// (NaN, infinities, unsupported types). Off the hot path: encoding/json.
func EncodeRecord(e *Event) ([]byte, error) {
	spec, ok := Canonical(e.Name)
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: unknown event name %q", ErrBadRecord, e.Name)
	case e.TenantID == "" || e.EventID == "":
		return nil, fmt.Errorf("%w: missing tenant or event id", ErrBadRecord)
	case e.Source == "":
		return nil, fmt.Errorf("%w: missing source", ErrBadRecord)
	case e.Time.UnixMilli() <= 0:
		return nil, fmt.Errorf("%w: time must be after the epoch", ErrBadRecord)
	case e.Platforms != nil && len(e.Platforms) == 0:
		return nil, fmt.Errorf("%w: empty platforms list (nil means every platform)", ErrBadRecord)
	case slices.Contains(e.Platforms, ""):
		return nil, fmt.Errorf("%w: empty platform name", ErrBadRecord)
	}
	if err := checkProps(e.Props, 0); err != nil {
		return nil, err
	}
	r := wireRecord{
		V: RecordVersion, Src: e.Source, Tenant: e.TenantID, ID: e.EventID,
		Name: spec.Name, Class: spec.Class.String(),
		TS: e.Time.UnixMilli(), URL: e.URL, Ref: e.Referrer, Eng: e.EngagementMS,
		SID: e.SessionID, Visitor: e.VisitorID, IP: e.ClientIP, UA: e.UserAgent,
		Consent: wireConsent{A: e.Consent.Analytics, M: e.Consent.Marketing, F: e.Consent.Functional, Policy: e.Consent.Policy, GPC: e.Consent.GPC},
		Props:   e.Props, Platforms: e.Platforms,
	}
	if !e.Received.IsZero() {
		r.Recv = e.Received.UnixMilli()
	}
	if e.IDs != (ClickIDs{}) {
		id := e.IDs
		r.IDs = &wireIDs{FBP: id.FBP, FBC: id.FBC, GCLID: id.GCLID, GBRAID: id.GBRAID, WBRAID: id.WBRAID,
			TTCLID: id.TTCLID, TTP: id.TTP, LiFatID: id.LiFatID, TWCLID: id.TWCLID}
	}
	if e.User != (UserData{}) {
		u := e.User
		r.User = &wireUser{EM: u.Email, PH: u.Phone, FN: u.FirstName, LN: u.LastName, GE: u.Gender, DB: u.DateOfBirth,
			CT: u.City, ST: u.State, ZP: u.Zip, Country: u.Country, ExternalID: u.ExternalID}
	}
	b, err := json.Marshal(&r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	return b, nil
}

// maxPropsDepth bounds the nesting of props EncodeRecord accepts.
const maxPropsDepth = 32

// checkProps rejects what JSON cannot carry: non-finite numbers and
// nesting deeper than maxPropsDepth. Other types are left to encoding/json.
func checkProps(v any, depth int) error {
	if depth > maxPropsDepth {
		return fmt.Errorf("%w: props nested deeper than %d", ErrBadRecord, maxPropsDepth)
	}
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: props hold a non-finite number", ErrBadRecord)
		}
	case map[string]any:
		for _, e := range x {
			if err := checkProps(e, depth+1); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := checkProps(e, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
