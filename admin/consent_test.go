package admin

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/proxy/cookie"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/queue"
	"github.com/jaraba/pixelgw/store/queue/queuesqlite"
)

// newTestQueue opens a real embedded queue (its own file); it is never
// started, so it owns no goroutine.
func newTestQueue(t *testing.T) *queuesqlite.Queue {
	t.Helper()
	q, err := queuesqlite.Open(context.Background(), filepath.Join(t.TempDir(), "queue.db"), queuesqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, q.Close()) })
	return q
}

// rebuild replaces the env's API by one over st with the Decisions given
// (same config, keys and clock).
func (e *env) rebuild(st store.Store, d Decisions) {
	e.t.Helper()
	dls, _ := d.(DeadLetters)
	qer, _ := d.(QueueEraser)
	api, err := New(e.cfg, Deps{Store: st, Keyring: e.keyring, Logger: e.api.log, Now: e.api.now, Decisions: d, DeadLetters: dls, QueueEraser: qer})
	require.NoError(e.t, err)
	e.api, e.h = api, api.Handler()
}

// useDecisions gives the env's API a real queue as its revocation set.
func (e *env) useDecisions(t *testing.T) *queuesqlite.Queue {
	t.Helper()
	q := newTestQueue(t)
	e.rebuild(e.st, q)
	return q
}

// admit offers one event of the visitor resting on a cookie decided at
// decided, and returns its result.
func admit(t *testing.T, q queue.Queue, tenantID, visitorID string, decided time.Time) queue.Result {
	t.Helper()
	res, err := q.Admit(context.Background(), []queue.Entry{{
		TenantID: tenantID, EventID: uuid.NewString(), EventName: "purchase", Window: time.Hour,
		Conversion: true, VisitorID: visitorID, DecidedAt: decided, Payload: []byte(`{}`),
	}})
	require.NoError(t, err)
	require.Len(t, res, 1)
	return res[0]
}

func consentBody(visitor string, a, m, f bool, policy string) string {
	b := func(v bool) string {
		if v {
			return "true"
		}
		return "false"
	}
	return `{"visitor_id":"` + visitor + `","analytics":` + b(a) + `,"marketing":` + b(m) + `,"functional":` + b(f) + `,"policy_version":"` + policy + `"}`
}

func TestConsentDecisionTTLIsCookieLifetime(t *testing.T) {
	t.Parallel()
	require.Equal(t, cookie.ConsentMaxAge, ConsentDecisionTTL)
}

func TestDecisionTime(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		now, want time.Time
	}{
		{base, base.Add(time.Second)},
		{base.Add(time.Millisecond), base.Add(time.Second)},
		{base.Add(999 * time.Millisecond), base.Add(time.Second)},
		{base.Add(time.Second), base.Add(2 * time.Second)},
	} {
		require.Equal(t, tc.want, decisionTime(tc.now), tc.now)
	}
}

