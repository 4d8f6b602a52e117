package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/jaraba/pixelgw/platforms/httpx"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newClient returns a client whose idle connections are closed at cleanup.
func newClient(t *testing.T, cfg httpx.Config) *http.Client {
	t.Helper()
	c := httpx.NewClient(cfg)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func newServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	require.NoError(t, err)
	return c.Do(req)
}

func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	var followed atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/target" {
			followed.Add(1)
			return
		}
		http.Redirect(w, r, "/target", http.StatusFound)
	})
	c := newClient(t, httpx.Config{AllowPrivate: true})
	resp, err := get(t, c, srv.URL+"/start")
	require.NoError(t, err)
	_, err = httpx.ReadBody(resp, 0)
	require.NoError(t, err)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "/target", resp.Header.Get("Location"))
	require.Zero(t, followed.Load())
}

func TestPrivateAddressRefused(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "ok")
	})
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)

	c := newClient(t, httpx.Config{})
	// An IP literal and a name that resolves to the loopback.
	for _, u := range []string{srv.URL, "http://localhost:" + port + "/"} {
		resp, err := get(t, c, u)
		if resp != nil {
			_ = resp.Body.Close()
		}
		require.Error(t, err, u)
		require.ErrorIs(t, err, httpx.ErrBlockedAddress, u)
	}
	require.Zero(t, hits.Load())

	allowed := newClient(t, httpx.Config{AllowPrivate: true})
	resp, err := get(t, allowed, srv.URL)
	require.NoError(t, err)
	body, err := httpx.ReadBody(resp, 0)
	require.NoError(t, err)
	require.Equal(t, "ok", string(body))
	require.EqualValues(t, 1, hits.Load())
}

// endless writes until the client goes away.
func endless(w http.ResponseWriter, r *http.Request) {
	chunk := []byte(strings.Repeat("x", 4096))
	for r.Context().Err() == nil {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

func TestEndlessBodyCapped(t *testing.T) {
	t.Parallel()
	srv := newServer(t, endless)
	c := newClient(t, httpx.Config{AllowPrivate: true})

	resp, err := get(t, c, srv.URL)
	require.NoError(t, err)
	body, err := httpx.ReadBody(resp, 1000)
	require.ErrorIs(t, err, httpx.ErrBodyTooLarge)
	require.Len(t, body, 1000)

	// The client's own cap holds even for a caller that reads everything.
	capped := newClient(t, httpx.Config{AllowPrivate: true, MaxResponseBytes: 10000})
	resp, err = get(t, capped, srv.URL)
	require.NoError(t, err)
	body, err = io.ReadAll(resp.Body)
	require.ErrorIs(t, err, httpx.ErrBodyTooLarge)
	require.Len(t, body, 10000)
	require.NoError(t, resp.Body.Close())

	// And ReadBody with a larger max stops at the client's cap.
	resp, err = get(t, capped, srv.URL)
	require.NoError(t, err)
	body, err = httpx.ReadBody(resp, 1<<20)
	require.ErrorIs(t, err, httpx.ErrBodyTooLarge)
	require.Len(t, body, 10000)
}

func TestReadBodyExactAndShort(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("y", 100))
	})
	c := newClient(t, httpx.Config{AllowPrivate: true, MaxResponseBytes: 100})
	for _, max := range []int64{100, 101, 0} {
		resp, err := get(t, c, srv.URL)
		require.NoError(t, err)
		body, err := httpx.ReadBody(resp, max)
		require.NoError(t, err, max)
		require.Len(t, body, 100)
	}
	resp, err := get(t, c, srv.URL)
	require.NoError(t, err)
	body, err := httpx.ReadBody(resp, 99)
	require.ErrorIs(t, err, httpx.ErrBodyTooLarge)
	require.Len(t, body, 99)

	body, err = httpx.ReadBody(nil, 10)
	require.NoError(t, err)
	require.Nil(t, body)
}

func TestHungServerTimesOut(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: unblocks handlers

	c := newClient(t, httpx.Config{AllowPrivate: true, Timeout: 200 * time.Millisecond})

	// No headers ever.
	resp, err := get(t, c, srv.URL+"/headers")
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.Error(t, err)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout(), err.Error())

	// Headers, then a body that never ends.
	resp, err = get(t, c, srv.URL+"/body")
	require.NoError(t, err)
	body, err := httpx.ReadBody(resp, 0)
	require.Error(t, err)
	require.NotErrorIs(t, err, httpx.ErrBodyTooLarge)
	require.Equal(t, "partial", string(body))
}

func TestContextCancel(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c := newClient(t, httpx.Config{AllowPrivate: true})
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	go cancel()
	resp, err := c.Do(req)
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.ErrorIs(t, err, context.Canceled)
}

