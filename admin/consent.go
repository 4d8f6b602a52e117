package admin

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/jaraba/pixelgw/proxy/tenant"
	"github.com/jaraba/pixelgw/store"
)

// ConsentDecisionTTL is how long a server-side decision stays in the
// revocation set: the consent cookie's lifetime (cookie.ConsentMaxAge), so a
// cookie older than the decision can never outlive it.
const ConsentDecisionTTL = 395 * 24 * time.Hour

// codeUnavailable: the revocation set is not configured or not reachable.
const codeUnavailable = "unavailable"

// Erasure categories, the keys of ConsentErasure.Erased and .Pending.
const (
	ErasureConsentIPs     = "consent_ips"     // consent_ip rows of the visitor's records
	ErasureTrackingEvents = "tracking_events" // user data, IP, user agent, click ids, fbp/fbc of tracking_event rows
	ErasureQueuedEntries  = "queued_entries"  // queued-but-undelivered entries of the visitor (the queue)
	ErasureDeadLetters    = "dead_letters"    // the tenant's dead letters of the visitor (the queue)
)

// erasureCategories lists every category DELETE must erase, in order.
func erasureCategories() []string {
	return []string{ErasureConsentIPs, ErasureTrackingEvents, ErasureQueuedEntries, ErasureDeadLetters}
}

// ConsentInput records a decision made in the tenant's back end.
type ConsentInput struct {
	VisitorID     string `json:"visitor_id"`
	Analytics     *bool  `json:"analytics"`
	Marketing     *bool  `json:"marketing"`
	Functional    *bool  `json:"functional"`
	PolicyVersion string `json:"policy_version"`
}

// ConsentView is one consent record as the API shows it.
type ConsentView struct {
	ID            string    `json:"id"`
	VisitorID     string    `json:"visitor_id"`
	Analytics     bool      `json:"analytics"`
	Marketing     bool      `json:"marketing"`
	Functional    bool      `json:"functional"`
	PolicyVersion string    `json:"policy_version"`
	Source        string    `json:"source"` // banner|api
	CreatedAt     time.Time `json:"created_at"`
}

// ConsentState is a visitor's current decision and every decision, oldest
// first.
type ConsentState struct {
	Current ConsentView   `json:"current"`
	History []ConsentView `json:"history"`
}

// ConsentErasure is the answer to a revocation: the revocation record, what
// was erased (counts per category) and what could not be erased by this
// server (Complete false).
type ConsentErasure struct {
	Revocation ConsentView      `json:"revocation"`
	Erased     map[string]int64 `json:"erased"`
	Pending    []string         `json:"pending"`
	Complete   bool             `json:"complete"`
}

func consentView(r store.ConsentRecord) ConsentView {
	return ConsentView{
		ID: r.ID, VisitorID: r.VisitorID,
		Analytics: r.Analytics, Marketing: r.Marketing, Functional: r.Functional,
		PolicyVersion: r.PolicyVersion, Source: r.Source, CreatedAt: r.CreatedAt.UTC(),
	}
}

// canonicalUUID returns s as a lowercase hyphenated UUID, or false.
func canonicalUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// pathVisitorID checks the {visitor_id} path segment: a malformed id is a
// 400 (it reveals nothing about any tenant); a well-formed one of another
// tenant is answered later exactly like an absent one.
func pathVisitorID(r *http.Request) (string, error) {
	id, ok := canonicalUUID(r.PathValue("visitor_id"))
	if !ok {
		return "", errf(http.StatusBadRequest, codeBadRequest, "visitor_id must be a UUID")
	}
	return id, nil
}

// decisionTime is the time given to the revocation set for a decision made
// at now. Consent cookies carry whole seconds and the edge refuses a cookie
// whose time is strictly older than the decision: the next whole second
// after now refuses every cookie issued up to and including now's second
// (a cookie of that second may predate the decision), and only those.
func decisionTime(now time.Time) time.Time {
	return now.Truncate(time.Second).Add(time.Second)
}

