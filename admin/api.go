// Package admin is pixelgw's admin REST API (net/http): tenants and their
// domains and cookie keys for the fleet operator; pixels, API keys and
// settings for each tenant. Every route is listed in routes.go. Requests carry
// a JWT bearer token (auth.go); a tenant route takes the tenant only from the
// token, and another tenant's objects answer exactly like absent ones.
//
// Handlers return errors; one writer (writeError) renders every error as
// {"error":{"code":"...","message":"..."}}.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jaraba/pixelgw/internal/eventmetrics"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/live"
	"github.com/jaraba/pixelgw/store/secret"
)

// Deps are the API's collaborators.
type Deps struct {
	Store   store.Store
	Keyring *secret.Keyring
	Logger  *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Decisions is the revocation set the edge checks (the queue,
	// queue.Queue satisfies it). Optional: without it the consent write
	// routes answer 503, since a decision the edge would not enforce must
	// not be reported as done.
	Decisions Decisions
	// DeadLetters is where the delivery engine parks what it could not
	// deliver (the queue). Optional: without it the dead-letter routes
	// answer 503.
	DeadLetters DeadLetters
	// Admitter admits server-side events (the queue, the same atomic admit
	// seam as the edge). Optional: without it the events routes answer 503.
	Admitter Admitter
	// Verifier runs a pixel's live check (platforms/verify). Optional:
	// without it the verify route answers 503.
	Verifier Verifier
	// QueueEraser removes a revoked visitor's queued entries and dead
	// letters (the queue). Optional: without it DELETE consent reports
	// them pending.
	QueueEraser QueueEraser
	// Registerer registers the API's Prometheus metrics
	// (pixelgw_consent_api_decisions_total). Optional: nil exports none.
	Registerer prometheus.Registerer
	// Events are the event counters shared with the edge (source="server"
	// here). Optional: nil counts into unregistered counters.
	Events *eventmetrics.Metrics
	// Live is where the live event stream subscribes (store/live).
	// Optional: without it the stream route answers 503.
	Live live.Subscriber
}

// Decisions records a visitor's server-side consent decision so that every
// edge refuses events resting on an older consent cookie.
type Decisions interface {
	SetDecision(ctx context.Context, tenantID, visitorID string, at time.Time, ttl time.Duration) error
}

// API serves the admin REST API. It is immutable after New and safe for
// concurrent use.
type API struct {
	cfg     Config
	store   store.Store
	keyring *secret.Keyring
	log     *slog.Logger
	now     func() time.Time
	dec     Decisions       // nil: consent writes answer 503
	dls     DeadLetters     // nil: dead-letter routes answer 503
	adm     Admitter        // nil: events routes answer 503
	ver     Verifier        // nil: verify answers 503
	live    live.Subscriber // nil: the stream answers 503
	streams *streams
	qer     QueueEraser // nil: queued entries are reported pending
	cm      *consentMetrics
	// consentCache: server-side events decide consent without a database
	// read per event (consent_cache.go).
	consentCache *consentCache
	evm          *eventmetrics.Source
	auth         *authenticator
	mux          *http.ServeMux
	handler      http.Handler
}

// New validates cfg and builds the API.
func New(cfg Config, d Deps) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Store == nil {
		return nil, errors.New("admin: store is required")
	}
	if d.Keyring == nil {
		return nil, errors.New("admin: keyring is required")
	}
	if d.Logger == nil {
		return nil, errors.New("admin: logger is required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	auth, err := newAuthenticator(cfg.JWT, d.Now)
	if err != nil {
		return nil, err
	}
	cm, err := newConsentMetrics(d.Registerer)
	if err != nil {
		return nil, err
	}
	a := &API{
		cfg:     cfg,
		store:   d.Store,
		keyring: d.Keyring,
		log:     d.Logger,
		now:     d.Now,
		dec:     d.Decisions,
		dls:     d.DeadLetters,
		adm:     d.Admitter,
		ver:     d.Verifier,
		qer:     d.QueueEraser,
		cm:      cm,
		evm:     serverEventMetrics(d.Events),
		live:    d.Live,
		streams: newStreams(cfg.MaxStreams, cfg.MaxStreamsPerTenant),
		auth:    auth,
		mux:     http.NewServeMux(),

		consentCache: newConsentCache(time.Now),
	}
	for _, rt := range a.routes() {
		a.mux.Handle(rt.method+" "+rt.pattern, a.wrap(rt))
	}
	a.handler = http.HandlerFunc(a.serve)
	return a, nil
}

// Handler returns the http.Handler serving /api/v1/...; any other path is a
// JSON 404.
func (a *API) Handler() http.Handler { return a.handler }

// Error codes rendered in error bodies.
const (
	codeBadRequest       = "bad_request"
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeConflict         = "conflict"
	codeTooLarge         = "request_too_large"
	codeUnsupportedMedia = "unsupported_media_type"
	codeValidation       = "validation_failed"
	codeInternal         = "internal_error"
)

// httpError is an error with the status and the public code and message a
// client sees. Message never contains secrets.
type httpError struct {
	status  int
	code    string
	message string
}

func (e *httpError) Error() string { return e.message }

func errf(status int, code, format string, args ...any) *httpError {
	return &httpError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func errNotFound(what string) *httpError {
	return errf(http.StatusNotFound, codeNotFound, "%s not found", what)
}

// fieldError is a semantic validation error (422) naming the field.
func fieldError(field, format string, args ...any) *httpError {
	return &httpError{status: http.StatusUnprocessableEntity, code: codeValidation, message: field + ": " + fmt.Sprintf(format, args...)}
}

// ErrValidation is matched (errors.Is) by callers of the service methods
// (CreateTenant, AddDomain, CreatePixel) to tell bad input from other errors.
var ErrValidation = errors.New("validation failed")

func (e *httpError) Is(target error) bool {
	switch target {
	case ErrValidation:
		return e.status == http.StatusUnprocessableEntity || e.status == http.StatusBadRequest
	case store.ErrConflict:
		return e.status == http.StatusConflict
	case store.ErrNotFound:
		return e.status == http.StatusNotFound
	}
	return false
}

type ctxKey int

const requestIDKey ctxKey = 0

func requestID(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey).(string)
	return s
}

var requestIDRe = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// statusWriter records the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (the live
// stream flushes and sets deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// serve is the outermost handler: request id, access log, panic guard, and
// JSON 404/405 for what the mux does not route.
func (a *API) serve(w http.ResponseWriter, r *http.Request) {
	start := a.now()
	rid := r.Header.Get("X-Request-Id")
	if !requestIDRe.MatchString(rid) {
		rid = uuid.NewString()
	}
	w.Header().Set("X-Request-Id", rid)
	r = r.WithContext(context.WithValue(r.Context(), requestIDKey, rid))
	sw := &statusWriter{ResponseWriter: w}
	pattern := ""
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			a.log.ErrorContext(r.Context(), "admin handler panic", slog.String("request_id", rid), slog.String("route", pattern), slog.Any("panic", p))
			if sw.status == 0 {
				a.writeError(sw, r, errf(http.StatusInternalServerError, codeInternal, "internal error"))
			}
		}
		a.log.InfoContext(r.Context(), "admin request",
			slog.String("method", r.Method),
			slog.String("route", pattern),
			slog.Int("status", sw.status),
			slog.Duration("duration", a.now().Sub(start)),
			slog.String("request_id", rid))
	}()

	_, pattern = a.mux.Handler(r)
	if pattern == "" {
		a.writeError(sw, r, a.unrouted(r))
		return
	}
	a.mux.ServeHTTP(sw, r)
}