func TestRedactRealURLError(t *testing.T) {
	t.Parallel()
	srv := newServer(t, func(http.ResponseWriter, *http.Request) {})
	c := newClient(t, httpx.Config{})
	u := strings.Replace(srv.URL, "http://", "http://user:canary-pass@", 1) +
		"/mp/collect?measurement_id=G-TEST&api_secret=canary#frag"
	resp, err := get(t, c, u)
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.Error(t, err)
	var raw *url.Error
	require.ErrorAs(t, err, &raw)
	require.Contains(t, err.Error(), "canary", "the unredacted error must carry the secret for this test to mean anything")

	red := httpx.RedactError(err)
	require.NotContains(t, red.Error(), "canary")
	require.NotContains(t, red.Error(), "frag")
	require.Contains(t, red.Error(), srv.Listener.Addr().String()+"/mp/collect")
	require.ErrorIs(t, red, httpx.ErrBlockedAddress)
	var ue *url.Error
	require.ErrorAs(t, red, &ue)
	require.NotContains(t, ue.URL, "canary")

	// Wrapped by an adapter: the message is redacted, errors.Is still
	// works, and the unredacted *url.Error cannot be dug out.
	wrapped := httpx.RedactError(fmt.Errorf("cannot send to google: %w", err))
	require.NotContains(t, wrapped.Error(), "canary")
	require.Contains(t, wrapped.Error(), "cannot send to google")
	require.ErrorIs(t, wrapped, httpx.ErrBlockedAddress)
	require.False(t, errors.As(wrapped, &ue))
}

func TestRedactTimeoutKeepsClassification(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c := newClient(t, httpx.Config{AllowPrivate: true, Timeout: 100 * time.Millisecond})
	resp, err := get(t, c, srv.URL+"/events?access_token=canary")
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.Error(t, err)
	for _, e := range []error{httpx.RedactError(err), httpx.RedactError(fmt.Errorf("meta: %w", err))} {
		require.NotContains(t, e.Error(), "canary")
		var ne net.Error
		require.ErrorAs(t, e, &ne)
		require.True(t, ne.Timeout(), e.Error())
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	f := func(in, want string) {
		t.Helper()
		require.Equal(t, want, httpx.RedactURL(in))
	}
	f("https://www.google-analytics.com/mp/collect?measurement_id=G-1&api_secret=s3cr3t",
		"https://www.google-analytics.com/mp/collect")
	f("https://graph.facebook.com/v21.0/123/events?access_token=EAAB", "https://graph.facebook.com/v21.0/123/events")
	f("https://user:pass@example.com/x#frag", "https://example.com/x")
	f("https://example.com/x?", "https://example.com/x")
	f("https://example.com/plain", "https://example.com/plain")
	f("", "")
	// Unparseable: cut anyway.
	f("http://us er:pa ss@exa mple.com/%zz?api_secret=s3cr3t", "http://exa mple.com/%zz")
	f("%zz?access_token=x", "%zz")
}

func TestRedactError(t *testing.T) {
	t.Parallel()
	require.NoError(t, httpx.RedactError(nil))
	plain := errors.New("connection refused")
	require.Same(t, plain, httpx.RedactError(plain))

	f := func(in, want string) {
		t.Helper()
		got := httpx.RedactError(errors.New(in))
		require.Equal(t, want, got.Error())
	}
	f(`Post "https://www.google-analytics.com/debug/mp/collect?api_secret=abc&measurement_id=G-1": EOF`,
		`Post "https://www.google-analytics.com/debug/mp/collect": EOF`)
	f("bad body access_token=EAAB&data=x", "bad body access_token=REDACTED&data=x")
	f("see https://u:p@h.example/p?q=1 and http://h2.example/?api_secret=z",
		"see https://h.example/p and http://h2.example/")
	f("oauth_signature=abc%3D, oauth_token=tok", "oauth_signature=REDACTED, oauth_token=REDACTED")
	f(`OAuth oauth_signature="a%2Bb", oauth_version="1.0"`, `OAuth oauth_signature=REDACTED, oauth_version="1.0"`)
}

// FuzzRedactURL: no panic, and nothing after a '?' or '#' survives.
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{
		"https://www.google-analytics.com/mp/collect?api_secret=x", "http://u:p@h/p#f", "%zz?x", "mailto:a?b",
		"//h/p?q", "?q", "http://[::1]:80/a?b", "http://h/%3F?x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := httpx.RedactURL(s)
		require.NotContains(t, r, "?", s)
		require.NotContains(t, r, "#", s)
		red := httpx.RedactError(errors.New(s))
		require.NotContains(t, red.Error(), "api_secret=x", s)
	})
}
