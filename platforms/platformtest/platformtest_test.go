package platformtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/platformtest"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The suite runs here against a minimal reference platform ("ref": bearer
// token, JSON body, per-event results in a 200) and a reference adapter, so
// its own logic — partial failures included, which neither Meta nor GA4
// report — is exercised independently of any real adapter.

type fakeSim struct {
	secret string
	mu     sync.Mutex
	faults []platformtest.Fault
	reqs   []platformtest.Request
}

func (s *fakeSim) Inject(f platformtest.Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

func (s *fakeSim) Requests() []platformtest.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]platformtest.Request(nil), s.reqs...)
}

func (s *fakeSim) take() (platformtest.Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return platformtest.Fault{}, false
	}
	f := s.faults[0]
	if f.Times > 0 {
		s.faults[0].Times--
		if s.faults[0].Times == 0 {
			s.faults = s.faults[1:]
		}
	}
	return f, true
}

func (s *fakeSim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := platformtest.Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
	status, resp := http.StatusOK, []byte(`{"failed":[]}`)
	f, faulted := s.take()
	switch {
	case faulted && f.Hang:
		<-r.Context().Done()
		status, resp = 0, nil
	case faulted && f.Redirect != "":
		w.Header().Set("Location", f.Redirect)
		status, resp = http.StatusFound, nil
	case faulted && f.Body != "":
		status, resp = f.Status, []byte(f.Body)
	case faulted && f.AuthFail, r.Header.Get("Authorization") != "Bearer "+s.secret:
		status, resp = http.StatusUnauthorized, []byte(`{"error":"bad token"}`)
	case faulted && f.Status != 0:
		status, resp = f.Status, []byte(`{"error":"injected"}`)
	case faulted && len(f.PartialIndexes) > 0:
		resp, _ = json.Marshal(map[string]any{"failed": f.PartialIndexes})
	}
	if faulted && f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter/time.Second)))
	}
	if status != 0 {
		w.WriteHeader(status)
		_, _ = w.Write(resp)
	}
	rec.Status, rec.Response, rec.Accepted = status, resp, status == http.StatusOK && bytes.Equal(resp, []byte(`{"failed":[]}`))
	s.mu.Lock()
	s.reqs = append(s.reqs, rec)
	s.mu.Unlock()
}

type refAdapter struct {
	base   string
	client *http.Client
}

func (a *refAdapter) Platform() string { return "ref" }
func (a *refAdapter) MaxBatch() int    { return 10 }

func (a *refAdapter) Check(p *platforms.Pixel, e *platforms.Event, now time.Time) error {
	if !e.Consent.Marketing {
		return platforms.ErrSkip
	}
	if _, ok := p.Mapped(e.Name, e.Name); !ok {
		return platforms.ErrSkip
	}
	if now.Sub(e.Time) > 24*time.Hour {
		return &platforms.PermanentError{Err: errors.New("ref: too old")}
	}
	return nil
}

func (a *refAdapter) Send(ctx context.Context, p *platforms.Pixel, events []*platforms.Event) (platforms.Response, error) {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.EventID
	}
	body, _ := json.Marshal(map[string]any{"ids": ids})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/events", bytes.NewReader(body))
	if err != nil {
		return platforms.Response{}, &platforms.PermanentError{Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+p.Credentials["token"])
	resp, err := a.client.Do(req)
	if err != nil {
		return platforms.Response{}, &platforms.RetryableError{Err: fmt.Errorf("ref: %w", errors.Unwrap(err))}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, platformtest.MaxKeptBody))
	out := platforms.Response{HTTPStatus: resp.StatusCode, Body: raw}
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	switch st := resp.StatusCode; {
	case st == 429 || st >= 500:
		return out, &platforms.RetryableError{Err: fmt.Errorf("ref: HTTP %d", st), RetryAfter: time.Duration(ra) * time.Second}
	case st == 401 || st == 403:
		return out, &platforms.PermanentError{Err: fmt.Errorf("ref: HTTP %d", st), Auth: true}
	case st != 200:
		return out, &platforms.PermanentError{Err: fmt.Errorf("ref: HTTP %d", st)}
	}
	var r struct {
		Failed []int `json:"failed"`
	}
	if json.Unmarshal(raw, &r) != nil {
		return out, &platforms.RetryableError{Err: errors.New("ref: not JSON")}
	}
	if len(r.Failed) > 0 {
		be := &platforms.BatchError{Errs: map[int]error{}}
		for _, i := range r.Failed {
			be.Errs[i] = &platforms.PermanentError{Err: errors.New("ref: rejected")}
		}
		return out, be
	}
	return out, nil
}

var _ platforms.Destination = (*refAdapter)(nil)

func TestExerciseReference(t *testing.T) {
	t.Parallel()
	const secret = "ref-secret-token-123456"
	platformtest.Exercise(t, platformtest.Case{
		Platform: "ref",
		Start: func(t *testing.T, secret string) (string, platformtest.Sim) {
			sim := &fakeSim{secret: secret}
			srv := httptest.NewServer(sim)
			t.Cleanup(srv.Close)
			return srv.URL + "/ref", sim
		},
		New: func(base string, client *http.Client) platforms.Destination {
			c := *client
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			return &refAdapter{base: base, client: &c}
		},
		Pixel:   platforms.Pixel{Platform: "ref", PixelID: "1", Credentials: map[string]string{"token": secret}},
		Secret:  secret,
		MaxAge:  24 * time.Hour,
		Partial: true,
		Golden: func(t *testing.T, body []byte) {
			require.JSONEq(t, `{"ids":["0b6c8f43-5a1e-4c4e-9b7d-3f0e2f1a9c11"]}`, string(body))
		},
	})
}

func TestPurchaseIsComplete(t *testing.T) {
	t.Parallel()
	now := time.Now()
	e := platformtest.Purchase(now)
	require.Equal(t, platforms.EventPurchase, e.Name)
	require.True(t, e.Consent.Analytics && e.Consent.Marketing)
	require.False(t, e.Time.After(now))
	require.NotEmpty(t, e.User.Email)
	require.NotEmpty(t, e.IDs.FBP)
	require.Contains(t, e.Props, "value")
	// A fresh value each call: cases may modify it.
	e.Props["value"] = 1.0
	require.InDelta(t, 12.5, platformtest.Purchase(now).Props["value"], 0)
}
