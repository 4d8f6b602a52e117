package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const canary = "CANARY7f3a"

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

type valuer struct{}

func (valuer) LogValue() slog.Value {
	return slog.GroupValue(slog.String("password", canary), slog.String("endpoint", "https://u:"+canary+"@h/x"))
}

func TestNewRejectsBadLevelAndFormat(t *testing.T) {
	t.Parallel()
	_, err := New(&bytes.Buffer{}, "verbose", "json")
	require.EqualError(t, err, `log level "verbose" is not one of debug, info, warn, error`)
	_, err = New(&bytes.Buffer{}, "info", "xml")
	require.EqualError(t, err, `log format "xml" is not one of json, text`)
}

func TestLevelFilters(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log, err := New(&buf, "warn", "json")
	require.NoError(t, err)
	log.Info("hidden")
	log.Warn("shown")
	require.NotContains(t, buf.String(), "hidden")
	require.Contains(t, buf.String(), `"msg":"shown"`)
}

// TestCanaryNeverLogged plants a canary secret in every place a secret can
// hide and checks it never reaches either output format.
func TestCanaryNeverLogged(t *testing.T) {
	t.Parallel()
	urlErr := &url.Error{Op: "Post", URL: "https://user:" + canary + "@graph.example/v1/events?access_token=" + canary, Err: errors.New("dial tcp: connection refused")}
	cases := []struct {
		name string
		log  func(l *slog.Logger)
	}{
		{"secret keys", func(l *slog.Logger) {
			l.Info("m", "token", canary, "access_token", canary, "api_key", canary, "apiKey", canary,
				"Authorization", "Bearer "+canary, "password", canary, "db_passwd", canary, "postgres_dsn", canary,
				"cookie", canary, "Set-Cookie", canary, "master_key", canary, "key", canary, "signingKey", canary,
				"client_secret", canary, "credentials", canary, "secret", 42)
		}},
		{"secret key with group value", func(l *slog.Logger) {
			l.Info("m", slog.Group("secret", slog.String("a", canary)))
		}},
		{"nested groups", func(l *slog.Logger) {
			l.Info("m", slog.Group("req", slog.Group("headers", slog.String("authorization", canary))))
		}},
		{"with attrs and group", func(l *slog.Logger) {
			l.With("token", canary).WithGroup("g").With("dsn", canary).Info("m", "url", "https://a:"+canary+"@h/")
		}},
		{"url in string", func(l *slog.Logger) {
			l.Info("m", "url", "https://user:"+canary+"@host/p?access_token="+canary+"#frag"+canary)
		}},
		{"url in message", func(l *slog.Logger) {
			l.Info("calling https://host/p?token=" + canary)
		}},
		{"url.Error", func(l *slog.Logger) { l.Error("m", "err", urlErr) }},
		{"wrapped url.Error", func(l *slog.Logger) {
			l.Error("m", "err", fmt.Errorf("cannot send batch: %w", urlErr))
		}},
		{"url.Error without scheme", func(l *slog.Logger) {
			l.Error("m", "err", &url.Error{Op: "Get", URL: "host/p?key=" + canary, Err: errors.New("unsupported protocol scheme")})
		}},
		{"url.URL", func(l *slog.Logger) {
			u, err := url.Parse("https://u:" + canary + "@h/p?sig=" + canary)
			require.NoError(t, err)
			l.Info("m", "target", u, "copy", *u)
		}},
		{"stringer", func(l *slog.Logger) { l.Info("m", "x", stringer{"https://h/?k=" + canary}) }},
		{"log valuer", func(l *slog.Logger) { l.Info("m", "v", valuer{}) }},
		{"dsn key value", func(l *slog.Logger) {
			l.Error("m", "err", errors.New("cannot connect: host=db user=pgw password="+canary+" dbname=x"))
		}},
		{"json body", func(l *slog.Logger) {
			l.Warn("m", "body", `{"error":"bad","access_token":"`+canary+`"}`)
		}},
		{"bearer in text", func(l *slog.Logger) { l.Warn("m", "header", "Authorization: Bearer "+canary) }},
		{"password with slash", func(l *slog.Logger) { l.Info("m", "u", "postgres://pgw:ab/"+canary+"@db:5432/x") }},
	}
	for _, format := range []string{"json", "text"} {
		for _, tc := range cases {
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				var buf bytes.Buffer
				l, err := New(&buf, "debug", format)
				require.NoError(t, err)
				tc.log(l)
				require.NotEmpty(t, buf.String())
				require.NotContains(t, buf.String(), canary)
			})
		}
	}
}

