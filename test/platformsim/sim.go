// Package platformsim is a strict, in-memory simulator of the five ad
// platform APIs pixelgw delivers to (Meta Conversions API, GA4 Measurement
// Protocol, LinkedIn Conversions API, TikTok Events API, X Conversion API).
//
// One http.Handler serves every platform under a prefix followed by the
// platform's real path:
//
//	/meta/v21.0/<pixel>/events
//	/google/mp/collect, /google/debug/mp/collect
//	/linkedin/rest/conversionEvents
//	/tiktok/open_api/v1.3/event/track/
//	/x/12/measurement/conversions/<pixel>
//
// so an adapter configured with BaseURL = server URL + "/meta" talks to it
// unchanged. Each platform rejects what the real API rejects (the reject
// list of ../shared/platforms.md §7, see the per-platform files) with the
// real API's status and error envelope. Every request is recorded raw,
// never deduplicated, and faults (latency, 429 + Retry-After, 5xx, HTML
// bodies, redirects, hung connections, partial failures, auth failures) can
// be injected per platform, on every request or on a seeded random
// share of them (Fault.Rate).
//
// Mount the handler at the server root: the X OAuth 1.0a signature is
// checked against the request URI the client signed.
package platformsim

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Platform prefixes (the names Requests, Inject and Count take; "twitter",
// the store's name for X, is accepted as an alias of "x").
const (
	Meta     = "meta"
	Google   = "google"
	LinkedIn = "linkedin"
	TikTok   = "tiktok"
	X        = "x"
)

// maxBody caps what the simulator reads of a request body (the real APIs
// refuse far less: Meta ~1 MB, GA4 130 KB).
const maxBody = 8 << 20

// maxNonces bounds the X OAuth nonces remembered for replay detection.
const maxNonces = 1 << 16

// Options configure a simulator.
type Options struct {
	// Tokens maps a platform to its one valid token or secret: Meta
	// access_token, GA4 api_secret, LinkedIn bearer token, TikTok
	// Access-Token, X pixel token. Absent or empty: any non-empty value is
	// accepted.
	Tokens map[string]string
	// MetaAppSecret, when set, makes appsecret_proof required and checked
	// (hex HMAC-SHA256 of the access token keyed by the app secret), like
	// an app with "Require App Secret" on.
	MetaAppSecret string
	// XOAuth, when ConsumerSecret is set, makes the simulator verify the
	// OAuth 1.0a HMAC-SHA1 signature of X requests (and the consumer key
	// and token when given). Otherwise only the presence and form of the
	// oauth_* parameters is checked.
	XOAuth XOAuth
	// MaxRecorded bounds the requests kept per platform for Requests and
	// Delivered (the oldest are dropped first); 0 keeps every request, as
	// tests want. Count is exact either way. Set it for long-running
	// simulators (a demo, a load run).
	MaxRecorded int
	// Now is the simulator's clock (time windows, Request.At); nil means
	// time.Now.
	Now func() time.Time
	// Seed seeds the random source of probabilistic faults (Fault.Rate),
	// so a run's fault pattern depends only on the order of requests.
	Seed uint64
}

// XOAuth are the OAuth 1.0a user-context credentials the X simulator
// accepts.
type XOAuth struct {
	ConsumerKey, ConsumerSecret, Token, TokenSecret string
}

// Request is one request the simulator received, raw.
type Request struct {
	Platform string
	Method   string
	Path     string // the full path, platform prefix included
	RawQuery string
	Header   http.Header
	Body     []byte
	// Status is the HTTP status answered; 0 when the simulator never
	// answered (hang, or the client gave up during an injected delay).
	Status   int
	Response []byte
	At       time.Time
	// Accepted reports whether the platform took the request: a 2xx
	// without an error inside (TikTok code 0 or 20001, a GA4 payload that
	// validates, a LinkedIn batch answered 200), its events kept except
	// those in Rejected. False for every rejection, even those answered
	// 2xx (TikTok code != 0, GA4 /mp/collect's blind 204).
	Accepted bool
	// Rejected are the indexes of events refused inside an accepted batch
	// (partial failure).
	Rejected []int
	// Errors are the simulator's reasons for rejecting the request (or
	// some of its events); empty when it was accepted.
	Errors []string
}

// Fault is a failure injected into one platform's answers.
type Fault struct {
	// Status answers with this HTTP status and the platform's own error
	// envelope for it (429: throttling, 5xx: transient, 401/403: auth).
	Status int
	// RetryAfter adds a Retry-After header (whole seconds, rounded up).
	RetryAfter time.Duration
	// Delay waits before answering (the request is then handled normally
	// unless another field of the fault applies).
	Delay time.Duration
	// Times is how many requests the fault applies to; 0 = until cleared.
	Times int
	// Rate, when between 0 and 1 exclusive, applies the fault to each
	// request with this probability (drawn from Options.Seed's source);
	// a request it spares goes on to the next queued fault, and only the
	// requests it hits count against Times. 0 or 1: every request.
	Rate float64
	// Body overrides the response body (HTML when it starts with '<');
	// Status defaults to 200 then.
	Body string
	// PartialIndexes rejects these events inside an otherwise successful
	// batch, where the platform reports per-event results (LinkedIn batch
	// elements; TikTok code 20001). Ignored by the other platforms.
	PartialIndexes []int
	// AuthFail answers with the platform's invalid-credentials error.
	AuthFail bool
	// Hang never answers until the request's context ends.
	Hang bool
	// Redirect answers 302 (or Status when it is a 3xx) to this location.
	Redirect string
}

// Sim is the simulator. Its methods are safe for concurrent use; no lock is
// held while a request waits.
type Sim struct {
	opts Options

	mu       sync.Mutex
	requests map[string][]Request
	counts   map[string]map[int]int // platform -> status -> requests
	faults   map[string][]*Fault
	nonces   map[string]struct{} // X OAuth nonces seen
	rng      *mrand.Rand         // Fault.Rate draws (under mu)
	done     chan struct{}       // closed by Close: releases hangs and delays
	closed   bool
}

// New returns a simulator.
func New(opts Options) *Sim {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Sim{
		opts:     opts,
		requests: map[string][]Request{},
		counts:   map[string]map[int]int{},
		faults:   map[string][]*Fault{},
		nonces:   map[string]struct{}{},
		rng:      mrand.New(mrand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		done:     make(chan struct{}),
	}
}

// Close releases every request held by a Hang or Delay fault: the
// connection is closed unanswered and the request recorded with Status 0;
// later Hang and Delay faults end the same way at once. Call it before
// closing the server when a client may still be waiting. Idempotent.
func (s *Sim) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
}

// Handler serves every platform under its prefix.
func (s *Sim) Handler() http.Handler { return http.HandlerFunc(s.serve) }

func canonical(platform string) string {
	if platform == "twitter" {
		return X
	}
	return platform
}

// Requests returns a copy of every request the platform received (bounded
// by Options.MaxRecorded), in the order they were answered. Treat the
// Header and Body of the copies as read-only.
func (s *Sim) Requests(platform string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.requests[canonical(platform)]
	out := make([]Request, len(rs))
	copy(out, rs)
	return out
}

// Count returns how many of the platform's requests were answered status
// (0: never answered).
func (s *Sim) Count(platform string, status int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[canonical(platform)][status]
}

// Delivered maps each event id (see EventIDs) the platform accepted to how
// many times accepted requests carried it (events rejected inside a partial
// batch excluded): "exactly one 2xx delivery per event" is every value
// being 1.
func (s *Sim) Delivered(platform string) map[string]int {
	out := map[string]int{}
	for _, r := range s.Requests(platform) {
		if !r.Accepted {
			continue
		}
		for i, id := range EventIDs(r.Platform, r.Body) {
			if !slices.Contains(r.Rejected, i) {
				out[id]++
			}
		}
	}
	return out
}

// Reset forgets every recorded request, fault and OAuth nonce.
func (s *Sim) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = map[string][]Request{}
	s.counts = map[string]map[int]int{}
	s.faults = map[string][]*Fault{}
	s.nonces = map[string]struct{}{}
}

