package x_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/platformtest"
	"github.com/jaraba/pixelgw/platforms/x"
)

const (
	pixelToken     = "x-pixel-token-0123456789"
	consumerKey    = "ck-0123456789"
	consumerSecret = "cs-secret-0123456789"
	accessToken    = "at-0123456789"
	tokenSecret    = "ts-secret-0123456789"
)

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func tokenPixel() *platforms.Pixel {
	return &platforms.Pixel{
		UUID: "p1", TenantID: "t1", Platform: "twitter", PixelID: "o8z6j",
		Credentials: map[string]string{"pixel_token": pixelToken},
		EventMap:    map[string]string{"purchase": "o87ne", "lead": "tw-o8z6j-o87nf", "page_view": ""},
	}
}

func oauthPixel() *platforms.Pixel {
	p := tokenPixel()
	p.Credentials = map[string]string{"consumer_key": consumerKey, "consumer_secret": consumerSecret,
		"access_token": accessToken, "access_token_secret": tokenSecret}
	return p
}

func event(name string) *platforms.Event {
	return &platforms.Event{
		TenantID: "t1", EventID: "0b6c8f43-5a1e-4c4e-9b7d-3f0e2f1a9c11", Name: name,
		Time: now.Add(-time.Hour), URL: "https://shop.example/done",
		Consent: platforms.Consent{Marketing: true},
		IDs:     platforms.ClickIDs{TWCLID: "23opevjt88psuo13lu8d020qkn"},
		Props:   map[string]any{"value": 12.5, "currency": "eur"},
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, x.Defaults().Validate())
	f := func(mut func(*x.Config), want string) {
		t.Helper()
		c := x.Defaults()
		mut(&c)
		require.ErrorContains(t, c.Validate(), want)
	}
	f(func(c *x.Config) { c.BaseURL = "" }, "platforms.x.base_url: required")
	f(func(c *x.Config) { c.BaseURL = "ads-api.x.com" }, "platforms.x.base_url")
	f(func(c *x.Config) { c.Version = "v12" }, "platforms.x.version")
	f(func(c *x.Config) { c.Timeout = 0 }, "platforms.x.timeout")
}

func TestCheck(t *testing.T) {
	t.Parallel()
	a := x.New(x.Defaults(), nil)
	require.Equal(t, "twitter", a.Platform())
	require.Equal(t, 500, a.MaxBatch())
	f := func(name string, mut func(*platforms.Event, *platforms.Pixel), want string) {
		t.Helper()
		e, p := event("purchase"), tokenPixel()
		mut(e, p)
		platformtest.RequireCheck(t, a.Check(p, e, now), want, name)
	}
	f("ok", func(*platforms.Event, *platforms.Pixel) {}, "ok")
	f("no marketing", func(e *platforms.Event, _ *platforms.Pixel) { e.Consent.Marketing = false }, "skip")
	f("unmapped: X has no standard names", func(e *platforms.Event, _ *platforms.Pixel) { e.Name = "signup" }, "skip")
	f("do not send", func(e *platforms.Event, _ *platforms.Pixel) { e.Name = "page_view" }, "skip")
	f("bad tag", func(_ *platforms.Event, p *platforms.Pixel) { p.EventMap["purchase"] = "Purchase" }, "event tag id")
	f("no identifier", func(e *platforms.Event, _ *platforms.Pixel) { e.IDs.TWCLID = "" }, "no identifier")
	f("ip and ua alone", func(e *platforms.Event, _ *platforms.Pixel) {
		e.IDs.TWCLID, e.ClientIP, e.UserAgent = "", "203.0.113.1", "Mozilla"
	}, "no identifier")
	f("invalid email alone", func(e *platforms.Event, _ *platforms.Pixel) { e.IDs.TWCLID, e.User.Email = "", "nope" }, "no identifier")
	f("email alone", func(e *platforms.Event, _ *platforms.Pixel) { e.IDs.TWCLID, e.User.Email = "", "a@b.co" }, "ok")
	f("phone alone", func(e *platforms.Event, _ *platforms.Pixel) { e.IDs.TWCLID, e.User.Phone = "", "+34 600 12 34 56" }, "ok")
	f("absurd value", func(e *platforms.Event, _ *platforms.Pixel) { e.Props["value"] = 1e300 }, "props.value")
	f("bad currency", func(e *platforms.Event, _ *platforms.Pixel) { e.Props["currency"] = "dollars" }, "props.currency")
}