// setDecision puts the visitor in the revocation set.
func (a *API) setDecision(ctx context.Context, tenantID, visitorID string, now time.Time) error {
	if a.dec == nil {
		return errf(http.StatusServiceUnavailable, codeUnavailable, "consent decisions are not enabled on this server")
	}
	if err := a.dec.SetDecision(ctx, tenantID, visitorID, decisionTime(now), ConsentDecisionTTL); err != nil {
		a.log.ErrorContext(ctx, "cannot set consent decision", slog.String("tenant", tenantID), slog.String("request_id", requestID(ctx)), slog.String("error", err.Error()))
		return &retryError{errf(http.StatusServiceUnavailable, codeUnavailable, "consent decisions are unavailable, retry later")}
	}
	return nil
}

// retryError is a 503 answered with Retry-After.
type retryError struct{ *httpError }

func (e *retryError) Unwrap() error { return e.httpError }

// RecordConsent appends a decision made through the API (source api) and
// records it in the revocation set first, so that a browser still holding
// an older consent cookie is refused by every edge.
func (a *API) RecordConsent(ctx context.Context, tenantID string, in ConsentInput) (ConsentView, error) {
	vid, ok := canonicalUUID(in.VisitorID)
	switch {
	case in.VisitorID == "":
		return ConsentView{}, fieldError("visitor_id", "required")
	case !ok:
		return ConsentView{}, fieldError("visitor_id", "must be a UUID")
	case in.Analytics == nil:
		return ConsentView{}, fieldError("analytics", "required (true or false)")
	case in.Marketing == nil:
		return ConsentView{}, fieldError("marketing", "required (true or false)")
	case in.Functional == nil:
		return ConsentView{}, fieldError("functional", "required (true or false)")
	case in.PolicyVersion == "":
		return ConsentView{}, fieldError("policy_version", "required")
	case !policyVerRe.MatchString(in.PolicyVersion):
		return ConsentView{}, fieldError("policy_version", "1-64 of [A-Za-z0-9._-]")
	}
	now := a.now()
	if err := a.setDecision(ctx, tenantID, vid, now); err != nil {
		return ConsentView{}, err
	}
	rec, err := a.store.AppendConsent(ctx, store.ConsentRecord{
		TenantID: tenantID, VisitorID: vid,
		Analytics: *in.Analytics, Marketing: *in.Marketing, Functional: *in.Functional,
		PolicyVersion: in.PolicyVersion, Source: store.ConsentSourceAPI, CreatedAt: now,
	}, "")
	a.consentCache.forget(tenantID, vid)
	if err != nil {
		return ConsentView{}, err
	}
	a.cm.decided(rec.Analytics, rec.Marketing)
	return consentView(rec), nil
}

// GetConsent returns the visitor's current decision and history;
// store.ErrNotFound (404) when the tenant has no record of the visitor.
func (a *API) GetConsent(ctx context.Context, tenantID, visitorID string) (ConsentState, error) {
	hist, err := a.store.ConsentHistory(ctx, tenantID, visitorID)
	if err != nil {
		return ConsentState{}, storeError(err, "consent")
	}
	if len(hist) == 0 {
		return ConsentState{}, errNotFound("consent")
	}
	out := ConsentState{History: make([]ConsentView, len(hist))}
	for i, r := range hist {
		out.History[i] = consentView(r)
	}
	out.Current = out.History[len(out.History)-1]
	return out, nil
}

