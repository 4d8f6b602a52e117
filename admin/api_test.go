package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/store/storesqlite"
)

// TestOpenAPIMatchesRoutes keeps openapi.json and routes.go in sync: the
// same paths with the same methods, both ways.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("GET", "/api/v1/openapi.json", "", "")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."), doc.OpenAPI)

	var inDoc []string
	for p, ops := range doc.Paths {
		for m := range ops {
			switch m {
			case "get", "post", "put", "patch", "delete", "head", "options", "trace":
				inDoc = append(inDoc, strings.ToUpper(m)+" "+p)
			}
		}
	}
	var inRoutes []string
	for _, rt := range e.api.routes() {
		inRoutes = append(inRoutes, rt.method+" "+rt.pattern)
	}
	slices.Sort(inDoc)
	slices.Sort(inRoutes)
	require.Equal(t, inRoutes, inDoc)
}

func TestUnroutedRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/", http.StatusNotFound, ""},
		{"GET", "/metrics", http.StatusNotFound, ""},
		{"GET", "/api/v1/nope", http.StatusNotFound, ""},
		{"GET", "/api/v2/tracking/pixels", http.StatusNotFound, ""},
		{"PUT", "/api/v1/tracking/pixels", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{"POST", "/api/v1/tracking/pixels/" + randomUUID(), http.StatusMethodNotAllowed, "GET, HEAD, PATCH, DELETE"},
		{"DELETE", "/api/v1/openapi.json", http.StatusMethodNotAllowed, "GET, HEAD"},
	} {
		r := e.do(tc.method, tc.path, "", "")
		require.Equal(t, tc.status, r.status, "%s %s: %s", tc.method, tc.path, r.body)
		require.Equal(t, tc.allow, r.header.Get("Allow"))
		code, _ := errorOf(t, r)
		if tc.status == http.StatusNotFound {
			require.Equal(t, "not_found", code)
		} else {
			require.Equal(t, "method_not_allowed", code)
		}
	}
}

func TestRequestLogAndID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.mustTenant("alpha")
	tok := e.token(RoleAdmin, a.ID)

	r := e.do("GET", "/api/v1/tracking/pixels/"+randomUUID(), tok, "", "X-Request-Id", "req-123")
	require.Equal(t, "req-123", r.header.Get("X-Request-Id"))
	r = e.do("POST", "/api/v1/tracking/pixels", tok, metaPixel, "X-Request-Id", "bad id\nwith newline")
	require.Equal(t, http.StatusCreated, r.status)
	generated := r.header.Get("X-Request-Id")
	require.Len(t, generated, 36)

	type line struct {
		Msg       string `json:"msg"`
		Method    string `json:"method"`
		Route     string `json:"route"`
		Status    int    `json:"status"`
		RequestID string `json:"request_id"`
		Duration  int64  `json:"duration"`
	}
	var lines []line
	sc := bufio.NewScanner(strings.NewReader(e.logs.String()))
	for sc.Scan() {
		var l line
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l))
		if l.Msg == "admin request" {
			lines = append(lines, l)
		}
	}
	require.Len(t, lines, 2)
	require.Equal(t, line{Msg: "admin request", Method: "GET", Route: "GET /api/v1/tracking/pixels/{uuid}", Status: 404, RequestID: "req-123", Duration: lines[0].Duration}, lines[0])
	require.Equal(t, line{Msg: "admin request", Method: "POST", Route: "POST /api/v1/tracking/pixels", Status: 201, RequestID: generated, Duration: lines[1].Duration}, lines[1])
	logs := e.logs.String()
	require.NotContains(t, logs, tok)
	require.NotContains(t, logs, "Bearer")
	require.NotContains(t, logs, "EAAB-meta-token-0001")
}

