package google_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/google"
	"github.com/jaraba/pixelgw/platforms/platformtest"
	"github.com/jaraba/pixelgw/test/platformsim"
)

func TestHealthOf(t *testing.T) {
	t.Parallel()
	require.Equal(t, google.HealthGreen, google.HealthOf(nil))
	require.Equal(t, google.HealthAmber, google.HealthOf([]google.Message{{FieldPath: "events", Code: "NAME_RESERVED"}}))
	require.Equal(t, google.HealthRed, google.HealthOf([]google.Message{
		{FieldPath: "events", Code: "NAME_RESERVED"}, {FieldPath: "measurement_id", Code: "VALUE_INVALID"},
	}))
}

// TestSamplerLights: the sampler keeps what each GA4 pixel delivered and
// validates it on the simulator's debug endpoint: a clean pixel is green,
// a pixel whose events GA4 refuses is amber, a pixel whose measurement id
// GA4 refuses is red, and the amber one turns green once it sends clean
// events. Every /mp/collect answer was a 204 all along.
func TestSamplerLights(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := google.NewSampler(f.a, 2, nil)
	ctx := context.Background()
	now := time.Now()
	mk := func(n int) []*platforms.Event {
		var evs []*platforms.Event
		for range n {
			evs = append(evs, platformtest.Purchase(now))
		}
		return evs
	}
	clean := f.p
	amber := f.p
	amber.UUID = "44444444-4444-4444-8444-444444444444"
	amber.EventMap = map[string]string{"purchase": "session_start"} // reserved: GA4 drops it
	red := f.p
	red.UUID = "55555555-5555-4555-8555-555555555555"
	red.PixelID = "G-abc" // not a measurement id GA4 knows

	require.Empty(t, s.Sweep(ctx), "nothing delivered, nothing to validate")
	for _, p := range []*platforms.Pixel{&clean, &amber, &red} {
		_, err := s.Send(ctx, p, mk(3))
		require.NoError(t, err, "GA4 answers 204 to anything")
		require.True(t, s.Owns(p.UUID))
	}
	require.False(t, s.Owns("66666666-6666-4666-8666-666666666666"))
	before := len(f.sim.Requests(platformsim.Google))

	lights := map[string]google.Health{}
	for _, h := range s.Sweep(ctx) {
		lights[h.PixelUUID] = h
	}
	require.Len(t, lights, 3)
	require.Equal(t, google.HealthGreen, lights[clean.UUID].Status)
	require.Empty(t, lights[clean.UUID].Messages)
	require.Equal(t, google.HealthAmber, lights[amber.UUID].Status)
	require.Contains(t, lights[amber.UUID].Messages[0], "NAME_RESERVED")
	require.Equal(t, google.HealthRed, lights[red.UUID].Status)
	require.Contains(t, lights[red.UUID].Messages[0], "measurement_id")
	for _, h := range lights {
		require.NoError(t, h.Err)
		require.Equal(t, f.p.TenantID, h.TenantID)
	}
	reqs := f.sim.Requests(platformsim.Google)[before:]
	require.Len(t, reqs, 3, "one validation per pixel (one client id)")
	for _, r := range reqs {
		require.Equal(t, "/google/debug/mp/collect", r.Path)
		require.Len(t, platformsim.EventIDs(platformsim.Google, r.Body), 2, "at most health_samples events")
	}

	// Samples are used once; the amber pixel sends clean events again.
	require.Empty(t, s.Sweep(ctx))
	amber.EventMap = nil
	_, err := s.Send(ctx, &amber, mk(1))
	require.NoError(t, err)
	got := s.Sweep(ctx)
	require.Len(t, got, 1)
	require.Equal(t, google.Health{TenantID: amber.TenantID, PixelUUID: amber.UUID, Status: google.HealthGreen}, got[0])
}

// TestSamplerKeepsOnlyDelivered: the events of a failed request are no
// samples; a validation without an answer leaves the light unset.
func TestSamplerKeepsOnlyDelivered(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := google.NewSampler(f.a, 5, nil)
	ctx := context.Background()
	f.sim.Inject(platformsim.Google, platformsim.Fault{Status: 500, Times: 1})
	_, err := s.Send(ctx, &f.p, []*platforms.Event{platformtest.Purchase(time.Now())})
	require.Error(t, err)
	require.Empty(t, s.Sweep(ctx))

	_, err = s.Send(ctx, &f.p, []*platforms.Event{platformtest.Purchase(time.Now())})
	require.NoError(t, err)
	f.sim.Inject(platformsim.Google, platformsim.Fault{Status: 503, Times: 1})
	got := s.Sweep(ctx)
	require.Len(t, got, 1)
	require.Empty(t, got[0].Status)
	var re *platforms.RetryableError
	require.ErrorAs(t, got[0].Err, &re)
	require.NotContains(t, got[0].Err.Error(), secret)
}
