package tiktok_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/normalize"
	"github.com/jaraba/pixelgw/platforms/platformtest"
	"github.com/jaraba/pixelgw/platforms/tiktok"
	"github.com/jaraba/pixelgw/test/platformsim"
)

func startSim(t *testing.T, secret string) (*platformsim.Sim, string) {
	t.Helper()
	sim := platformsim.New(platformsim.Options{Tokens: map[string]string{platformsim.TikTok: secret}})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return sim, srv.URL + "/" + platformsim.TikTok
}

func TestConformance(t *testing.T) {
	t.Parallel()
	platformtest.Exercise(t, platformtest.Case{
		Platform: platformsim.TikTok,
		Start: func(t *testing.T, secret string) (string, platformtest.Sim) {
			sim, base := startSim(t, secret)
			return base, simAdapter{sim: sim, platform: platformsim.TikTok}
		},
		New: func(base string, client *http.Client) platforms.Destination {
			cfg := tiktok.Defaults()
			cfg.BaseURL = base
			return tiktok.New(cfg, client)
		},
		Pixel:   *pixel(),
		Secret:  token,
		MaxAge:  tiktok.MaxAge,
		Partial: true,
		Golden: func(t *testing.T, body []byte) {
			t.Helper()
			ref := platformtest.Purchase(time.Now())
			var got map[string]any
			require.NoError(t, json.Unmarshal(body, &got))
			require.Equal(t, "web", got["event_source"])
			require.Equal(t, pixelCode, got["event_source_id"])
			require.NotContains(t, got, "test_event_code")
			data := got["data"].([]any)
			require.Len(t, data, 1)
			ev := data[0].(map[string]any)
			require.Equal(t, "Purchase", ev["event"])
			require.Equal(t, ref.EventID, ev["event_id"])
			require.InDelta(t, float64(ref.Time.Unix()), ev["event_time"], 5, "seconds")
			require.Equal(t, map[string]any{
				"email":       normalize.SHA256Hex("jane.doe@example.com"),
				"phone":       normalize.SHA256Hex("+34600123456"),
				"external_id": normalize.SHA256Hex("u-42"),
				"first_name":  normalize.SHA256Hex("jane"),
				"last_name":   normalize.SHA256Hex("doe"),
				"zip_code":    normalize.SHA256Hex("28001"),
				"city":        "madrid",
				"country":     "es",
				"ip":          ref.ClientIP,
				"user_agent":  ref.UserAgent,
				"ttclid":      ref.IDs.TTCLID,
				"ttp":         ref.IDs.TTP,
			}, ev["user"])
			require.Equal(t, map[string]any{"url": ref.URL, "referrer": ref.Referrer}, ev["page"])
			require.Equal(t, map[string]any{
				"value": 12.5, "currency": "EUR", "order_id": "A-1001", "content_type": "product",
				"contents": []any{
					map[string]any{"content_id": "sku1", "price": 10.0, "quantity": 1.0},
					map[string]any{"content_id": "sku2", "price": 2.5, "quantity": 1.0},
				},
			}, ev["properties"])
		},
	})
}

// TikTok's rate limit arrives inside an HTTP 200.
func TestConformanceRateLimitIn200(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, token)
	sim.Inject(platformsim.TikTok, platformsim.Fault{Body: platformsim.TikTokRateLimitBody, RetryAfter: 3 * time.Second, Times: 1})
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	cfg := tiktok.Defaults()
	cfg.BaseURL = base
	a := tiktok.New(cfg, client)
	resp, err := a.Send(t.Context(), pixel(), []*platforms.Event{platformtest.Purchase(time.Now())})
	require.Equal(t, 200, resp.HTTPStatus)
	var re *platforms.RetryableError
	require.ErrorAs(t, err, &re)
	require.Equal(t, 3*time.Second, re.RetryAfter)

	// Then it goes through, with the test event code.
	p := pixel()
	p.TestEventCode = "TEST123"
	_, err = a.Send(t.Context(), p, []*platforms.Event{platformtest.Purchase(time.Now())})
	require.NoError(t, err)
	reqs := sim.Requests(platformsim.TikTok)
	require.Len(t, reqs, 2)
	require.True(t, reqs[1].Accepted, "%v", reqs[1].Errors)
	require.Contains(t, string(reqs[1].Body), `"test_event_code":"TEST123"`)
}