// Inject queues a fault for the platform. Faults apply in the order
// injected: the first one still active handles the next request.
func (s *Sim) Inject(platform string, f Fault) {
	f.PartialIndexes = append([]int(nil), f.PartialIndexes...)
	s.mu.Lock()
	defer s.mu.Unlock()
	p := canonical(platform)
	s.faults[p] = append(s.faults[p], &f)
}

// ClearFaults removes every injected fault.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[string][]*Fault{}
}

// takeFault returns the fault for the next request of the platform: the
// first queued one that applies (a probabilistic fault may spare it).
func (s *Sim) takeFault(platform string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := s.faults[platform]
	for i, f := range fs {
		if f.Rate > 0 && f.Rate < 1 && s.rng.Float64() >= f.Rate {
			continue
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults[platform] = slices.Delete(slices.Clone(fs), i, i+1)
			}
		}
		return *f, true
	}
	return Fault{}, false
}

func (s *Sim) record(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.requests[r.Platform]
	if s.opts.MaxRecorded > 0 && len(rs) >= s.opts.MaxRecorded {
		rs = rs[len(rs)-s.opts.MaxRecorded+1:]
	}
	s.requests[r.Platform] = append(rs, r)
	c := s.counts[r.Platform]
	if c == nil {
		c = map[int]int{}
		s.counts[r.Platform] = c
	}
	c[r.Status]++
}

