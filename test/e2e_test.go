package test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const demoCanary = "demo-meta-access-token-not-real"

func embeddedEnv(t *testing.T, dataDir, masterKey string) []string {
	t.Helper()
	return baseEnv(
		"PIXELGW_DATA_DIR="+dataDir,
		"PIXELGW_SECRETS_MASTER_KEY="+masterKey,
		"PIXELGW_API_JWT_KEYS_0_KID=t1",
		"PIXELGW_API_JWT_KEYS_0_ALG=HS256",
		"PIXELGW_API_JWT_KEYS_0_SECRET="+newMasterKey(t),
		"PIXELGW_SHUTDOWN_READY_DELAY=1s",
		"PIXELGW_SHUTDOWN_TIMEOUT=10s",
	)
}

// exercise drives a migrated, running gateway the way an operator and a
// tenant admin would, then stops it with SIGTERM.
func exercise(t *testing.T, env []string) {
	t.Helper()
	out, errOut, code := pixelgw(t, env, "seed-demo")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "demo tenant created")

	s := startServer(t, env)

	tok, errOut, code := pixelgw(t, env, "token", "-tenant", "demo", "-role", "admin", "-ttl", "10m")
	require.Equal(t, 0, code, errOut)
	tok = strings.TrimSpace(tok)

	code, body := httpGet(t, "http://"+s.api+"/api/v1/tracking/pixels", "", tok)
	require.Equal(t, 200, code, body)
	for _, p := range []string{"meta", "google", "linkedin", "tiktok", "twitter"} {
		require.Contains(t, body, `"platform":"`+p+`"`)
	}
	require.NotContains(t, body, demoCanary, "secrets are never returned")

	code, body = httpGet(t, "http://"+s.api+"/api/v1/tracking/pixels", "", "")
	require.Equal(t, 401, code)
	require.Contains(t, body, `"error":{"code":`)

	// The API listener never serves metrics; the ops listener does.
	code, _ = httpGet(t, "http://"+s.api+"/metrics", "", "")
	require.Equal(t, 404, code)
	code, body = httpGet(t, "http://"+s.ops+"/metrics", "", "")
	require.Equal(t, 200, code)
	require.Contains(t, body, "go_goroutines")

	// The edge answers health probes for any Host, and 404 otherwise.
	for _, host := range []string{"t.demo.localhost", "lb.internal", "unknown.example"} {
		code, _ = httpGet(t, "http://"+s.edge+"/healthz", host, "")
		require.Equal(t, 200, code)
		code, _ = httpGet(t, "http://"+s.edge+"/readyz", host, "")
		require.Equal(t, 200, code)
	}
	code, _ = httpGet(t, "http://"+s.edge+"/whatever", "unknown.example", "")
	require.Equal(t, 404, code)

	// SIGTERM: readiness goes 503 during ready_delay, then a clean exit.
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	saw503 := false
	deadline := time.Now().Add(5 * time.Second)
	for !saw503 && time.Now().Before(deadline) {
		if c, _ := httpGet(t, "http://"+s.ops+"/readyz", "", ""); c == 503 {
			saw503 = true
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.True(t, saw503, "readyz must answer 503 while draining:\n%s", s.log.String())
	select {
	case err := <-s.done:
		require.NoError(t, err, s.log.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("pixelgw did not stop after SIGTERM:\n%s", s.log.String())
	}
	require.Contains(t, s.log.String(), "pixelgw stopped")
	require.NotContains(t, s.log.String(), demoCanary, "secrets are never logged")
	require.NotContains(t, s.log.String(), tok, "tokens are never logged")
}

func TestEmbeddedMode(t *testing.T) {
	t.Parallel()
	env := embeddedEnv(t, t.TempDir(), newMasterKey(t))

	// An unmigrated database: the server refuses to start.
	_, errOut, code := pixelgw(t, env, "serve")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "pixelgw migrate")

	out, errOut, code := pixelgw(t, env, "migrate")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "applied migrations [1 2 3 4]")
	out, _, code = pixelgw(t, env, "migrate")
	require.Equal(t, 0, code)
	require.Contains(t, out, "schema is up to date")

	exercise(t, env)
}

func postgresDSN() string {
	if dsn := os.Getenv("PIXELGW_TEST_POSTGRES_DSN"); dsn != "" {
		return dsn
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

func TestScaledModeOnPostgres(t *testing.T) {
	t.Parallel()
	env := scaledTestEnv(t)
	_, errOut, code := pixelgw(t, env, "serve")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "pixelgw migrate")
	require.NotContains(t, errOut, "postgres://", "the DSN is a secret")

	out, errOut, code := pixelgw(t, env, "migrate")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "applied migrations [1 2 3 4]")
	exercise(t, env)
}

