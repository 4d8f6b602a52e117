package google_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/google"
	"github.com/jaraba/pixelgw/platforms/normalize"
	"github.com/jaraba/pixelgw/platforms/platformtest"
	"github.com/jaraba/pixelgw/test/platformsim"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const secret = "ga4-api-secret-0123456789abcdef"

// simAdapter adapts platformsim to platformtest.Sim for one platform.
type simAdapter struct {
	sim      *platformsim.Sim
	platform string
}

func (s simAdapter) Inject(f platformtest.Fault) {
	s.sim.Inject(s.platform, platformsim.Fault{
		Status: f.Status, RetryAfter: f.RetryAfter, Delay: f.Delay, Times: f.Times, Body: f.Body,
		PartialIndexes: f.PartialIndexes, AuthFail: f.AuthFail, Hang: f.Hang, Redirect: f.Redirect,
	})
}

func (s simAdapter) Requests() []platformtest.Request {
	var out []platformtest.Request
	for _, r := range s.sim.Requests(s.platform) {
		out = append(out, platformtest.Request{
			Method: r.Method, Path: r.Path, RawQuery: r.RawQuery, Header: r.Header, Body: r.Body,
			Status: r.Status, Response: r.Response, Accepted: r.Accepted, Errors: r.Errors,
		})
	}
	return out
}

func startSim(t *testing.T, secret string) (string, platformtest.Sim) {
	sim := platformsim.New(platformsim.Options{Tokens: map[string]string{platformsim.Google: secret}})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return srv.URL + "/" + platformsim.Google, simAdapter{sim: sim, platform: platformsim.Google}
}

// fixture is a simulator, its server and an adapter on a leak-free client.
type fixture struct {
	sim *platformsim.Sim
	a   *google.Adapter
	p   platforms.Pixel
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	sim := platformsim.New(platformsim.Options{Tokens: map[string]string{platformsim.Google: secret}})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	return &fixture{sim: sim, a: newAdapter(srv.URL+"/google", client), p: pixel()}
}

func pixel() platforms.Pixel {
	return platforms.Pixel{
		UUID: "33333333-3333-4333-8333-333333333333", TenantID: "11111111-1111-4111-8111-111111111111",
		Platform: "google", PixelID: "G-ABC123XYZ", Credentials: map[string]string{"api_secret": secret},
	}
}

func newAdapter(base string, client *http.Client) *google.Adapter {
	cfg := google.Defaults()
	cfg.BaseURL = base
	return google.New(cfg, client)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	platformtest.Exercise(t, platformtest.Case{
		Platform: platformsim.Google,
		Start:    startSim,
		New: func(base string, client *http.Client) platforms.Destination {
			return newAdapter(base, client)
		},
		Pixel:         pixel(),
		Secret:        secret,
		SecretInQuery: true,
		SilentAuth:    true,
		MaxAge:        google.MaxAge,
		Golden:        goldenBody,
	})
}

