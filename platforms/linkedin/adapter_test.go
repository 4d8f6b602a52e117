package linkedin_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/linkedin"
	"github.com/jaraba/pixelgw/platforms/platformtest"
)

const (
	token    = "li-secret-token-0123456789"
	urnLead  = "urn:lla:llaPartnerConversion:111"
	urnBuy   = "urn:lla:llaPartnerConversion:222"
	emailSHA = "542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345" // person@example.com
)

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func pixel() *platforms.Pixel {
	return &platforms.Pixel{
		UUID: "p1", TenantID: "t1", Platform: "linkedin", PixelID: "123456",
		Credentials: map[string]string{"access_token": token},
		Extras:      map[string]string{"ad_account_id": "507"},
		EventMap:    map[string]string{"lead": urnLead, "purchase": urnBuy, "page_view": ""},
	}
}

func event(name string) *platforms.Event {
	return &platforms.Event{
		TenantID: "t1", EventID: "0b6c8f43-5a1e-4c4e-9b7d-3f0e2f1a9c11", Name: name,
		Time: now.Add(-time.Hour), URL: "https://shop.example/done",
		ClientIP: "203.0.113.9", UserAgent: "Mozilla/5.0",
		Consent: platforms.Consent{Analytics: true, Marketing: true},
		IDs:     platforms.ClickIDs{LiFatID: "li-fat-1"},
		User:    platforms.UserData{Email: " Person@Example.com ", FirstName: "Jane", LastName: "Doe", Country: "es"},
		Props:   map[string]any{"value": 12.5, "currency": "eur"},
	}
}

func adapter(t *testing.T, baseURL string) *linkedin.Adapter {
	t.Helper()
	cfg := linkedin.Defaults()
	cfg.BaseURL = baseURL
	cfg.Timeout = 5 * time.Second
	require.NoError(t, cfg.Validate())
	return linkedin.New(cfg, &http.Client{})
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, linkedin.Defaults().Validate())
	f := func(mut func(*linkedin.Config), want string) {
		t.Helper()
		c := linkedin.Defaults()
		mut(&c)
		err := c.Validate()
		require.Error(t, err)
		require.Contains(t, err.Error(), want)
	}
	f(func(c *linkedin.Config) { c.BaseURL = "" }, "platforms.linkedin.base_url: required")
	f(func(c *linkedin.Config) { c.BaseURL = "ftp://x" }, "platforms.linkedin.base_url")
	f(func(c *linkedin.Config) { c.BaseURL = "https://u:p@api.linkedin.com" }, "platforms.linkedin.base_url: must not carry credentials")
	f(func(c *linkedin.Config) { c.BaseURL = "https://api.linkedin.com?x=1" }, "platforms.linkedin.base_url")
	f(func(c *linkedin.Config) { c.Version = "2026-04" }, "platforms.linkedin.version")
	f(func(c *linkedin.Config) { c.Version = "202613" }, "platforms.linkedin.version")
	f(func(c *linkedin.Config) { c.Timeout = 0 }, "platforms.linkedin.timeout")
	err := linkedin.Config{BaseURL: "https://u:hunter2secret@x", Version: "202604", Timeout: time.Second}.Validate()
	require.NotContains(t, err.Error(), "hunter2secret")
}

func TestCheck(t *testing.T) {
	t.Parallel()
	a := linkedin.New(linkedin.Defaults(), nil)
	require.Equal(t, "linkedin", a.Platform())
	require.Equal(t, 5000, a.MaxBatch())
	f := func(name string, mut func(*platforms.Event), want string) {
		t.Helper()
		e := event("lead")
		mut(e)
		platformtest.RequireCheck(t, a.Check(pixel(), e, now), want, name)
	}
	f("ok", func(*platforms.Event) {}, "ok")
	f("no marketing", func(e *platforms.Event) { e.Consent.Marketing = false }, "skip")
	f("unmapped", func(e *platforms.Event) { e.Name = "signup" }, "skip")
	f("do not send", func(e *platforms.Event) { e.Name = "page_view" }, "skip")
	f("too old", func(e *platforms.Event) { e.Time = now.Add(-91 * 24 * time.Hour) }, "90 days")
	f("89 days", func(e *platforms.Event) { e.Time = now.Add(-89 * 24 * time.Hour) }, "ok")
	f("no ids", func(e *platforms.Event) { e.IDs.LiFatID = ""; e.User.Email = "" }, "no user id")
	f("invalid email only", func(e *platforms.Event) { e.IDs.LiFatID = ""; e.User.Email = "not-an-email" }, "no user id")
	f("li_fat_id only", func(e *platforms.Event) { e.User.Email = "" }, "ok")
	f("hashed email only", func(e *platforms.Event) { e.IDs.LiFatID = ""; e.User.Email = emailSHA }, "ok")
	f("absurd value", func(e *platforms.Event) { e.Props["value"] = -3.0 }, "props.value")
	f("value not a number", func(e *platforms.Event) { e.Props["value"] = true }, "props.value")
	f("bad currency", func(e *platforms.Event) { e.Props["currency"] = "euros" }, "props.currency")
	f("long event id", func(e *platforms.Event) { e.EventID = strings.Repeat("x", 65) }, "eventId")

	p := pixel()
	p.EventMap["lead"] = "urn:li:sponsoredAccount:1"
	var pe *platforms.PermanentError
	require.ErrorAs(t, a.Check(p, event("lead"), now), &pe)
}