// RevokeConsent revokes the visitor's consent and erases their personal
// data: it puts the visitor in the revocation set (every edge refuses their
// older cookies, and later events of the visitor are refused), appends an
// all-false record (source api) unless the current record already is one
// (so repeating it appends nothing), removes the visitor's entries from the
// queue and the tenant's dead letters (QueueEraser), then erases what the
// store holds (consent IPs; personal data of tracking_event rows). The
// queue goes first so that the delivery engine cannot audit a queued entry
// after the store was scrubbed. It is idempotent; store.ErrNotFound (404)
// when the tenant has no record of the visitor, unless the tenant declares
// a server legal basis (settings.server_legal_basis): events of a visitor
// without a record may then have been accepted, so the revocation is
// recorded (it refuses the visitor's later server events) and the erasure
// runs.
//
// The queue's erasure also leaves a marker (time now, kept the cookie
// lifetime) that the delivery engine checks before it sends or audits an
// event it had already read (e.g. waiting in its merge window): the
// visitor's events received up to now are dropped there too.
func (a *API) RevokeConsent(ctx context.Context, tenantID, visitorID string) (ConsentErasure, error) {
	latest, err := a.store.LatestConsent(ctx, tenantID, visitorID)
	if errors.Is(err, store.ErrNotFound) {
		latest, err = a.revocableWithoutRecord(ctx, tenantID)
	}
	if err != nil {
		return ConsentErasure{}, storeError(err, "consent")
	}
	now := a.now()
	if err := a.setDecision(ctx, tenantID, visitorID, now); err != nil {
		return ConsentErasure{}, err
	}
	defer a.consentCache.forget(tenantID, visitorID)
	rev := latest
	if latest.Analytics || latest.Marketing || latest.Functional || latest.Source != store.ConsentSourceAPI {
		rev, err = a.store.AppendConsent(ctx, store.ConsentRecord{
			TenantID: tenantID, VisitorID: visitorID,
			PolicyVersion: latest.PolicyVersion, Source: store.ConsentSourceAPI, CreatedAt: now,
		}, "")
		if err != nil {
			return ConsentErasure{}, err
		}
		a.cm.decided(false, false)
	}
	out := ConsentErasure{Revocation: consentView(rev), Erased: map[string]int64{}, Pending: []string{}}
	if a.qer != nil {
		qe, err := a.qer.EraseVisitor(ctx, tenantID, visitorID, now, ConsentDecisionTTL)
		if err != nil {
			a.log.ErrorContext(ctx, "cannot erase queued entries", slog.String("tenant", tenantID),
				slog.String("request_id", requestID(ctx)), slog.String("error", err.Error()))
			return ConsentErasure{}, &retryError{errf(http.StatusServiceUnavailable, codeUnavailable, "the event queue is unavailable, retry later")}
		}
		out.Erased[ErasureQueuedEntries] = qe.Entries
		out.Erased[ErasureDeadLetters] = qe.DeadLetters
	}
	erased, err := a.store.EraseVisitor(ctx, tenantID, visitorID)
	if err != nil {
		return ConsentErasure{}, err
	}
	out.Erased[ErasureConsentIPs] = erased.ConsentIPs
	out.Erased[ErasureTrackingEvents] = erased.Events
	for _, c := range erasureCategories() {
		if _, ok := out.Erased[c]; !ok {
			out.Pending = append(out.Pending, c)
		}
	}
	out.Complete = len(out.Pending) == 0
	a.log.InfoContext(ctx, "consent revoked",
		slog.String("tenant", tenantID),
		slog.String("record", rev.ID),
		slog.Bool("erasure_complete", out.Complete),
		slog.String("request_id", requestID(ctx)))
	return out, nil
}

// revocableWithoutRecord: a visitor without a consent record can be
// revoked only when the tenant declares a server legal basis; it returns
// the stand-in "latest record" (no source, so a revocation is appended,
// under the tenant's policy version), else store.ErrNotFound.
func (a *API) revocableWithoutRecord(ctx context.Context, tenantID string) (store.ConsentRecord, error) {
	t, err := a.store.GetTenant(ctx, tenantID)
	if err != nil {
		return store.ConsentRecord{}, err
	}
	if !tenant.PolicyOf(t.Settings).ServerLegalBasis {
		return store.ConsentRecord{}, store.ErrNotFound
	}
	return store.ConsentRecord{PolicyVersion: cmp.Or(t.Settings.PolicyVersion, "1")}, nil
}

// --- handlers ---

// withRetryAfter sets Retry-After when err asks for it.
func withRetryAfter(w http.ResponseWriter, err error) error {
	var re *retryError
	if errors.As(err, &re) {
		w.Header().Set("Retry-After", "1")
	}
	return err
}

func (a *API) handleRecordConsent(w http.ResponseWriter, r *http.Request, p principal) error {
	var in ConsentInput
	if err := a.decodeJSON(w, r, &in); err != nil {
		return err
	}
	v, err := a.RecordConsent(r.Context(), p.tenantID, in)
	if err != nil {
		return withRetryAfter(w, err)
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (a *API) handleGetConsent(w http.ResponseWriter, r *http.Request, p principal) error {
	vid, err := pathVisitorID(r)
	if err != nil {
		return err
	}
	v, err := a.GetConsent(r.Context(), p.tenantID, vid)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) handleRevokeConsent(w http.ResponseWriter, r *http.Request, p principal) error {
	vid, err := pathVisitorID(r)
	if err != nil {
		return err
	}
	v, err := a.RevokeConsent(r.Context(), p.tenantID, vid)
	if err != nil {
		return withRetryAfter(w, err)
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}
