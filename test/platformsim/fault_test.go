package platformsim

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// target is one platform's known-good request.
type target struct {
	platform string
	path     string
	hdr      map[string]string
	body     any
}

func targets(t *testing.T, base string) []target {
	t.Helper()
	li2 := validLinkedInElement()
	li2["eventId"] = "evt-2"
	tt2 := validTikTokEvent()
	tt2["event_id"] = "evt-2"
	return []target{
		{Meta, "/meta/v21.0/1234567890/events?access_token=tok", map[string]string{"Content-Type": "application/json"}, metaRequest(validMetaEvent())},
		{Google, "/google/mp/collect?measurement_id=G-TEST1234&api_secret=s", map[string]string{"Content-Type": "application/json"}, validGA4()},
		{LinkedIn, "/linkedin/rest/conversionEvents", linkedInHeaders(), map[string]any{"elements": []any{validLinkedInElement(), li2}}},
		{TikTok, "/tiktok/open_api/v1.3/event/track/", map[string]string{"Access-Token": "tok", "Content-Type": "application/json"}, tiktokRequest(validTikTokEvent(), tt2)},
		{X, "/x/12/measurement/conversions/o8z6j", map[string]string{"Content-Type": "application/json", "X-Pixel-Token": "p"}, xRequest(validXConversion())},
	}
}

func okStatus(platform string) int {
	if platform == Google {
		return http.StatusNoContent
	}
	return http.StatusOK
}

func TestFaultThrottleAndServerError(t *testing.T) {
	t.Parallel()
	s, base := newSim(t, Options{})
	for _, tg := range targets(t, base) {
		t.Run(tg.platform, func(t *testing.T) {
			t.Parallel()
			s.Inject(tg.platform, Fault{Status: 429, RetryAfter: 1500 * time.Millisecond, Times: 1})
			a := post(t, base+tg.path, tg.hdr, tg.body)
			require.Equal(t, 429, a.status)
			require.Equal(t, "2", a.header.Get("Retry-After"))
			switch tg.platform {
			case Meta:
				require.EqualValues(t, 4, num(t, a.json, "error", "code"))
				require.Equal(t, true, a.json["error"].(map[string]any)["is_transient"])
			case LinkedIn:
				require.EqualValues(t, 429, num(t, a.json, "status"))
			case TikTok:
				require.EqualValues(t, 40100, num(t, a.json, "code"))
			case X:
				require.Equal(t, "TOO_MANY_REQUESTS", a.json["errors"].([]any)[0].(map[string]any)["code"])
			}

			s.Inject(tg.platform, Fault{Status: 500, Times: 2})
			require.Equal(t, 500, post(t, base+tg.path, tg.hdr, tg.body).status)
			require.Equal(t, 500, post(t, base+tg.path, tg.hdr, tg.body).status)
			a = post(t, base+tg.path, tg.hdr, tg.body)
			require.Equal(t, okStatus(tg.platform), a.status, string(a.raw))

			require.Equal(t, 1, s.Count(tg.platform, 429))
			require.Equal(t, 2, s.Count(tg.platform, 500))
			require.Equal(t, 1, s.Count(tg.platform, okStatus(tg.platform)))
			// Every attempt is recorded raw; only the last one delivered.
			rs := s.Requests(tg.platform)
			require.Len(t, rs, 4)
			for i, r := range rs {
				require.Equal(t, i == 3, r.Accepted, i)
				require.Equal(t, rs[0].Body, r.Body)
			}
			for _, n := range s.Delivered(tg.platform) {
				require.Equal(t, 1, n)
			}
			require.NotEmpty(t, s.Delivered(tg.platform))
		})
	}
}

func TestFaultAuthFail(t *testing.T) {
	t.Parallel()
	s, base := newSim(t, Options{})
	for _, tg := range targets(t, base) {
		t.Run(tg.platform, func(t *testing.T) {
			t.Parallel()
			s.Inject(tg.platform, Fault{AuthFail: true, Times: 1})
			a := post(t, base+tg.path, tg.hdr, tg.body)
			switch tg.platform {
			case Meta:
				require.Equal(t, 400, a.status)
				require.EqualValues(t, 190, num(t, a.json, "error", "code"))
			case Google:
				require.Equal(t, 204, a.status) // GA4 never says
			case LinkedIn:
				require.Equal(t, 401, a.status)
				require.EqualValues(t, 65601, num(t, a.json, "serviceErrorCode"))
			case TikTok:
				require.Equal(t, 200, a.status)
				require.EqualValues(t, 40001, num(t, a.json, "code"))
			case X:
				require.Equal(t, 401, a.status)
			}
			rs := s.Requests(tg.platform)
			require.False(t, rs[len(rs)-1].Accepted)
		})
	}
}

func TestFaultBodiesAndRedirects(t *testing.T) {
	t.Parallel()
	s, base := newSim(t, Options{})
	tg := targets(t, base)[0]
	u := base + tg.path

	s.Inject(Meta, Fault{Body: HTMLBody, Times: 1})
	a := post(t, u, tg.hdr, tg.body)
	require.Equal(t, 200, a.status)
	require.Contains(t, a.header.Get("Content-Type"), "text/html")
	require.Equal(t, HTMLBody, string(a.raw))

	s.Inject(Meta, Fault{Status: 502, Body: HTMLBody, Times: 1})
	require.Equal(t, 502, post(t, u, tg.hdr, tg.body).status)

	s.Inject(Meta, Fault{Status: 400, Body: MetaThrottleBody, Times: 1})
	a = post(t, u, tg.hdr, tg.body)
	require.Equal(t, 400, a.status)
	require.EqualValues(t, 17, num(t, a.json, "error", "code"))

	s.Inject(Meta, Fault{Redirect: "http://169.254.169.254/latest/meta-data/", Times: 1})
	a = post(t, u, tg.hdr, tg.body)
	require.Equal(t, 302, a.status)
	require.Equal(t, "http://169.254.169.254/latest/meta-data/", a.header.Get("Location"))

	s.Inject(Meta, Fault{Redirect: "/elsewhere", Status: 307, Times: 1})
	require.Equal(t, 307, post(t, u, tg.hdr, tg.body).status)

	s.Inject(TikTok, Fault{Body: TikTokRateLimitBody, Times: 1})
	tt := targets(t, base)[3]
	a = post(t, base+tt.path, tt.hdr, tt.body)
	require.Equal(t, 200, a.status)
	require.EqualValues(t, 40100, num(t, a.json, "code"))

	require.Equal(t, 200, post(t, u, tg.hdr, tg.body).status)
	rs := s.Requests(Meta)
	require.Len(t, rs, 6)
	for _, r := range rs[:5] {
		require.False(t, r.Accepted)
	}
	require.True(t, rs[5].Accepted)
	require.False(t, s.Requests(TikTok)[0].Accepted)
}

func TestFaultUntilCleared(t *testing.T) {
	t.Parallel()
	s, base := newSim(t, Options{})
	tg := targets(t, base)[3]
	s.Inject("tiktok", Fault{Status: 503})
	for range 3 {
		require.Equal(t, 503, post(t, base+tg.path, tg.hdr, tg.body).status)
	}
	s.ClearFaults()
	require.Equal(t, 200, post(t, base+tg.path, tg.hdr, tg.body).status)
	require.Equal(t, 3, s.Count(TikTok, 503))
	s.Reset()
	require.Empty(t, s.Requests(TikTok))
	require.Zero(t, s.Count(TikTok, 503))
}

func TestFaultDelay(t *testing.T) {
	t.Parallel()
	s, base := newSim(t, Options{})
	tg := targets(t, base)[4]
	s.Inject(X, Fault{Delay: 20 * time.Millisecond, Times: 1})
	require.Equal(t, 200, post(t, base+tg.path, tg.hdr, tg.body).status)

	// A client that gives up during the delay gets nothing, and the
	// request is recorded unanswered.
	s.Inject(X, Fault{Delay: time.Hour, Times: 1})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := send(t, ctx, http.MethodPost, base+tg.path, tg.hdr, tg.body)
	require.Error(t, err)
	require.Eventually(t, func() bool { return len(s.Requests(X)) == 2 }, 5*time.Second, 5*time.Millisecond)
	rs := s.Requests(X)
	require.Equal(t, 0, rs[1].Status)
	require.False(t, rs[1].Accepted)
}

// TestFaultHangDoesNotBlock: a hung request holds no lock; the other
// platforms (and the same one) keep answering.
func TestFaultHangDoesNotBlock(t *testing.T) {
	t.Parallel()
	s, base := newSim(t, Options{})
	ts := targets(t, base)
	s.Inject(Meta, Fault{Hang: true, Times: 1})

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var hungErr error
	wg.Go(func() {
		_, hungErr = send(t, ctx, http.MethodPost, base+ts[0].path, ts[0].hdr, ts[0].body)
	})
	// Wait for the hung request to be in flight (the fault was taken).
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.faults[Meta]) == 0
	}, 5*time.Second, time.Millisecond)
	for _, tg := range ts {
		require.Equal(t, okStatus(tg.platform), post(t, base+tg.path, tg.hdr, tg.body).status, tg.platform)
	}
	cancel()
	wg.Wait()
	require.Error(t, hungErr)
	require.Eventually(t, func() bool { return len(s.Requests(Meta)) == 2 }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, 1, s.Count(Meta, 0))
}

// TestCloseReleasesHang: Close answers nothing but frees the handler, so
// the server can shut down while a client still waits.
func TestCloseReleasesHang(t *testing.T) {
	t.Parallel()
	s, base := newSim(t, Options{})
	tg := targets(t, base)[1]
	s.Inject(Google, Fault{Hang: true})
	done := make(chan error, 1)
	go func() {
		_, err := send(t, context.Background(), http.MethodPost, base+tg.path, tg.hdr, tg.body)
		done <- err
	}()
	// Close releases the request whether it is already hung or not yet
	// arrived (a closed simulator answers hangs at once).
	require.Eventually(t, func() bool {
		s.Close()
		return len(s.Requests(Google)) == 1
	}, 5*time.Second, 5*time.Millisecond)
	require.Error(t, <-done)
}

func TestFaultPartial(t *testing.T) {
	t.Parallel()
	s, base := newSim(t, Options{})
	ts := targets(t, base)

	li := ts[2]
	s.Inject(LinkedIn, Fault{PartialIndexes: []int{1}, Times: 1})
	a := post(t, base+li.path, li.hdr, li.body)
	require.Equal(t, 200, a.status)
	els := a.json["elements"].([]any)
	require.EqualValues(t, 201, num(t, els[0].(map[string]any), "status"))
	require.EqualValues(t, 422, num(t, els[1].(map[string]any), "status"))
	require.NotEmpty(t, els[1].(map[string]any)["error"].(map[string]any)["message"])
	r := s.Requests(LinkedIn)[0]
	require.True(t, r.Accepted)
	require.Equal(t, []int{1}, r.Rejected)

	tt := ts[3]
	s.Inject(TikTok, Fault{PartialIndexes: []int{0}, Times: 1})
	a = post(t, base+tt.path, tt.hdr, tt.body)
	require.Equal(t, 200, a.status)
	require.EqualValues(t, 20001, num(t, a.json, "code"))
	failed := a.json["data"].(map[string]any)["failed_events"].([]any)
	require.Len(t, failed, 1)
	require.EqualValues(t, 0, num(t, failed[0].(map[string]any), "index"))
	require.EqualValues(t, 40002, num(t, failed[0].(map[string]any), "code"))
	require.Equal(t, []int{0}, s.Requests(TikTok)[0].Rejected)

	// Meta has no per-event results: the fault is ignored.
	m := ts[0]
	s.Inject(Meta, Fault{PartialIndexes: []int{0}, Times: 1})
	require.Equal(t, 200, post(t, base+m.path, m.hdr, m.body).status)
	require.True(t, s.Requests(Meta)[0].Accepted)

	// An invalid batch is still refused whole.
	s.Inject(LinkedIn, Fault{PartialIndexes: []int{0}, Times: 1})
	bad := clone(validLinkedInElement())
	delete(bad, "user")
	a = post(t, base+li.path, li.hdr, map[string]any{"elements": []any{validLinkedInElement(), bad}})
	require.Equal(t, 422, a.status)
}

func TestUnknownPlatform(t *testing.T) {
	t.Parallel()
	s, base := newSim(t, Options{})
	require.Equal(t, 404, post(t, base+"/snap/v2/conversions", nil, "{}").status)
	require.Empty(t, s.Requests("snap"))
}

func TestMaxRecorded(t *testing.T) {
	t.Parallel()
	s, base := newSim(t, Options{MaxRecorded: 2})
	tg := targets(t, base)[0]
	s.Inject(Meta, Fault{Status: 500, Times: 2})
	for range 5 {
		post(t, base+tg.path, tg.hdr, tg.body)
	}
	rs := s.Requests(Meta)
	require.Len(t, rs, 2)
	require.Equal(t, 200, rs[1].Status)
	require.Equal(t, 2, s.Count(Meta, 500))
	require.Equal(t, 3, s.Count(Meta, 200))
	require.Equal(t, map[string]int{"evt-1": 2}, s.Delivered(Meta))
}

// TestFaultRate: a probabilistic fault hits about its share of requests,
// the same requests for the same seed, lets the others through to the next
// fault (or a normal answer), and counts only its hits against Times.
func TestFaultRate(t *testing.T) {
	t.Parallel()
	run := func(seed uint64) []int {
		s, base := newSim(t, Options{Seed: seed})
		tg := targets(t, base)[0] // Meta
		s.Inject(Meta, Fault{Status: 500, Rate: 0.1})
		var got []int
		for range 400 {
			got = append(got, post(t, base+tg.path, tg.hdr, tg.body).status)
		}
		require.Equal(t, 400, s.Count(Meta, 500)+s.Count(Meta, 200))
		return got
	}
	a := run(42)
	n500 := 0
	for _, st := range a {
		if st == 500 {
			n500++
		}
	}
	require.InDelta(t, 40, n500, 20, "about 10%% of 400 requests")
	require.Equal(t, a, run(42), "same seed, same pattern")
	require.NotEqual(t, a, run(43))

	// Spared requests reach the next fault; Times counts hits only.
	s, base := newSim(t, Options{Seed: 7})
	tg := targets(t, base)[0]
	s.Inject(Meta, Fault{Status: 500, Rate: 0.5, Times: 3})
	s.Inject(Meta, Fault{Status: 429})
	for range 40 {
		post(t, base+tg.path, tg.hdr, tg.body)
	}
	require.Equal(t, 3, s.Count(Meta, 500))
	require.Equal(t, 37, s.Count(Meta, 429))
}
