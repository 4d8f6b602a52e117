// Package platformtest is the conformance suite every platform adapter
// (platforms.Destination) runs against the strict simulator
// (test/platformsim): a golden purchase the simulator accepts, 429 with
// Retry-After, 5xx, auth and validation failures, partial failures, HTML
// and endless bodies, redirects, hung connections and refused connections
// are each classified, never a panic, no goroutine left behind and no
// credential in an error or a kept response.
//
// It is imported only from _test.go files. It does not import
// test/platformsim itself (nothing outside cmd/ may): each adapter's test
// passes a Case.Start that starts the simulator and adapts it to Sim — see
// platforms/meta/meta_test.go.
package platformtest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/stretchr/testify/require"
)

// MaxKeptBody is the most of a platform's answer an adapter keeps in
// platforms.Response.Body.
const MaxKeptBody = 8 << 10

// Fault mirrors platformsim.Fault: a failure injected into the
// simulator's answers for the case's platform.
type Fault struct {
	Status         int
	RetryAfter     time.Duration
	Delay          time.Duration
	Times          int
	Body           string
	PartialIndexes []int
	AuthFail       bool
	Hang           bool
	Redirect       string
}

// Request mirrors platformsim.Request: one request the simulator received.
type Request struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
	Status   int
	Response []byte
	// Accepted: the platform would have kept the events.
	Accepted bool
	// Errors: the simulator's reasons for rejecting.
	Errors []string
}

// Sim is one simulator instance as the suite drives it, for one platform.
type Sim interface {
	Inject(f Fault)
	Requests() []Request
}

// Case describes one adapter.
type Case struct {
	// Platform is the simulator prefix ("meta", "google", ...).
	Platform string
	// Start starts a fresh simulator whose only valid credential is
	// secret, on its own httptest server closed by t.Cleanup, and returns
	// the adapter's base URL (server URL + "/" + Platform) and the
	// simulator. Every subtest starts its own, so they run in parallel.
	Start func(t *testing.T, secret string) (baseURL string, sim Sim)
	// New builds the adapter against baseURL with the suite's client (the
	// suite closes its idle connections, for goleak).
	New func(baseURL string, client *http.Client) platforms.Destination
	// Pixel is a valid pixel whose credential is Secret.
	Pixel platforms.Pixel
	// Secret is the credential the simulator accepts; it must never appear
	// in an error string or a kept response body.
	Secret string
	// SecretInQuery: the platform's API requires the secret in the URL
	// (GA4 api_secret); otherwise the suite checks it is not there.
	SecretInQuery bool
	// Event returns the golden purchase; nil means Purchase.
	Event func(now time.Time) *platforms.Event
	// Golden checks the golden request's body (optional).
	Golden func(t *testing.T, body []byte)
	// MaxAge is the platform's event age window; 0 skips the window test.
	MaxAge time.Duration
	// Partial: the platform reports per-event failures inside a 2xx batch.
	Partial bool
	// SilentAuth: the platform never reports bad credentials (GA4 answers
	// 204 and drops), so an auth failure is not an error.
	SilentAuth bool
}

