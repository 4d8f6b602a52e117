package dispatch_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms/dispatch"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/store/live"
	"github.com/jaraba/pixelgw/store/live/livemem"
)

// TestPublishesToLiveStreams: with Deps.Live, a tenant's stream sees its
// event accepted and each pixel's answer with the event's name, the copy's
// source, the test flag and the HTTP status; another tenant's events never
// reach it.
func TestPublishesToLiveStreams(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	hub := livemem.New(0)
	t.Cleanup(func() { _ = hub.Stop(context.Background()) })
	e.deps.Live = hub
	a, b := e.tenant(), e.tenant()
	good := e.patchPixel(a, e.pixel(a, store.PlatformMeta, true, nil), store.PixelPatch{TestEventCode: ptr("TEST12345")})
	bad := e.pixel(a, store.PlatformMeta, true, map[string]string{"access_token": "EAAB-refused-token-000000000"})
	e.pixel(b, store.PlatformMeta, true, nil)
	sub, err := hub.Subscribe(t.Context(), a)
	require.NoError(t, err)
	defer sub.Close()
	e.start()

	bID := e.admit(b, "lead")
	id := e.admit(a, "lead")
	got := map[string]live.Update{}
	eventually(t, func() bool {
		select {
		case <-sub.Ready():
		case <-time.After(50 * time.Millisecond):
		}
		ups, err := sub.Take()
		require.NoError(t, err)
		for _, u := range ups {
			require.NotEqual(t, bID, u.EventID, "another tenant's event")
			require.Equal(t, id, u.EventID)
			key := u.Kind
			if u.Kind == live.KindDelivery {
				key += "/" + u.Pixel
			}
			got[key] = u
		}
		return len(got) == 3 && got["delivery/"+bad.UUID].Status == dispatch.StatusFailed
	}, "live updates so far: %+v", got)
	acc := got[live.KindAccepted]
	require.Equal(t, "lead", acc.EventName)
	require.Equal(t, "203.0.113.7", acc.ClientIP, "unmasked here: the admin API masks")
	require.True(t, acc.HasUserData)
	ok := got["delivery/"+good.UUID]
	require.Equal(t, dispatch.StatusDelivered, ok.Status)
	require.Equal(t, http.StatusOK, ok.HTTPStatus)
	require.Equal(t, store.PlatformMeta, ok.Platform)
	require.Equal(t, "lead", ok.EventName)
	require.Equal(t, store.SourceClient, ok.Source)
	require.True(t, ok.Test, "debug mode: the pixel has a test_event_code")
	refused := got["delivery/"+bad.UUID]
	require.GreaterOrEqual(t, refused.HTTPStatus, 400)
	require.Equal(t, "lead", refused.EventName)
	require.Equal(t, store.SourceClient, refused.Source)
	require.False(t, refused.Test)
}
