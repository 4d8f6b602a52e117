package dispatch

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, Defaults().Validate())
	f := func(mutate func(*Config), want string) {
		t.Helper()
		c := Defaults()
		mutate(&c)
		err := c.Validate()
		require.Error(t, err)
		require.Contains(t, err.Error(), want)
	}
	f(func(c *Config) { c.MaxWait = 0 }, "platforms.dispatch.max_wait")
	f(func(c *Config) { c.Attempts = 0 }, "platforms.dispatch.attempts")
	f(func(c *Config) { c.BackoffBase = 0 }, "platforms.dispatch.backoff_base")
	f(func(c *Config) { c.BackoffMax = c.BackoffBase - 1 }, "platforms.dispatch.backoff_max")
	f(func(c *Config) { c.MaxInFlight = 0 }, "platforms.dispatch.max_in_flight")
	f(func(c *Config) { c.ReadBatch = 0 }, "platforms.dispatch.read_batch")
	f(func(c *Config) { c.PixelsRefresh = 0 }, "platforms.dispatch.pixels_refresh")
	f(func(c *Config) { c.MergeWindow = -1 }, "platforms.dispatch.merge_window")
	f(func(c *Config) { c.MergeWindow = time.Hour }, "platforms.dispatch.merge_window")
	f(func(c *Config) { c.MergeMaxWaiting = 0 }, "platforms.dispatch.merge_max_waiting")
	f(func(c *Config) { c.ReclaimInterval = 0 }, "platforms.dispatch.reclaim_interval")
	f(func(c *Config) { c.ClaimMinIdle = c.MergeWindow }, "platforms.dispatch.claim_min_idle")
	f(func(c *Config) { c.BackoffMax = time.Hour }, "platforms.dispatch.claim_min_idle")
	f(func(c *Config) { c.PlatformAttempts = map[string]int{"meta": 101} }, "platforms.meta.attempts")
	f(func(c *Config) { c.PlatformAttempts = map[string]int{"google": -1} }, "platforms.google.attempts")
	// claim_min_idle must cover the largest per-platform attempts too.
	f(func(c *Config) { c.PlatformAttempts = map[string]int{"tiktok": 100} }, "platforms.dispatch.claim_min_idle")
	c := Defaults()
	c.MergeWindow = 0
	require.NoError(t, c.Validate(), "0 turns the merge window off")
}

func TestAttemptsFor(t *testing.T) {
	t.Parallel()
	c := Defaults()
	c.PlatformAttempts = map[string]int{"meta": 7, "google": 0}
	require.Equal(t, 7, c.AttemptsFor("meta"))
	require.Equal(t, 3, c.AttemptsFor("google"), "0 = the dispatch default")
	require.Equal(t, 3, c.AttemptsFor("tiktok"))
	require.NoError(t, c.Validate())
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	e := New(Config{BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second}, Deps{})
	f := func(attempt int, retryAfter, lo, hi time.Duration) {
		t.Helper()
		for range 200 {
			d := e.backoff(attempt, retryAfter)
			require.GreaterOrEqual(t, d, lo, "attempt %d", attempt)
			require.LessOrEqual(t, d, hi, "attempt %d", attempt)
		}
	}
	f(1, 0, 50*time.Millisecond, 100*time.Millisecond)
	f(2, 0, 100*time.Millisecond, 200*time.Millisecond)
	f(4, 0, 400*time.Millisecond, 800*time.Millisecond)
	f(10, 0, 500*time.Millisecond, time.Second)
	f(1000, 0, 500*time.Millisecond, time.Second)
	f(1, 700*time.Millisecond, 700*time.Millisecond, 700*time.Millisecond) // Retry-After honoured
	f(1, time.Hour, time.Second, time.Second)                              // capped at BackoffMax
}

func TestClassify(t *testing.T) {
	t.Parallel()
	f := func(err error, n int, want []verdict, wantRA time.Duration, wantAuth bool) {
		t.Helper()
		vs, ra, auth := classify(err, n)
		require.Equal(t, want, vs)
		require.Equal(t, wantRA, ra)
		require.Equal(t, wantAuth, auth)
	}
	f(nil, 2, []verdict{delivered, delivered}, 0, false)
	f(&platforms.RetryableError{Err: errors.New("x"), RetryAfter: time.Second}, 2, []verdict{retry, retry}, time.Second, false)
	f(&platforms.PermanentError{Err: errors.New("x")}, 1, []verdict{failed}, 0, false)
	f(&platforms.PermanentError{Err: errors.New("x"), Auth: true}, 1, []verdict{failed}, 0, true)
	f(errors.New("unclassified"), 1, []verdict{retry}, 0, false)
	f(&platforms.BatchError{Errs: map[int]error{
		1: &platforms.RetryableError{Err: errors.New("x"), RetryAfter: 2 * time.Second},
		2: &platforms.PermanentError{Err: errors.New("y")},
	}}, 4, []verdict{delivered, retry, failed, delivered}, 2*time.Second, false)
}

