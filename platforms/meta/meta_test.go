package meta_test

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
	"github.com/jaraba/pixelgw/platforms/meta"
	"github.com/jaraba/pixelgw/platforms/normalize"
	"github.com/jaraba/pixelgw/platforms/platformtest"
	"github.com/jaraba/pixelgw/test/platformsim"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const token = "EAAB-meta-secret-token-0123456789"

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
	sim := platformsim.New(platformsim.Options{Tokens: map[string]string{platformsim.Meta: secret}})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return srv.URL + "/" + platformsim.Meta, simAdapter{sim: sim, platform: platformsim.Meta}
}

func pixel() platforms.Pixel {
	return platforms.Pixel{
		UUID: "22222222-2222-4222-8222-222222222222", TenantID: "11111111-1111-4111-8111-111111111111",
		Platform: "meta", PixelID: "123456789012345", Credentials: map[string]string{"access_token": token},
	}
}

func newAdapter(base string, client *http.Client) *meta.Adapter {
	cfg := meta.Defaults()
	cfg.BaseURL = base
	return meta.New(cfg, client)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	platformtest.Exercise(t, platformtest.Case{
		Platform: platformsim.Meta,
		Start:    startSim,
		New: func(base string, client *http.Client) platforms.Destination {
			return newAdapter(base, client)
		},
		Pixel:  pixel(),
		Secret: token,
		MaxAge: meta.MaxAge,
		Golden: goldenBody,
	})
}

