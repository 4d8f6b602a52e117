package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// beaconServer is an in-process collect endpoint that records every event id
// it sees and answers with answer(n), n counting requests from 1.
type beaconServer struct {
	mu       sync.Mutex
	ids      map[string]int
	statuses map[int]int
	bad      []string // what was wrong with a request, if anything
}

func startBeaconServer(t *testing.T, answer func(n int, w http.ResponseWriter) int) (*beaconServer, string) {
	t.Helper()
	s := &beaconServer{ids: map[string]int{}, statuses: map[int]int{}}
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var b struct {
			Events []struct {
				Name, ID string
				TS       int64
			}
		}
		err := json.Unmarshal(body, &b)
		s.mu.Lock()
		defer s.mu.Unlock()
		switch {
		case err != nil || len(b.Events) != 1:
			s.bad = append(s.bad, "body "+string(body))
		case r.Method != http.MethodPost || r.URL.Path != "/c" || r.Host != "t.example" ||
			r.Header.Get("Origin") != "http://www.example" || r.Header.Get("Cookie") != "c=1" ||
			r.Header.Get("Content-Type") != "text/plain;charset=UTF-8":
			s.bad = append(s.bad, "headers "+r.Method+" "+r.URL.Path+" "+r.Host)
		case time.Since(time.UnixMilli(b.Events[0].TS)).Abs() > time.Minute:
			s.bad = append(s.bad, "ts "+strconv.FormatInt(b.Events[0].TS, 10))
		default:
			s.ids[b.Events[0].ID]++
		}
		n++
		s.statuses[answer(n, w)]++
	}))
	t.Cleanup(srv.Close)
	return s, strings.TrimPrefix(srv.URL, "http://")
}

var lineRE = regexp.MustCompile(`^OPENLOOP target_rps=(\d+) sent=(\d+) seconds=(\d+\.\d\d) rps=(\d+) ` +
	`p50_ms=\d+\.\d\d p90_ms=\d+\.\d\d p99_ms=\d+\.\d\d p999_ms=\d+\.\d\d max_ms=\d+\.\d\d ` +
	`non2xx=(\d+) errors=(\d+) statuses=map\[([0-9: ]*)\]\n$`)

// result is the printed line, parsed as run.sh reads it.
type printed struct {
	target, sent, non2xx, errors int
	statuses                     map[int]int
}

func parseLine(t *testing.T, line string) printed {
	t.Helper()
	m := lineRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("the line does not parse: %q", line)
	}
	atoi := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	p := printed{target: atoi(m[1]), sent: atoi(m[2]), non2xx: atoi(m[5]), errors: atoi(m[6]), statuses: map[int]int{}}
	for f := range strings.FieldsSeq(m[7]) {
		code, n, _ := strings.Cut(f, ":")
		p.statuses[atoi(code)] = atoi(n)
	}
	return p
}

func testOptions(addr string) options {
	return options{addr: addr, host: "t.example", path: "/c", origin: "http://www.example", cookie: "c=1",
		rate: 500, duration: time.Second, timeout: time.Second, conns: 8}
}

func TestRunCountsEveryBeaconOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(n int, w http.ResponseWriter) int
	}{
		{"204", func(int, http.ResponseWriter) int { return noContent }},
		{"some 503 and closes", func(n int, w http.ResponseWriter) int {
			switch {
			case n%5 == 0:
				http.Error(w, "busy", http.StatusServiceUnavailable) // a small body with a length
				return http.StatusServiceUnavailable
			case n%7 == 0:
				w.Header().Set("Connection", "close") // the generator must reconnect
			}
			return noContent
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, addr := startBeaconServer(t, func(n int, w http.ResponseWriter) int {
				code := tc.answer(n, w)
				if code == noContent {
					w.WriteHeader(noContent)
				}
				return code
			})
			o := testOptions(addr)
			var out bytes.Buffer
			if err := run(o, &out); err != nil {
				t.Fatal(err)
			}
			p := parseLine(t, out.String())
			srv.mu.Lock()
			defer srv.mu.Unlock()
			if len(srv.bad) > 0 {
				t.Fatalf("bad requests: %q", srv.bad[:min(3, len(srv.bad))])
			}
			want := o.rate * int(o.duration/time.Second)
			if p.target != o.rate || p.sent != want || p.errors != 0 {
				t.Fatalf("target %d sent %d errors %d, want %d, %d, 0: %s", p.target, p.sent, p.errors, o.rate, want, out.String())
			}
			answered, non2xx := 0, p.errors
			for code, n := range p.statuses {
				answered += n
				if code < 200 || code > 299 {
					non2xx += n
				}
			}
			if p.sent != answered+p.errors || p.non2xx != non2xx {
				t.Fatalf("counts do not add up: %s", out.String())
			}
			if !maps.Equal(p.statuses, srv.statuses) {
				t.Fatalf("printed statuses %v, the server answered %v", p.statuses, srv.statuses)
			}
			if len(srv.ids) != p.sent {
				t.Fatalf("the server saw %d distinct event ids for %d beacons", len(srv.ids), p.sent)
			}
			for id, n := range srv.ids {
				if n != 1 {
					t.Fatalf("event id %s sent %d times", id, n)
				}
			}
		})
	}
}