// seenNonce records an X OAuth nonce and reports whether it was used before.
func (s *Sim) seenNonce(n string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.nonces[n]; ok {
		return true
	}
	if len(s.nonces) >= maxNonces {
		s.nonces = map[string]struct{}{} // bounded: replays are caught within the last maxNonces
	}
	s.nonces[n] = struct{}{}
	return false
}

func (s *Sim) token(platform string) string { return s.opts.Tokens[platform] }

// validToken: got is non-empty and, when a token is configured, equal to it.
func (s *Sim) validToken(platform, got string) bool {
	if got == "" {
		return false
	}
	want := s.token(platform)
	return want == "" || got == want
}

// result is a platform's answer.
type result struct {
	status   int
	header   http.Header
	body     []byte
	accepted bool
	rejected []int
	errs     []string
}

func jsonResult(status int, v any, errs ...string) result {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only simulator-built values are marshalled
	}
	return result{status: status, header: http.Header{"Content-Type": {"application/json; charset=UTF-8"}}, body: b, errs: errs}
}

func (s *Sim) serve(w http.ResponseWriter, r *http.Request) {
	at := s.opts.Now()
	platform, rest := splitPlatform(r.URL.Path)
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	rec := Request{
		Platform: platform, Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Header: r.Header.Clone(), Body: body, At: at,
	}
	handle := s.platformHandler(platform)
	if handle == nil {
		http.NotFound(w, r)
		return
	}
	var res result
	switch {
	case err != nil:
		// The client went away mid-body: nothing to answer.
		rec.Errors = []string{"reading body: " + err.Error()}
		s.record(rec)
		panic(http.ErrAbortHandler)
	case len(body) > maxBody:
		res = result{status: http.StatusRequestEntityTooLarge, errs: []string{"body too large"}}
	default:
		f, ok := s.takeFault(platform)
		if ok && f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				rec.Errors = []string{"client gone during injected delay"}
				s.record(rec)
				panic(http.ErrAbortHandler) // no answer at all
			case <-s.done:
				t.Stop()
				rec.Errors = []string{"simulator closed during injected delay"}
				s.record(rec)
				panic(http.ErrAbortHandler)
			}
		}
		if ok && f.Hang {
			select {
			case <-r.Context().Done():
			case <-s.done:
			}
			rec.Errors = []string{"injected hang"}
			s.record(rec)
			panic(http.ErrAbortHandler) // close the connection unanswered
		}
		if fr, terminal := s.faultResult(platform, f, ok); terminal {
			res = fr
		} else {
			res = handle(s, r, rest, body, at, f.PartialIndexes)
		}
		if ok && f.RetryAfter > 0 {
			if res.header == nil {
				res.header = http.Header{}
			}
			secs := int64((f.RetryAfter + time.Second - 1) / time.Second)
			res.header.Set("Retry-After", strconv.FormatInt(secs, 10))
		}
	}
	for k, v := range res.header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.status)
	_, _ = w.Write(res.body)
	rec.Status, rec.Response, rec.Accepted, rec.Rejected, rec.Errors = res.status, res.body, res.accepted, res.rejected, res.errs
	s.record(rec)
}