// TestConsentLifecycle: record, read, revoke with a real queue as the
// revocation set; after DELETE an event resting on an older cookie is
// refused by Admit, a newer banner decision re-consents, and a repeated
// DELETE is idempotent.
func TestConsentLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.useDecisions(t)
	tn := e.mustTenant("consent-a")
	tok := e.token(RoleAdmin, tn.ID)
	visitor := randomUUID()
	// Every cookie time is whole seconds (cookie.Consent.Time).
	oldCookie := e.now.Add(-time.Hour)

	require.Equal(t, queue.Queued, admit(t, q, tn.ID, visitor, oldCookie), "no decision yet")

	r := e.do("GET", "/api/v1/tracking/consent/"+visitor, tok, "")
	require.Equal(t, http.StatusNotFound, r.status, r.body)

	// A decision through the API (upper-case id: normalised).
	r = e.do("POST", "/api/v1/tracking/consent", tok, consentBody(strings.ToUpper(visitor), true, true, false, "2026-01"))
	require.Equal(t, http.StatusCreated, r.status, r.body)
	granted := decode[ConsentView](t, r)
	require.Equal(t, ConsentView{ID: granted.ID, VisitorID: visitor, Analytics: true, Marketing: true, PolicyVersion: "2026-01", Source: "api", CreatedAt: granted.CreatedAt}, granted)
	require.NoError(t, uuid.Validate(granted.ID))
	require.NotContains(t, r.body, tn.ID)
	// Older cookies (even a "yes") are no longer trusted.
	require.Equal(t, queue.Revoked, admit(t, q, tn.ID, visitor, oldCookie))
	require.Equal(t, queue.Revoked, admit(t, q, tn.ID, visitor, granted.CreatedAt.Truncate(time.Second)))

	r = e.do("GET", "/api/v1/tracking/consent/"+strings.ToUpper(visitor), e.token(RoleViewer, tn.ID), "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	st := decode[ConsentState](t, r)
	require.Equal(t, granted, st.Current)
	require.Equal(t, []ConsentView{granted}, st.History)

	// Revocation.
	r = e.do("DELETE", "/api/v1/tracking/consent/"+visitor, tok, "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	er := decode[ConsentErasure](t, r)
	require.Equal(t, ConsentView{ID: er.Revocation.ID, VisitorID: visitor, PolicyVersion: "2026-01", Source: "api", CreatedAt: er.Revocation.CreatedAt}, er.Revocation)
	require.NotEqual(t, granted.ID, er.Revocation.ID)
	require.True(t, er.Revocation.CreatedAt.After(granted.CreatedAt))
	// The consent IPs, audit events, queued entries (the one admitted
	// before any decision) and dead letters are erased.
	require.Equal(t, map[string]int64{ErasureConsentIPs: 0, ErasureTrackingEvents: 0, ErasureQueuedEntries: 1, ErasureDeadLetters: 0}, er.Erased)
	require.Empty(t, er.Pending)
	require.True(t, er.Complete)
	require.Contains(t, e.logs.String(), `"msg":"consent revoked"`)
	sameSecond := er.Revocation.CreatedAt.Truncate(time.Second)
	nextSecond := sameSecond.Add(time.Second)

	require.Equal(t, queue.Revoked, admit(t, q, tn.ID, visitor, oldCookie))
	require.Equal(t, queue.Revoked, admit(t, q, tn.ID, visitor, sameSecond), "a cookie of the revocation's second may predate it")
	require.Equal(t, queue.Queued, admit(t, q, tn.ID, visitor, nextSecond), "a newer banner decision re-consents")
	// Other visitors and other tenants are untouched.
	require.Equal(t, queue.Queued, admit(t, q, tn.ID, randomUUID(), oldCookie))
	require.Equal(t, queue.Queued, admit(t, q, randomUUID(), visitor, oldCookie))

	st = decode[ConsentState](t, e.do("GET", "/api/v1/tracking/consent/"+visitor, tok, ""))
	require.Equal(t, er.Revocation, st.Current)
	require.Equal(t, []ConsentView{granted, er.Revocation}, st.History)

	// Idempotent: no second revocation row.
	r = e.do("DELETE", "/api/v1/tracking/consent/"+visitor, tok, "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, er.Revocation, decode[ConsentErasure](t, r).Revocation)
	hist, err := e.st.ConsentHistory(t.Context(), tn.ID, visitor)
	require.NoError(t, err)
	require.Len(t, hist, 2)

	// A banner refusal is still revoked through the API (a new api row).
	v2 := randomUUID()
	_, err = e.st.AppendConsent(t.Context(), store.ConsentRecord{TenantID: tn.ID, VisitorID: v2, PolicyVersion: "1", Source: store.ConsentSourceBanner}, "")
	require.NoError(t, err)
	r = e.do("DELETE", "/api/v1/tracking/consent/"+v2, tok, "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, "api", decode[ConsentErasure](t, r).Revocation.Source)
	hist, err = e.st.ConsentHistory(t.Context(), tn.ID, v2)
	require.NoError(t, err)
	require.Len(t, hist, 2)
}

// recordingDecisions is a revocation set that records calls and fails on
// demand (the queue's own behaviour is covered by TestConsentLifecycle).
type recordingDecisions struct {
	mu    sync.Mutex
	calls []string
	fail  error
}

func (d *recordingDecisions) SetDecision(_ context.Context, tenantID, visitorID string, at time.Time, ttl time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, tenantID+"/"+visitorID+"@"+at.UTC().Format(time.RFC3339Nano)+"/"+ttl.String())
	return d.fail
}

func (d *recordingDecisions) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.calls)
}

func TestConsentBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dec := &recordingDecisions{}
	e.rebuild(e.st, dec)
	tn := e.mustTenant("consent-bad")
	tok := e.token(RoleAdmin, tn.ID)
	v := randomUUID()
	ok := func(body string) string { return body }

	for _, tc := range []struct {
		name, body, ctype string
		status            int
		msg               string
	}{
		{"not json", `{"visitor_id":`, "", http.StatusBadRequest, "malformed JSON"},
		{"empty", "", "", http.StatusUnsupportedMediaType, "Content-Type"},
		{"form", ok(consentBody(v, true, true, true, "1")), "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType, "Content-Type"},
		{"unknown field", `{"visitor_id":"` + v + `","analytics":true,"marketing":true,"functional":true,"policy_version":"1","ads":true}`, "", http.StatusBadRequest, `unknown field "ads"`},
		{"tenant in body", `{"tenant_id":"` + tn.ID + `","visitor_id":"` + v + `","analytics":true,"marketing":true,"functional":true,"policy_version":"1"}`, "", http.StatusBadRequest, "unknown field"},
		{"bool as string", `{"visitor_id":"` + v + `","analytics":"yes","marketing":true,"functional":true,"policy_version":"1"}`, "", http.StatusBadRequest, "analytics: wrong type"},
		{"null bool", `{"visitor_id":"` + v + `","analytics":null,"marketing":true,"functional":true,"policy_version":"1"}`, "", http.StatusUnprocessableEntity, "analytics: required"},
		{"missing visitor", `{"analytics":true,"marketing":true,"functional":true,"policy_version":"1"}`, "", http.StatusUnprocessableEntity, "visitor_id: required"},
		{"visitor not uuid", consentBody("visitor-1", true, true, true, "1"), "", http.StatusUnprocessableEntity, "visitor_id: must be a UUID"},
		{"visitor braces", consentBody("{"+v+"}", true, true, true, "1"), "", http.StatusUnprocessableEntity, "visitor_id: must be a UUID"},
		{"visitor urn", consentBody("urn:uuid:"+v, true, true, true, "1"), "", http.StatusUnprocessableEntity, "visitor_id: must be a UUID"},
		{"visitor no hyphens", consentBody(strings.ReplaceAll(v, "-", ""), true, true, true, "1"), "", http.StatusUnprocessableEntity, "visitor_id: must be a UUID"},
		{"missing analytics", `{"visitor_id":"` + v + `","marketing":true,"functional":true,"policy_version":"1"}`, "", http.StatusUnprocessableEntity, "analytics: required"},
		{"missing marketing", `{"visitor_id":"` + v + `","analytics":true,"functional":true,"policy_version":"1"}`, "", http.StatusUnprocessableEntity, "marketing: required"},
		{"missing functional", `{"visitor_id":"` + v + `","analytics":true,"marketing":true,"policy_version":"1"}`, "", http.StatusUnprocessableEntity, "functional: required"},
		{"missing policy", `{"visitor_id":"` + v + `","analytics":true,"marketing":true,"functional":true}`, "", http.StatusUnprocessableEntity, "policy_version: required"},
		{"policy with space", consentBody(v, true, true, true, "v 1"), "", http.StatusUnprocessableEntity, "policy_version: 1-64"},
		{"policy too long", consentBody(v, true, true, true, strings.Repeat("a", 65)), "", http.StatusUnprocessableEntity, "policy_version: 1-64"},
		{"policy unicode", consentBody(v, true, true, true, "polític"), "", http.StatusUnprocessableEntity, "policy_version: 1-64"},
		{"two objects", consentBody(v, true, true, true, "1") + "{}", "", http.StatusBadRequest, "single JSON object"},
		{"huge", `{"visitor_id":"` + v + `","policy_version":"` + strings.Repeat("a", 5000) + `"}`, "", http.StatusRequestEntityTooLarge, "exceeds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.ctype != "" {
				hdr = []string{"Content-Type", tc.ctype}
			}
			r := e.do("POST", "/api/v1/tracking/consent", tok, tc.body, hdr...)
			require.Equal(t, tc.status, r.status, r.body)
			_, msg := errorOf(t, r)
			require.Contains(t, msg, tc.msg)
		})
	}
	require.Zero(t, dec.count(), "no decision recorded for bad input")
	hist, err := e.st.ConsentHistory(t.Context(), tn.ID, v)
	require.NoError(t, err)
	require.Empty(t, hist)

	// A malformed path id is a 400 for both routes.
	for _, method := range []string{"GET", "DELETE"} {
		for _, id := range []string{"nope", strings.ReplaceAll(v, "-", ""), "{" + v + "}", v + "0", "%00"} {
			r := e.do(method, "/api/v1/tracking/consent/"+id, tok, "")
			require.Equal(t, http.StatusBadRequest, r.status, "%s %s: %s", method, id, r.body)
			code, msg := errorOf(t, r)
			require.Equal(t, codeBadRequest, code)
			require.Equal(t, "visitor_id must be a UUID", msg)
		}
	}
	// An absent visitor is a 404; DELETE sets no decision for it.
	for _, method := range []string{"GET", "DELETE"} {
		r := e.do(method, "/api/v1/tracking/consent/"+v, tok, "")
		require.Equal(t, http.StatusNotFound, r.status, r.body)
	}
	require.Zero(t, dec.count())

	// The good request goes through, with the decision at the next whole
	// second and the cookie's lifetime.
	r := e.do("POST", "/api/v1/tracking/consent", tok, consentBody(v, false, true, true, "v1.2_beta-3"))
	require.Equal(t, http.StatusCreated, r.status, r.body)
	created := decode[ConsentView](t, r).CreatedAt
	require.Len(t, dec.calls, 1)
	require.Equal(t, tn.ID+"/"+v+"@"+created.Truncate(time.Second).Add(time.Second).UTC().Format(time.RFC3339Nano)+"/"+ConsentDecisionTTL.String(), dec.calls[0])
}

func TestConsentRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dec := &recordingDecisions{}
	e.rebuild(e.st, dec)
	tn := e.mustTenant("consent-roles")
	v := randomUUID()
	r := e.do("POST", "/api/v1/tracking/consent", e.token(RoleAdmin, tn.ID), consentBody(v, true, true, true, "1"))
	require.Equal(t, http.StatusCreated, r.status, r.body)
	before, err := e.st.ConsentHistory(t.Context(), tn.ID, v)
	require.NoError(t, err)

	viewer := e.token(RoleViewer, tn.ID)
	for _, tc := range []struct {
		method, path, token, body string
		status                    int
	}{
		{"POST", "/api/v1/tracking/consent", viewer, consentBody(v, false, false, false, "1"), http.StatusForbidden},
		{"DELETE", "/api/v1/tracking/consent/" + v, viewer, "", http.StatusForbidden},
		{"GET", "/api/v1/tracking/consent/" + v, viewer, "", http.StatusOK},
		// An operator token without a tenant names no tenant.
		{"GET", "/api/v1/tracking/consent/" + v, e.token(RoleOperator, ""), "", http.StatusForbidden},
		{"POST", "/api/v1/tracking/consent", e.token(RoleOperator, ""), consentBody(v, false, false, false, "1"), http.StatusForbidden},
		{"DELETE", "/api/v1/tracking/consent/" + v, e.token(RoleOperator, ""), "", http.StatusForbidden},
		{"GET", "/api/v1/tracking/consent/" + v, "", "", http.StatusUnauthorized},
		{"POST", "/api/v1/tracking/consent", "", consentBody(v, false, false, false, "1"), http.StatusUnauthorized},
		{"DELETE", "/api/v1/tracking/consent/" + v, "", "", http.StatusUnauthorized},
		{"PUT", "/api/v1/tracking/consent/" + v, e.token(RoleAdmin, tn.ID), "", http.StatusMethodNotAllowed},
	} {
		r := e.do(tc.method, tc.path, tc.token, tc.body)
		require.Equal(t, tc.status, r.status, "%s %s: %s", tc.method, tc.path, r.body)
	}
	after, err := e.st.ConsentHistory(t.Context(), tn.ID, v)
	require.NoError(t, err)
	require.Equal(t, before, after)
	require.Equal(t, 1, dec.count())
}

// TestConsentWithoutDecisions: a decision the edge would not enforce is
// never reported as done.
func TestConsentWithoutDecisions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.mustTenant("consent-nodec")
	tok := e.token(RoleAdmin, tn.ID)
	v := randomUUID()
	_, err := e.st.AppendConsent(t.Context(), store.ConsentRecord{TenantID: tn.ID, VisitorID: v, Analytics: true, Marketing: true, PolicyVersion: "1", Source: store.ConsentSourceBanner}, "203.0.113.9")
	require.NoError(t, err)

	failing := &recordingDecisions{fail: errors.New("redis: connection refused")}
	for _, tc := range []struct {
		name       string
		dec        Decisions
		retryAfter string
	}{
		{"not configured", nil, ""},
		{"unreachable", failing, "1"},
	} {
		e.rebuild(e.st, tc.dec)
		for _, req := range [][2]string{
			{"POST", consentBody(v, false, false, false, "1")},
			{"DELETE", ""},
		} {
			path := "/api/v1/tracking/consent"
			if req[0] == "DELETE" {
				path += "/" + v
			}
			r := e.do(req[0], path, tok, req[1])
			require.Equal(t, http.StatusServiceUnavailable, r.status, "%s %s: %s", tc.name, req[0], r.body)
			code, msg := errorOf(t, r)
			require.Equal(t, codeUnavailable, code)
			require.NotContains(t, msg, "redis")
			require.Equal(t, tc.retryAfter, r.header.Get("Retry-After"))
		}
		// Reads still work.
		require.Equal(t, http.StatusOK, e.do("GET", "/api/v1/tracking/consent/"+v, tok, "").status)
	}
	hist, err := e.st.ConsentHistory(t.Context(), tn.ID, v)
	require.NoError(t, err)
	require.Len(t, hist, 1, "nothing appended")
	require.Contains(t, e.logs.String(), "cannot set consent decision")
}