const noContent = http.StatusNoContent

// A server that never answers: every request times out, and the run still
// ends by duration + timeout.
func TestRunIsBoundedWhenTheServerHangs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	o := testOptions(ln.Addr().String())
	o.rate, o.duration, o.timeout, o.conns = 50, 200*time.Millisecond, 200*time.Millisecond, 4
	var out bytes.Buffer
	began := time.Now()
	if err := run(o, &out); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > time.Second {
		t.Fatalf("the run took %v", took)
	}
	p := parseLine(t, out.String())
	if p.sent != 10 || p.errors != 10 || p.non2xx != 10 || len(p.statuses) != 0 {
		t.Fatalf("want 10 sent, all errors: %s", out.String())
	}
}

func TestReadResponse(t *testing.T) {
	for _, tc := range []struct {
		name, in  string
		status    int
		keepAlive bool
		err       error
	}{
		{"204", "HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n", 204, true, nil},
		{"body with a length", "HTTP/1.1 403 Forbidden\r\ncontent-length: 5\r\n\r\nnope\n", 403, true, nil},
		{"empty body", "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\nRetry-After: 1\r\n\r\n", 429, true, nil},
		{"close", "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbusy", 503, false, nil},
		{"HTTP/1.0", "HTTP/1.0 204 No Content\r\n\r\n", 204, false, nil},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 204 No Content\r\nConnection: Keep-Alive\r\n\r\n", 204, true, nil},
		{"body to EOF", "HTTP/1.1 400 Bad Request\r\n\r\nwhatever", 400, false, nil},
		{"interim", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 204, true, nil},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, false, errChunked},
		{"garbage", "SSH-2.0-OpenSSH\r\n\r\n", 0, false, errMalformed},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", 0, false, errMalformed},
		{"cut short", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, false, io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A second response after the first checks that the body was consumed.
			in := tc.in
			if tc.keepAlive {
				in += "HTTP/1.1 204 No Content\r\n\r\n"
			}
			br := bufio.NewReader(strings.NewReader(in))
			status, keepAlive, err := readResponse(br)
			if !errors.Is(err, tc.err) || (tc.err == nil && (status != tc.status || keepAlive != tc.keepAlive)) {
				t.Fatalf("got %d %v %v, want %d %v %v", status, keepAlive, err, tc.status, tc.keepAlive, tc.err)
			}
			if tc.keepAlive {
				if status, _, err := readResponse(br); status != 204 || err != nil {
					t.Fatalf("next response: %d %v", status, err)
				}
			}
		})
	}
}

// The request path (patch, write, read the answer) allocates nothing. The
// server side reuses readHeaders and a fixed answer, so it allocates nothing
// either (testing.AllocsPerRun counts the whole process).
func TestDoDoesNotAllocate(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		answer := []byte("HTTP/1.1 204 No Content\r\n\r\n")
		for {
			if _, err := br.ReadSlice('\n'); err != nil {
				return
			}
			n, _, err := readHeaders(br, true)
			if err != nil {
				return
			}
			if _, err := br.Discard(n); err != nil {
				return
			}
			if _, err := c.Write(answer); err != nil {
				return
			}
		}
	}()
	o := testOptions(ln.Addr().String())
	w := newWorker(o, "00000000", 0, 1, 1000)
	end := time.Now().Add(time.Minute)
	t.Cleanup(w.hangUp)
	i := 0
	do := func() {
		i++
		if status, err := w.do(i, time.Now(), end); status != 204 || err != nil {
			t.Fatalf("do: %d %v", status, err)
		}
	}
	do() // dials
	if n := testing.AllocsPerRun(200, do); n != 0 {
		t.Fatalf("%v allocations per request", n)
	}
}