// goldenBody pins the request Meta receives for platformtest.Purchase.
func goldenBody(t *testing.T, body []byte) {
	t.Helper()
	var got map[string]any
	require.NoError(t, json.Unmarshal(body, &got))
	require.Equal(t, token, got["access_token"], "the token travels in the body")
	data := got["data"].([]any)
	require.Len(t, data, 1)
	ev := data[0].(map[string]any)
	ref := platformtest.Purchase(time.Now())
	require.Equal(t, "Purchase", ev["event_name"])
	require.Equal(t, "website", ev["action_source"])
	require.Equal(t, ref.EventID, ev["event_id"])
	require.Equal(t, ref.URL, ev["event_source_url"])
	require.InDelta(t, float64(ref.Time.Unix()), ev["event_time"], 5)
	ud := ev["user_data"].(map[string]any)
	require.Equal(t, normalize.SHA256Hex("jane.doe@example.com"), ud["em"])
	require.Equal(t, normalize.SHA256Hex("34600123456"), ud["ph"], "Meta phones: digits with country code, no +")
	require.Equal(t, normalize.SHA256Hex("jane"), ud["fn"])
	require.Equal(t, normalize.SHA256Hex("doe"), ud["ln"])
	require.Equal(t, normalize.SHA256Hex("madrid"), ud["ct"])
	require.Equal(t, normalize.SHA256Hex("28001"), ud["zp"])
	require.Equal(t, normalize.SHA256Hex("es"), ud["country"])
	require.Equal(t, normalize.SHA256Hex("u-42"), ud["external_id"])
	require.Equal(t, ref.ClientIP, ud["client_ip_address"], "never hashed")
	require.Equal(t, ref.UserAgent, ud["client_user_agent"], "never hashed")
	require.Equal(t, ref.IDs.FBP, ud["fbp"], "never hashed")
	require.Equal(t, ref.IDs.FBC, ud["fbc"], "never hashed")
	cd := ev["custom_data"].(map[string]any)
	require.InDelta(t, 12.5, cd["value"], 0)
	require.Equal(t, "EUR", cd["currency"])
	require.Equal(t, "A-1001", cd["order_id"])
	require.Equal(t, []any{"sku1", "sku2"}, cd["content_ids"])
	require.Equal(t, []any{
		map[string]any{"id": "sku1", "quantity": 1.0, "item_price": 10.0},
		map[string]any{"id": "sku2", "quantity": 1.0, "item_price": 2.5},
	}, cd["contents"])
	_, hasCode := got["test_event_code"]
	require.False(t, hasCode)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, meta.Defaults().Validate())
	for _, tc := range []struct {
		name string
		mod  func(*meta.Config)
		want string
	}{
		{"scheme", func(c *meta.Config) { c.BaseURL = "ftp://x" }, "platforms.meta.base_url: scheme must be http or https"},
		{"empty", func(c *meta.Config) { c.BaseURL = "" }, "platforms.meta.base_url:"},
		{"query", func(c *meta.Config) { c.BaseURL = "https://graph.facebook.com?x=1" }, "platforms.meta.base_url: must not have a query or fragment"},
		{"userinfo", func(c *meta.Config) { c.BaseURL = "https://u:p@graph.facebook.com" }, "platforms.meta.base_url: must not carry credentials"},
		{"version", func(c *meta.Config) { c.Version = "21" }, "platforms.meta.version: must look like v26.0"},
		{"timeout", func(c *meta.Config) { c.Timeout = 0 }, "platforms.meta.timeout:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := meta.Defaults()
			tc.mod(&c)
			err := c.Validate()
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	a := meta.New(meta.Defaults(), nil)
	now := time.Now()
	for _, tc := range []struct {
		name string
		mod  func(*platforms.Event, *platforms.Pixel)
		want string // "" ok, "skip", else a substring of the permanent error
	}{
		{"ok", func(*platforms.Event, *platforms.Pixel) {}, ""},
		{"analytics only", func(e *platforms.Event, _ *platforms.Pixel) { e.Consent.Marketing = false }, "skip"},
		{"do not send", func(e *platforms.Event, p *platforms.Pixel) { p.EventMap = map[string]string{"purchase": ""} }, "skip"},
		{"override", func(e *platforms.Event, p *platforms.Pixel) { p.EventMap = map[string]string{"purchase": "MyPurchase"} }, ""},
		{"custom event", func(e *platforms.Event, _ *platforms.Pixel) { e.Name = "custom:wishlist_share" }, ""},
		{"8 days old", func(e *platforms.Event, _ *platforms.Pixel) {
			e.Time = now.Add(-8 * 24 * time.Hour)
			e.Received = e.Time
		}, "older than 7 days"},
		{"inside the margin", func(e *platforms.Event, _ *platforms.Pixel) {
			e.Time = now.Add(-meta.MaxAge + meta.AgeMargin/2)
			e.Received = e.Time
		}, "older than 7 days"},
		{"fast browser clock", func(e *platforms.Event, _ *platforms.Pixel) { e.Time = now.Add(time.Hour); e.Received = now }, ""},
		{"future", func(e *platforms.Event, _ *platforms.Pixel) { e.Time = now.Add(time.Hour); e.Received = time.Time{} }, "future"},
		{"no url", func(e *platforms.Event, _ *platforms.Pixel) { e.URL = "" }, "event_source_url"},
		{"no ua", func(e *platforms.Event, _ *platforms.Pixel) { e.UserAgent = "" }, "client_user_agent"},
		{"no customer info", func(e *platforms.Event, _ *platforms.Pixel) {
			e.ClientIP, e.User, e.IDs, e.VisitorID = "", platforms.UserData{}, platforms.ClickIDs{}, ""
		}, "customer information"},
		{"ua and ip only", func(e *platforms.Event, _ *platforms.Pixel) {
			e.User, e.IDs, e.VisitorID = platforms.UserData{}, platforms.ClickIDs{}, ""
		}, ""},
		{"purchase without value", func(e *platforms.Event, _ *platforms.Pixel) { delete(e.Props, "value") }, "value"},
		{"purchase without currency", func(e *platforms.Event, _ *platforms.Pixel) { delete(e.Props, "currency") }, "currency"},
		{"lead without value", func(e *platforms.Event, _ *platforms.Pixel) { e.Name = platforms.EventLead; e.Props = nil }, ""},
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

func TestBuild(t *testing.T) {
	t.Parallel()
	a := meta.New(meta.Defaults(), nil)
	p := pixel()
	p.TestEventCode = "TEST123"
	p.Credentials["app_secret"] = "app-secret-value"
	e := platformtest.Purchase(time.Now())
	e.User = platforms.UserData{
		Email:       "John_Smith@gmail.com",
		Phone:       "+1 (650) 555-1212",
		FirstName:   "Mary",
		Gender:      "Male",
		Country:     "US",
		LastName:    strings.Repeat("a", 64), // already a digest: passes through
		DateOfBirth: "1997-02-16",
		State:       "California",
	}
	e.VisitorID = "V-1"
	e.Props["title"] = "ignored" // not Meta custom data
	e.Props["coupon"] = "SPRING"
	body, err := a.Build(&p, []*platforms.Event{e})
	require.NoError(t, err)
	var got struct {
		TestEventCode  string `json:"test_event_code"`
		AppSecretProof string `json:"appsecret_proof"`
		Data           []struct {
			UserData   map[string]string `json:"user_data"`
			CustomData map[string]any    `json:"custom_data"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &got))
	require.Equal(t, "TEST123", got.TestEventCode)
	require.Len(t, got.AppSecretProof, 64)
	ud := got.Data[0].UserData
	// platforms.md §0 test vectors.
	require.Equal(t, "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f", ud["em"])
	require.Equal(t, "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176", ud["ph"])
	require.Equal(t, "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec", ud["fn"])
	require.Equal(t, "62c66a7a5dd70c3146618063c344e531e6d4b59e379808443ce962b3abd63c5a", ud["ge"])
	require.Equal(t, "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621", ud["country"])
	require.Equal(t, strings.Repeat("a", 64), ud["ln"])
	require.Equal(t, normalize.SHA256Hex("19970216"), ud["db"])
	require.Equal(t, normalize.SHA256Hex("ca"), ud["st"])
	require.Equal(t, normalize.SHA256Hex("v-1"), ud["external_id"], "visitor id is the external_id fallback")
	cd := got.Data[0].CustomData
	require.NotContains(t, cd, "title")
	require.Equal(t, "SPRING", cd["coupon"])
}

// TestSimulatorAcceptsTestEventAndProof: test_event_code and
// appsecret_proof are accepted by the strict simulator.
func TestSimulatorAcceptsTestEventAndProof(t *testing.T) {
	t.Parallel()
	sim := platformsim.New(platformsim.Options{Tokens: map[string]string{platformsim.Meta: token}, MetaAppSecret: "app-secret-value"})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	a := newAdapter(srv.URL+"/meta", client)
	p := pixel()
	p.TestEventCode = "TEST123"
	p.Credentials["app_secret"] = "app-secret-value"
	now := time.Now()
	golden := platformtest.Purchase(now)
	golden.Props["coupon"] = "SPRING" // arbitrary custom properties
	golden.Props["gift"] = true
	golden.Props["num_items"] = 2.0
	golden.Props["transaction_id"] = "ignored: order_id is set"
	evs := []*platforms.Event{golden}
	for _, n := range []string{platforms.EventPageView, platforms.EventSignup, platforms.EventSearch, "custom:share"} {
		e := platformtest.Purchase(now)
		e.Name, e.Props = n, map[string]any{"search_string": "shoes"}
		require.NoError(t, a.Check(&p, e, now))
		evs = append(evs, e)
	}
	_, err := a.Send(context.Background(), &p, evs)
	require.NoError(t, err)
	reqs := sim.Requests(platformsim.Meta)
	require.Len(t, reqs, 1)
	require.True(t, reqs[0].Accepted, "%v", reqs[0].Errors)
}

// TestClassify covers the Graph error codes the simulator does not produce.
func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   string
		header string
		want   string // ok | retry | perm | auth
		after  time.Duration
	}{
		{"ok", 200, `{"events_received":1,"messages":[],"fbtrace_id":"x"}`, "", "ok", 0},
		{"200 html", 200, `<html>proxy</html>`, "", "retry", 0},
		{"200 empty", 200, ``, "", "retry", 0},
		{"throttle 4", 400, `{"error":{"code":4,"message":"(#4) limit"}}`, "", "retry", 0},
		{"throttle 17 + retry-after", 400, `{"error":{"code":17,"message":"(#17) limit"}}`, "30", "retry", 30 * time.Second},
		{"throttle 32", 400, `{"error":{"code":32}}`, "", "retry", 0},
		{"throttle 613", 400, `{"error":{"code":613}}`, "", "retry", 0},
		{"ad account 80004", 400, `{"error":{"code":80004}}`, "", "retry", 0},
		{"transient flag", 400, `{"error":{"code":9999,"is_transient":true}}`, "", "retry", 0},
		{"token 190", 400, `{"error":{"code":190,"error_subcode":463,"message":"Session has expired"}}`, "", "auth", 0},
		{"token 102", 400, `{"error":{"code":102}}`, "", "auth", 0},
		{"permission 200", 403, `{"error":{"code":200}}`, "", "auth", 0},
		{"pixel 100/33", 400, `{"error":{"code":100,"error_subcode":33}}`, "", "auth", 0},
		{"too old", 400, `{"error":{"code":100,"error_subcode":2804003}}`, "", "perm", 0},
		{"validation", 400, `{"error":{"code":100}}`, "", "perm", 0},
		{"400 html", 400, `<html></html>`, "", "perm", 0},
		{"401 html", 401, `<html></html>`, "", "auth", 0},
		{"429 date", 429, ``, "http-date", "retry", 0},
		{"503", 503, `{"error":{"code":2}}`, "", "retry", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				switch tc.header {
				case "":
				case "http-date":
					w.Header().Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
				default:
					w.Header().Set("Retry-After", tc.header)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			a := newAdapter(srv.URL, client)
			p := pixel()
			_, err := a.Send(context.Background(), &p, []*platforms.Event{platformtest.Purchase(time.Now())})
			switch tc.want {
			case "ok":
				require.NoError(t, err)
			case "retry":
				var re *platforms.RetryableError
				require.ErrorAs(t, err, &re)
				if tc.after > 0 {
					require.Equal(t, tc.after, re.RetryAfter)
				}
				if tc.header == "http-date" {
					require.Positive(t, re.RetryAfter)
				}
			case "perm", "auth":
				var pe *platforms.PermanentError
				require.ErrorAs(t, err, &pe)
				require.Equal(t, tc.want == "auth", pe.Auth)
			}
		})
	}
}

// TestSecretsRedacted: an answer echoing the token never keeps it.
func TestSecretsRedacted(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":{"code":190,"message":"Malformed access token `+token+`"}}`)
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	a := newAdapter(srv.URL, client)
	p := pixel()
	resp, err := a.Send(context.Background(), &p, []*platforms.Event{platformtest.Purchase(time.Now())})
	require.Error(t, err)
	require.NotContains(t, err.Error(), token)
	require.NotContains(t, string(resp.Body), token)
	require.Contains(t, string(resp.Body), "[REDACTED]")
}

func TestSendLimits(t *testing.T) {
	t.Parallel()
	a := meta.New(meta.Defaults(), nil)
	p := pixel()
	resp, err := a.Send(context.Background(), &p, nil)
	require.NoError(t, err)
	require.Zero(t, resp.HTTPStatus)
	evs := make([]*platforms.Event, meta.MaxBatch+1)
	_, err = a.Send(context.Background(), &p, evs)
	var pe *platforms.PermanentError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, 1000, a.MaxBatch())
	require.Equal(t, "meta", a.Platform())
}

// TestConfigTimeout: Config.Timeout bounds a request the platform never
// answers in time.
func TestConfigTimeout(t *testing.T) {
	t.Parallel()
	sim := platformsim.New(platformsim.Options{})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	sim.Inject(platformsim.Meta, platformsim.Fault{Hang: true})
	cfg := meta.Defaults()
	cfg.BaseURL, cfg.Timeout = srv.URL+"/meta", 100*time.Millisecond
	a := meta.New(cfg, client)
	p := pixel()
	_, err := a.Send(context.Background(), &p, []*platforms.Event{platformtest.Purchase(time.Now())})
	var re *platforms.RetryableError
	require.ErrorAs(t, err, &re)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