// faultResult is the answer a fault imposes, when it imposes one.
func (s *Sim) faultResult(platform string, f Fault, ok bool) (result, bool) {
	if !ok {
		return result{}, false
	}
	switch {
	case f.Redirect != "":
		st := http.StatusFound
		if f.Status >= 300 && f.Status < 400 {
			st = f.Status
		}
		return result{status: st, header: http.Header{"Location": {f.Redirect}}, errs: []string{"injected redirect"}}, true
	case f.Body != "":
		st := f.Status
		if st == 0 {
			st = http.StatusOK
		}
		ct := "application/json; charset=UTF-8"
		if strings.HasPrefix(strings.TrimSpace(f.Body), "<") {
			ct = "text/html; charset=utf-8"
		}
		return result{status: st, header: http.Header{"Content-Type": {ct}}, body: []byte(f.Body), errs: []string{"injected body"}}, true
	case f.AuthFail:
		return authFailure(platform), true
	case f.Status != 0:
		return statusFailure(platform, f.Status), true
	}
	return result{}, false
}

type handlerFunc func(s *Sim, r *http.Request, rest string, body []byte, now time.Time, partial []int) result

func (s *Sim) platformHandler(platform string) handlerFunc {
	switch platform {
	case Meta:
		return (*Sim).meta
	case Google:
		return (*Sim).google
	case LinkedIn:
		return (*Sim).linkedin
	case TikTok:
		return (*Sim).tiktok
	case X:
		return (*Sim).x
	}
	return nil
}

// splitPlatform splits "/meta/v21.0/1/events" into "meta" and
// "/v21.0/1/events".
func splitPlatform(p string) (string, string) {
	p = strings.TrimPrefix(p, "/")
	name, rest, _ := strings.Cut(p, "/")
	return name, "/" + rest
}

// authFailure is each platform's invalid-credentials answer.
func authFailure(platform string) result {
	switch platform {
	case Meta:
		return metaError(http.StatusBadRequest, 190, 0, "Invalid OAuth access token - Cannot parse access token", "", "")
	case Google:
		// The real /mp/collect never reports a bad api_secret: 204, dropped.
		return result{status: http.StatusNoContent, errs: []string{"injected auth failure (GA4 drops silently)"}}
	case LinkedIn:
		return linkedinError(http.StatusUnauthorized, 65601, "REVOKED_ACCESS_TOKEN", "The token used in the request has been revoked by the user")
	case TikTok:
		return tiktokError(40001, "No permission to operate pixel code, or the access token is invalid")
	case X:
		return xError(http.StatusUnauthorized, "UNAUTHORIZED_ACCESS", "This request is not properly authenticated", "")
	}
	return result{status: http.StatusUnauthorized}
}

// statusFailure is each platform's answer for an injected HTTP status.
func statusFailure(platform string, status int) result {
	transient := status == http.StatusTooManyRequests || status >= 500
	switch platform {
	case Meta:
		switch {
		case status == http.StatusTooManyRequests:
			r := metaError(status, 4, 0, "(#4) Application request limit reached", "", "")
			return r
		case status >= 500:
			return metaError(status, 2, 0, "An unexpected error has occurred. Please retry your request later.", "", "")
		case status == http.StatusUnauthorized:
			return metaError(status, 190, 0, "Invalid OAuth access token - Cannot parse access token", "", "")
		case status == http.StatusForbidden:
			return metaError(status, 200, 0, "(#200) Permissions error", "", "")
		}
		return metaError(status, 100, 0, "Invalid parameter", "", "")
	case Google:
		return result{status: status, errs: []string{"injected status"}}
	case LinkedIn:
		code, msg := "SERVER_ERROR", "Internal Server Error"
		switch {
		case status == http.StatusTooManyRequests:
			code, msg = "TOO_MANY_REQUESTS", "Resource level throttle limit for calls to this resource is reached"
		case !transient:
			code, msg = "BAD_REQUEST", "Injected failure"
		}
		return linkedinError(status, 0, code, msg)
	case TikTok:
		code, msg := 50000, "System error"
		switch {
		case status == http.StatusTooManyRequests:
			code, msg = 40100, "Too many requests. Please retry in some time."
		case !transient:
			code, msg = 40002, "Injected failure"
		}
		r := tiktokError(code, msg)
		r.status = status
		return r
	case X:
		code, msg := "SERVICE_UNAVAILABLE", "Service unavailable"
		switch {
		case status == http.StatusTooManyRequests:
			code, msg = "TOO_MANY_REQUESTS", "Rate limit exceeded"
		case !transient:
			code, msg = "INVALID_REQUEST", "Injected failure"
		}
		return xError(status, code, msg, "")
	}
	return result{status: status}
}

