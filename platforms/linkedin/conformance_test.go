package linkedin_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/linkedin"
	"github.com/jaraba/pixelgw/platforms/normalize"
	"github.com/jaraba/pixelgw/platforms/platformtest"
	"github.com/jaraba/pixelgw/test/platformsim"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	platformtest.Exercise(t, platformtest.Case{
		Platform: platformsim.LinkedIn,
		Start: func(t *testing.T, secret string) (string, platformtest.Sim) {
			sim := platformsim.New(platformsim.Options{Tokens: map[string]string{platformsim.LinkedIn: secret}})
			srv := httptest.NewServer(sim.Handler())
			t.Cleanup(srv.Close)
			return srv.URL + "/" + platformsim.LinkedIn, simAdapter{sim: sim, platform: platformsim.LinkedIn}
		},
		New: func(base string, client *http.Client) platforms.Destination {
			cfg := linkedin.Defaults()
			cfg.BaseURL = base
			return linkedin.New(cfg, client)
		},
		Pixel:   *pixel(),
		Secret:  token,
		MaxAge:  linkedin.MaxAge,
		Partial: true,
		Golden: func(t *testing.T, body []byte) {
			t.Helper()
			ref := platformtest.Purchase(time.Now())
			var got struct {
				Elements []map[string]any `json:"elements"`
			}
			require.NoError(t, json.Unmarshal(body, &got))
			require.Len(t, got.Elements, 1)
			el := got.Elements[0]
			require.Equal(t, urnBuy, el["conversion"])
			require.Equal(t, ref.EventID, el["eventId"])
			require.InDelta(t, float64(ref.Time.UnixMilli()), el["conversionHappenedAt"], 5000, "milliseconds")
			require.Equal(t, map[string]any{"currencyCode": "EUR", "amount": "12.5"}, el["conversionValue"], "amount is a string")
			require.Equal(t, map[string]any{
				"userIds": []any{
					map[string]any{"idType": "SHA256_EMAIL", "idValue": normalize.SHA256Hex("jane.doe@example.com")},
					map[string]any{"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": ref.IDs.LiFatID},
				},
				"userInfo": map[string]any{"firstName": "Jane", "lastName": "Doe", "countryCode": "ES"},
			}, el["user"])
		},
	})
}

// A retired LinkedIn-Version is a permanent failure that says so.
func TestConformanceRetiredVersion(t *testing.T) {
	t.Parallel()
	sim := platformsim.New(platformsim.Options{Tokens: map[string]string{platformsim.LinkedIn: token}})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	cfg := linkedin.Defaults()
	cfg.BaseURL = srv.URL + "/linkedin"
	cfg.Version = "202401"
	ev := platformtest.Purchase(time.Now())
	_, err := linkedin.New(cfg, client).Send(t.Context(), pixel(), []*platforms.Event{ev})
	var pe *platforms.PermanentError
	require.ErrorAs(t, err, &pe)
	require.False(t, pe.Auth)
	require.ErrorContains(t, err, "retired")
	require.Equal(t, 426, sim.Requests(platformsim.LinkedIn)[0].Status)
}

// One element the simulator refuses (here: in the future, which Check
// would have caught) fails alone; the others are retryable.
func TestConformanceUnprocessableElement(t *testing.T) {
	t.Parallel()
	sim := platformsim.New(platformsim.Options{Tokens: map[string]string{platformsim.LinkedIn: token}})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	cfg := linkedin.Defaults()
	cfg.BaseURL = srv.URL + "/linkedin"
	a := linkedin.New(cfg, client)
	good, bad := platformtest.Purchase(time.Now()), platformtest.Purchase(time.Now())
	bad.Time = time.Now().Add(time.Hour)
	require.Error(t, a.Check(pixel(), bad, time.Now()))
	_, err := a.Send(t.Context(), pixel(), []*platforms.Event{good, bad})
	var be *platforms.BatchError
	require.ErrorAs(t, err, &be)
	var re *platforms.RetryableError
	var pe *platforms.PermanentError
	require.ErrorAs(t, be.Errs[0], &re)
	require.ErrorAs(t, be.Errs[1], &pe)
}
