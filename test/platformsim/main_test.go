package platformsim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// now is every test simulator's clock.
var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// newSim starts a simulator on 127.0.0.1 with the test clock.
func newSim(t *testing.T, opts Options) (*Sim, string) {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return now }
	}
	s := New(opts)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.Close()
		srv.Close()
	})
	return s, srv.URL
}

type answer struct {
	status int
	header http.Header
	raw    []byte
	json   map[string]any
}

// send posts body (a []byte or a value to marshal) and never follows
// redirects.
func send(t *testing.T, ctx context.Context, method, url string, hdr map[string]string, body any) (answer, error) {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		var err error
		b, err = json.Marshal(v)
		require.NoError(t, err)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(b))
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		require.NoError(t, dec.Decode(&a.json), string(raw))
	}
	return a, nil
}

func post(t *testing.T, url string, hdr map[string]string, body any) answer {
	t.Helper()
	a, err := send(t, context.Background(), http.MethodPost, url, hdr, body)
	require.NoError(t, err)
	return a
}

// num reads a JSON number at a path of nested objects (0 when absent).
func num(t *testing.T, m map[string]any, path ...string) int64 {
	t.Helper()
	var cur any = m
	for _, p := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return 0
		}
		cur = obj[p]
	}
	if cur == nil {
		return 0
	}
	n, ok := cur.(json.Number)
	require.True(t, ok, "%v is not a number", cur)
	i, err := n.Int64()
	require.NoError(t, err)
	return i
}

// clone deep-copies a JSON-like value so table cases can mutate it.
func clone[T any](v T) T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out T
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		panic(err)
	}
	return out
}