// goldenBody pins the request GA4 receives for platformtest.Purchase.
func goldenBody(t *testing.T, body []byte) {
	t.Helper()
	ref := platformtest.Purchase(time.Now())
	var got map[string]any
	require.NoError(t, json.Unmarshal(body, &got))
	require.Equal(t, ref.VisitorID, got["client_id"])
	require.InDelta(t, float64(ref.Time.UnixMicro()), got["timestamp_micros"], 5e6)
	require.Equal(t, map[string]any{"ad_user_data": "GRANTED", "ad_personalization": "GRANTED"}, got["consent"])
	require.Equal(t, ref.ClientIP, got["ip_override"])
	require.Equal(t, map[string]any{
		"sha256_email_address": []any{normalize.SHA256Hex("jane.doe@example.com")},
		"sha256_phone_number":  []any{normalize.SHA256Hex("+34600123456")},
		"address": []any{map[string]any{
			"sha256_first_name": normalize.SHA256Hex("jane"), "sha256_last_name": normalize.SHA256Hex("doe"),
			"city": "madrid", "postal_code": "28001", "country": "es",
		}},
	}, got["user_data"])
	evs := got["events"].([]any)
	require.Len(t, evs, 1)
	ev := evs[0].(map[string]any)
	require.Equal(t, "purchase", ev["name"])
	require.Equal(t, map[string]any{
		"session_id":           1732889000.0,
		"engagement_time_msec": 5230.0,
		"event_id":             ref.EventID,
		"page_location":        ref.URL,
		"page_referrer":        ref.Referrer,
		"value":                12.5,
		"currency":             "EUR",
		"transaction_id":       "A-1001",
		"items": []any{
			map[string]any{"item_id": "sku1", "quantity": 1.0, "price": 10.0},
			map[string]any{"item_id": "sku2", "quantity": 1.0, "price": 2.5},
		},
	}, ev["params"])
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, google.Defaults().Validate())
	for _, tc := range []struct {
		name string
		mod  func(*google.Config)
		want string
	}{
		{"scheme", func(c *google.Config) { c.BaseURL = "gopher://x" }, "platforms.google.base_url: scheme must be http or https"},
		{"host", func(c *google.Config) { c.BaseURL = "https://" }, "platforms.google.base_url: host required"},
		{"query", func(c *google.Config) { c.BaseURL = "https://x.example/?api_secret=1" }, "platforms.google.base_url: must not have a query or fragment"},
		{"timeout", func(c *google.Config) { c.Timeout = -time.Second }, "platforms.google.timeout:"},
		{"attempts", func(c *google.Config) { c.Attempts = 101 }, "platforms.google.attempts:"},
		{"health interval", func(c *google.Config) { c.HealthInterval = time.Millisecond }, "platforms.google.health_interval:"},
		{"health interval max", func(c *google.Config) { c.HealthInterval = 25 * time.Hour }, "platforms.google.health_interval:"},
		{"health samples", func(c *google.Config) { c.HealthSamples = 26 }, "platforms.google.health_samples:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := google.Defaults()
			tc.mod(&c)
			err := c.Validate()
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	a := google.New(google.Defaults(), nil)
	now := time.Now()
	for _, tc := range []struct {
		name string
		mod  func(*platforms.Event, *platforms.Pixel)
		want string // "" ok, "skip", else a substring of the permanent error
	}{
		{"ok", func(*platforms.Event, *platforms.Pixel) {}, ""},
		{"no analytics", func(e *platforms.Event, _ *platforms.Pixel) { e.Consent.Analytics = false }, "skip"},
		{"analytics without marketing", func(e *platforms.Event, _ *platforms.Pixel) { e.Consent.Marketing = false }, ""},
		{"do not send", func(e *platforms.Event, p *platforms.Pixel) { p.EventMap = map[string]string{"purchase": ""} }, "skip"},
		{"reserved override", func(e *platforms.Event, p *platforms.Pixel) {
			p.EventMap = map[string]string{"purchase": "session_start"}
		}, "reserved"},
		{"reserved prefix", func(e *platforms.Event, p *platforms.Pixel) {
			p.EventMap = map[string]string{"purchase": "ga_purchase"}
		}, "reserved"},
		{"custom event", func(e *platforms.Event, _ *platforms.Pixel) { e.Name = "custom:share_cart" }, ""},
		{"73 hours", func(e *platforms.Event, _ *platforms.Pixel) { e.Time = now.Add(-73 * time.Hour); e.Received = e.Time }, "72 hours"},
		{"future", func(e *platforms.Event, _ *platforms.Pixel) { e.Time = now.Add(time.Hour); e.Received = time.Time{} }, "future"},
		{"no visitor id", func(e *platforms.Event, _ *platforms.Pixel) { e.VisitorID = "" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, p := platformtest.Purchase(now), pixel()
			tc.mod(e, &p)
			err := a.Check(&p, e, now)
			switch tc.want {
			case "":
				require.NoError(t, err)
			case "skip":
				require.ErrorIs(t, err, platforms.ErrSkip)
			default:
				var pe *platforms.PermanentError
				require.ErrorAs(t, err, &pe)
				require.Contains(t, err.Error(), tc.want)
			}
		})
	}
}

func TestStandardNames(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now()
	want := map[string]string{
		platforms.EventPageView: "page_view", platforms.EventViewContent: "view_item", platforms.EventLead: "generate_lead",
		platforms.EventSignup: "sign_up", platforms.EventAddToCart: "add_to_cart", platforms.EventInitiateCheckout: "begin_checkout",
		platforms.EventAddPaymentInfo: "add_payment_info", platforms.EventPurchase: "purchase", platforms.EventContact: "contact",
		platforms.EventSchedule: "schedule", platforms.EventSearch: "search", platforms.EventSubscribe: "subscribe",
		platforms.EventStartTrial: "start_trial", platforms.EventAddToWishlist: "add_to_wishlist", "custom:share_cart": "share_cart",
	}
	var evs []*platforms.Event
	var names []string
	for _, spec := range platforms.Events() {
		names = append(names, spec.Name)
	}
	names = append(names, "custom:share_cart")
	for _, n := range names {
		e := platformtest.Purchase(now)
		e.Name = n
		e.Props["search_string"] = "red shoes"
		require.NoError(t, f.a.Check(&f.p, e, now))
		evs = append(evs, e)
	}
	require.Len(t, evs, len(want))
	msgs, err := f.a.Validate(context.Background(), &f.p, evs)
	require.NoError(t, err)
	require.Empty(t, msgs)
	bodies, _, err := f.a.Build(&f.p, evs)
	require.NoError(t, err)
	require.Len(t, bodies, 1)
	var got struct {
		Events []struct {
			Name   string         `json:"name"`
			Params map[string]any `json:"params"`
		} `json:"events"`
	}
	require.NoError(t, json.Unmarshal(bodies[0], &got))
	for i, n := range names {
		require.Equal(t, want[n], got.Events[i].Name, n)
		require.Equal(t, "red shoes", got.Events[i].Params["search_term"])
	}
}

// TestSplitByClient: one request per (client_id, marketing consent); the
// request without marketing says DENIED and carries no user_data.
func TestSplitByClient(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now()
	mk := func(visitor string, marketing bool, id string) *platforms.Event {
		e := platformtest.Purchase(now)
		e.VisitorID, e.EventID, e.Consent.Marketing = visitor, id, marketing
		return e
	}
	evs := []*platforms.Event{mk("A", true, "e0"), mk("B", true, "e1"), mk("A", false, "e2"), mk("A", true, "e3")}
	_, err := f.a.Send(context.Background(), &f.p, evs)
	require.NoError(t, err)
	reqs := f.sim.Requests(platformsim.Google)
	require.Len(t, reqs, 3)
	type body struct {
		ClientID string            `json:"client_id"`
		Consent  map[string]string `json:"consent"`
		UserData map[string]any    `json:"user_data"`
		Events   []struct {
			Params map[string]any `json:"params"`
		} `json:"events"`
	}
	var got []body
	for _, r := range reqs {
		require.True(t, r.Accepted, "%v", r.Errors)
		require.Equal(t, http.StatusNoContent, r.Status)
		var b body
		require.NoError(t, json.Unmarshal(r.Body, &b))
		got = append(got, b)
	}
	ids := func(b body) []any {
		var out []any
		for _, e := range b.Events {
			out = append(out, e.Params["event_id"])
		}
		return out
	}
	require.Equal(t, "A", got[0].ClientID)
	require.Equal(t, []any{"e0", "e3"}, ids(got[0]))
	require.NotNil(t, got[0].UserData)
	require.Equal(t, "B", got[1].ClientID)
	require.Equal(t, "A", got[2].ClientID)
	require.Equal(t, []any{"e2"}, ids(got[2]))
	require.Equal(t, map[string]string{"ad_user_data": "DENIED", "ad_personalization": "DENIED"}, got[2].Consent)
	require.Nil(t, got[2].UserData, "no user_data without marketing consent")
}

// TestSplitPartialFailure: GA4 does not deduplicate, so a failed group
// never makes the accepted ones retry.
func TestSplitPartialFailure(t *testing.T) {
	t.Parallel()
	now := time.Now()
	mk := func(visitor string) *platforms.Event {
		e := platformtest.Purchase(now)
		e.VisitorID = visitor
		return e
	}
	evs := func() []*platforms.Event { return []*platforms.Event{mk("A"), mk("B"), mk("A")} }

	t.Run("first group fails", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.sim.Inject(platformsim.Google, platformsim.Fault{Status: 503, RetryAfter: 2 * time.Second, Times: 1})
		resp, err := f.a.Send(context.Background(), &f.p, evs())
		var be *platforms.BatchError
		require.ErrorAs(t, err, &be)
		require.Len(t, be.Errs, 2)
		var re *platforms.RetryableError
		require.ErrorAs(t, be.Errs[0], &re)
		require.Equal(t, 2*time.Second, re.RetryAfter)
		require.Same(t, be.Errs[0], be.Errs[2])
		require.Equal(t, 503, resp.HTTPStatus, "the response is the failed request's")
	})
	t.Run("all fail alike", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.sim.Inject(platformsim.Google, platformsim.Fault{Status: 500, Times: 1})
		f.sim.Inject(platformsim.Google, platformsim.Fault{Status: 429, RetryAfter: 9 * time.Second, Times: 1})
		_, err := f.a.Send(context.Background(), &f.p, evs())
		var re *platforms.RetryableError
		require.ErrorAs(t, err, &re)
		require.Equal(t, 9*time.Second, re.RetryAfter, "the largest Retry-After")
	})
	t.Run("all fail differently", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		f.sim.Inject(platformsim.Google, platformsim.Fault{Status: 500, Times: 1})
		f.sim.Inject(platformsim.Google, platformsim.Fault{Status: 400, Times: 1})
		_, err := f.a.Send(context.Background(), &f.p, evs())
		var be *platforms.BatchError
		require.ErrorAs(t, err, &be)
		require.Len(t, be.Errs, 3)
		var re *platforms.RetryableError
		require.ErrorAs(t, be.Errs[0], &re)
		var pe *platforms.PermanentError
		require.ErrorAs(t, be.Errs[1], &pe)
	})
}

