package tiktok_test

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
	"github.com/jaraba/pixelgw/platforms/tiktok"
)

const (
	token     = "tt-secret-token-0123456789"
	pixelCode = "C9ABCDEFGHIJKLMNOPQ1"
)

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func pixel() *platforms.Pixel {
	return &platforms.Pixel{
		UUID: "p1", TenantID: "t1", Platform: "tiktok", PixelID: pixelCode,
		Credentials: map[string]string{"access_token": token},
		EventMap:    map[string]string{"custom:quote": "RequestQuote"},
	}
}

func event(name string) *platforms.Event {
	return &platforms.Event{
		TenantID: "t1", EventID: "0b6c8f43-5a1e-4c4e-9b7d-3f0e2f1a9c11", Name: name,
		Time: now.Add(-time.Hour), URL: "https://shop.example/done",
		Consent: platforms.Consent{Marketing: true},
		User:    platforms.UserData{Email: "person@example.com"},
		Props:   map[string]any{"value": 12.5, "currency": "eur"},
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, tiktok.Defaults().Validate())
	f := func(mut func(*tiktok.Config), want string) {
		t.Helper()
		c := tiktok.Defaults()
		mut(&c)
		require.ErrorContains(t, c.Validate(), want)
	}
	f(func(c *tiktok.Config) { c.BaseURL = "" }, "platforms.tiktok.base_url: required")
	f(func(c *tiktok.Config) { c.BaseURL = "https://business-api.tiktok.com/#x" }, "platforms.tiktok.base_url")
	f(func(c *tiktok.Config) { c.Version = "1.3" }, "platforms.tiktok.version")
	f(func(c *tiktok.Config) { c.Timeout = -time.Second }, "platforms.tiktok.timeout")
}

