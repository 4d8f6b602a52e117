package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/google"
	"github.com/jaraba/pixelgw/platforms/platformtest"
	"github.com/jaraba/pixelgw/store"
	"github.com/jaraba/pixelgw/test/platformsim"
)

// TestGA4HealthSampling: GA4 pixels deliver (204s) through the sampler; the
// periodic sweep validates their samples on the simulator's debug endpoint
// and the stored light follows: red for a measurement id GA4 refuses, amber
// for events GA4 refuses, green again once the pixel sends clean events.
func TestGA4HealthSampling(t *testing.T) {
	t.Parallel()
	st, ten := healthStore(t)
	sim := platformsim.New(platformsim.Options{})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	cfg := google.Defaults()
	cfg.BaseURL = srv.URL + "/google"
	s := google.NewSampler(google.New(cfg, client), 3, nil)

	mk := func(id, status string) *platforms.Pixel {
		p, err := st.CreatePixel(t.Context(), store.Pixel{
			UUID: uuid.NewString(), TenantID: ten, Platform: store.PlatformGoogle, PixelID: id,
			IsActive: true, ServerSideEnabled: true, Status: status,
		})
		require.NoError(t, err)
		return &platforms.Pixel{UUID: p.UUID, TenantID: ten, Platform: "google", PixelID: p.PixelID,
			Credentials: map[string]string{"api_secret": "ga4-health-secret"}}
	}
	badID, badEvents, clean := mk("G-HEALTH1", "unknown"), mk("G-HEALTH2", "green"), mk("G-HEALTH3", "red")
	badID.PixelID = "G-bad" // as if the stream id were wrong
	badEvents.EventMap = map[string]string{"purchase": "session_start"}

	h := newPixelHealth(st, nil, healthQueue)
	require.NoError(t, h.Start(t.Context()))
	g := newGA4Health(s, 10*time.Millisecond, h.report, nil)
	require.NoError(t, g.Start(t.Context()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, g.Stop(ctx))
		stopHealth(t, h)
	})

	send := func(p *platforms.Pixel) {
		t.Helper()
		_, err := s.Send(t.Context(), p, []*platforms.Event{platformtest.Purchase(time.Now())})
		require.NoError(t, err)
	}
	for _, p := range []*platforms.Pixel{badID, badEvents, clean} {
		send(p)
	}
	wait := func(p *platforms.Pixel, want string) {
		t.Helper()
		require.Eventually(t, func() bool { return pixelStatus(t, st, ten, p.UUID) == want }, 10*time.Second, 5*time.Millisecond,
			"pixel %s never turned %s", p.UUID, want)
	}
	wait(badID, "red")
	wait(badEvents, "amber")
	wait(clean, "green")

	badID.PixelID, badEvents.EventMap = "G-HEALTH1", nil
	send(badID)
	send(badEvents)
	wait(badID, "green")
	wait(badEvents, "green")
	for _, r := range sim.Requests(platformsim.Google) {
		if r.Path == "/google/mp/collect" {
			require.Equal(t, http.StatusNoContent, r.Status, "every delivery was a 204")
		}
	}
}