// unrouted tells 405 (path exists for other methods; Allow set by the
// caller) from 404.
func (a *API) unrouted(r *http.Request) error {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := a.mux.Handler(probe); p != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		return errf(http.StatusNotFound, codeNotFound, "no such route")
	}
	return &methodError{allow: allow}
}

type methodError struct{ allow []string }

func (e *methodError) Error() string { return "method not allowed" }

// writeError renders err. Unknown errors are logged (with the request id)
// and answered with a generic 500.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	var me *methodError
	switch {
	case errors.As(err, &he):
	case errors.As(err, &me):
		allow := ""
		for i, m := range me.allow {
			if i > 0 {
				allow += ", "
			}
			allow += m
			if m == http.MethodGet {
				allow += ", HEAD"
			}
		}
		w.Header().Set("Allow", allow)
		he = errf(http.StatusMethodNotAllowed, codeMethodNotAllowed, "method %s not allowed", r.Method)
	default:
		a.log.ErrorContext(r.Context(), "admin request error", slog.String("request_id", requestID(r.Context())), slog.String("error", err.Error()))
		he = errf(http.StatusInternalServerError, codeInternal, "internal error (request id %s)", requestID(r.Context()))
	}
	if he.status == http.StatusUnauthorized {
		// RFC 6750 §3: no error code when no credentials were sent.
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pixelgw"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pixelgw", error="invalid_token"`)
		}
	}
	type body struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	writeJSON(w, he.status, map[string]body{"error": {Code: he.code, Message: he.message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own response types are marshalled; they always encode.
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal_error","message":"internal error"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// decodeJSON reads exactly one JSON object into dst: Content-Type must be
// application/json (415), the body at most cfg.MaxBodyBytes (413), no
// unknown fields, no wrong types, no trailing data (400).
func (a *API) decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/json" {
		return errf(http.StatusUnsupportedMediaType, codeUnsupportedMedia, "Content-Type must be application/json")
	}
	body := http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err, a.cfg.MaxBodyBytes)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return decodeError(err, a.cfg.MaxBodyBytes)
		}
		return errf(http.StatusBadRequest, codeBadRequest, "request body must hold a single JSON object")
	}
	return nil
}

func decodeError(err error, limit int64) error {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		ute *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return errf(http.StatusRequestEntityTooLarge, codeTooLarge, "request body exceeds %d bytes", limit)
	case errors.As(err, &se):
		return errf(http.StatusBadRequest, codeBadRequest, "malformed JSON at byte %d", se.Offset)
	case errors.As(err, &ute):
		if ute.Field != "" {
			return errf(http.StatusBadRequest, codeBadRequest, "%s: wrong type, want %s", ute.Field, ute.Type)
		}
		return errf(http.StatusBadRequest, codeBadRequest, "request body must be a JSON object")
	case errors.Is(err, io.EOF):
		return errf(http.StatusBadRequest, codeBadRequest, "request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errf(http.StatusBadRequest, codeBadRequest, "malformed JSON: unexpected end of body")
	}
	// encoding/json reports unknown fields only as a plain error string:
	// `json: unknown field "x"`. It names the client's own field; quote it back.
	const prefix = "json: unknown field "
	if msg := err.Error(); len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
		return errf(http.StatusBadRequest, codeBadRequest, "unknown field %s", msg[len(prefix):])
	}
	return errf(http.StatusBadRequest, codeBadRequest, "malformed JSON")
}

// storeError maps store sentinels to HTTP errors; what names the object.
func storeError(err error, what string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNotFound(what)
	case errors.Is(err, store.ErrConflict):
		return errf(http.StatusConflict, codeConflict, "%s already exists", what)
	}
	return err
}

// parseUUID checks a path id; an invalid one is a 404 like an absent one.
func parseUUID(s, what string) (string, error) {
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return "", errNotFound(what)
	}
	return u.String(), nil
}