// eraserStore is a store that can erase a visitor (the contract DELETE uses
// once the drivers implement it).
type eraserStore struct {
	store.Store
	mu    sync.Mutex
	calls []string
	fail  error
}

func (s *eraserStore) EraseVisitor(_ context.Context, tenantID, visitorID string) (store.Erasure, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, tenantID+"/"+visitorID)
	if s.fail != nil {
		return store.Erasure{}, s.fail
	}
	return store.Erasure{ConsentIPs: 2, Events: 5}, nil
}

func TestConsentErasureWithEraser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	es := &eraserStore{Store: e.st}
	e.rebuild(es, newTestQueue(t))
	tn := e.mustTenant("consent-erase")
	tok := e.token(RoleAdmin, tn.ID)
	v := randomUUID()
	require.Equal(t, http.StatusCreated, e.do("POST", "/api/v1/tracking/consent", tok, consentBody(v, true, true, true, "1")).status)

	r := e.do("DELETE", "/api/v1/tracking/consent/"+v, tok, "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	er := decode[ConsentErasure](t, r)
	require.Equal(t, map[string]int64{ErasureConsentIPs: 2, ErasureTrackingEvents: 5, ErasureQueuedEntries: 0, ErasureDeadLetters: 0}, er.Erased)
	require.Empty(t, er.Pending)
	require.True(t, er.Complete)
	require.Equal(t, []string{tn.ID + "/" + v}, es.calls)

	// An erasure failure is a 500 (logged), and the retry works.
	es.fail = errors.New("disk full")
	r = e.do("DELETE", "/api/v1/tracking/consent/"+v, tok, "")
	require.Equal(t, http.StatusInternalServerError, r.status, r.body)
	require.NotContains(t, r.body, "disk full")
	es.fail = nil
	require.Equal(t, http.StatusOK, e.do("DELETE", "/api/v1/tracking/consent/"+v, tok, "").status)
}

func TestDeadLetters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.useDecisions(t)
	tn := e.mustTenant("dead-letters")
	tok := e.token(RoleAdmin, tn.ID)
	m := queue.Message{ID: "1", Kind: queue.KindEvent, TenantID: tn.ID, EventID: randomUUID(), EventName: "purchase", Payload: []byte(`{"user":{"em":"jane@example.com"}}`)}
	require.NoError(t, q.DeadLetter(t.Context(), "deliver-meta", m, "dead after 3 attempts (last: retryable, HTTP 503)"))

	r := e.do("GET", "/api/v1/tracking/deadletters", e.token(RoleViewer, tn.ID), "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	list := decode[map[string][]DeadLetterView](t, r)["dead_letters"]
	require.Len(t, list, 1)
	require.Equal(t, "meta", list[0].Platform)
	require.Equal(t, m.EventID, list[0].EventID)
	require.NotContains(t, r.body, "jane@example.com", "the payload is never returned")

	require.Equal(t, http.StatusUnprocessableEntity, e.do("GET", "/api/v1/tracking/deadletters?limit=0", tok, "").status)
	require.Equal(t, http.StatusUnprocessableEntity, e.do("POST", "/api/v1/tracking/deadletters/replay", tok, `{"ids":[]}`).status)
	require.Equal(t, http.StatusBadRequest, e.do("POST", "/api/v1/tracking/deadletters/replay", tok, `{"ids":"x"}`).status)

	r = e.do("POST", "/api/v1/tracking/deadletters/replay", tok, `{"ids":["`+list[0].ID+`"]}`)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.JSONEq(t, `{"replayed":1}`, r.body)
	msgs, err := q.Read(t.Context(), "deliver-meta", "c", 10, 0)
	require.NoError(t, err)
	require.Len(t, msgs, 1, "replayed to meta's group")
	other, err := q.Read(t.Context(), "deliver-google", "c", 10, 0)
	require.NoError(t, err)
	require.Empty(t, other, "and to no other platform")

	// Without the queue the routes say so.
	e.rebuild(e.st, nil)
	require.Equal(t, http.StatusServiceUnavailable, e.do("GET", "/api/v1/tracking/deadletters", tok, "").status)
}