// Canned response bodies for faults that keep HTTP 200 but carry an error,
// as the real APIs do (Fault{Body: ...}).
const (
	// TikTokRateLimitBody is TikTok's in-200 throttling answer.
	TikTokRateLimitBody = `{"code":40100,"message":"Too many requests. Please retry in some time.","request_id":"sim","data":{}}`
	// HTMLBody is a gateway error page instead of JSON.
	HTMLBody = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
)

// MetaThrottleBody is Meta's throttling envelope (code 17, user request
// limit); pair it with Status 400 as Meta does.
const MetaThrottleBody = `{"error":{"message":"(#17) User request limit reached","type":"OAuthException","is_transient":true,"code":17,"fbtrace_id":"sim"}}`

func traceID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// EventIDs returns the event or dedup ids a request body carried, in order:
// Meta data[].event_id, LinkedIn eventId (single or batch elements), TikTok
// data[].event_id, X conversions[].conversion_id. GA4 has no dedup id: each
// event yields its params.event_id when present, else client_id + "/" +
// name. Events without an id yield "". A body the platform cannot parse
// yields nil.
func EventIDs(platform string, body []byte) []string {
	switch canonical(platform) {
	case Meta:
		root, ok := metaBody(body, "")
		if !ok {
			return nil
		}
		return idsOf(root["data"], "event_id")
	case Google:
		m, ok := decodeObject(body)
		if !ok {
			return nil
		}
		cid, _ := m["client_id"].(string)
		evs, _ := m["events"].([]any)
		out := make([]string, 0, len(evs))
		for _, e := range evs {
			em, _ := e.(map[string]any)
			params, _ := em["params"].(map[string]any)
			if id, ok := params["event_id"].(string); ok && id != "" {
				out = append(out, id)
				continue
			}
			name, _ := em["name"].(string)
			out = append(out, cid+"/"+name)
		}
		return out
	case LinkedIn:
		m, ok := decodeObject(body)
		if !ok {
			return nil
		}
		if els, ok := m["elements"]; ok {
			return idsOf(els, "eventId")
		}
		id, _ := m["eventId"].(string)
		return []string{id}
	case TikTok:
		m, ok := decodeObject(body)
		if !ok {
			return nil
		}
		return idsOf(m["data"], "event_id")
	case X:
		m, ok := decodeObject(body)
		if !ok {
			return nil
		}
		return idsOf(m["conversions"], "conversion_id")
	}
	return nil
}

func idsOf(v any, key string) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		m, _ := e.(map[string]any)
		id, _ := m[key].(string)
		out = append(out, id)
	}
	return out
}

// metaBody decodes a Meta request body: JSON, or a form whose data field
// is a JSON string (contentType "" guesses from the body).
func metaBody(body []byte, contentType string) (map[string]any, bool) {
	trimmed := bytes.TrimSpace(body)
	isJSON := strings.HasPrefix(contentType, "application/json") ||
		(contentType == "" && len(trimmed) > 0 && trimmed[0] == '{')
	if isJSON {
		return decodeObject(body)
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, false
	}
	root := map[string]any{}
	for k, v := range vals {
		if len(v) == 0 {
			continue
		}
		if k == "data" {
			var d any
			dec := json.NewDecoder(strings.NewReader(v[0]))
			dec.UseNumber()
			if err := dec.Decode(&d); err != nil {
				root[k] = v[0] // not JSON: validation reports it
				continue
			}
			root[k] = d
			continue
		}
		root[k] = v[0]
	}
	return root, true
}