func TestValidate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	now := time.Now()
	msgs, err := f.a.Validate(context.Background(), &f.p, []*platforms.Event{platformtest.Purchase(now)})
	require.NoError(t, err)
	require.Empty(t, msgs)
	reqs := f.sim.Requests(platformsim.Google)
	require.Len(t, reqs, 1)
	require.Equal(t, "/google/debug/mp/collect", reqs[0].Path)

	// Validate does not Check: a reserved name reaches the debug endpoint.
	p := f.p
	p.EventMap = map[string]string{"purchase": "session_start"}
	msgs, err = f.a.Validate(context.Background(), &p, []*platforms.Event{platformtest.Purchase(now)})
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Contains(t, msgs[0], "NAME_RESERVED")

	f.sim.Inject(platformsim.Google, platformsim.Fault{Status: 503, Times: 1})
	_, err = f.a.Validate(context.Background(), &f.p, []*platforms.Event{platformtest.Purchase(now)})
	var re *platforms.RetryableError
	require.ErrorAs(t, err, &re)
	require.NotContains(t, err.Error(), secret)
}

func TestUserData(t *testing.T) {
	t.Parallel()
	a := google.New(google.Defaults(), nil)
	p := pixel()
	e := platformtest.Purchase(time.Now())
	e.User = platforms.UserData{Email: "John.Smith@GoogleMail.com", Phone: "+1 (650) 555-1212", City: strings.Repeat("b", 64), FirstName: strings.Repeat("c", 64)}
	bodies, _, err := a.Build(&p, []*platforms.Event{e})
	require.NoError(t, err)
	var got struct {
		UserData struct {
			Email   []string         `json:"sha256_email_address"`
			Phone   []string         `json:"sha256_phone_number"`
			Address []map[string]any `json:"address"`
		} `json:"user_data"`
	}
	require.NoError(t, json.Unmarshal(bodies[0], &got))
	require.Equal(t, []string{normalize.SHA256Hex("johnsmith@googlemail.com")}, got.UserData.Email, "gmail dots removed")
	// platforms.md §0: +16505551212.
	require.Equal(t, []string{"1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8"}, got.UserData.Phone)
	require.Equal(t, []map[string]any{{"sha256_first_name": strings.Repeat("c", 64)}}, got.UserData.Address,
		"a hashed city cannot be sent in clear; a hashed name passes through")
}