func TestRealURLErrorRedacted(t *testing.T) {
	t.Parallel()
	// Port 1 on loopback refuses at once: a real *url.Error from net/http.
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://user:"+canary+"@127.0.0.1:1/v1/events?access_token="+canary, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.Error(t, err)
	require.Contains(t, err.Error(), canary, "precondition: net/http leaks the URL")

	var buf bytes.Buffer
	l, err2 := New(&buf, "info", "json")
	require.NoError(t, err2)
	l.Error("cannot deliver", "err", err)
	require.NotContains(t, buf.String(), canary)
	require.Contains(t, buf.String(), `http://127.0.0.1:1/v1/events?[redacted]`)
}

func TestSanitize(t *testing.T) {
	t.Parallel()
	f := func(in, want string) {
		t.Helper()
		require.Equal(t, want, Sanitize(in))
	}
	f("https://user:pw@host/p?access_token=x", "https://host/p?[redacted]")
	f(`Post "https://user:pw@host/p?access_token=x": EOF`, `Post "https://host/p?[redacted]": EOF`)
	f("https://host/p", "https://host/p")
	f("https://host:8443/p#a=b", "https://host:8443/p?[redacted]")
	f("redis://:pw@cache:6379/0", "redis://cache:6379/0")
	f("postgres://u:p/w@db:5432/x", "postgres://db:5432/x")
	f("see https://a.example and http://b.example/?q=1 now", "see https://a.example and http://b.example/?[redacted] now")
	f("host=db password=hunter2 sslmode=disable", "host=db password=[redacted] sslmode=disable")
	f(`{"access_token":"abc","id":1}`, `{"access_token":"[redacted]","id":1}`)
	f("Authorization: Bearer abc.def.ghi", "Authorization: Bearer [redacted]")
	f("cannot verify token: expired", "cannot verify token: expired")
	f("plain message", "plain message")
}

func TestIsSecretKey(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"token", "X-Api-Key", "apiKey", "api_key", "access_token", "Authorization", "password",
		"passwd", "dsn", "postgres_dsn", "cookie", "key", "master_key", "signingKey", "private_key", "client_secret"} {
		require.True(t, IsSecretKey(k), k)
	}
	for _, k := range []string{"tenant", "platform", "event_id", "key_id", "kid", "monkey", "status", "request_id", "url", "err"} {
		require.False(t, IsSecretKey(k), k)
	}
}

type nilErr struct{ msg string }

func (e *nilErr) Error() string { return e.msg }

func TestTypedNilErrorDoesNotPanic(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l, err := New(&buf, "info", "json")
	require.NoError(t, err)
	var e *nilErr
	l.Error("m", "err", e, "s", (*url.URL)(nil))
	require.Contains(t, buf.String(), `"err":"!PANIC(`)
}

func TestRequestIDFromContext(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l, err := New(&buf, "info", "json")
	require.NoError(t, err)
	ctx := WithRequestID(context.Background(), "req-123")
	require.Equal(t, "req-123", RequestID(ctx))
	require.Empty(t, RequestID(context.Background()))

	l.WithGroup("edge").With("tenant", "t1").InfoContext(ctx, "served", "status", 200)
	l.Info("no context")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2)
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec))
	require.Equal(t, "req-123", rec["request_id"], "request_id stays top level under WithGroup")
	require.Equal(t, map[string]any{"tenant": "t1", "status": float64(200)}, rec["edge"])
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &rec))
	require.NotContains(t, lines[1], "request_id")
}

func TestGroupsKeepShape(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l, err := New(&buf, "info", "json")
	require.NoError(t, err)
	l.With("a", 1).WithGroup("g1").With("b", 2).WithGroup("g2").Info("m", "c", 3, "token", "x")
	l.WithGroup("empty").Info("m2")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2)
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec))
	require.Equal(t, float64(1), rec["a"])
	require.Equal(t, map[string]any{"b": float64(2), "g2": map[string]any{"c": float64(3), "token": RedactedValue}}, rec["g1"])
	require.NotContains(t, lines[1], "empty", "empty groups are omitted")
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{
		"https://user:pw@host/p?access_token=x",
		"postgres://u:p/w@db:5432/x",
		"host=db password=x",
		`{"token":"a\"b"}`,
		"Bearer abc",
		"https://h:abc/x@y?z#w",
		"://@?#",
		"a?b=c://x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := Sanitize(s)
		require.Equal(t, once, Sanitize(once), "Sanitize is idempotent")
		u := SanitizeURL(s)
		require.NotContains(t, u[min(len(u), strings.Index(u+"?", "?")):], "=", "no query survives")
	})
}
