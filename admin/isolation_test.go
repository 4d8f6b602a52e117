package admin

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/live"
	"github.com/jaraba/pixelgw/store/live/livemem"
	"github.com/jaraba/pixelgw/store/queue"
	"github.com/jaraba/pixelgw/store/queue/queuesqlite"
)

// world is two tenants, each with a pixel, an API key and a domain.
type world struct {
	e                *env
	a, b             store.Tenant
	aTok, bTok       string
	aPixel, bPixel   PixelView
	aKey, bKey       APIKeyView
	aHost, bHost     string
	bSecretFragments []string // strings that must never reach A
	q                *queuesqlite.Queue
	bVisitor         string // a visitor with a consent record in B
}

// bDeadLetter parks one of B's events as a dead letter and returns its id.
func (w *world) bDeadLetter(t *testing.T) string {
	t.Helper()
	m := queue.Message{ID: "1", Kind: queue.KindEvent, TenantID: w.b.ID, EventID: randomUUID(), EventName: "b-dead-event", Payload: []byte(`{}`)}
	require.NoError(t, w.q.DeadLetter(t.Context(), "deliver-meta", m, "dead after 3 attempts"))
	list, err := w.q.DeadLetters(t.Context(), w.b.ID, 1)
	require.NoError(t, err)
	require.Len(t, list, 1)
	return list[0].ID
}