func TestMapping(t *testing.T) {
	t.Parallel()
	f := func(internal, want string) {
		t.Helper()
		require.Equal(t, want, tiktok.StandardEvent(internal), internal)
	}
	f("purchase", "Purchase") // not the legacy CompletePayment/PlaceAnOrder
	f("lead", "Lead")         // not the legacy SubmitForm
	f("signup", "CompleteRegistration")
	f("initiate_checkout", "InitiateCheckout")
	f("add_to_wishlist", "AddToWishlist")
	f("page_view", "") // no standard page view: skipped unless mapped
	f("custom:quote", "")
	for _, spec := range platforms.Events() {
		if spec.Name != "page_view" {
			require.NotEmpty(t, tiktok.StandardEvent(spec.Name), spec.Name)
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	a := tiktok.New(tiktok.Defaults(), nil)
	require.Equal(t, "tiktok", a.Platform())
	require.Equal(t, 1000, a.MaxBatch())
	f := func(name string, mut func(*platforms.Event, *platforms.Pixel), want string) {
		t.Helper()
		e, p := event("purchase"), pixel()
		mut(e, p)
		platformtest.RequireCheck(t, a.Check(p, e, now), want, name)
	}
	f("ok", func(*platforms.Event, *platforms.Pixel) {}, "ok")
	f("no marketing", func(e *platforms.Event, _ *platforms.Pixel) { e.Consent.Marketing = false }, "skip")
	f("page_view unmapped", func(e *platforms.Event, _ *platforms.Pixel) { e.Name = "page_view" }, "skip")
	f("page_view mapped", func(e *platforms.Event, p *platforms.Pixel) {
		e.Name = "page_view"
		p.EventMap["page_view"] = "Pageview"
	}, "ok")
	f("custom mapped", func(e *platforms.Event, _ *platforms.Pixel) { e.Name = "custom:quote" }, "ok")
	f("do not send", func(e *platforms.Event, p *platforms.Pixel) { p.EventMap["purchase"] = "" }, "skip")
	f("no url", func(e *platforms.Event, _ *platforms.Pixel) { e.URL = "" }, "page.url")
	f("too old", func(e *platforms.Event, _ *platforms.Pixel) { e.Time = now.Add(-8 * 24 * time.Hour) }, "7 days")
	f("future", func(e *platforms.Event, _ *platforms.Pixel) { e.Time = now.Add(time.Hour) }, "future")
	f("bad value", func(e *platforms.Event, _ *platforms.Pixel) { e.Props["value"] = "lots" }, "props.value")
	f("bad currency", func(e *platforms.Event, _ *platforms.Pixel) { e.Props["currency"] = "€" }, "props.currency")
	f("no user data at all", func(e *platforms.Event, _ *platforms.Pixel) { e.User = platforms.UserData{} }, "ok")
}

func TestClassify(t *testing.T) {
	t.Parallel()
	f := func(name string, status int, body string, hdr map[string]string, kind string, after time.Duration, batch map[int]string) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var rec platformtest.Recorder
			srv := rec.Server(t, platformtest.Answer(status, body, hdr))
			cfg := tiktok.Defaults()
			cfg.BaseURL = srv.URL
			a := tiktok.New(cfg, &http.Client{})
			resp, err := a.Send(context.Background(), pixel(), []*platforms.Event{event("purchase"), event("lead")})
			require.Equal(t, status, resp.HTTPStatus)
			require.NotContains(t, string(resp.Body), token)
			if err != nil {
				require.NotContains(t, err.Error(), token)
			}
			if re := platformtest.RequireClass(t, err, kind, batch); re != nil {
				require.Equal(t, after, re.RetryAfter)
			}
			h := rec.All()[0].Header
			require.Equal(t, token, h.Get("Access-Token"))
			require.Equal(t, "application/json", h.Get("Content-Type"))
		})
	}
	f("ok", 200, `{"code":0,"message":"OK","request_id":"r","data":{}}`, nil, "ok", 0, nil)
	f("partial", 200, `{"code":20001,"message":"Partial success","data":{"failed_events":[{"index":1,"code":40002,"message":"bad"}]}}`, nil,
		"batch", 0, map[int]string{1: "perm"})
	f("partial without detail", 200, `{"code":20001,"message":"Partial success"}`, nil, "ok", 0, nil)
	f("rate limit in 200", 200, `{"code":40100,"message":"Too many requests"}`, map[string]string{"Retry-After": "2"}, "retry", 2*time.Second, nil)
	f("permission in 200", 200, `{"code":40001,"message":"No permission `+token+`"}`, nil, "auth", 0, nil)
	f("invalid token in 200", 200, `{"code":40105,"message":"Access token is invalid"}`, nil, "auth", 0, nil)
	f("validation in 200", 200, `{"code":40002,"message":"Batch.0.properties.contents.0.content_id: Not a valid string"}`, nil, "perm", 0, nil)
	f("system error in 200", 200, `{"code":50000,"message":"System error"}`, nil, "retry", 0, nil)
	f("unknown code in 200", 200, `{"code":41000,"message":"?"}`, nil, "perm", 0, nil)
	f("html 200", 200, `<html>proxy</html>`, nil, "retry", 0, nil)
	f("empty 200", 200, ``, nil, "retry", 0, nil)
	f("http 429", 429, ``, map[string]string{"Retry-After": "9"}, "retry", 9*time.Second, nil)
	f("http 500 json", 500, `{"code":50000,"message":"System error"}`, nil, "retry", 0, nil)
	f("http 401", 401, `unauthorized`, nil, "auth", 0, nil)
	f("http 400 rate code", 400, `{"code":40100,"message":"Too many requests"}`, nil, "retry", 0, nil)
	f("http 404 html", 404, `<html>nope</html>`, nil, "perm", 0, nil)
	f("redirect", 302, ``, map[string]string{"Location": "http://127.0.0.1:1/x"}, "perm", 0, nil)
}

func TestSendRequestShape(t *testing.T) {
	t.Parallel()
	var rec platformtest.Recorder
	srv := rec.Server(t, platformtest.Answer(200, `{"code":0}`, nil))
	cfg := tiktok.Defaults()
	cfg.BaseURL = srv.URL + "/"
	a := tiktok.New(cfg, &http.Client{})
	search := event("search")
	search.Props = map[string]any{"search_string": "red shoes"}
	hashedPhone := "1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8" // +16505551212
	search.User = platforms.UserData{Phone: "+1 (650) 555-1212", City: hashedPhone}
	noURL := event("lead")
	noURL.URL = ""
	_, err := a.Send(context.Background(), pixel(), []*platforms.Event{search, noURL})
	var be *platforms.BatchError
	require.ErrorAs(t, err, &be)
	require.Len(t, be.Errs, 1)
	require.Contains(t, be.Errs, 1)
	reqs := rec.All()
	require.Len(t, reqs, 1)
	require.JSONEq(t, `{"event_source":"web","event_source_id":"`+pixelCode+`","data":[{
	  "event":"Search","event_time":`+itoa(now.Add(-time.Hour).Unix())+`,"event_id":"0b6c8f43-5a1e-4c4e-9b7d-3f0e2f1a9c11",
	  "user":{"phone":"`+hashedPhone+`"},
	  "page":{"url":"https://shop.example/done"},
	  "properties":{"query":"red shoes"}}]}`, string(reqs[0].Body))
	require.False(t, strings.Contains(string(reqs[0].Body), "650"), "raw phone never sent")
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