func TestNewUUID(t *testing.T) {
	t.Parallel()
	a, b := newUUID(), newUUID()
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, a)
	require.NotEqual(t, a, b)
}

func TestMergeInto(t *testing.T) {
	t.Parallel()
	hashed := "836f82db99121b3481011f16b49dfa5fbc714a0d1b1b9f784a1ebbbf5b39577f"
	browser := func() *platforms.Event {
		return &platforms.Event{
			EventID: "e1", Name: "purchase", Source: "client", ClientIP: "203.0.113.7", UserAgent: "UA-browser",
			URL: "https://shop.example/thanks", VisitorID: "v1",
			Consent: platforms.Consent{Analytics: true, Marketing: true, Policy: "2026-01"},
			IDs:     platforms.ClickIDs{FBP: "fb.1.1.1", FBC: "fb.1.1.browser"},
			User:    platforms.UserData{Email: "old@example.com", City: "Madrid"},
			Props:   map[string]any{"value": 10.0, "currency": "EUR", "page": "thanks"},
		}
	}
	server := func() *platforms.Event {
		return &platforms.Event{
			EventID: "e1", Name: "purchase", Source: "server", ClientIP: "198.51.100.1",
			Consent: platforms.Consent{Policy: "server"},
			IDs:     platforms.ClickIDs{FBC: "fb.1.1.server", GCLID: "g-1"},
			User:    platforms.UserData{Email: hashed, Phone: "+34600123456"},
			Props:   map[string]any{"value": 12.5, "order_id": "o-9"},
		}
	}

	// The waiting copy is the browser's; the server's merge wins conflicts.
	ev := browser()
	mergeInto(ev, server())
	require.Equal(t, "both", ev.Source)
	require.Equal(t, platforms.UserData{Email: hashed, Phone: "+34600123456", City: "Madrid"}, ev.User)
	require.Equal(t, platforms.ClickIDs{FBP: "fb.1.1.1", FBC: "fb.1.1.server", GCLID: "g-1"}, ev.IDs)
	require.Equal(t, "203.0.113.7", ev.ClientIP, "IP only fills a gap")
	require.Equal(t, "UA-browser", ev.UserAgent)
	require.Equal(t, map[string]any{"value": 12.5, "currency": "EUR", "page": "thanks", "order_id": "o-9"}, ev.Props)
	require.Equal(t, browser().Consent, ev.Consent, "the visitor's own decision")

	// The waiting copy is the server's; the browser's merge only fills gaps.
	ev = server()
	mergeInto(ev, browser())
	require.Equal(t, "both", ev.Source)
	require.Equal(t, platforms.UserData{Email: hashed, Phone: "+34600123456", City: "Madrid"}, ev.User)
	require.Equal(t, platforms.ClickIDs{FBP: "fb.1.1.1", FBC: "fb.1.1.server", GCLID: "g-1"}, ev.IDs)
	require.Equal(t, "198.51.100.1", ev.ClientIP)
	require.Equal(t, "UA-browser", ev.UserAgent, "filled from the browser")
	require.Equal(t, "v1", ev.VisitorID)
	require.Equal(t, map[string]any{"value": 12.5, "currency": "EUR", "page": "thanks", "order_id": "o-9"}, ev.Props)
	require.Equal(t, browser().Consent, ev.Consent, "the browser copy's consent")

	// Two browser copies: the first one's values stay, the source too.
	ev = browser()
	other := browser()
	other.IDs.FBP, other.IDs.TTCLID, other.User.Email = "fb.1.2.2", "tt-1", ""
	mergeInto(ev, other)
	require.Equal(t, "client", ev.Source)
	require.Equal(t, "fb.1.1.1", ev.IDs.FBP)
	require.Equal(t, "tt-1", ev.IDs.TTCLID)
	require.Equal(t, "old@example.com", ev.User.Email)
}