// Purchase is a complete purchase event as the edge queues it, consent
// granted for everything.
func Purchase(now time.Time) *platforms.Event {
	return &platforms.Event{
		TenantID: "11111111-1111-4111-8111-111111111111", EventID: "0b6c8f43-5a1e-4c4e-9b7d-3f0e2f1a9c11",
		Name: platforms.EventPurchase, Class: platforms.ClassConversion, Source: "client",
		Time: now.Add(-2 * time.Minute).Truncate(time.Millisecond), Received: now.Add(-2 * time.Minute).Truncate(time.Millisecond),
		URL: "https://www.shop.example/checkout/done", Referrer: "https://www.shop.example/cart",
		EngagementMS: 5230, SessionID: "1732889000", VisitorID: "6f1f5a8e-2c1b-4d8e-9a57-3b2f0c1d4e5f",
		ClientIP: "203.0.113.7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
		Consent: platforms.Consent{Analytics: true, Marketing: true, Functional: true, Policy: "2026-01"},
		IDs: platforms.ClickIDs{FBP: "fb.1.1732880000000.1116446470", FBC: "fb.1.1732880000000.AbCdEfGhIj",
			GCLID: "Cj0KCQiA-test", TTCLID: "E.C.P.test", TTP: "ttp-test", LiFatID: "li-fat-test", TWCLID: "23opevjt88psuo13lu8d020qkn"},
		User: platforms.UserData{Email: " Jane.Doe@Example.com ", Phone: "+34 600-12-34-56", FirstName: "Jane", LastName: "Doe",
			City: "Madrid", Zip: "28001", Country: "ES", ExternalID: "u-42"},
		Props: map[string]any{
			"value": 12.5, "currency": "EUR", "order_id": "A-1001",
			"content_ids": []any{"sku1", "sku2"},
			"contents":    []any{map[string]any{"id": "sku1", "quantity": 1.0, "item_price": 10.0}, map[string]any{"id": "sku2", "quantity": 1.0, "item_price": 2.5}},
		},
	}
}

// env is one subtest's adapter, simulator and pixel.
type env struct {
	c    Case
	dst  platforms.Destination
	sim  Sim
	base string
	px   *platforms.Pixel
	now  time.Time
}

func (c Case) setup(t *testing.T) *env {
	t.Helper()
	base, sim := c.Start(t, c.Secret)
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	px := c.Pixel
	return &env{c: c, dst: c.New(base, client), sim: sim, base: base, px: &px, now: time.Now()}
}

func (e *env) event(id string) *platforms.Event {
	f := e.c.Event
	if f == nil {
		f = Purchase
	}
	ev := f(e.now)
	if id != "" {
		ev.EventID = id
	}
	return ev
}

// send checks and sends n golden events with distinct ids.
func (e *env) send(t *testing.T, ctx context.Context, n int) (platforms.Response, error) {
	t.Helper()
	evs := make([]*platforms.Event, n)
	ids := []string{"0b6c8f43-5a1e-4c4e-9b7d-3f0e2f1a9c11", "1c7d9054-6b2f-4d5f-8c8e-4f1f3a2b0d22", "2d8ea165-7c3a-4e6a-9d9f-5a2a4b3c1e33"}
	for i := range evs {
		id := ids[i%len(ids)]
		if i >= len(ids) {
			id = ""
		}
		evs[i] = e.event(id)
		require.NoError(t, e.dst.Check(e.px, evs[i], e.now), "the golden event must pass Check")
	}
	resp, err := e.dst.Send(ctx, e.px, evs)
	e.noLeak(t, resp, err)
	return resp, err
}

// noLeak: the secret is in no error string and no kept body, and the kept
// body is capped.
func (e *env) noLeak(t *testing.T, resp platforms.Response, err error) {
	t.Helper()
	require.LessOrEqual(t, len(resp.Body), MaxKeptBody, "kept response body is capped")
	require.NotContains(t, string(resp.Body), e.c.Secret, "secret in the kept response body")
	if err != nil {
		require.NotContains(t, err.Error(), e.c.Secret, "secret in the error string")
		var be *platforms.BatchError
		if errors.As(err, &be) {
			for _, ie := range be.Errs {
				require.NotContains(t, ie.Error(), e.c.Secret, "secret in a batch item error")
			}
		}
	}
}

func requireRetryable(t *testing.T, err error) *platforms.RetryableError {
	t.Helper()
	var re *platforms.RetryableError
	require.ErrorAs(t, err, &re, "want *platforms.RetryableError, got %v", err)
	return re
}

func requirePermanent(t *testing.T, err error) *platforms.PermanentError {
	t.Helper()
	var pe *platforms.PermanentError
	require.ErrorAs(t, err, &pe, "want *platforms.PermanentError, got %v", err)
	return pe
}

