package adapt

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

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