func TestConfigErrorsStopStartup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	key := newMasterKey(t)
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"unknown key", []string{"-config", write("unknown.yaml", "mode: embedded\nlisten_edge: :8080\n")}, []string{"PIXELGW_SECRETS_MASTER_KEY=" + key}, "listen_edge"},
		{"unknown nested key", []string{"-config", write("nested.yaml", "api:\n  jwt:\n    issuer: x\n    secret: y\n")}, []string{"PIXELGW_SECRETS_MASTER_KEY=" + key}, "api.jwt.secret"},
		{"missing master key", nil, nil, "secrets.master_key"},
		{"short master key", nil, []string{"PIXELGW_SECRETS_MASTER_KEY=c2hvcnQtY2FuYXJ5"}, "secrets.master_key"},
		{"unknown variable", nil, []string{"PIXELGW_SECRETS_MASTER_KEY=" + key, "PIXELGW_NOPE=1"}, "PIXELGW_NOPE"},
		{"bad mode", nil, []string{"PIXELGW_SECRETS_MASTER_KEY=" + key, "PIXELGW_MODE=cluster"}, "mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := baseEnv(append([]string{"PIXELGW_DATA_DIR=" + t.TempDir()}, tc.env...)...)
			for _, cmd := range []string{"serve", "check-config", "migrate"} {
				_, errOut, code := pixelgw(t, env, append([]string{cmd}, tc.args...)...)
				require.Equal(t, 1, code, cmd)
				require.Contains(t, errOut, tc.want, cmd)
				require.NotContains(t, errOut, "c2hvcnQtY2FuYXJ5", "secret values never in errors")
			}
		})
	}
}

func TestCheckConfigRedactsSecrets(t *testing.T) {
	t.Parallel()
	key := newMasterKey(t)
	env := baseEnv("PIXELGW_DATA_DIR="+t.TempDir(), "PIXELGW_SECRETS_MASTER_KEY="+key, "PIXELGW_REDIS_PASSWORD=redis-canary-pw")
	out, errOut, code := pixelgw(t, env, "check-config")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "configuration is valid")
	require.NotContains(t, out, key)
	require.NotContains(t, out, "redis-canary-pw")
}

func TestRotateKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k1, k2 := newMasterKey(t), newMasterKey(t)
	withKeys := func(active, activeKey string, prev ...string) []string {
		env := embeddedEnv(t, dir, activeKey)
		env = append(env, "PIXELGW_SECRETS_MASTER_KEY_ID="+active)
		for i := 0; i+1 < len(prev); i += 2 {
			env = append(env,
				fmt.Sprintf("PIXELGW_SECRETS_PREVIOUS_KEYS_%d_ID=%s", i/2, prev[i]),
				fmt.Sprintf("PIXELGW_SECRETS_PREVIOUS_KEYS_%d_KEY=%s", i/2, prev[i+1]))
		}
		return env
	}
	old := withKeys("k1", k1)
	_, errOut, code := pixelgw(t, old, "migrate")
	require.Equal(t, 0, code, errOut)
	_, errOut, code = pixelgw(t, old, "seed-demo")
	require.Equal(t, 0, code, errOut)

	// Only the new key: the old values cannot be opened, nothing changes.
	_, errOut, code = pixelgw(t, withKeys("k2", k2), "rotate-key")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "nothing was changed")

	out, errOut, code := pixelgw(t, withKeys("k2", k2, "k1", k1), "rotate-key")
	require.Equal(t, 0, code, errOut)
	n := regexp.MustCompile(`re-encrypted (\d+) secrets`).FindStringSubmatch(out)
	require.NotNil(t, n, out)
	require.NotEqual(t, "0", n[1], "the demo's pixel credentials and cookie keys were re-encrypted")

	// Everything is now under k2 alone: k1 can be dropped.
	_, errOut, code = pixelgw(t, withKeys("k2", k2), "rotate-key")
	require.Equal(t, 0, code, errOut)
	// And k1 alone can no longer open them.
	_, _, code = pixelgw(t, withKeys("k1", k1), "rotate-key")
	require.Equal(t, 1, code)
}

func TestTokenCommand(t *testing.T) {
	t.Parallel()
	env := embeddedEnv(t, t.TempDir(), newMasterKey(t))
	_, errOut, code := pixelgw(t, env, "migrate")
	require.Equal(t, 0, code, errOut)
	_, errOut, code = pixelgw(t, env, "token", "-tenant", "nope")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `no tenant "nope"`)
	_, _, code = pixelgw(t, env, "token", "-role", "admin")
	require.Equal(t, 2, code, "tenant required for admin")
	_, _, code = pixelgw(t, env, "token", "-role", "root", "-tenant", "x")
	require.Equal(t, 2, code)
	_, _, code = pixelgw(t, env, "token", "-role", "operator", "-ttl", "1000h")
	require.Equal(t, 2, code, "ttl above max_ttl")
	out, errOut, code := pixelgw(t, env, "token", "-role", "operator")
	require.Equal(t, 0, code, errOut)
	require.Len(t, strings.Split(strings.TrimSpace(out), "."), 3)
	_, _, code = pixelgw(t, env, "bogus")
	require.Equal(t, 2, code)
}

func TestSimulateCommand(t *testing.T) {
	t.Parallel()
	addr := freePort(t)
	cmd := exec.Command(binary, "simulate", "-listen", addr)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-done
		}
	})
	// A strict TikTok endpoint: no Access-Token → the API's own error envelope.
	deadline := time.Now().Add(20 * time.Second)
	var body string
	for {
		req, err := http.NewRequest("POST", "http://"+addr+"/tiktok/open_api/v1.3/event/track/", strings.NewReader(`{}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, 200, resp.StatusCode, "TikTok reports errors inside a 200")
			body = string(b)
			break
		}
		require.True(t, time.Now().Before(deadline), "simulator did not start: %s", out.String())
		time.Sleep(50 * time.Millisecond)
	}
	require.NotContains(t, body, `"code":0`)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("simulate did not stop on SIGTERM")
	}
}
