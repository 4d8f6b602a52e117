package dispatch_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms/dispatch"
	"github.com/jaraba/pixelgw/platforms/normalize"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/queue"
)

// targeted is copyPayload with a "platforms" list (nil: none).
func targeted(t testing.TB, body []byte, platforms []string) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	if platforms != nil {
		m["platforms"] = platforms
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func (e *env) patchPixel(tenant string, p store.Pixel, patch store.PixelPatch) store.Pixel {
	e.t.Helper()
	out, err := e.st.UpdatePixel(e.t.Context(), tenant, p.UUID, patch)
	require.NoError(e.t, err)
	return out
}

// carries reports whether any accepted request for p carried s.
func (e *env) carries(p store.Pixel, s string) bool {
	for _, r := range e.requests(p) {
		if r.Accepted && bytes.Contains(r.Body, []byte(s)) {
			return true
		}
	}
	return false
}

// TestTargetingSkipsOtherPlatforms: an event for Meta only reaches the Meta
// pixel; the tenant's other pixels record "skipped" and get no request.
func TestTargetingSkipsOtherPlatforms(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	ten := e.tenant()
	pm := e.pixel(ten, store.PlatformMeta, true, nil)
	pg := e.pixel(ten, store.PlatformGoogle, true, nil)
	pt := e.pixel(ten, store.PlatformTikTok, true, nil)
	e.start()

	id := uuid.NewString()
	body := targeted(t, copyPayload(t, ten, id, "lead", "server", map[string]any{"em": "jane@example.com"},
		map[string]any{}, "203.0.113.7", nil), []string{store.PlatformMeta})
	e.admitID(ten, id, "lead", body, queue.Queued)

	o := e.waitStatus(ten, id, pm, dispatch.StatusDelivered)
	require.Equal(t, store.SourceServer, o.Source)
	e.waitStatus(ten, id, pg, dispatch.StatusSkipped)
	e.waitStatus(ten, id, pt, dispatch.StatusSkipped)
	eventually(t, func() bool { return e.lag() == 0 }, "acknowledged by every group")
	require.Empty(t, e.requests(pg))
	require.Empty(t, e.requests(pt))
	require.Equal(t, map[string]int{id: 1}, e.delivered(pm))
}

// TestTargetingWhenCopiesMerge: a copy's data reaches only the platforms it
// targets. The browser copy (every platform, fbp) and a server copy for
// Meta only (hashed email): Meta gets one event with both; Google and
// TikTok get the browser copy without the email — whichever copy comes
// first.
func TestTargetingWhenCopiesMerge(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MergeWindow = 3 * time.Second
	e := newEnv(t, cfg)
	ten := e.tenant()
	pm := e.pixel(ten, store.PlatformMeta, true, nil)
	pg := e.pixel(ten, store.PlatformGoogle, true, nil)
	pt := e.pixel(ten, store.PlatformTikTok, true, nil)
	e.start()

	emHash := normalize.SHA256Hex("jane.doe@example.com")
	fbp := "fb.1.1764400000000.1234567890"
	for _, serverFirst := range []bool{false, true} {
		id := uuid.NewString()
		browser := copyPayload(t, ten, id, "lead", "client", map[string]any{}, map[string]any{"fbp": fbp}, "203.0.113.7", nil)
		server := targeted(t, copyPayload(t, ten, id, "lead", "server", map[string]any{"em": emHash}, map[string]any{},
			"198.51.100.1", nil), []string{store.PlatformMeta})
		first, second := browser, server
		if serverFirst {
			first, second = server, browser
		}
		e.admitID(ten, id, "lead", first, queue.Queued)
		e.admitID(ten, id, "lead", second, queue.Duplicate)

		for _, p := range []store.Pixel{pm, pg, pt} {
			e.waitStatus(ten, id, p, dispatch.StatusDelivered)
			require.Equal(t, 1, e.delivered(p)[id], "%s: one delivery (server first: %v)", p.Platform, serverFirst)
		}
		require.True(t, e.carries(pm, emHash), "Meta gets the server copy's email")
		require.True(t, e.carries(pm, fbp), "Meta gets the browser copy's fbp")
		require.False(t, e.carries(pt, emHash), "TikTok is not targeted by the server copy: no email")
		require.False(t, e.carries(pg, emHash), "Google is not targeted by the server copy: no email")

		// The outcomes carry each copy's source: "both" is derived from them.
		sources := map[string][]string{}
		for _, o := range e.outcomes(ten, id) {
			sources[o.Platform] = append(sources[o.Platform], o.Status+"/"+o.Source)
		}
		second2 := store.SourceServer
		if serverFirst {
			second2 = store.SourceClient
		}
		require.Equal(t, []string{"merged/" + second2, "delivered/both"}, sources[store.PlatformMeta], "server first: %v", serverFirst)
		require.Equal(t, []string{"merged/" + second2, "delivered/client"}, sources[store.PlatformTikTok], "server first: %v", serverFirst)
	}
	eventually(t, func() bool { return e.lag() == 0 }, "every copy acknowledged")
}

// TestConfirmBrowserConversions: a pixel that requires confirmation gets a
// browser conversion only when a server copy arrives within the window;
// a pixel that does not gets it either way; server copies always go.
func TestConfirmBrowserConversions(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MergeWindow = time.Second
	e := newEnv(t, cfg)
	ten := e.tenant()
	strict := e.patchPixel(ten, e.pixel(ten, store.PlatformMeta, true, nil), store.PixelPatch{ConfirmBrowserConversions: ptr(true)})
	lax := e.pixel(ten, store.PlatformMeta, true, nil)
	e.start()

	fbp := "fb.1.1764400000000.1234567890"
	browserOnly := uuid.NewString()
	e.admitID(ten, browserOnly, "lead", copyPayload(t, ten, browserOnly, "lead", "client", map[string]any{},
		map[string]any{"fbp": fbp}, "203.0.113.7", nil), queue.Queued)
	confirmed := uuid.NewString()
	e.admitID(ten, confirmed, "lead", copyPayload(t, ten, confirmed, "lead", "client", map[string]any{},
		map[string]any{"fbp": fbp}, "203.0.113.7", nil), queue.Queued)
	e.admitID(ten, confirmed, "lead", copyPayload(t, ten, confirmed, "lead", "server", map[string]any{"em": "a@example.com"},
		map[string]any{}, "", nil), queue.Duplicate)
	serverOnly := uuid.NewString()
	e.admitID(ten, serverOnly, "lead", copyPayload(t, ten, serverOnly, "lead", "server", map[string]any{"em": "a@example.com"},
		map[string]any{}, "", nil), queue.Queued)

	o := e.waitStatus(ten, browserOnly, strict, dispatch.StatusUnconfirmed)
	require.Equal(t, store.SourceClient, o.Source)
	e.waitStatus(ten, browserOnly, lax, dispatch.StatusDelivered)
	e.waitStatus(ten, confirmed, strict, dispatch.StatusDelivered)
	e.waitStatus(ten, confirmed, lax, dispatch.StatusDelivered)
	e.waitStatus(ten, serverOnly, strict, dispatch.StatusDelivered)
	e.waitStatus(ten, serverOnly, lax, dispatch.StatusDelivered)
	eventually(t, func() bool { return e.lag() == 0 }, "every entry acknowledged")
	require.Equal(t, map[string]int{confirmed: 1, serverOnly: 1}, e.delivered(strict), "the unconfirmed one was never sent")
	require.Equal(t, map[string]int{browserOnly: 1, confirmed: 1, serverOnly: 1}, e.delivered(lax))
}

// TestTestEventCodeMarksOutcomes: outcomes for a pixel with a
// test_event_code are marked (debug mode), the others not.
func TestTestEventCodeMarksOutcomes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	ten := e.tenant()
	debug := e.patchPixel(ten, e.pixel(ten, store.PlatformMeta, true, nil), store.PixelPatch{TestEventCode: ptr("TEST12345")})
	live := e.pixel(ten, store.PlatformMeta, true, nil)
	e.start()
	id := e.admit(ten, "lead")
	require.True(t, e.waitStatus(ten, id, debug, dispatch.StatusDelivered).Test)
	require.False(t, e.waitStatus(ten, id, live, dispatch.StatusDelivered).Test)
	require.True(t, e.carries(debug, "TEST12345"), "the request carried the test code")
}

// TestConfirmWithoutMergeWindow: with no window nothing can confirm a
// browser conversion, so a pixel that requires confirmation never gets one
// (documented), while server copies still go.
func TestConfirmWithoutMergeWindow(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MergeWindow = 0
	e := newEnv(t, cfg)
	ten := e.tenant()
	strict := e.patchPixel(ten, e.pixel(ten, store.PlatformMeta, true, nil), store.PixelPatch{ConfirmBrowserConversions: ptr(true)})
	e.start()
	browser := e.admit(ten, "lead")
	server := uuid.NewString()
	e.admitID(ten, server, "lead", copyPayload(t, ten, server, "lead", "server", map[string]any{"em": "a@example.com"},
		map[string]any{}, "", nil), queue.Queued)
	e.waitStatus(ten, browser, strict, dispatch.StatusUnconfirmed)
	e.waitStatus(ten, server, strict, dispatch.StatusDelivered)
	eventually(t, func() bool { return e.lag() == 0 }, "both acknowledged")
	require.Equal(t, map[string]int{server: 1}, e.delivered(strict))
}