// Exercise runs the conformance suite for one adapter.
func Exercise(t *testing.T, c Case) {
	t.Helper()
	require.NotNil(t, c.Start)
	require.NotNil(t, c.New)
	require.NotEmpty(t, c.Secret)

	t.Run("Identity", func(t *testing.T) {
		t.Parallel()
		e := c.setup(t)
		require.Equal(t, c.Pixel.Platform, e.dst.Platform())
		require.Positive(t, e.dst.MaxBatch())
	})

	t.Run("GoldenPurchase", func(t *testing.T) {
		t.Parallel()
		e := c.setup(t)
		resp, err := e.send(t, context.Background(), 1)
		require.NoError(t, err)
		require.GreaterOrEqual(t, resp.HTTPStatus, 200)
		require.Less(t, resp.HTTPStatus, 300)
		reqs := e.sim.Requests()
		require.Len(t, reqs, 1, "recorded exactly once")
		r := reqs[0]
		require.Equal(t, http.MethodPost, r.Method)
		require.True(t, r.Accepted, "the simulator rejected the golden request: %v", r.Errors)
		require.Empty(t, r.Errors)
		if !c.SecretInQuery {
			require.NotContains(t, r.RawQuery, c.Secret, "secret in the URL")
			require.NotContains(t, r.Path, c.Secret, "secret in the URL")
		}
		if c.Golden != nil {
			c.Golden(t, r.Body)
		}
	})

	t.Run("BatchOfThree", func(t *testing.T) {
		t.Parallel()
		e := c.setup(t)
		_, err := e.send(t, context.Background(), 3)
		require.NoError(t, err)
		for _, r := range e.sim.Requests() {
			require.True(t, r.Accepted, "rejected: %v", r.Errors)
		}
	})

	t.Run("NoConsentIsSkipped", func(t *testing.T) {
		t.Parallel()
		e := c.setup(t)
		ev := e.event("")
		ev.Consent = platforms.Consent{}
		require.ErrorIs(t, e.dst.Check(e.px, ev, e.now), platforms.ErrSkip)
	})

	t.Run("DoNotSendIsSkipped", func(t *testing.T) {
		t.Parallel()
		e := c.setup(t)
		ev := e.event("")
		e.px.EventMap = map[string]string{ev.Name: ""}
		require.ErrorIs(t, e.dst.Check(e.px, ev, e.now), platforms.ErrSkip)
	})

	if c.MaxAge > 0 {
		t.Run("TooOldIsPermanent", func(t *testing.T) {
			t.Parallel()
			e := c.setup(t)
			ev := e.event("")
			ev.Time = e.now.Add(-c.MaxAge - time.Hour)
			ev.Received = ev.Time
			err := e.dst.Check(e.px, ev, e.now)
			require.NotErrorIs(t, err, platforms.ErrSkip)
			requirePermanent(t, err)
		})
	}

	t.Run("TooManyRequestsRetryAfter", func(t *testing.T) {
		t.Parallel()
		e := c.setup(t)
		e.sim.Inject(Fault{Status: http.StatusTooManyRequests, RetryAfter: 7 * time.Second, Times: 1})
		resp, err := e.send(t, context.Background(), 1)
		re := requireRetryable(t, err)
		require.Equal(t, 7*time.Second, re.RetryAfter)
		require.Equal(t, http.StatusTooManyRequests, resp.HTTPStatus)
	})

	for _, status := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable} {
		t.Run("ServerError"+strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			e := c.setup(t)
			e.sim.Inject(Fault{Status: status})
			_, err := e.send(t, context.Background(), 1)
			requireRetryable(t, err)
		})
	}

	t.Run("AuthFailure", func(t *testing.T) {
		t.Parallel()
		e := c.setup(t)
		e.sim.Inject(Fault{AuthFail: true})
		_, err := e.send(t, context.Background(), 1)
		if c.SilentAuth {
			require.NoError(t, err)
			return
		}
		require.True(t, requirePermanent(t, err).Auth, "auth failure must set Auth: %v", err)
	})

	t.Run("WrongCredential", func(t *testing.T) {
		t.Parallel()
		e := c.setup(t)
		px := *e.px
		px.Credentials = map[string]string{}
		for k, v := range e.px.Credentials {
			if v == c.Secret {
				v = "wrong-" + v
			}
			px.Credentials[k] = v
		}
		e.px = &px
		_, err := e.send(t, context.Background(), 1)
		if c.SilentAuth {
			require.NoError(t, err)
			return
		}
		require.True(t, requirePermanent(t, err).Auth, "a wrong credential must set Auth: %v", err)
	})

	t.Run("ValidationFailure", func(t *testing.T) {
		t.Parallel()
		e := c.setup(t)
		e.sim.Inject(Fault{Status: http.StatusBadRequest})
		_, err := e.send(t, context.Background(), 1)
		require.False(t, requirePermanent(t, err).Auth)
	})

	if c.Partial {
		t.Run("PartialFailure", func(t *testing.T) {
			t.Parallel()
			e := c.setup(t)
			e.sim.Inject(Fault{PartialIndexes: []int{1}})
			_, err := e.send(t, context.Background(), 3)
			var be *platforms.BatchError
			require.ErrorAs(t, err, &be)
			require.Len(t, be.Errs, 1)
			require.Contains(t, be.Errs, 1)
		})
	}

	t.Run("HTMLBody", func(t *testing.T) {
		t.Parallel()
		e := c.setup(t)
		e.sim.Inject(Fault{Status: http.StatusBadGateway, Body: "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"})
		_, err := e.send(t, context.Background(), 1)
		requireRetryable(t, err)
	})

	t.Run("HTMLBodyClientError", func(t *testing.T) {
		t.Parallel()
		e := c.setup(t)
		e.sim.Inject(Fault{Status: http.StatusNotFound, Body: "<html><body>Not Found</body></html>"})
		_, err := e.send(t, context.Background(), 1)
		requirePermanent(t, err)
	})

	t.Run("EndlessBody", func(t *testing.T) {
		t.Parallel()
		e := c.setup(t)
		e.sim.Inject(Fault{Status: http.StatusInternalServerError, Body: strings.Repeat(`{"error":"x"} `, 200_000)})
		_, err := e.send(t, context.Background(), 1) // noLeak checks the cap
		requireRetryable(t, err)
	})

	t.Run("RedirectNotFollowed", func(t *testing.T) {
		t.Parallel()
		e := c.setup(t)
		// A redirect to the same simulator: following it would record a
		// second request.
		e.sim.Inject(Fault{Redirect: e.base + "/elsewhere"})
		_, err := e.send(t, context.Background(), 1)
		requirePermanent(t, err)
		require.Len(t, e.sim.Requests(), 1, "the redirect was followed")
	})

	t.Run("HangUntilDeadline", func(t *testing.T) {
		t.Parallel()
		e := c.setup(t)
		e.sim.Inject(Fault{Hang: true})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := e.send(t, ctx, 1)
		requireRetryable(t, err)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})

	t.Run("CanceledContext", func(t *testing.T) {
		t.Parallel()
		e := c.setup(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := e.send(t, ctx, 1)
		requireRetryable(t, err)
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("ConnectionRefused", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		base := srv.URL + "/" + c.Platform
		srv.Close()
		client := &http.Client{Transport: &http.Transport{}}
		t.Cleanup(client.CloseIdleConnections)
		px := c.Pixel
		e := &env{c: c, dst: c.New(base, client), px: &px, now: time.Now()}
		_, err := e.send(t, context.Background(), 1)
		requireRetryable(t, err)
	})
}
