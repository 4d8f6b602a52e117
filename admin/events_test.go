package admin

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/queue"
	"github.com/jaraba/pixelgw/store/queue/queuesqlite"
)

// useQueue gives the env's API a real embedded queue as its revocation
// set, dead-letter store and events admitter.
func (e *env) useQueue(t *testing.T) *queuesqlite.Queue {
	t.Helper()
	q := newTestQueue(t)
	api, err := New(e.cfg, Deps{Store: e.st, Keyring: e.keyring, Logger: e.api.log, Now: e.api.now, Decisions: q, DeadLetters: q, Admitter: q})
	require.NoError(t, err)
	e.api, e.h = api, api.Handler()
	return q
}

// evWorld is one tenant with an admin token, an API key and a visitor who
// granted analytics and marketing.
type evWorld struct {
	e       *env
	q       *queuesqlite.Queue
	tn      store.Tenant
	tok     string
	key     APIKeyView
	visitor string
}

func newEvWorld(t *testing.T) *evWorld {
	t.Helper()
	e := newEnv(t)
	w := &evWorld{e: e, q: e.useQueue(t), tn: e.mustTenant("events"), visitor: randomUUID()}
	w.tok = e.token(RoleAdmin, w.tn.ID)
	r := e.do("POST", "/api/v1/api-keys", w.tok, `{"name":"backend"}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	w.key = decode[APIKeyView](t, r)
	w.consent(t, w.visitor, true, true)
	return w
}

func (w *evWorld) consent(t *testing.T, visitor string, analytics, marketing bool) {
	t.Helper()
	r := w.e.do("POST", "/api/v1/tracking/consent", w.tok, consentBody(visitor, analytics, marketing, false, "p1"))
	require.Equal(t, http.StatusCreated, r.status, r.body)
}

// send posts an event body with the API key in X-API-Key.
func (w *evWorld) send(body string) reply {
	return w.e.do("POST", "/api/v1/tracking/events", "", body, "X-API-Key", w.key.Key)
}

func (w *evWorld) batch(events ...string) reply {
	return w.e.do("POST", "/api/v1/tracking/events/batch", "", `{"events":[`+strings.Join(events, ",")+`]}`, "X-API-Key", w.key.Key)
}

// evBody is an event of the visitor; extra are more members (",..." form).
func evBody(name, id, visitor, extra string) string {
	b := `{"event_name":"` + name + `","event_id":"` + id + `"`
	if visitor != "" {
		b += `,"visitor_id":"` + visitor + `"`
	}
	return b + extra + `}`
}

// queued reads every message queued so far (a fresh consumer group).
func queued(t *testing.T, q queue.Queue) []queue.Message {
	t.Helper()
	ms, err := q.Read(t.Context(), "g-"+randomUUID(), "c", 5000, 0)
	require.NoError(t, err)
	return ms
}

func statusOf(t *testing.T, r reply) string {
	t.Helper()
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	return decode[map[string]string](t, r)["status"]
}

const sha = "a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3"

func TestTrackEventQueuesTheRecord(t *testing.T) {
	t.Parallel()
	w := newEvWorld(t)
	id := randomUUID()
	at := w.e.now.Add(-time.Hour).Unix()
	body := evBody("Purchase", strings.ToUpper(id), strings.ToUpper(w.visitor),
		`,"event_time":`+strconv.FormatInt(at, 10)+`,"user_data":{"em":"Ana@Example.com","ph":"`+strings.ToUpper(sha)+`","external_id":"crm-42"},`+
			`"custom_data":{"value":49.9,"currency":"EUR","items":[{"id":"sku"}]},"event_source_url":"https://shop.example/thanks",`+
			`"client_ip_address":"::ffff:203.0.113.9","client_user_agent":"curl/8","fbp":"fb.1.2.3","fbc":"fb.1.2.AbC","gclid":"Cj0","ttclid":"tt","li_fat_id":"li","twclid":"tw"`)
	require.Equal(t, EventAccepted, statusOf(t, w.send(body)))

	ms := queued(t, w.q)
	require.Len(t, ms, 1)
	m := ms[0]
	require.Equal(t, queue.KindEvent, m.Kind)
	require.Equal(t, w.tn.ID, m.TenantID)
	require.Equal(t, id, m.EventID, "the id is canonicalised (lowercase)")
	require.Equal(t, platforms.EventPurchase, m.EventName)
	ev, err := platforms.DecodeEvent(m.Payload)
	require.NoError(t, err)
	require.Equal(t, platforms.Event{
		TenantID: w.tn.ID, EventID: id, Name: platforms.EventPurchase, Class: platforms.ClassConversion,
		Source: SourceServer, Time: time.Unix(at, 0).UTC(), Received: ev.Received, URL: "https://shop.example/thanks",
		VisitorID: w.visitor, ClientIP: "203.0.113.9", UserAgent: "curl/8",
		Consent: platforms.Consent{Analytics: true, Marketing: true, Policy: "p1"},
		IDs:     platforms.ClickIDs{FBP: "fb.1.2.3", FBC: "fb.1.2.AbC", GCLID: "Cj0", TTCLID: "tt", LiFatID: "li", TWCLID: "tw"},
		User:    platforms.UserData{Email: "Ana@Example.com", Phone: sha, ExternalID: "crm-42"},
		Props:   map[string]any{"value": 49.9, "currency": "EUR", "items": []any{map[string]any{"id": "sku"}}},
	}, ev)
	require.WithinDuration(t, w.e.now, ev.Received, time.Minute)

	// The whole call is idempotent: a retry is a duplicate, queued as a
	// merge entry (a conversion) for the engine, never a second event.
	require.Equal(t, EventDuplicate, statusOf(t, w.send(body)))
	ms = queued(t, w.q)
	require.Len(t, ms, 2)
	require.Equal(t, queue.KindMerge, ms[1].Kind)
}

// TestTrackEventPlatforms: "platforms" reaches the queued record as stored
// names (x is twitter), deduplicated and in a stable order; absent or null
// targets every platform.
func TestTrackEventPlatforms(t *testing.T) {
	t.Parallel()
	w := newEvWorld(t)
	for _, tc := range []struct {
		extra string
		want  []string
	}{
		{`,"platforms":["X","meta","tiktok","meta"]`, []string{store.PlatformMeta, store.PlatformTikTok, store.PlatformX}},
		{`,"platforms":["twitter","x"]`, []string{store.PlatformX}},
		{`,"platforms":["google"]`, []string{store.PlatformGoogle}},
		{`,"platforms":null`, nil},
		{``, nil},
	} {
		id := randomUUID()
		require.Equal(t, EventAccepted, statusOf(t, w.send(evBody("lead", id, w.visitor, tc.extra))), tc.extra)
		var found bool
		for _, m := range queued(t, w.q) {
			if m.EventID != id {
				continue
			}
			found = true
			ev, err := platforms.DecodeEvent(m.Payload)
			require.NoError(t, err)
			require.Equal(t, tc.want, ev.Platforms, tc.extra)
		}
		require.True(t, found, tc.extra)
	}
}

func TestTrackEventCanonicalNames(t *testing.T) {
	t.Parallel()
	w := newEvWorld(t)
	for _, tc := range []struct{ first, second string }{
		{"Purchase", "purchase"},
		{"CompleteRegistration", "signup"},
		{"generate_lead", "Lead"},
		{"PageView", "page_view"},
	} {
		id := randomUUID()
		require.Equal(t, EventAccepted, statusOf(t, w.send(evBody(tc.first, id, w.visitor, ""))), tc.first)
		require.Equal(t, EventDuplicate, statusOf(t, w.send(evBody(tc.second, id, w.visitor, ""))), tc.second)
	}
	ms := queued(t, w.q)
	kinds := map[queue.Kind]int{}
	for _, m := range ms {
		kinds[m.Kind]++
	}
	// Three conversions get a merge entry; the page_view repeat is only
	// reported.
	require.Equal(t, map[queue.Kind]int{queue.KindEvent: 4, queue.KindMerge: 3}, kinds)
	// The window follows the class: a high-volume name is not a
	// conversion.
	require.Equal(t, platforms.EventPageView, ms[len(ms)-1].EventName)
}

func TestTrackEventConsent(t *testing.T) {
	t.Parallel()
	w := newEvWorld(t)
	none, analyticsOnly, refused, revokedAPI, revokedSet := randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()
	w.consent(t, analyticsOnly, true, false)
	w.consent(t, refused, false, false)
	w.consent(t, revokedAPI, true, true)
	r := w.e.do("DELETE", "/api/v1/tracking/consent/"+revokedAPI, w.tok, "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	w.consent(t, revokedSet, true, true)
	// A decision newer than the record (another instance, a race): the
	// queue's revocation check refuses the event.
	require.NoError(t, w.q.SetDecision(t.Context(), w.tn.ID, revokedSet, w.e.now.Add(time.Hour), time.Hour))

	ids := `,"user_data":{"em":"a@b.example"},"fbp":"fb.1.2.3"`
	for _, tc := range []struct {
		name, visitor, status, reason string
	}{
		{"no visitor id", "", EventRejected, ReasonNoConsent},
		{"no record", none, EventRejected, ReasonNoConsent},
		{"refused", refused, EventRejected, ReasonNoConsent},
		{"revoked through the API", revokedAPI, EventRejected, ReasonNoConsent},
		{"newer decision in the revocation set", revokedSet, EventRejected, ReasonRevoked},
		{"analytics only", analyticsOnly, EventAccepted, ""},
		{"marketing", w.visitor, EventAccepted, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := randomUUID()
			r := w.batch(evBody("lead", id, tc.visitor, ids))
			require.Equal(t, http.StatusOK, r.status, r.body)
			res := decode[map[string][]EventResult](t, r)["results"]
			require.Equal(t, []EventResult{{EventID: id, Status: tc.status, Reason: tc.reason}}, res)
		})
	}
	ms := queued(t, w.q)
	require.Len(t, ms, 2, "only the consented events are queued")
	byVisitor := map[string]platforms.Event{}
	for _, m := range ms {
		ev, err := platforms.DecodeEvent(m.Payload)
		require.NoError(t, err)
		byVisitor[ev.VisitorID] = ev
	}
	a := byVisitor[analyticsOnly]
	require.Equal(t, platforms.Consent{Analytics: true, Policy: "p1"}, a.Consent)
	require.Zero(t, a.User, "identifiers need marketing consent")
	require.Zero(t, a.IDs)
	m := byVisitor[w.visitor]
	require.Equal(t, "a@b.example", m.User.Email)
	require.Equal(t, "fb.1.2.3", m.IDs.FBP)

	// The single route answers 422 with the reason as the code.
	for _, tc := range []struct{ visitor, code string }{{none, ReasonNoConsent}, {revokedSet, ReasonRevoked}} {
		r := w.send(evBody("lead", randomUUID(), tc.visitor, ""))
		require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
		code, _ := errorOf(t, r)
		require.Equal(t, tc.code, code)
	}
	require.Len(t, queued(t, w.q), 2)
}

func TestTrackEventValidation(t *testing.T) {
	t.Parallel()
	w := newEvWorld(t)
	v := w.visitor
	now := w.e.now
	ts := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	for _, tc := range []struct {
		name, body, reason string
	}{
		{"no name", `{"event_id":"` + randomUUID() + `","visitor_id":"` + v + `"}`, "event_name: required"},
		{"unknown name", evBody("purchased", randomUUID(), v, ""), "event_name: unknown event"},
		{"no id", `{"event_name":"lead","visitor_id":"` + v + `"}`, "event_id: required"},
		{"id not a uuid", evBody("lead", "order-1", v, ""), "event_id: must be a UUID"},
		{"too old", evBody("lead", randomUUID(), v, `,"event_time":`+ts(-8*24*time.Hour)), "event_time: older than 7 days"},
		{"in the future", evBody("lead", randomUUID(), v, `,"event_time":`+ts(11*time.Minute)), "event_time: more than 10 minutes in the future"},
		{"time in ms", evBody("lead", randomUUID(), v, `,"event_time":`+strconv.FormatInt(now.UnixMilli(), 10)), "event_time: more than 10 minutes in the future"},
		{"time not an integer", evBody("lead", randomUUID(), v, `,"event_time":"now"`), "event_time: wrong type"},
		{"visitor not a uuid", evBody("lead", randomUUID(), "v-1", ""), "visitor_id: must be a UUID"},
		{"bad url", evBody("lead", randomUUID(), v, `,"event_source_url":"javascript:alert(1)"`), "event_source_url: must be an absolute http(s) URL"},
		{"bad ip", evBody("lead", randomUUID(), v, `,"client_ip_address":"1.2.3"`), "client_ip_address: must be an IPv4 or IPv6 address"},
		{"ua control chars", evBody("lead", randomUUID(), v, `,"client_user_agent":"a\u0000b"`), "client_user_agent: must be printable text"},
		{"fbp with spaces", evBody("lead", randomUUID(), v, `,"fbp":"fb 1"`), "fbp: must be printable ASCII without spaces"},
		{"md5 email", evBody("lead", randomUUID(), v, `,"user_data":{"em":"5d41402abc4b2a76b9719d911017c592"}`), "user_data.em: a pre-hashed value must be a 64-hex SHA-256 digest"},
		{"63-hex phone", evBody("lead", randomUUID(), v, `,"user_data":{"ph":"`+sha[:63]+`"}`), "user_data.ph: a pre-hashed value must be a 64-hex SHA-256 digest"},
		{"email without at", evBody("lead", randomUUID(), v, `,"user_data":{"em":"ana.example.com"}`), "user_data.em: neither an email address"},
		{"user data wrong type", evBody("lead", randomUUID(), v, `,"user_data":{"em":5}`), "user_data.em: wrong type"},
		{"unknown user field", evBody("lead", randomUUID(), v, `,"user_data":{"email":"a@b.c"}`), `unknown field "email"`},
		{"custom data not object", evBody("lead", randomUUID(), v, `,"custom_data":[1]`), "custom_data: must be an object"},
		{"custom data too big", evBody("lead", randomUUID(), v, `,"custom_data":{"x":"`+strings.Repeat("a", MaxCustomDataBytes)+`"}`), "custom_data: exceeds 8192 bytes"},
		{"tenant in body", evBody("lead", randomUUID(), v, `,"tenant_id":"`+randomUUID()+`"`), `unknown field "tenant_id"`},
		{"unknown platform", evBody("lead", randomUUID(), v, `,"platforms":["meta","myspace"]`), `platforms: unknown platform "myspace"`},
		{"huge platform name", evBody("lead", randomUUID(), v, `,"platforms":["`+strings.Repeat("m", 100)+`"]`), `platforms: unknown platform (meta`},
		{"empty platforms", evBody("lead", randomUUID(), v, `,"platforms":[]`), "platforms: at least one platform"},
		{"too many platforms", evBody("lead", randomUUID(), v, `,"platforms":[`+strings.Repeat(`"meta",`, 10)+`"x"]`), "platforms: at most 10"},
		{"platforms not a list", evBody("lead", randomUUID(), v, `,"platforms":"meta"`), "platforms: wrong type"},
		{"platform not a string", evBody("lead", randomUUID(), v, `,"platforms":[1]`), "platforms: wrong type"},
		{"not an object", `"lead"`, "event must be a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := w.batch(tc.body)
			require.Equal(t, http.StatusOK, r.status, r.body)
			res := decode[map[string][]EventResult](t, r)["results"]
			require.Len(t, res, 1)
			require.Equal(t, EventRejected, res[0].Status)
			require.True(t, strings.HasPrefix(res[0].Reason, tc.reason), "reason %q, want prefix %q", res[0].Reason, tc.reason)

			// The single route: shape errors are 400, semantic ones 422,
			// with the same message.
			r = w.send(tc.body)
			require.Contains(t, []int{http.StatusBadRequest, http.StatusUnprocessableEntity}, r.status, r.body)
			_, msg := errorOf(t, r)
			require.True(t, strings.HasPrefix(msg, tc.reason), "message %q, want prefix %q", msg, tc.reason)
		})
	}
	require.Empty(t, queued(t, w.q), "a rejected event never writes")
}

func TestTrackEventBatch(t *testing.T) {
	t.Parallel()
	w := newEvWorld(t)
	ok1, ok2, bad, dup := randomUUID(), randomUUID(), randomUUID(), randomUUID()
	require.Equal(t, EventAccepted, statusOf(t, w.send(evBody("page_view", dup, w.visitor, ""))))
	r := w.batch(
		evBody("purchase", ok1, w.visitor, `,"user_data":{"em":"`+sha+`"}`),
		evBody("purchase", bad, w.visitor, `,"event_time":"x"`),
		`{"event_name":"lead"}`,
		evBody("PageView", dup, w.visitor, ""),
		evBody("lead", randomUUID(), "", ""),
		evBody("custom:newsletter", ok2, w.visitor, ""),
	)
	require.Equal(t, http.StatusOK, r.status, r.body)
	res := decode[map[string][]EventResult](t, r)["results"]
	require.Len(t, res, 6)
	want := []struct{ id, status, reason string }{
		{ok1, EventAccepted, ""},
		{bad, EventRejected, "event_time: wrong type"},
		{"", EventRejected, "event_id: required"},
		{dup, EventDuplicate, ""},
		{"", EventRejected, ReasonNoConsent},
		{ok2, EventAccepted, ""},
	}
	for i, wt := range want {
		if wt.id != "" {
			require.Equal(t, wt.id, res[i].EventID, i)
		}
		require.Equal(t, wt.status, res[i].Status, i)
		require.True(t, strings.HasPrefix(res[i].Reason, wt.reason), "%d: %q", i, res[i].Reason)
	}
	ms := queued(t, w.q)
	require.Len(t, ms, 3, "page_view, purchase, custom; the high-volume duplicate queues nothing")
	ev, err := platforms.DecodeEvent(ms[1].Payload)
	require.NoError(t, err)
	require.Equal(t, sha, ev.User.Email)
	require.Equal(t, "custom:newsletter", ms[2].EventName)

	// Batch shape errors.
	many := make([]string, MaxBatchEvents+1)
	for i := range many {
		many[i] = `{}`
	}
	for _, tc := range []struct {
		body   string
		status int
	}{
		{`{"events":[` + strings.Join(many, ",") + `]}`, http.StatusRequestEntityTooLarge},
		{`{"events":[]}`, http.StatusUnprocessableEntity},
		{`{}`, http.StatusUnprocessableEntity},
		{`{"events":{}}`, http.StatusBadRequest},
		{`{"events":[],"x":1}`, http.StatusBadRequest},
		{`{"events":[]} {}`, http.StatusBadRequest},
		{`[`, http.StatusBadRequest},
	} {
		r := w.e.do("POST", "/api/v1/tracking/events/batch", "", tc.body, "X-API-Key", w.key.Key)
		require.Equal(t, tc.status, r.status, r.body)
		errorOf(t, r)
	}
	r = w.e.do("POST", "/api/v1/tracking/events/batch", "", `{"events":[]}`, "X-API-Key", w.key.Key, "Content-Type", "text/plain")
	require.Equal(t, http.StatusUnsupportedMediaType, r.status)
	r = w.e.do("POST", "/api/v1/tracking/events", "", `{"x":"`+strings.Repeat("a", MaxEventBytes)+`"}`, "X-API-Key", w.key.Key)
	require.Equal(t, http.StatusRequestEntityTooLarge, r.status)
	require.Len(t, queued(t, w.q), 3)

	// A full batch of 1,000 is one admit call and answers per event.
	full := make([]string, MaxBatchEvents)
	for i := range full {
		full[i] = evBody("lead", randomUUID(), w.visitor, `,"user_data":{"em":"`+sha+`"},"fbp":"fb.1.2.3","custom_data":{"n":`+strconv.Itoa(i)+`}`)
	}
	r = w.batch(full...)
	require.Equal(t, http.StatusOK, r.status)
	for _, res := range decode[map[string][]EventResult](t, r)["results"] {
		require.Equal(t, EventAccepted, res.Status)
	}
	require.Len(t, queued(t, w.q), 3+MaxBatchEvents)
}

func TestTrackEventAuth(t *testing.T) {
	t.Parallel()
	w := newEvWorld(t)
	e := w.e
	body := func() string { return evBody("lead", randomUUID(), w.visitor, "") }
	post := func(headers ...string) reply {
		return e.do("POST", "/api/v1/tracking/events", "", body(), headers...)
	}

	revoked := decode[APIKeyView](t, e.do("POST", "/api/v1/api-keys", w.tok, `{"name":"old"}`))
	require.Equal(t, http.StatusNoContent, e.do("DELETE", "/api/v1/api-keys/"+revoked.ID, w.tok, "").status)
	// A key with another scope (none exists yet; written to the store).
	other := "pgw_0123456789ab_" + strings.Repeat("A", 43)
	_, err := e.st.CreateAPIKey(t.Context(), store.APIKey{ID: randomUUID(), TenantID: w.tn.ID, Name: "other", Prefix: "0123456789ab",
		Hash: HashAPIKey(other), Scopes: []string{"pixels:read"}, CreatedAt: e.now})
	require.NoError(t, err)
	wrongSecret := w.key.Key[:len(w.key.Key)-1] + "x"
	if wrongSecret == w.key.Key {
		wrongSecret = w.key.Key[:len(w.key.Key)-1] + "y"
	}

	for _, tc := range []struct {
		name    string
		headers []string
		status  int
	}{
		{"api key header", []string{"X-API-Key", w.key.Key}, http.StatusAccepted},
		{"api key bearer", []string{"Authorization", "Bearer " + w.key.Key}, http.StatusAccepted},
		{"admin jwt", []string{"Authorization", "Bearer " + w.tok}, http.StatusAccepted},
		{"viewer jwt", []string{"Authorization", "Bearer " + e.token(RoleViewer, w.tn.ID)}, http.StatusForbidden},
		{"operator jwt without tenant", []string{"Authorization", "Bearer " + e.token(RoleOperator, "")}, http.StatusForbidden},
		{"revoked key", []string{"X-API-Key", revoked.Key}, http.StatusUnauthorized},
		{"wrong scope", []string{"X-API-Key", other}, http.StatusForbidden},
		{"wrong secret", []string{"X-API-Key", wrongSecret}, http.StatusUnauthorized},
		{"unknown prefix", []string{"X-API-Key", "pgw_ffffffffffff_" + strings.Repeat("B", 43)}, http.StatusUnauthorized},
		{"garbage key", []string{"X-API-Key", "pgw_garbage"}, http.StatusUnauthorized},
		{"garbage bearer key", []string{"Authorization", "Bearer pgw_"}, http.StatusUnauthorized},
		{"both headers", []string{"X-API-Key", w.key.Key, "Authorization", "Bearer " + w.tok}, http.StatusUnauthorized},
		{"nothing", nil, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(tc.headers...)
			require.Equal(t, tc.status, r.status, r.body)
			if tc.status != http.StatusAccepted {
				errorOf(t, r)
				require.NotContains(t, r.body, w.key.Key)
				require.NotContains(t, r.body, revoked.Key)
			}
		})
	}

	// An API key sends events and nothing else: it cannot manage pixels.
	for _, h := range [][]string{{"X-API-Key", w.key.Key}, {"Authorization", "Bearer " + w.key.Key}} {
		r := e.do("GET", "/api/v1/tracking/pixels", "", "", h...)
		require.Equal(t, http.StatusUnauthorized, r.status, r.body)
		r = e.do("POST", "/api/v1/tracking/pixels", "", metaPixel, h...)
		require.Equal(t, http.StatusUnauthorized, r.status, r.body)
	}
	// Revoking a key refuses it at once.
	require.Equal(t, http.StatusNoContent, e.do("DELETE", "/api/v1/api-keys/"+w.key.ID, w.tok, "").status)
	require.Equal(t, http.StatusUnauthorized, post("X-API-Key", w.key.Key).status)
}

// failingAdmitter stands for a queue that cannot be reached.
type failingAdmitter struct{ calls int }

func (f *failingAdmitter) Admit(context.Context, []queue.Entry) ([]queue.Result, error) {
	f.calls++
	return nil, errors.New("connection refused")
}

func TestTrackEventQueueUnavailable(t *testing.T) {
	t.Parallel()
	w := newEvWorld(t)
	e := w.e
	fa := &failingAdmitter{}
	api, err := New(e.cfg, Deps{Store: e.st, Keyring: e.keyring, Logger: e.api.log, Now: e.api.now, Decisions: w.q, Admitter: fa})
	require.NoError(t, err)
	e.api, e.h = api, api.Handler()

	r := w.send(evBody("lead", randomUUID(), w.visitor, ""))
	require.Equal(t, http.StatusServiceUnavailable, r.status, r.body)
	require.Equal(t, "1", r.header.Get("Retry-After"))
	r = w.batch(evBody("lead", randomUUID(), w.visitor, ""), evBody("lead", randomUUID(), w.visitor, ""))
	require.Equal(t, http.StatusServiceUnavailable, r.status, r.body)
	require.Equal(t, "1", r.header.Get("Retry-After"))
	require.NotContains(t, r.body, EventAccepted)
	require.NotContains(t, r.body, "connection refused")
	require.Equal(t, 2, fa.calls, "one admit call per request")

	// A batch with nothing to admit never calls the queue.
	r = w.batch(evBody("lead", randomUUID(), "", ""))
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, 2, fa.calls)

	// Without an admitter the routes are off.
	api, err = New(e.cfg, Deps{Store: e.st, Keyring: e.keyring, Logger: e.api.log, Now: e.api.now})
	require.NoError(t, err)
	e.api, e.h = api, api.Handler()
	r = w.send(evBody("lead", randomUUID(), w.visitor, ""))
	require.Equal(t, http.StatusServiceUnavailable, r.status, r.body)
}

func TestTrackEventOverCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q, err := queuesqlite.Open(t.Context(), t.TempDir()+"/q.db", queuesqlite.Options{Options: queue.Options{MaxKeysPerTenant: 2}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, q.Close()) })
	api, err := New(e.cfg, Deps{Store: e.st, Keyring: e.keyring, Logger: e.api.log, Now: e.api.now, Decisions: q, Admitter: q})
	require.NoError(t, err)
	e.api, e.h = api, api.Handler()
	tn := e.mustTenant("capped")
	tok := e.token(RoleAdmin, tn.ID)
	vis := randomUUID()
	require.Equal(t, http.StatusCreated, e.do("POST", "/api/v1/tracking/consent", tok, consentBody(vis, true, true, false, "1")).status)

	var evs []string
	for range 3 {
		evs = append(evs, evBody("lead", randomUUID(), vis, ""))
	}
	r := e.do("POST", "/api/v1/tracking/events/batch", tok, `{"events":[`+strings.Join(evs, ",")+`]}`)
	require.Equal(t, http.StatusOK, r.status, r.body)
	res := decode[map[string][]EventResult](t, r)["results"]
	require.Equal(t, []string{EventAccepted, EventAccepted, EventRejected}, []string{res[0].Status, res[1].Status, res[2].Status})
	require.Equal(t, ReasonOverCap, res[2].Reason)
	r = e.do("POST", "/api/v1/tracking/events", tok, evBody("lead", randomUUID(), vis, ""))
	require.Equal(t, http.StatusTooManyRequests, r.status, r.body)
	require.Equal(t, "60", r.header.Get("Retry-After"))
	require.Len(t, queued(t, q), 2)
}
