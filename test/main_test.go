// Package test holds black-box end-to-end tests: they build the real
// pixelgw binary and drive it over HTTP and its command line, in embedded
// mode (SQLite) and scaled mode (the real PostgreSQL on 127.0.0.1:5432).
package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/internal/syncbuf"
)

// binary is the pixelgw binary built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pixelgw-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "pixelgw")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "../cmd/pixelgw")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "cannot build pixelgw:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a 127.0.0.1 address that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func newMasterKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(b)
}

// syncBuffer is a concurrency-safe output sink.
type syncBuffer = syncbuf.Buffer

// pixelgw runs one subcommand to completion.
func pixelgw(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return out.String(), errb.String(), code
}

// server is a running `pixelgw serve`.
type server struct {
	cmd            *exec.Cmd
	log            *syncBuffer
	edge, api, ops string
	done           chan error
}

// startServer runs `pixelgw serve` with env plus listener addresses on free
// ports, and waits until /readyz answers 200.
func startServer(t *testing.T, env []string) *server {
	t.Helper()
	s := &server{log: &syncBuffer{}, edge: freePort(t), api: freePort(t), ops: freePort(t), done: make(chan error, 1)}
	s.cmd = exec.Command(binary, "serve")
	s.cmd.Env = append(append([]string{}, env...),
		"PIXELGW_EDGE_LISTEN="+s.edge, "PIXELGW_API_LISTEN="+s.api, "PIXELGW_OPS_LISTEN="+s.ops)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	require.NoError(t, s.cmd.Start())
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-s.done:
			t.Fatalf("pixelgw serve exited early: %v\n%s", err, s.log.String())
		default:
		}
		if code, _ := httpGet(t, "http://"+s.ops+"/readyz", "", ""); code == 200 {
			return s
		}
		require.True(t, time.Now().Before(deadline), "pixelgw not ready in 30s:\n%s", s.log.String())
		time.Sleep(50 * time.Millisecond)
	}
}

// httpGet returns status and body; status 0 when the connection fails.
func httpGet(t *testing.T, url, host, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if host != "" {
		req.Host = host
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// baseEnv is a minimal environment: PATH and HOME plus the given variables.
func baseEnv(kv ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, kv...)
}

func lines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }
