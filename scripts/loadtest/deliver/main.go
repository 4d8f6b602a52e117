// Command deliver prepares the delivery load run (scripts/loadtest/deliver.sh)
// through the admin API only, as a tenant's back end would: it creates
// -tenants tenants with two pixels each (Meta and GA4), records a consent
// decision for one visitor per tenant and queues -events server-side events
// in batches of 1,000 over -workers concurrent calls. Tokens come from
// `pixelgw token` (-pixelgw), which reads the same PIXELGW_* environment as
// the server.
//
// It prints one line: "DELIVER tenants=… pixels=… events=… accepted=… seconds=…".
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

func main() {
	api := flag.String("api", "http://127.0.0.1:18081", "admin API base URL")
	bin := flag.String("pixelgw", "pixelgw", "pixelgw binary (for `pixelgw token`)")
	tenants := flag.Int("tenants", 10, "tenants, two pixels each")
	events := flag.Int("events", 50000, "events to queue in all")
	workers := flag.Int("workers", 4, "concurrent batch calls")
	run := flag.String("run", uuid.NewString()[:8], "suffix for tenant slugs")
	flag.Parse()
	if err := prepare(*api, *bin, *tenants, *events, *workers, *run); err != nil {
		fmt.Fprintln(os.Stderr, "deliver:", err)
		os.Exit(1)
	}
}

type client struct {
	base string
	http *http.Client
}

func (c *client) call(method, path, token string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func token(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, append([]string{"token", "-ttl", "1h"}, args...)...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("pixelgw token: %v: %s", err, ee.Stderr)
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

type tenant struct {
	token, visitor string
}

func prepare(api, bin string, nTenants, nEvents, workers int, run string) error {
	c := &client{base: api, http: &http.Client{Timeout: 60 * time.Second}}
	op, err := token(bin, "-role", "operator")
	if err != nil {
		return err
	}
	ts := make([]tenant, nTenants)
	for i := range ts {
		slug := fmt.Sprintf("load-%s-%d", run, i)
		if err := c.call("POST", "/api/v1/tenants", op, map[string]any{"slug": slug, "name": slug}, nil); err != nil {
			return err
		}
		tok, err := token(bin, "-tenant", slug, "-role", "admin")
		if err != nil {
			return err
		}
		for _, p := range []map[string]any{
			{"platform": "meta", "pixel_id": fmt.Sprintf("1%014d", i), "credentials": map[string]string{"access_token": "load-meta-token-not-real"}},
			{"platform": "google", "pixel_id": fmt.Sprintf("G-LOAD%05d", i), "credentials": map[string]string{"api_secret": "load-ga4-secret-not-real"}},
		} {
			if err := c.call("POST", "/api/v1/tracking/pixels", tok, p, nil); err != nil {
				return err
			}
		}
		visitor := uuid.NewString()
		if err := c.call("POST", "/api/v1/tracking/consent", tok, map[string]any{
			"visitor_id": visitor, "analytics": true, "marketing": true, "functional": false, "policy_version": "1",
		}, nil); err != nil {
			return err
		}
		ts[i] = tenant{token: tok, visitor: visitor}
	}

	// Batches of 1,000 events, round-robin over the tenants.
	const batch = 1000
	jobs := make(chan int)
	var accepted atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				t := ts[j%len(ts)]
				n := min(batch, nEvents-j*batch)
				evs := make([]map[string]any, n)
				now := time.Now().Unix()
				for k := range evs {
					evs[k] = map[string]any{
						"event_name": "view_content", "event_id": uuid.NewString(), "event_time": now,
						"visitor_id": t.visitor, "event_source_url": "https://www.example.com/products/" + fmt.Sprint(k),
						"client_ip_address": "203.0.113.7", "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0",
						"user_data":   map[string]string{"em": "buyer" + fmt.Sprint(k) + "@example.com"},
						"custom_data": map[string]any{"value": 10.5, "currency": "EUR"},
					}
				}
				var res struct {
					Results []struct{ Status, Reason string } `json:"results"`
				}
				if err := c.call("POST", "/api/v1/tracking/events/batch", t.token, map[string]any{"events": evs}, &res); err != nil {
					errc <- err
					return
				}
				for _, r := range res.Results {
					if r.Status == "accepted" {
						accepted.Add(1)
					} else {
						errc <- fmt.Errorf("event not accepted: %s %s", r.Status, r.Reason)
						return
					}
				}
			}
		})
	}
	var sendErr error
loop:
	for j := 0; j*batch < nEvents; j++ {
		select {
		case jobs <- j:
		case sendErr = <-errc:
			break loop
		}
	}
	close(jobs)
	wg.Wait()
	if sendErr == nil {
		select {
		case sendErr = <-errc:
		default:
		}
	}
	if sendErr != nil {
		return sendErr
	}
	fmt.Printf("DELIVER tenants=%d pixels=%d events=%d accepted=%d seconds=%.2f\n",
		nTenants, 2*nTenants, nEvents, accepted.Load(), time.Since(start).Seconds())
	return nil
}