func newWorld(t *testing.T) *world {
	t.Helper()
	e := newEnv(t)
	q := e.useQueue(t)
	w := &world{e: e, a: e.mustTenant("tenant-a"), b: e.mustTenant("tenant-b"), q: q, bVisitor: randomUUID()}
	w.aTok, w.bTok = e.token(RoleAdmin, w.a.ID), e.token(RoleAdmin, w.b.ID)
	op := e.token(RoleOperator, "")

	r := e.do("POST", "/api/v1/tracking/pixels", w.aTok, googlePixel)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	w.aPixel = decode[PixelView](t, r)
	r = e.do("POST", "/api/v1/tracking/pixels", w.bTok, metaPixel)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	w.bPixel = decode[PixelView](t, r)

	r = e.do("POST", "/api/v1/api-keys", w.aTok, `{"name":"a-backend"}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	w.aKey = decode[APIKeyView](t, r)
	r = e.do("POST", "/api/v1/api-keys", w.bTok, `{"name":"b-backend"}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	w.bKey = decode[APIKeyView](t, r)

	w.aHost, w.bHost = "t.tenant-a.example", "t.tenant-b.example"
	r = e.do("POST", "/api/v1/tenants/"+w.a.ID+"/domains", op, `{"hostname":"`+w.aHost+`"}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	r = e.do("POST", "/api/v1/tenants/"+w.b.ID+"/domains", op, `{"hostname":"`+w.bHost+`"}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)

	r = e.do("POST", "/api/v1/tracking/consent", w.bTok, consentBody(w.bVisitor, true, true, true, "b-policy-7"))
	require.Equal(t, http.StatusCreated, r.status, r.body)
	bConsent := decode[ConsentView](t, r)

	w.bSecretFragments = []string{w.b.ID, w.b.Slug, w.bPixel.UUID, w.bPixel.PixelID, w.bKey.ID, w.bKey.Prefix, "b-backend", w.bHost, bConsent.ID, "b-policy-7"}
	return w
}

// requireSame checks two answers are identical but for the request id.
func requireSame(t *testing.T, want, got reply) {
	t.Helper()
	require.Equal(t, want.status, got.status)
	require.Equal(t, want.body, got.body)
	wh, gh := want.header.Clone(), got.header.Clone()
	wh.Del("X-Request-Id")
	gh.Del("X-Request-Id")
	require.Equal(t, wh, gh)
}

// requireNoLeak checks an answer to A mentions nothing of B.
func (w *world) requireNoLeak(t *testing.T, r reply) {
	t.Helper()
	for _, f := range w.bSecretFragments {
		require.NotContains(t, r.body, f)
	}
}

// bView is B's state as B sees it, to check A changed nothing.
func (w *world) bView(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, p := range []string{"/api/v1/tenant", "/api/v1/domains", "/api/v1/tracking/pixels", "/api/v1/api-keys", "/api/v1/tracking/consent/" + w.bVisitor} {
		r := w.e.do("GET", p, w.bTok, "")
		require.Equal(t, http.StatusOK, r.status, r.body)
		b.WriteString(r.body)
	}
	return b.String()
}

// TestTenantIsolation: for every route, tenant A's token never reads,
// changes, lists or learns of tenant B's objects; B's objects answer like
// absent ones, byte for byte. The table must cover routes() exactly.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	e := w.e
	absent := randomUUID()

	// forEachID sends the same request naming B's object and an absent
	// one and requires identical answers.
	sameAsAbsent := func(t *testing.T, method, pathB, pathAbsent, body string) reply {
		t.Helper()
		before := w.bView(t)
		rb := e.do(method, pathB, w.aTok, body)
		ra := e.do(method, pathAbsent, w.aTok, body)
		requireSame(t, ra, rb)
		require.Equal(t, before, w.bView(t), "A changed B")
		w.requireNoLeak(t, rb)
		return rb
	}
	// operatorOnly: a tenant token cannot reach an operator route, whether
	// it names B, A itself or nothing that exists.
	operatorOnly := func(method, suffix, body string) func(t *testing.T) {
		return func(t *testing.T) {
			r := sameAsAbsent(t, method, strings.ReplaceAll(suffix, "{id}", w.b.ID), strings.ReplaceAll(suffix, "{id}", absent), body)
			require.Equal(t, http.StatusForbidden, r.status)
			own := e.do(method, strings.ReplaceAll(suffix, "{id}", w.a.ID), w.aTok, body)
			requireSame(t, r, own)
		}
	}

	cases := map[string]func(t *testing.T){
		"GET /api/v1/openapi.json": func(t *testing.T) {
			r := e.do("GET", "/api/v1/openapi.json", w.aTok, "")
			require.Equal(t, http.StatusOK, r.status)
			w.requireNoLeak(t, r)
		},
		"GET /api/v1/tenants":                            operatorOnly("GET", "/api/v1/tenants", ""),
		"POST /api/v1/tenants":                           operatorOnly("POST", "/api/v1/tenants", `{"slug":"tenant-b","name":"x"}`),
		"GET /api/v1/tenants/{id}":                       operatorOnly("GET", "/api/v1/tenants/{id}", ""),
		"PATCH /api/v1/tenants/{id}":                     operatorOnly("PATCH", "/api/v1/tenants/{id}", `{"name":"pwned"}`),
		"DELETE /api/v1/tenants/{id}":                    operatorOnly("DELETE", "/api/v1/tenants/{id}", ""),
		"GET /api/v1/tenants/{id}/domains":               operatorOnly("GET", "/api/v1/tenants/{id}/domains", ""),
		"POST /api/v1/tenants/{id}/domains":              operatorOnly("POST", "/api/v1/tenants/{id}/domains", `{"hostname":"evil.example.com"}`),
		"DELETE /api/v1/tenants/{id}/domains/{hostname}": operatorOnly("DELETE", "/api/v1/tenants/{id}/domains/"+w.bHost, ""),
		"POST /api/v1/tenants/{id}/cookie-keys/rotate":   operatorOnly("POST", "/api/v1/tenants/{id}/cookie-keys/rotate", ""),
		"GET /api/v1/tenant": func(t *testing.T) {
			r := e.do("GET", "/api/v1/tenant", w.aTok, "")
			require.Equal(t, http.StatusOK, r.status)
			require.Equal(t, w.a.ID, decode[TenantView](t, r).ID)
			w.requireNoLeak(t, r)
		},
		"PATCH /api/v1/tenant": func(t *testing.T) {
			before := w.bView(t)
			// The tenant cannot be named in the body.
			r := e.do("PATCH", "/api/v1/tenant", w.aTok, `{"id":"`+w.b.ID+`","name":"pwned"}`)
			require.Equal(t, http.StatusBadRequest, r.status, r.body)
			r = e.do("PATCH", "/api/v1/tenant", w.aTok, `{"name":"A renamed"}`)
			require.Equal(t, http.StatusOK, r.status, r.body)
			require.Equal(t, w.a.ID, decode[TenantView](t, r).ID)
			require.Equal(t, before, w.bView(t))
			w.requireNoLeak(t, r)
		},
		"GET /api/v1/domains": func(t *testing.T) {
			r := e.do("GET", "/api/v1/domains", w.aTok, "")
			require.Equal(t, http.StatusOK, r.status)
			ds := decode[map[string][]DomainView](t, r)["domains"]
			require.Len(t, ds, 1)
			require.Equal(t, w.aHost, ds[0].Hostname)
			w.requireNoLeak(t, r)
		},
		"GET /api/v1/tracking/pixels": func(t *testing.T) {
			r := e.do("GET", "/api/v1/tracking/pixels", w.aTok, "")
			require.Equal(t, http.StatusOK, r.status)
			ps := decode[map[string][]PixelView](t, r)["pixels"]
			require.True(t, slices.ContainsFunc(ps, func(p PixelView) bool { return p.UUID == w.aPixel.UUID }))
			w.requireNoLeak(t, r)
		},
		"POST /api/v1/tracking/pixels": func(t *testing.T) {
			before := w.bView(t)
			// The tenant cannot be named in the body.
			r := e.do("POST", "/api/v1/tracking/pixels", w.aTok, `{"tenant_id":"`+w.b.ID+`","platform":"tiktok","pixel_id":"ABCDEFGHIJKLMNOPQRST","credentials":{"access_token":"x"}}`)
			require.Equal(t, http.StatusBadRequest, r.status, r.body)
			// B's platform+pixel_id is free in A: no conflict reveals B.
			r = e.do("POST", "/api/v1/tracking/pixels", w.aTok, metaPixel)
			require.Equal(t, http.StatusCreated, r.status, r.body)
			require.Equal(t, before, w.bView(t))
			require.NotContains(t, r.body, w.bPixel.UUID)
		},
		"GET /api/v1/tracking/pixels/{uuid}": func(t *testing.T) {
			r := sameAsAbsent(t, "GET", "/api/v1/tracking/pixels/"+w.bPixel.UUID, "/api/v1/tracking/pixels/"+absent, "")
			require.Equal(t, http.StatusNotFound, r.status)
		},
		"PATCH /api/v1/tracking/pixels/{uuid}": func(t *testing.T) {
			r := sameAsAbsent(t, "PATCH", "/api/v1/tracking/pixels/"+w.bPixel.UUID, "/api/v1/tracking/pixels/"+absent, `{"is_active":false}`)
			require.Equal(t, http.StatusNotFound, r.status)
			// Also with a body that would fail validation.
			sameAsAbsent(t, "PATCH", "/api/v1/tracking/pixels/"+w.bPixel.UUID, "/api/v1/tracking/pixels/"+absent, `{"pixel_id":"bad"}`)
		},
		"DELETE /api/v1/tracking/pixels/{uuid}": func(t *testing.T) {
			r := sameAsAbsent(t, "DELETE", "/api/v1/tracking/pixels/"+w.bPixel.UUID, "/api/v1/tracking/pixels/"+absent, "")
			require.Equal(t, http.StatusNotFound, r.status)
		},
		"GET /api/v1/api-keys": func(t *testing.T) {
			r := e.do("GET", "/api/v1/api-keys", w.aTok, "")
			require.Equal(t, http.StatusOK, r.status)
			ks := decode[map[string][]APIKeyView](t, r)["api_keys"]
			require.True(t, slices.ContainsFunc(ks, func(k APIKeyView) bool { return k.ID == w.aKey.ID }))
			w.requireNoLeak(t, r)
		},
		"POST /api/v1/api-keys": func(t *testing.T) {
			before := w.bView(t)
			r := e.do("POST", "/api/v1/api-keys", w.aTok, `{"name":"b-backend"}`)
			require.Equal(t, http.StatusCreated, r.status, r.body)
			require.Equal(t, before, w.bView(t))
		},
		"DELETE /api/v1/api-keys/{id}": func(t *testing.T) {
			r := sameAsAbsent(t, "DELETE", "/api/v1/api-keys/"+w.bKey.ID, "/api/v1/api-keys/"+absent, "")
			require.Equal(t, http.StatusNotFound, r.status)
		},
		"POST /api/v1/tracking/pixels/{uuid}/verify": func(t *testing.T) {
			r := sameAsAbsent(t, "POST", "/api/v1/tracking/pixels/"+w.bPixel.UUID+"/verify", "/api/v1/tracking/pixels/"+absent+"/verify", "")
			require.Contains(t, []int{http.StatusNotFound, http.StatusServiceUnavailable}, r.status)
		},
		"GET /api/v1/tracking/events/recent": func(t *testing.T) {
			bEvent := randomUUID()
			require.NoError(t, e.st.AppendEvents(t.Context(), []store.AuditEvent{{
				TenantID: w.b.ID, EventID: bEvent, EventName: "purchase", EventSource: store.SourceClient, ClientIP: "198.51.100.77",
			}}))
			r := e.do("GET", "/api/v1/tracking/events/recent", w.aTok, "")
			require.Equal(t, http.StatusOK, r.status, r.body)
			require.NotContains(t, r.body, bEvent)
			require.NotContains(t, r.body, "198.51.100")
			w.requireNoLeak(t, r)
		},
		"GET /api/v1/tracking/events/stream": func(t *testing.T) {
			hub := livemem.New(0)
			t.Cleanup(func() { _ = hub.Stop(context.Background()) })
			_, srv := e.streamServer(t, hub, nil)
			resp, c := openStream(t, srv, w.aTok)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			m, _ := c.next(t)
			require.Equal(t, "connected", m.comment)
			require.False(t, hub.Listening(w.b.ID), "A's stream is A's only")
			// B's updates first, then A's: A sees only its own.
			hub.Publish(w.b.ID, []live.Update{
				{Kind: live.KindAccepted, EventID: "b-live-event", EventName: "purchase", ClientIP: "198.51.100.77"},
				{Kind: live.KindDelivery, EventID: "b-live-event", Pixel: w.bPixel.UUID, Platform: "meta", Status: "delivered", HTTPStatus: 200},
			})
			hub.Publish(w.a.ID, []live.Update{{Kind: live.KindAccepted, EventID: "a-live-event", EventName: "lead"}})
			m, _ = c.next(t)
			require.Equal(t, "accepted", m.event)
			require.Contains(t, m.data, "a-live-event")
			for _, f := range append([]string{"b-live-event", "198.51.100"}, w.bSecretFragments...) {
				require.NotContains(t, m.data, f)
			}
		},
		"GET /api/v1/tracking/deadletters": func(t *testing.T) {
			bID := w.bDeadLetter(t)
			r := e.do("GET", "/api/v1/tracking/deadletters", w.aTok, "")
			require.Equal(t, http.StatusOK, r.status, r.body)
			require.NotContains(t, r.body, bID)
			require.NotContains(t, r.body, "b-dead-event")
			require.Equal(t, `{"dead_letters":[]}`, strings.TrimSpace(r.body))
			w.requireNoLeak(t, r)
		},
		"POST /api/v1/tracking/deadletters/replay": func(t *testing.T) {
			bID := w.bDeadLetter(t)
			r := e.do("POST", "/api/v1/tracking/deadletters/replay", w.aTok, `{"ids":["`+bID+`"]}`)
			require.Equal(t, http.StatusOK, r.status, r.body)
			require.JSONEq(t, `{"replayed":0}`, r.body, "another tenant's dead letter is like an absent one")
			left, err := w.q.DeadLetters(t.Context(), w.b.ID, 10)
			require.NoError(t, err)
			require.True(t, slices.ContainsFunc(left, func(d queue.DeadLetter) bool { return d.ID == bID }), "B's dead letter stays")
			require.Equal(t, http.StatusForbidden, e.do("POST", "/api/v1/tracking/deadletters/replay", e.token(RoleViewer, w.a.ID), `{"ids":["`+bID+`"]}`).status)
		},
		"POST /api/v1/tenant/paths/rotate": func(t *testing.T) {
			before := w.bView(t)
			aBefore := decode[TenantView](t, e.do("GET", "/api/v1/tenant", w.aTok, ""))
			r := e.do("POST", "/api/v1/tenant/paths/rotate", w.aTok, "")
			require.Equal(t, http.StatusOK, r.status, r.body)
			got := decode[TenantView](t, r)
			require.Equal(t, w.a.ID, got.ID)
			require.NotEqual(t, aBefore.EdgePaths.Collect, got.EdgePaths.Collect)
			require.NotEqual(t, aBefore.EdgePaths.Consent, got.EdgePaths.Consent)
			require.Equal(t, aBefore.EdgePaths.Loader, got.EdgePaths.Loader, "the pasted loader URL never changes")
			kinds := map[string]string{}
			for _, p := range got.Settings.PreviousPaths {
				kinds[p.Kind] = p.Path
				require.True(t, p.Until.After(time.Now().Add(6*24*time.Hour)), "old paths keep working for the grace period")
			}
			require.Equal(t, aBefore.EdgePaths.Collect, kinds["collect"])
			require.Equal(t, aBefore.EdgePaths.Consent, kinds["consent"])
			require.Equal(t, before, w.bView(t), "B untouched")
			w.requireNoLeak(t, r)
			// A viewer cannot rotate.
			require.Equal(t, http.StatusForbidden, e.do("POST", "/api/v1/tenant/paths/rotate", e.token(RoleViewer, w.a.ID), "").status)
		},
		"POST /api/v1/tracking/consent": func(t *testing.T) {
			before := w.bView(t)
			// The tenant cannot be named in the body.
			r := e.do("POST", "/api/v1/tracking/consent", w.aTok, `{"tenant_id":"`+w.b.ID+`",`+consentBody(w.bVisitor, false, false, false, "1")[1:])
			require.Equal(t, http.StatusBadRequest, r.status, r.body)
			// Naming B's visitor records a decision of A's own visitor.
			r = e.do("POST", "/api/v1/tracking/consent", w.aTok, consentBody(w.bVisitor, false, false, false, "1"))
			require.Equal(t, http.StatusCreated, r.status, r.body)
			require.Equal(t, before, w.bView(t), "B's record untouched")
			// B's revocation set is untouched: B's current cookie still passes.
			require.Equal(t, queue.Queued, admit(t, w.q, w.b.ID, w.bVisitor, e.now.Add(2*time.Second)))
			w.requireNoLeak(t, r)
			own := e.do("GET", "/api/v1/tracking/consent/"+w.bVisitor, w.aTok, "")
			require.Equal(t, http.StatusOK, own.status, own.body)
			require.Len(t, decode[ConsentState](t, own).History, 1, "A sees only its own record")
			w.requireNoLeak(t, own)
		},
		"GET /api/v1/tracking/consent/{visitor_id}": func(t *testing.T) {
			r := sameAsAbsent(t, "GET", "/api/v1/tracking/consent/"+w.bVisitor, "/api/v1/tracking/consent/"+absent, "")
			require.Equal(t, http.StatusNotFound, r.status)
		},
		"DELETE /api/v1/tracking/consent/{visitor_id}": func(t *testing.T) {
			r := sameAsAbsent(t, "DELETE", "/api/v1/tracking/consent/"+w.bVisitor, "/api/v1/tracking/consent/"+absent, "")
			require.Equal(t, http.StatusNotFound, r.status)
			// Neither B nor A got a decision for that visitor.
			require.Equal(t, queue.Queued, admit(t, w.q, w.b.ID, w.bVisitor, e.now.Add(2*time.Second)))
			require.Equal(t, queue.Queued, admit(t, w.q, w.a.ID, w.bVisitor, e.now.Add(-time.Hour)))
		},
		"POST /api/v1/tracking/events": func(t *testing.T) {
			before := w.bView(t)
			aVisitor, id := randomUUID(), randomUUID()
			r := e.do("POST", "/api/v1/tracking/consent", w.aTok, consentBody(aVisitor, true, true, false, "1"))
			require.Equal(t, http.StatusCreated, r.status, r.body)
			// The tenant cannot be named in the body.
			r = e.do("POST", "/api/v1/tracking/events", "", evBody("purchase", id, aVisitor, `,"tenant_id":"`+w.b.ID+`"`), "X-API-Key", w.aKey.Key)
			require.Equal(t, http.StatusBadRequest, r.status, r.body)
			// B's visitor has no consent in A: the lookup is A's own.
			r = e.do("POST", "/api/v1/tracking/events", "", evBody("purchase", randomUUID(), w.bVisitor, ""), "X-API-Key", w.aKey.Key)
			require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
			w.requireNoLeak(t, r)
			// B uses an event id first; A's event with that id is not a
			// duplicate of it, and is queued under A (from the key).
			r = e.do("POST", "/api/v1/tracking/events", "", evBody("purchase", id, w.bVisitor, ""), "X-API-Key", w.bKey.Key)
			require.Equal(t, http.StatusAccepted, r.status, r.body)
			r = e.do("POST", "/api/v1/tracking/events", "", evBody("Purchase", id, aVisitor, ""), "Authorization", "Bearer "+w.aKey.Key)
			require.Equal(t, http.StatusAccepted, r.status, r.body)
			require.JSONEq(t, `{"status":"accepted"}`, r.body)
			w.requireNoLeak(t, r)
			// A's JWT meets A's own copy only.
			r = e.do("POST", "/api/v1/tracking/events", w.aTok, evBody("purchase", id, aVisitor, ""))
			require.JSONEq(t, `{"status":"duplicate"}`, r.body)
			tenants := map[string]string{}
			for _, m := range queued(t, w.q) {
				if m.EventID == id && m.Kind == queue.KindEvent {
					tenants[m.TenantID] += "x"
				}
			}
			require.Equal(t, map[string]string{w.a.ID: "x", w.b.ID: "x"}, tenants)
			require.Equal(t, before, w.bView(t))
		},
		"POST /api/v1/tracking/events/batch": func(t *testing.T) {
			before := w.bView(t)
			aVisitor, id := randomUUID(), randomUUID()
			r := e.do("POST", "/api/v1/tracking/consent", w.aTok, consentBody(aVisitor, true, true, false, "1"))
			require.Equal(t, http.StatusCreated, r.status, r.body)
			r = e.do("POST", "/api/v1/tracking/events/batch", "", `{"events":[`+evBody("lead", id, w.bVisitor, "")+`]}`, "X-API-Key", w.bKey.Key)
			require.Equal(t, http.StatusOK, r.status, r.body)
			r = e.do("POST", "/api/v1/tracking/events/batch", "", `{"events":[`+evBody("lead", id, aVisitor, "")+`,`+evBody("lead", randomUUID(), w.bVisitor, "")+`]}`, "X-API-Key", w.aKey.Key)
			require.Equal(t, http.StatusOK, r.status, r.body)
			res := decode[map[string][]EventResult](t, r)["results"]
			require.Equal(t, EventAccepted, res[0].Status, "B's event id does not dedup A's")
			require.Equal(t, ReasonNoConsent, res[1].Reason, "B's visitor has no consent in A")
			w.requireNoLeak(t, r)
			for _, m := range queued(t, w.q) {
				if m.EventID == id && m.TenantID == w.a.ID {
					require.Equal(t, queue.KindEvent, m.Kind)
				}
			}
			require.Equal(t, before, w.bView(t))
		},
		"POST /api/v1/cookie-keys/rotate": func(t *testing.T) {
			bKeys, err := e.st.ListCookieKeys(t.Context(), w.b.ID)
			require.NoError(t, err)
			r := e.do("POST", "/api/v1/cookie-keys/rotate", w.aTok, "")
			require.Equal(t, http.StatusOK, r.status, r.body)
			after, err := e.st.ListCookieKeys(t.Context(), w.b.ID)
			require.NoError(t, err)
			require.Equal(t, bKeys, after)
			for _, k := range bKeys {
				require.NotContains(t, r.body, k.KeyID)
			}
		},
	}

	var all []string
	for _, rt := range e.api.routes() {
		all = append(all, rt.method+" "+rt.pattern)
	}
	var covered []string
	for k := range cases {
		covered = append(covered, k)
	}
	slices.Sort(all)
	slices.Sort(covered)
	require.Equal(t, all, covered, "every route needs an isolation case")

	// Sequential: the cases share one world and compare B's state.
	for _, name := range covered {
		t.Run(name, cases[name])
	}
}
