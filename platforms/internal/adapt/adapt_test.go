package adapt

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/stretchr/testify/require"
)

func TestRedactErrKeepsChain(t *testing.T) {
	t.Parallel()
	base := &url.Error{Op: "Post", URL: "https://x/mp/collect?api_secret=canary-secret", Err: context.DeadlineExceeded}
	err := RedactErr(StripURL(base), []string{"canary-secret"})
	require.NotContains(t, err.Error(), "canary-secret")
	require.NotContains(t, err.Error(), "api_secret")
	require.ErrorIs(t, err, context.DeadlineExceeded)

	e2 := RedactErr(errors.New("token canary-secret refused"), []string{"canary-secret", "ab"})
	require.Equal(t, "token [REDACTED] refused", e2.Error())
	same := errors.New("nothing secret")
	require.Same(t, same, RedactErr(same, []string{"canary-secret"}))
	require.Equal(t, "ab stays", string(Redact([]byte("ab stays"), []string{"ab"})), "secrets under 4 bytes are not matched")
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	h := http.Header{}
	require.Zero(t, RetryAfter(h, now))
	h.Set("Retry-After", "7")
	require.Equal(t, 7*time.Second, RetryAfter(h, now))
	h.Set("Retry-After", "-3")
	require.Zero(t, RetryAfter(h, now))
	h.Set("Retry-After", "999999")
	require.Equal(t, 24*time.Hour, RetryAfter(h, now))
	h.Set("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat))
	require.Equal(t, 90*time.Second, RetryAfter(h, now))
	h.Set("Retry-After", "soon")
	require.Zero(t, RetryAfter(h, now))
}

func TestRetryAfterRounded(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 12, 0, 0, 400_000_000, time.UTC)
	h := http.Header{}
	require.Zero(t, RetryAfterRounded(h, now))
	h.Set("Retry-After", "0")
	require.Zero(t, RetryAfterRounded(h, now))
	h.Set("Retry-After", " 7 ")
	require.Equal(t, 7*time.Second, RetryAfterRounded(h, now))
	h.Set("Retry-After", "999999")
	require.Equal(t, 24*time.Hour, RetryAfterRounded(h, now))
	at := now.Truncate(time.Second).Add(48 * time.Hour)
	h.Set("Retry-After", at.Format(http.TimeFormat))
	require.Equal(t, 48*time.Hour, RetryAfterRounded(h, now), "a date: rounded to the second, not capped")
	require.Equal(t, 24*time.Hour, RetryAfter(h, now), "RetryAfter caps a date")
	h.Set("Retry-After", now.Add(-time.Minute).Format(http.TimeFormat))
	require.Zero(t, RetryAfterRounded(h, now))
}

func TestEventTime(t *testing.T) {
	t.Parallel()
	recv := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	require.Equal(t, recv.Add(-time.Minute), EventTime(&platforms.Event{Time: recv.Add(-time.Minute), Received: recv}))
	require.Equal(t, recv, EventTime(&platforms.Event{Time: recv.Add(time.Minute), Received: recv}), "a fast browser clock")
	require.Equal(t, recv.Add(time.Minute), EventTime(&platforms.Event{Time: recv.Add(time.Minute)}), "no receive time")
}

func TestEncodeRemap(t *testing.T) {
	t.Parallel()
	bad := errors.New("cannot encode")
	events := []*platforms.Event{{EventID: "a"}, {EventID: "bad"}, {EventID: "c"}}
	enc := func(e *platforms.Event) (string, error) {
		if e.EventID == "bad" {
			return "", bad
		}
		return e.EventID, nil
	}
	items, sent, err := Encode("p", 3, events, enc)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "c"}, items)

	var be *platforms.BatchError
	require.ErrorAs(t, sent.Remap(nil), &be)
	require.Equal(t, map[int]error{1: bad}, be.Errs)

	refused := errors.New("refused")
	require.ErrorAs(t, sent.Remap(refused), &be)
	require.Equal(t, map[int]error{0: refused, 1: bad, 2: refused}, be.Errs)

	require.ErrorAs(t, sent.Remap(&platforms.BatchError{Errs: map[int]error{1: refused}}), &be)
	require.Equal(t, map[int]error{1: bad, 2: refused}, be.Errs, "item 1 is event 2")

	_, all, err := Encode("p", 3, events[:1], enc)
	require.NoError(t, err)
	require.Same(t, refused, all.Remap(refused), "nothing left out: the result as it is")

	_, _, err = Encode("p", 3, events[1:2], enc)
	require.ErrorAs(t, err, &be)
	require.Equal(t, map[int]error{0: bad}, be.Errs)

	_, _, err = Encode("p", 2, events, enc)
	var pe *platforms.PermanentError
	require.ErrorAs(t, err, &pe)
	require.EqualError(t, pe.Err, "p: 3 events in one request, at most 2")
}

func TestStatusError(t *testing.T) {
	t.Parallel()
	f := func(st int, want string, retry, auth bool) {
		t.Helper()
		err := StatusError("p", st, ": why", time.Second)
		require.Equal(t, want, errors.Unwrap(err).Error())
		var re *platforms.RetryableError
		var pe *platforms.PermanentError
		if retry {
			require.ErrorAs(t, err, &re)
			require.Equal(t, time.Second, re.RetryAfter)
			return
		}
		require.ErrorAs(t, err, &pe)
		require.Equal(t, auth, pe.Auth)
	}
	f(401, "p: HTTP 401: why", false, true)
	f(403, "p: HTTP 403: why", false, true)
	f(408, "p: HTTP 408: why", true, false)
	f(429, "p: HTTP 429: why", true, false)
	f(503, "p: HTTP 503: why", true, false)
	f(302, "p: HTTP 302: unexpected redirect (not followed)", false, false)
	f(400, "p: HTTP 400: why", false, false)
}
