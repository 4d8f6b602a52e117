package admin

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/queue"
	"github.com/jaraba/pixelgw/store/queue/queuesqlite"
)

// useFullQueue gives the env's API a real embedded queue for everything
// the queue serves (revocation set, admitter, dead letters, erasure) and a
// Prometheus registry.
func (e *env) useFullQueue(t *testing.T) (*queuesqlite.Queue, *prometheus.Registry) {
	t.Helper()
	q := newTestQueue(t)
	reg := prometheus.NewRegistry()
	api, err := New(e.cfg, Deps{Store: e.st, Keyring: e.keyring, Logger: e.api.log, Now: e.api.now,
		Decisions: q, DeadLetters: q, Admitter: q, QueueEraser: q, Registerer: reg})
	require.NoError(t, err)
	e.api, e.h = api, api.Handler()
	return q, reg
}

// patchSettings PATCHes the token's own tenant settings and returns the view.
func patchSettings(t *testing.T, e *env, tok, settings string) TenantView {
	t.Helper()
	r := e.do("PATCH", "/api/v1/tenant", tok, `{"settings":`+settings+`}`)
	require.Equal(t, http.StatusOK, r.status, r.body)
	return decode[TenantView](t, r)
}

func TestConsentPolicySettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.mustTenant("policy")
	tok := e.token(RoleAdmin, tn.ID)

	r := e.do("GET", "/api/v1/tenant", tok, "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, ConsentPolicyView{HonorGPC: true, GA4AnalyticsOnly: true, ServerLegalBasis: false}, decode[TenantView](t, r).ConsentPolicy, "defaults")
	require.Contains(t, r.body, `"settings":{}`, "defaults are not stored in settings")

	v := patchSettings(t, e, tok, `{"honor_gpc":false,"ga4_analytics_only":false,"server_legal_basis":true}`)
	require.Equal(t, ConsentPolicyView{HonorGPC: false, GA4AnalyticsOnly: false, ServerLegalBasis: true}, v.ConsentPolicy)
	require.Equal(t, new(false), v.Settings.HonorGPC)

	// One setting at a time; the others keep their values.
	v = patchSettings(t, e, tok, `{"honor_gpc":true}`)
	require.Equal(t, ConsentPolicyView{HonorGPC: true, GA4AnalyticsOnly: false, ServerLegalBasis: true}, v.ConsentPolicy)
	// null goes back to the default.
	v = patchSettings(t, e, tok, `{"ga4_analytics_only":null,"server_legal_basis":null,"honor_gpc":null}`)
	require.Equal(t, ConsentPolicyView{HonorGPC: true, GA4AnalyticsOnly: true}, v.ConsentPolicy)
	require.Nil(t, v.Settings.HonorGPC)

	// The operator route takes the same settings.
	op := e.token(RoleOperator, "")
	r = e.do("PATCH", "/api/v1/tenants/"+tn.ID, op, `{"settings":{"server_legal_basis":true}}`)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.True(t, decode[TenantView](t, r).ConsentPolicy.ServerLegalBasis)
	r = e.do("POST", "/api/v1/tenants", op, `{"slug":"policy-2","name":"P2","settings":{"honor_gpc":false}}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	require.False(t, decode[TenantView](t, r).ConsentPolicy.HonorGPC)

	// Bad input: wrong types are a 400 naming the field; nothing written.
	before := e.snapshot()
	for _, bad := range []string{`{"honor_gpc":"yes"}`, `{"ga4_analytics_only":1}`, `{"server_legal_basis":[true]}`, `{"consent_policy":{}}`, `{"honorGPC":false}`} {
		r := e.do("PATCH", "/api/v1/tenant", tok, `{"settings":`+bad+`}`)
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", bad, r.body)
		_, msg := errorOf(t, r)
		require.Contains(t, msg, "settings", bad)
	}
	require.Equal(t, before, e.snapshot())
	// A viewer cannot change them.
	require.Equal(t, http.StatusForbidden, e.do("PATCH", "/api/v1/tenant", e.token(RoleViewer, tn.ID), `{"settings":{"honor_gpc":false}}`).status)
}

// eventConsentOf admits one server event of the visitor and returns its
// status and, when queued, the consent it carries.
func eventConsentOf(t *testing.T, w *evWorld, visitor string, hdr ...string) (reply, *platforms.Event) {
	t.Helper()
	before := len(queued(t, w.q))
	r := w.e.do("POST", "/api/v1/tracking/events", "", evBody("purchase", randomUUID(), visitor, `,"user_data":{"em":"ana@example.com"},"fbp":"fb.1.2.3","client_ip_address":"203.0.113.7"`),
		append([]string{"X-API-Key", w.key.Key}, hdr...)...)
	ms := queued(t, w.q)
	if len(ms) == before {
		return r, nil
	}
	ev, err := platforms.DecodeEvent(ms[len(ms)-1].Payload)
	require.NoError(t, err)
	return r, &ev
}

// withEraser gives the world's API its queue as QueueEraser too.
func withEraser(t *testing.T, w *evWorld) {
	t.Helper()
	e := w.e
	api, err := New(e.cfg, Deps{Store: e.st, Keyring: e.keyring, Logger: e.api.log, Now: e.api.now,
		Decisions: w.q, DeadLetters: w.q, Admitter: w.q, QueueEraser: w.q})
	require.NoError(t, err)
	e.api, e.h = api, api.Handler()
}

func TestEventsServerLegalBasis(t *testing.T) {
	t.Parallel()
	w := newEvWorld(t)
	withEraser(t, w)
	stranger := randomUUID() // no consent record

	r, ev := eventConsentOf(t, w, stranger)
	require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
	require.Nil(t, ev, "default: no record, no event")
	r, _ = eventConsentOf(t, w, "")
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "no visitor id: no record")

	patchSettings(t, w.e, w.tok, `{"server_legal_basis":true}`)
	r, ev = eventConsentOf(t, w, stranger)
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	require.Equal(t, platforms.Consent{Analytics: true, Marketing: true, Functional: true}, ev.Consent, "every category, every platform")
	require.Equal(t, "ana@example.com", ev.User.Email)
	r, ev = eventConsentOf(t, w, "")
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	require.True(t, ev.Consent.Marketing)

	// A recorded refusal is never overridden; nor a revocation.
	refused := randomUUID()
	w.consent(t, refused, false, false)
	r, ev = eventConsentOf(t, w, refused)
	require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
	require.Nil(t, ev)
	require.Equal(t, http.StatusOK, w.e.do("DELETE", "/api/v1/tracking/consent/"+w.visitor, w.tok, "").status)
	r, ev = eventConsentOf(t, w, w.visitor)
	require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
	require.Nil(t, ev)
	// An analytics-only record stays analytics-only.
	ao := randomUUID()
	w.consent(t, ao, true, false)
	_, ev = eventConsentOf(t, w, ao)
	require.Equal(t, platforms.Consent{Analytics: true, Policy: "p1"}, ev.Consent)

	// Right to erasure for a visitor without a record: under the legal
	// basis the erasure runs and a revocation is recorded, which refuses
	// the visitor's later events.
	r = w.e.do("DELETE", "/api/v1/tracking/consent/"+stranger, w.tok, "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	er := decode[ConsentErasure](t, r)
	require.Equal(t, int64(1), er.Erased[ErasureQueuedEntries], "the stranger's queued event")
	require.Equal(t, ConsentView{ID: er.Revocation.ID, VisitorID: stranger, PolicyVersion: "1", Source: "api", CreatedAt: er.Revocation.CreatedAt}, er.Revocation)
	for _, m := range queued(t, w.q) {
		require.NotEqual(t, stranger, m.VisitorID)
	}
	// The erasure is recorded for the delivery engine (events it had
	// already read are dropped), at the revocation's time.
	marks, err := w.q.ErasedAt(t.Context(), w.tn.ID, []string{stranger, w.visitor, refused})
	require.NoError(t, err)
	require.Len(t, marks, 2, "the stranger's and w.visitor's erasures; no marker for a mere refusal")
	require.Equal(t, er.Revocation.CreatedAt.UnixMilli(), marks[stranger].UnixMilli())
	r, ev = eventConsentOf(t, w, stranger)
	require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
	require.Nil(t, ev)
	r = w.e.do("DELETE", "/api/v1/tracking/consent/"+stranger, w.tok, "")
	require.Equal(t, http.StatusOK, r.status, "idempotent")
	require.Equal(t, er.Revocation, decode[ConsentErasure](t, r).Revocation)

	// Without the legal basis an unknown visitor is a 404, as before.
	patchSettings(t, w.e, w.tok, `{"server_legal_basis":null}`)
	require.Equal(t, http.StatusNotFound, w.e.do("DELETE", "/api/v1/tracking/consent/"+randomUUID(), w.tok, "").status)
}

func TestEventsAnalyticsOnlyGA4Setting(t *testing.T) {
	t.Parallel()
	w := newEvWorld(t)
	ao := randomUUID()
	w.consent(t, ao, true, false)

	r, ev := eventConsentOf(t, w, ao)
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	require.Equal(t, platforms.Consent{Analytics: true, Policy: "p1"}, ev.Consent, "default: GA4 with ad signals DENIED")
	require.Empty(t, ev.User.Email, "no marketing data")
	require.Empty(t, ev.IDs.FBP)

	patchSettings(t, w.e, w.tok, `{"ga4_analytics_only":false}`)
	r, ev = eventConsentOf(t, w, ao)
	require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
	require.Nil(t, ev, "no platform may receive it")
	code, _ := errorOf(t, r)
	require.Equal(t, ReasonNoConsent, code)
	r, ev = eventConsentOf(t, w, w.visitor)
	require.Equal(t, http.StatusAccepted, r.status, "marketing consent still sends")
	require.Equal(t, platforms.Consent{Analytics: true, Marketing: true, Policy: "p1"}, ev.Consent)
}

// TestEventsHonorGPCSetting: server-side calls carry no Sec-GPC, so the
// setting never changes a recorded decision on this path (the edge test
// TestTenantCanIgnoreGPC covers the browser path).
func TestEventsHonorGPCSetting(t *testing.T) {
	t.Parallel()
	w := newEvWorld(t)
	for _, s := range []string{`{"honor_gpc":false}`, `{"honor_gpc":true}`} {
		patchSettings(t, w.e, w.tok, s)
		r, ev := eventConsentOf(t, w, w.visitor, "Sec-GPC", "1")
		require.Equal(t, http.StatusAccepted, r.status, r.body)
		require.True(t, ev.Consent.Marketing, s)
	}
}

// TestConsentErasesQueueAndDeadLetters: DELETE removes the visitor's
// queued entries and dead letters, reports the counts, refuses later
// events, and leaves other visitors alone.
func TestConsentErasesQueueAndDeadLetters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q, reg := e.useFullQueue(t)
	tn := e.mustTenant("erase-q")
	tok := e.token(RoleAdmin, tn.ID)
	key := decode[APIKeyView](t, e.do("POST", "/api/v1/api-keys", tok, `{"name":"b"}`)).Key
	v, other := randomUUID(), randomUUID()
	for _, vis := range []string{v, other} {
		require.Equal(t, http.StatusCreated, e.do("POST", "/api/v1/tracking/consent", tok, consentBody(vis, true, true, false, "1")).status)
	}
	send := func(vis string) reply {
		return e.do("POST", "/api/v1/tracking/events", "", evBody("purchase", randomUUID(), vis, `,"user_data":{"em":"canary@example.com"}`), "X-API-Key", key)
	}
	for _, vis := range []string{v, v, other} {
		require.Equal(t, http.StatusAccepted, send(vis).status)
	}
	dead := queue.Message{ID: "1", Kind: queue.KindEvent, TenantID: tn.ID, EventID: randomUUID(), EventName: "purchase", VisitorID: v, Payload: []byte("x")}
	require.NoError(t, q.DeadLetter(t.Context(), "deliver-meta", dead, "permanent"))

	r := e.do("DELETE", "/api/v1/tracking/consent/"+v, tok, "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	er := decode[ConsentErasure](t, r)
	require.Equal(t, map[string]int64{ErasureConsentIPs: 0, ErasureTrackingEvents: 0, ErasureQueuedEntries: 2, ErasureDeadLetters: 1}, er.Erased)
	require.Empty(t, er.Pending)
	require.True(t, er.Complete)

	left := queued(t, q)
	require.Len(t, left, 1)
	require.Equal(t, other, left[0].VisitorID)
	dls, err := q.DeadLetters(t.Context(), tn.ID, 10)
	require.NoError(t, err)
	require.Empty(t, dls)

	// Later events of the visitor are refused.
	r = send(v)
	require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
	require.Len(t, queued(t, q), 1)

	// Idempotent: nothing left to erase, no second revocation counted.
	r = e.do("DELETE", "/api/v1/tracking/consent/"+v, tok, "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, int64(0), decode[ConsentErasure](t, r).Erased[ErasureQueuedEntries])

	// Metrics: two "all" decisions and one revocation, no tenant label.
	require.Equal(t, map[string]float64{"all": 2, "marketing": 0, "analytics": 0, "none": 1}, apiDecisions(t, reg))
}

// apiDecisions reads pixelgw_consent_api_decisions_total by choice.
func apiDecisions(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "pixelgw_consent_api_decisions_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			require.Len(t, m.GetLabel(), 1, "only the choice label")
			require.Equal(t, "choice", m.GetLabel()[0].GetName())
			out[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	return out
}

type failingEraser struct{}

func (failingEraser) EraseVisitor(context.Context, string, string, time.Time, time.Duration) (queue.Erasure, error) {
	return queue.Erasure{}, errors.New("redis: i/o timeout at 10.0.0.5")
}

func TestConsentErasureQueueFailureAndAbsence(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tn := e.mustTenant("erase-fail")
	tok := e.token(RoleAdmin, tn.ID)
	v := randomUUID()
	q := newTestQueue(t)
	api, err := New(e.cfg, Deps{Store: e.st, Keyring: e.keyring, Logger: e.api.log, Now: e.api.now, Decisions: q, QueueEraser: failingEraser{}})
	require.NoError(t, err)
	e.api, e.h = api, api.Handler()
	require.Equal(t, http.StatusCreated, e.do("POST", "/api/v1/tracking/consent", tok, consentBody(v, true, true, false, "1")).status)

	r := e.do("DELETE", "/api/v1/tracking/consent/"+v, tok, "")
	require.Equal(t, http.StatusServiceUnavailable, r.status, r.body)
	require.Equal(t, "1", r.header.Get("Retry-After"))
	require.NotContains(t, r.body, "10.0.0.5")
	require.Contains(t, e.logs.String(), "cannot erase queued entries")

	// Without a queue eraser the queue's categories are reported pending.
	e.rebuild(e.st, recordingDecisionsOK())
	r = e.do("DELETE", "/api/v1/tracking/consent/"+v, tok, "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	er := decode[ConsentErasure](t, r)
	require.Equal(t, []string{ErasureQueuedEntries, ErasureDeadLetters}, er.Pending)
	require.False(t, er.Complete)
	hist, err := e.st.ConsentHistory(t.Context(), tn.ID, v)
	require.NoError(t, err)
	require.Len(t, hist, 2, "the revocation was appended once (the failed call appended it, the retry did not)")
	require.False(t, hist[1].Marketing)
	require.Equal(t, store.ConsentSourceAPI, hist[1].Source)
}

func recordingDecisionsOK() Decisions { return &recordingDecisions{} }
