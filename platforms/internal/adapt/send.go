package adapt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jaraba/pixelgw/platforms"
)

// Sent records which of the caller's events a request carries: idx[i] is
// the index in the caller's events of the request's item i; failed holds
// the events left out because they could not be encoded.
type Sent struct {
	idx    []int
	failed map[int]error
}

// Encode maps each event of a request of at most max events with f; more
// events is a permanent error naming the platform. An event f fails is
// left out and reported by Sent.Remap. When every event fails, err is the
// *platforms.BatchError of them all and nothing is to be sent.
func Encode[T any](name string, max int, events []*platforms.Event, f func(*platforms.Event) (T, error)) (items []T, s Sent, err error) {
	if len(events) > max {
		return nil, Sent{}, Permanent(fmt.Errorf("%s: %d events in one request, at most %d", name, len(events), max))
	}
	s = Sent{idx: make([]int, 0, len(events)), failed: map[int]error{}}
	for i, e := range events {
		it, err := f(e)
		if err != nil {
			s.failed[i] = err
			continue
		}
		items = append(items, it)
		s.idx = append(s.idx, i)
	}
	if len(items) == 0 {
		return nil, s, &platforms.BatchError{Errs: s.failed}
	}
	return items, s, nil
}

// Remap turns a result for the sent items into one indexed by the caller's
// events, adding the events that were never sent.
func (s Sent) Remap(err error) error {
	if len(s.failed) == 0 {
		return err // idx is the identity
	}
	errs := make(map[int]error, len(s.failed)+len(s.idx))
	for i, e := range s.failed {
		errs[i] = e
	}
	var be *platforms.BatchError
	switch {
	case err == nil:
	case errors.As(err, &be):
		for i, e := range be.Errs {
			errs[s.idx[i]] = e
		}
	default:
		for _, i := range s.idx {
			errs[i] = err
		}
	}
	return &platforms.BatchError{Errs: errs}
}

// Post is one JSON request of an adapter.
type Post struct {
	// Name starts every error text ("tiktok: cannot send the request: …").
	Name string
	// Client sends the request; Timeout bounds it, answer included.
	Client  *http.Client
	Timeout time.Duration
	URL     string
	// Body is encoded as JSON.
	Body any
	// Header sets the platform's headers and credentials on the request
	// (Content-Type is set already); its error is returned as it is.
	Header func(*http.Request) error
}

// Do encodes and POSTs the body and reads the answer (at most
// MaxReadBytes). The Response keeps the answer capped and redacted; raw is
// the answer as read, for classification. Failing to encode or build the
// request is permanent; failing to send or read is retryable.
func (p Post) Do(ctx context.Context, red Redactor) (out platforms.Response, resp *http.Response, raw []byte, err error) {
	payload, err := json.Marshal(p.Body)
	if err != nil {
		return platforms.Response{}, nil, nil, Permanent(fmt.Errorf("%s: cannot encode the batch: %w", p.Name, err))
	}
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(payload))
	if err != nil {
		return platforms.Response{}, nil, nil, Permanent(fmt.Errorf("%s: cannot build the request: %w", p.Name, err))
	}
	req.Header.Set("Content-Type", "application/json")
	if err := p.Header(req); err != nil {
		return platforms.Response{}, nil, nil, err
	}
	resp, err = p.Client.Do(req)
	if err != nil {
		return platforms.Response{}, nil, nil, Retryable(fmt.Errorf("%s: cannot send the request: %w", p.Name, err), 0)
	}
	raw, rerr := ReadBody(resp.Body)
	_ = resp.Body.Close()
	out = platforms.Response{HTTPStatus: resp.StatusCode, Body: red.Keep(raw)}
	if rerr != nil {
		return out, resp, raw, Retryable(fmt.Errorf("%s: cannot read the answer (HTTP %d): %w", p.Name, resp.StatusCode, rerr), 0)
	}
	return out, resp, raw, nil
}

// StatusError classifies an answer by its HTTP status alone, once the
// platform's own rules have passed: 401 and 403 are auth failures; 408,
// 429 and 5xx retryable after the given delay; a 3xx a redirect not
// followed; anything else permanent. detail follows "HTTP %d" in the
// message (the platform's quoted error, or "").
func StatusError(name string, st int, detail string, after time.Duration) error {
	switch {
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		return AuthError(fmt.Errorf("%s: HTTP %d%s", name, st, detail))
	case st == http.StatusTooManyRequests || st == http.StatusRequestTimeout || st >= 500:
		return Retryable(fmt.Errorf("%s: HTTP %d%s", name, st, detail), after)
	case st >= 300 && st < 400:
		return Permanent(fmt.Errorf("%s: HTTP %d: unexpected redirect (not followed)", name, st))
	default:
		return Permanent(fmt.Errorf("%s: HTTP %d%s", name, st, detail))
	}
}
