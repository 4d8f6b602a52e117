// Command openloop is the load test's latency generator: it sends collect
// beacons at a FIXED rate (open loop: a slow answer does not slow the
// schedule down) and prints the achieved rate, latency percentiles and the
// non-2xx count. Each beacon carries a unique event id, so every one is
// deduplicated and enqueued (a static body, as vegeta's plain targets send,
// would only measure the duplicate path). Latency is measured from each
// request's scheduled send time, so queueing inside the generator counts
// (no coordinated omission).
//
//	go run ./scripts/loadtest/openloop -addr 127.0.0.1:18080 -host t.demo.localhost \
//	  -path /xyz -origin http://www.demo.localhost:8080 -cookie "$COOKIE" -rate 15000 -duration 15s
package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

type options struct {
	addr, host, path, origin, cookie string
	rate                             int
	duration, timeout                time.Duration
	workers                          int
	conns                            int
}

// result is what one worker measured.
type result struct {
	lat      []time.Duration
	statuses map[int]int
	errs     int
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:18080", "edge address")
	flag.StringVar(&o.host, "host", "t.demo.localhost", "Host header")
	flag.StringVar(&o.path, "path", "", "collect path")
	flag.StringVar(&o.origin, "origin", "http://www.demo.localhost:8080", "Origin header")
	flag.StringVar(&o.cookie, "cookie", "", "Cookie header (consent + visitor cookies)")
	flag.IntVar(&o.rate, "rate", 15000, "beacons per second")
	flag.DurationVar(&o.duration, "duration", 15*time.Second, "how long to send")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Second, "per-request timeout")
	flag.IntVar(&o.workers, "workers", 512, "concurrent requests at most")
	flag.IntVar(&o.conns, "conns", 512, "connections at most")
	flag.Parse()
	if o.path == "" || o.rate <= 0 || o.duration <= 0 {
		fmt.Fprintln(os.Stderr, "openloop: -path, a positive -rate and -duration are required")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "openloop: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) error {
	client := &fasthttp.HostClient{
		Addr: o.addr, MaxConns: o.conns, ReadTimeout: o.timeout, WriteTimeout: o.timeout,
		MaxConnWaitTimeout: o.timeout, NoDefaultUserAgentHeader: true,
	}
	var seed [4]byte
	_, _ = rand.Read(seed[:])
	prefix := hex.EncodeToString(seed[:])

	// The schedule: request i is due at start + i/rate. The channel holds
	// due times; workers take them as they free up.
	total := int(float64(o.rate) * o.duration.Seconds())
	due := make(chan time.Time, total)
	results := make([]result, o.workers)
	var wg sync.WaitGroup
	start := time.Now().Add(50 * time.Millisecond)
	for w := range o.workers {
		wg.Go(func() { results[w] = work(o, client, prefix, w, due) })
	}
	interval := time.Second / time.Duration(o.rate)
	for i := range total {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d) // sleeps overshoot: the next ones are then due at once
		}
		due <- at
	}
	close(due)
	wg.Wait()
	elapsed := time.Since(start)

	var all []time.Duration
	statuses := map[int]int{}
	errs := 0
	for _, r := range results {
		all = append(all, r.lat...)
		for s, n := range r.statuses {
			statuses[s] += n
		}
		errs += r.errs
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		i := min(int(p/100*float64(len(all))), len(all)-1)
		return float64(all[i].Microseconds()) / 1000
	}
	non2xx := errs
	for s, n := range statuses {
		if s < 200 || s > 299 {
			non2xx += n
		}
	}
	fmt.Printf("OPENLOOP target_rps=%d sent=%d seconds=%.2f rps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f p999_ms=%.2f max_ms=%.2f non2xx=%d errors=%d statuses=%v\n",
		o.rate, len(all), elapsed.Seconds(), float64(len(all))/elapsed.Seconds(),
		pct(50), pct(90), pct(99), pct(99.9), pct(100), non2xx, errs, statuses)
	return nil
}

// work sends one beacon per due time until the schedule closes.
func work(o options, client *fasthttp.HostClient, prefix string, w int, due <-chan time.Time) result {
	r := result{statuses: map[int]int{}}
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI("http://" + o.addr + o.path)
	req.UseHostHeader = true
	req.Header.SetHost(o.host)
	req.Header.Set(fasthttp.HeaderOrigin, o.origin)
	req.Header.Set(fasthttp.HeaderContentType, "text/plain;charset=UTF-8")
	req.Header.Set(fasthttp.HeaderCookie, o.cookie)
	req.Header.Set(fasthttp.HeaderUserAgent, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36")
	var body []byte
	n := 0
	for at := range due {
		n++
		body = appendBeacon(body[:0], prefix, w, n, o.origin)
		req.SetBody(body)
		err := client.DoTimeout(req, res, o.timeout)
		r.lat = append(r.lat, time.Since(at))
		if err != nil {
			r.errs++
			continue
		}
		r.statuses[res.StatusCode()]++
	}
	return r
}

// appendBeacon appends a 1-event beacon: one purchase every 20, else
// page_view, with the event id <prefix>-<worker>-4000-8000-<counter>.
func appendBeacon(b []byte, prefix string, w, n int, origin string) []byte {
	id := fmt.Sprintf("%s-%04x-4000-8000-%012x", prefix, w&0xffff, n)
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	b = append(b, `{"v":1,"events":[{"name":"`...)
	if n%20 == 0 {
		b = append(b, `purchase","id":"`+id+`","ts":`+now+`,"url":"`+origin+`/p","props":{"value":49.9,"currency":"EUR"},"user":{"em":"jane@example.com"}}`...)
	} else {
		b = append(b, `page_view","id":"`+id+`","ts":`+now+`,"url":"`+origin+`/p"}`...)
	}
	return append(b, `],"ids":{"fbp":"fb.1.1732880000000.1116446470"}}`...)
}