// TestCanarySecretNeverLeaks plants a canary access token and checks every
// response body and the whole log.
func TestCanarySecretNeverLeaks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.mustTenant("alpha")
	tok := e.token(RoleAdmin, a.ID)
	const canary = "CANARY-tok-3f9a1c7e5b2d4086"

	r := e.do("POST", "/api/v1/tracking/pixels", tok, `{"platform":"tiktok","pixel_id":"C4ABCDEFGHIJ1234567K","credentials":{"access_token":"`+canary+`"}}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	v := decode[PixelView](t, r)
	require.Equal(t, "…4086", v.CredentialHints["access_token"])

	steps := []struct{ method, path, body string }{
		{"GET", "/api/v1/tracking/pixels", ""},
		{"GET", "/api/v1/tracking/pixels/" + v.UUID, ""},
		{"PATCH", "/api/v1/tracking/pixels/" + v.UUID, `{"test_event_code":"T1"}`},
		// Failing requests that carry the canary.
		{"POST", "/api/v1/tracking/pixels", `{"platform":"tiktok","pixel_id":"C4ABCDEFGHIJ1234567K","credentials":{"access_token":"` + canary + `"}}`},
		{"POST", "/api/v1/tracking/pixels", `{"platform":"tiktok","pixel_id":"bad","credentials":{"access_token":"` + canary + `"}}`},
		{"POST", "/api/v1/tracking/pixels", `{"platform":"tiktok","pixel_id":"C4ABCDEFGHIJ1234567Z","credentials":{"access_token":"` + canary + "\u0001" + `"}}`},
		{"POST", "/api/v1/tracking/pixels", `{"platform":"tiktok","pixel_id":"C4ABCDEFGHIJ1234567Z","credentials":{"access_token":"` + canary + strings.Repeat("x", 4100) + `"}}`},
		{"POST", "/api/v1/tracking/pixels", `{"platform":"tiktok","pixel_id":"C4ABCDEFGHIJ1234567Z","credentials":{"access_token":` + `["` + canary + `"]}}`},
		{"POST", "/api/v1/tracking/pixels", `{"platform":"tiktok","credentials":{"access_token":"` + canary + `"` + "}"},
		{"PATCH", "/api/v1/tracking/pixels/" + v.UUID, `{"credentials":{"access_token":"` + canary + `","bogus":"` + canary + `"}}`},
		{"PATCH", "/api/v1/tracking/pixels/" + v.UUID, `{"credentials":{"access_token":` + canary + `}}`},
	}
	for _, s := range steps {
		e.do(s.method, s.path, tok, s.body)
	}
	e.mu.Lock()
	bodies := slices.Clone(e.bodies)
	e.mu.Unlock()
	require.Greater(t, len(bodies), len(steps))
	for _, b := range bodies {
		require.NotContains(t, b, canary)
		require.NotContains(t, b, "CANARY")
	}
	require.NotContains(t, e.logs.String(), canary)
	require.NotContains(t, e.logs.String(), "CANARY")

	stored, err := e.st.GetPixel(context.Background(), a.ID, v.UUID)
	require.NoError(t, err)
	require.NotContains(t, string(stored.Credentials.Ciphertext), canary)
	for _, h := range stored.CredentialHints {
		require.NotContains(t, h, canary)
	}
}

func TestServerLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.cfg
	cfg.Listen = "127.0.0.1:0"
	s := NewServer(cfg, e.api, e.api.log)
	ctx := context.Background()

	// Stop before Start is a no-op.
	never := NewServer(cfg, e.api, e.api.log)
	require.NoError(t, never.Stop(ctx))
	require.NoError(t, never.Stop(ctx))

	require.NoError(t, s.Start(ctx))
	require.NoError(t, s.Start(ctx))
	resp, err := http.Get("http://" + s.Addr() + "/api/v1/openapi.json")
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	http.DefaultClient.CloseIdleConnections()

	stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, s.Stop(stopCtx))
	require.NoError(t, s.Stop(stopCtx))
	require.Error(t, s.Start(ctx), "a stopped server does not restart")
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.cfg
	cfg.JWT.Keys = append(cfg.JWT.Keys, JWTKey{KID: "bad", Alg: "HS256", Secret: "c2hvcnQ="})
	_, err := New(cfg, Deps{Store: e.st, Keyring: e.keyring, Logger: e.api.log})
	require.EqualError(t, err, "api.jwt.keys[3]: secret: 5 bytes decoded, need at least 32")
	_, err = New(e.cfg, Deps{Keyring: e.keyring, Logger: e.api.log})
	require.Error(t, err)
}

// TestInternalErrorIsGeneric: a store failure is a 500 with a generic
// message naming the request id, logged with that id.
func TestInternalErrorIsGeneric(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.mustTenant("alpha")
	tok := e.token(RoleOperator, a.ID)
	broken, err := storesqlite.Open(context.Background(), filepath.Join(t.TempDir(), "broken.db"))
	require.NoError(t, err)
	require.NoError(t, broken.Close())
	api, err := New(e.cfg, Deps{Store: broken, Keyring: e.keyring, Logger: e.api.log, Now: e.api.now})
	require.NoError(t, err)
	e.h = api.Handler()

	r := e.do("GET", "/api/v1/tenants", tok, "", "X-Request-Id", "rid-500")
	require.Equal(t, http.StatusInternalServerError, r.status, r.body)
	code, msg := errorOf(t, r)
	require.Equal(t, "internal_error", code)
	require.Equal(t, "internal error (request id rid-500)", msg)
	require.Contains(t, e.logs.String(), `"msg":"admin request error","request_id":"rid-500"`)
}

func TestPanicIsA500(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.api.mux = http.NewServeMux()
	e.api.mux.HandleFunc("GET /api/v1/boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	r := e.do("GET", "/api/v1/boom", "", "", "X-Request-Id", "rid-panic")
	require.Equal(t, http.StatusInternalServerError, r.status, r.body)
	code, _ := errorOf(t, r)
	require.Equal(t, "internal_error", code)
	require.Contains(t, e.logs.String(), `"msg":"admin handler panic","request_id":"rid-panic"`)
}
