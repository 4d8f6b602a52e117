package platformtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/stretchr/testify/require"
)

// Helpers for an adapter's own unit tests, against a hand-written answer
// rather than the simulator.

// Recorder is a platform stand-in on an httptest server (closed by
// t.Cleanup): it records each request and answers with a handler.
type Recorder struct {
	mu   sync.Mutex
	reqs []Recorded
}

// Recorded is one request a Recorder received.
type Recorded struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// Server starts the stand-in; h writes each answer.
func (r *Recorder) Server(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, Recorded{req.Method, req.URL.Path, req.Header.Clone(), b})
		r.mu.Unlock()
		h(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// All returns the requests received so far.
func (r *Recorder) All() []Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Recorded(nil), r.reqs...)
}

// Answer is a handler that answers status with hdr's headers and body.
func Answer(status int, body string, hdr map[string]string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// RequireCheck checks a Check result: want is "ok" (nil), "skip"
// (platforms.ErrSkip), or else a text the *platforms.PermanentError (not
// an auth failure) must contain.
func RequireCheck(t *testing.T, err error, want, name string) {
	t.Helper()
	switch want {
	case "ok":
		require.NoError(t, err, name)
	case "skip":
		require.ErrorIs(t, err, platforms.ErrSkip, name)
	default:
		var pe *platforms.PermanentError
		require.ErrorAs(t, err, &pe, name)
		require.False(t, pe.Auth, name)
		require.Contains(t, err.Error(), want, name)
	}
}

// RequireClass checks a Send result's class: kind is "ok" (nil), "retry"
// (a *platforms.RetryableError, returned for its RetryAfter), "perm" (a
// *platforms.PermanentError, not auth), "auth" (an auth failure) or
// "batch": a *platforms.BatchError naming exactly batch's indexes, each
// "retry" or "perm".
func RequireClass(t *testing.T, err error, kind string, batch map[int]string) *platforms.RetryableError {
	t.Helper()
	var re *platforms.RetryableError
	var pe *platforms.PermanentError
	var be *platforms.BatchError
	switch kind {
	case "ok":
		require.NoError(t, err)
	case "retry":
		require.ErrorAs(t, err, &re)
	case "perm", "auth":
		require.ErrorAs(t, err, &pe)
		require.Equal(t, kind == "auth", pe.Auth, "auth failure")
	case "batch":
		require.ErrorAs(t, err, &be)
		require.Len(t, be.Errs, len(batch))
		for i, k := range batch {
			e, ok := be.Errs[i]
			require.True(t, ok, "index %d", i)
			if k == "retry" {
				require.ErrorAs(t, e, new(*platforms.RetryableError))
			} else {
				require.ErrorAs(t, e, new(*platforms.PermanentError))
			}
		}
	default:
		require.FailNow(t, "unknown kind", kind)
	}
	return re
}