func TestClientID(t *testing.T) {
	t.Parallel()
	e := platformtest.Purchase(time.Now())
	require.Equal(t, e.VisitorID, google.ClientID(e))
	e.VisitorID = ""
	id := google.ClientID(e)
	require.Regexp(t, `^[0-9]+\.[0-9]+$`, id)
	e2 := platformtest.Purchase(time.Now())
	e2.VisitorID, e2.EventID = "", "other"
	require.Equal(t, id, google.ClientID(e2), "stable per person (external id)")
}

func TestNoSecretInErrors(t *testing.T) {
	t.Parallel()
	// A client whose transport fails with the full URL in the error.
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return nil, io.ErrUnexpectedEOF
	})}
	a := newAdapter("http://127.0.0.1:1", client)
	p := pixel()
	_, err := a.Send(context.Background(), &p, []*platforms.Event{platformtest.Purchase(time.Now())})
	var re *platforms.RetryableError
	require.ErrorAs(t, err, &re)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.NotContains(t, err.Error(), secret)
	require.NotContains(t, err.Error(), "api_secret")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestSendLimits(t *testing.T) {
	t.Parallel()
	a := google.New(google.Defaults(), nil)
	p := pixel()
	_, err := a.Send(context.Background(), &p, nil)
	require.NoError(t, err)
	_, err = a.Send(context.Background(), &p, make([]*platforms.Event, google.MaxBatch+1))
	var pe *platforms.PermanentError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, 25, a.MaxBatch())
	require.Equal(t, "google", a.Platform())
}

// TestConfigTimeout: Config.Timeout bounds each request.
func TestConfigTimeout(t *testing.T) {
	t.Parallel()
	sim := platformsim.New(platformsim.Options{})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	sim.Inject(platformsim.Google, platformsim.Fault{Hang: true})
	cfg := google.Defaults()
	cfg.BaseURL, cfg.Timeout = srv.URL+"/google", 100*time.Millisecond
	a := google.New(cfg, client)
	p := pixel()
	_, err := a.Send(context.Background(), &p, []*platforms.Event{platformtest.Purchase(time.Now())})
	var re *platforms.RetryableError
	require.ErrorAs(t, err, &re)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotContains(t, err.Error(), secret)
}