func TestClassify(t *testing.T) {
	t.Parallel()
	reset := func(d time.Duration) string { return itoa(time.Now().Add(d).Unix()) }
	f := func(name string, status int, body string, hdr map[string]string, kind string, minAfter time.Duration) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var rec platformtest.Recorder
			srv := rec.Server(t, platformtest.Answer(status, body, hdr))
			cfg := x.Defaults()
			cfg.BaseURL = srv.URL
			resp, err := x.New(cfg, &http.Client{}).Send(context.Background(), oauthPixel(), []*platforms.Event{event("purchase")})
			require.Equal(t, status, resp.HTTPStatus)
			for _, secret := range []string{consumerSecret, tokenSecret} {
				require.NotContains(t, string(resp.Body), secret)
				if err != nil {
					require.NotContains(t, err.Error(), secret)
				}
			}
			if re := platformtest.RequireClass(t, err, kind, nil); re != nil {
				require.GreaterOrEqual(t, re.RetryAfter, minAfter)
			}
		})
	}
	f("ok", 200, `{"data":{"conversions_processed":1}}`, nil, "ok", 0)
	f("400", 400, `{"errors":[{"code":"INVALID_PARAMETER","message":"At least one user identifier must be provided"}]}`, nil, "perm", 0)
	f("401", 401, `{"errors":[{"code":"UNAUTHORIZED_ACCESS","message":"not authenticated `+consumerSecret+`"}]}`, nil, "auth", 0)
	f("403", 403, ``, nil, "auth", 0)
	f("429 retry-after", 429, ``, map[string]string{"Retry-After": "30"}, "retry", 30*time.Second)
	f("429 rate-limit-reset", 429, ``, map[string]string{"X-Rate-Limit-Reset": reset(10 * time.Minute)}, "retry", 8*time.Minute)
	f("503", 503, `<html>x</html>`, nil, "retry", 0)
	f("404", 404, `{"errors":[{"code":"ROUTE_NOT_FOUND","message":"nope"}]}`, nil, "perm", 0)
	f("redirect", 307, ``, map[string]string{"Location": "http://10.0.0.1/"}, "perm", 0)
}

func TestSendOAuthHeader(t *testing.T) {
	t.Parallel()
	var rec platformtest.Recorder
	srv := rec.Server(t, platformtest.Answer(200, `{}`, nil))
	cfg := x.Defaults()
	cfg.BaseURL = srv.URL + "/prefix"
	a := x.New(cfg, &http.Client{})
	for range 2 {
		_, err := a.Send(context.Background(), oauthPixel(), []*platforms.Event{event("purchase")})
		require.NoError(t, err)
	}
	reqs := rec.All()
	require.Len(t, reqs, 2)
	r := reqs[0]
	require.Equal(t, "/prefix/12/measurement/conversions/o8z6j", r.Path)
	h := r.Header.Get("Authorization")
	require.True(t, strings.HasPrefix(h, "OAuth "), h)
	for _, k := range []string{`oauth_consumer_key="` + consumerKey + `"`, `oauth_token="` + accessToken + `"`,
		`oauth_signature_method="HMAC-SHA1"`, `oauth_version="1.0"`, `oauth_nonce="`, `oauth_timestamp="`, `oauth_signature="`} {
		require.Contains(t, h, k)
	}
	require.NotContains(t, h, consumerSecret)
	require.NotContains(t, h, tokenSecret)
	require.NotEqual(t, h, reqs[1].Header.Get("Authorization"), "a fresh nonce per request")
	require.Empty(t, r.Header.Get("X-Pixel-Token"))

	// Missing OAuth keys: permanent auth, nothing sent.
	p := oauthPixel()
	delete(p.Credentials, "access_token_secret")
	_, err := a.Send(context.Background(), p, []*platforms.Event{event("purchase")})
	var pe *platforms.PermanentError
	require.ErrorAs(t, err, &pe)
	require.True(t, pe.Auth)
	require.Len(t, rec.All(), 2)
}

func TestSendPixelTokenAndBatchShape(t *testing.T) {
	t.Parallel()
	var rec platformtest.Recorder
	srv := rec.Server(t, platformtest.Answer(200, `{}`, nil))
	cfg := x.Defaults()
	cfg.BaseURL = srv.URL
	a := x.New(cfg, &http.Client{})
	search := event("lead")
	search.Props = map[string]any{"search_string": "shoes", "num_items": 3.0}
	noID := event("purchase")
	noID.IDs.TWCLID = ""
	_, err := a.Send(context.Background(), tokenPixel(), []*platforms.Event{search, noID})
	var be *platforms.BatchError
	require.ErrorAs(t, err, &be)
	require.Len(t, be.Errs, 1)
	require.Contains(t, be.Errs, 1)
	reqs := rec.All()
	require.Equal(t, pixelToken, reqs[0].Header.Get("X-Pixel-Token"))
	require.Equal(t, "Bearer "+pixelToken, reqs[0].Header.Get("Authorization"))
	require.JSONEq(t, `{"conversions":[{"conversion_time":"2026-11-29T11:00:00.000Z","event_id":"tw-o8z6j-o87nf",
	  "identifiers":[{"twclid":"23opevjt88psuo13lu8d020qkn"}],"conversion_id":"0b6c8f43-5a1e-4c4e-9b7d-3f0e2f1a9c11",
	  "number_items":3,"search_string":"shoes"}]}`, string(reqs[0].Body))
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