func TestSendRequest(t *testing.T) {
	t.Parallel()
	var rec platformtest.Recorder
	srv := rec.Server(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"elements":[{"status":201},{"status":201}]}`)
	})
	a := adapter(t, srv.URL+"/prefix")
	buy := event("purchase")
	buy.IDs.LiFatID = ""
	buy.User = platforms.UserData{Email: emailSHA, FirstName: "Jane"} // one name alone: no userInfo
	buy.Props = map[string]any{"value": "1500", "currency": "USD"}
	lead := event("lead")
	lead.Props = nil
	resp, err := a.Send(context.Background(), pixel(), []*platforms.Event{buy, lead})
	require.NoError(t, err)
	require.Equal(t, 200, resp.HTTPStatus)

	reqs := rec.All()
	require.Len(t, reqs, 1)
	r := reqs[0]
	require.Equal(t, http.MethodPost, r.Method)
	require.Equal(t, "/prefix/rest/conversionEvents", r.Path)
	require.Equal(t, "Bearer "+token, r.Header.Get("Authorization"))
	require.Equal(t, linkedin.DefaultVersion, r.Header.Get("LinkedIn-Version"))
	require.Equal(t, "2.0.0", r.Header.Get("X-Restli-Protocol-Version"))
	require.Equal(t, "BATCH_CREATE", r.Header.Get("X-RestLi-Method"))
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	ms := now.Add(-time.Hour).UnixMilli()
	require.JSONEq(t, `{"elements":[
	  {"conversion":"`+urnBuy+`","conversionHappenedAt":`+itoa(ms)+`,"eventId":"0b6c8f43-5a1e-4c4e-9b7d-3f0e2f1a9c11",
	   "conversionValue":{"currencyCode":"USD","amount":"1500"},
	   "user":{"userIds":[{"idType":"SHA256_EMAIL","idValue":"`+emailSHA+`"}]}},
	  {"conversion":"`+urnLead+`","conversionHappenedAt":`+itoa(ms)+`,"eventId":"0b6c8f43-5a1e-4c4e-9b7d-3f0e2f1a9c11",
	   "user":{"userIds":[{"idType":"SHA256_EMAIL","idValue":"`+emailSHA+`"},
	                      {"idType":"LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID","idValue":"li-fat-1"}],
	           "userInfo":{"firstName":"Jane","lastName":"Doe","countryCode":"ES"}}}]}`, string(r.Body))
	require.NotContains(t, string(r.Body), "Person@Example.com")
}

func itoa(v int64) string { b, _ := json.Marshal(v); return string(b) }

func TestSendClassify(t *testing.T) {
	t.Parallel()
	type want struct {
		kind  string // ok|retry|perm|auth|batch
		after time.Duration
		batch map[int]string // index -> retry|perm
		msg   string
	}
	f := func(name string, h http.HandlerFunc, w want) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var rec platformtest.Recorder
			srv := rec.Server(t, h)
			a := adapter(t, srv.URL)
			resp, err := a.Send(context.Background(), pixel(), []*platforms.Event{event("lead"), event("purchase")})
			require.NotContains(t, string(resp.Body), token)
			if err != nil {
				require.NotContains(t, err.Error(), token)
			}
			if w.msg != "" {
				require.ErrorContains(t, err, w.msg)
			}
			if re := platformtest.RequireClass(t, err, w.kind, w.batch); re != nil {
				require.Equal(t, w.after, re.RetryAfter)
			}
			require.Len(t, rec.All(), 1)
		})
	}
	f("batch ok", writer(200, `{"elements":[{"status":201},{"status":201}]}`), want{kind: "ok"})
	f("single created", writer(201, ``), want{kind: "ok"})
	f("batch partial", writer(200, `{"elements":[{"status":201},{"status":422,"message":"bad `+token+`"}]}`),
		want{kind: "batch", batch: map[int]string{1: "perm"}})
	f("batch element throttled", writer(200, `{"elements":[{"status":429},{"status":201}]}`),
		want{kind: "batch", batch: map[int]string{0: "retry"}})
	f("batch short answer", writer(200, `{"elements":[{"status":201}]}`),
		want{kind: "batch", batch: map[int]string{1: "retry"}})
	f("html 200", writer(200, `<html>gateway</html>`), want{kind: "retry"})
	f("401 revoked", writer(401, `{"status":401,"serviceErrorCode":65601,"code":"REVOKED_ACCESS_TOKEN","message":"The token used in the request has been revoked by the user `+token+`"}`),
		want{kind: "auth", msg: "REVOKED_ACCESS_TOKEN"})
	f("403", writer(403, `{"status":403,"message":"Not enough permissions"}`), want{kind: "auth"})
	f("426 retired", writer(426, `{"status":426,"message":"Requested version 202511 is not active"}`),
		want{kind: "perm", msg: "retired"})
	f("422 indexed", writer(422, `{"status":422,"message":"Index: 1, ERROR :: /conversionValue/amount :: field is required but not found and has no default value\n"}`),
		want{kind: "batch", batch: map[int]string{0: "retry", 1: "perm"}})
	f("422 plain", writer(422, `{"status":422,"message":"something"}`), want{kind: "perm"})
	f("400", writer(400, `{"status":400,"message":"Conversion's method should be CONVERSIONS_API"}`), want{kind: "perm", msg: "CONVERSIONS_API"})
	f("429", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(429)
	}, want{kind: "retry", after: 7 * time.Second})
	f("500", writer(500, `oops`), want{kind: "retry"})
	f("503 html", writer(503, `<html>down</html>`), want{kind: "retry"})
	f("redirect not followed", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data", http.StatusFound)
	}, want{kind: "perm", msg: "redirect"})
	f("endless body", func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 32<<10))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}, want{kind: "retry"})
}

func writer(status int, body string) http.HandlerFunc {
	return platformtest.Answer(status, body, map[string]string{"Content-Type": "application/json"})
}

func TestSendUnsendableEventsAreReported(t *testing.T) {
	t.Parallel()
	var rec platformtest.Recorder
	srv := rec.Server(t, writer(200, `{"elements":[{"status":201},{"status":400,"message":"no"}]}`))
	a := adapter(t, srv.URL)
	bad := event("lead")
	bad.IDs.LiFatID, bad.User.Email = "", "" // Check would have refused it
	unmapped := event("signup")
	_, err := a.Send(context.Background(), pixel(), []*platforms.Event{event("lead"), bad, unmapped, event("purchase")})
	var be *platforms.BatchError
	require.ErrorAs(t, err, &be)
	require.Len(t, be.Errs, 3)
	var pe *platforms.PermanentError
	require.ErrorAs(t, be.Errs[1], &pe)
	require.ErrorIs(t, be.Errs[2], platforms.ErrSkip)
	require.ErrorAs(t, be.Errs[3], &pe) // the server's element 1 is event 3
	require.NotContains(t, be.Errs, 0)
	var body struct {
		Elements []json.RawMessage `json:"elements"`
	}
	require.NoError(t, json.Unmarshal(rec.All()[0].Body, &body))
	require.Len(t, body.Elements, 2)
}

func TestSendNetworkFailures(t *testing.T) {
	t.Parallel()
	// A hung server: the request ends with the caller's context.
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	a := adapter(t, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	_, err := a.Send(ctx, pixel(), []*platforms.Event{event("lead")})
	var re *platforms.RetryableError
	require.ErrorAs(t, err, &re)
	require.ErrorIs(t, err, context.Canceled)

	// Connection refused.
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	_, err = adapter(t, url).Send(context.Background(), pixel(), []*platforms.Event{event("lead")})
	require.ErrorAs(t, err, &re)

	// No token: permanent auth, nothing sent.
	p := pixel()
	delete(p.Credentials, "access_token")
	var pe *platforms.PermanentError
	_, err = adapter(t, url).Send(context.Background(), p, []*platforms.Event{event("lead")})
	require.ErrorAs(t, err, &pe)
	require.True(t, pe.Auth)
}
