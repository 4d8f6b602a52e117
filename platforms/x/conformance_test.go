package x_test

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
	"github.com/jaraba/pixelgw/platforms/x"
	"github.com/jaraba/pixelgw/test/platformsim"
)

func newAdapter(base string, client *http.Client) platforms.Destination {
	cfg := x.Defaults()
	cfg.BaseURL = base
	return x.New(cfg, client)
}

func golden(t *testing.T, body []byte) {
	t.Helper()
	ref := platformtest.Purchase(time.Now())
	var got struct {
		Conversions []map[string]any `json:"conversions"`
	}
	require.NoError(t, json.Unmarshal(body, &got))
	require.Len(t, got.Conversions, 1)
	c := got.Conversions[0]
	require.Equal(t, "o87ne", c["event_id"], "the pixel's event tag id")
	require.Equal(t, ref.EventID, c["conversion_id"], "our event_id deduplicates")
	ts, err := time.Parse("2006-01-02T15:04:05.000Z", c["conversion_time"].(string))
	require.NoError(t, err, "ISO-8601 with milliseconds, UTC")
	require.WithinDuration(t, ref.Time, ts, 5*time.Second)
	require.Equal(t, []any{
		map[string]any{"twclid": ref.IDs.TWCLID},
		map[string]any{"hashed_email": normalize.SHA256Hex("jane.doe@example.com")},
		map[string]any{"hashed_phone_number": normalize.SHA256Hex("+34600123456")},
		map[string]any{"ip_address": ref.ClientIP, "user_agent": ref.UserAgent},
	}, c["identifiers"])
	require.Equal(t, 12.5, c["value"])
	require.Equal(t, "EUR", c["price_currency"])
	require.Equal(t, 2.0, c["number_items"])
	require.Equal(t, []any{
		map[string]any{"content_id": "sku1", "content_price": 10.0, "num_items": 1.0},
		map[string]any{"content_id": "sku2", "content_price": 2.5, "num_items": 1.0},
	}, c["contents"])
}

// With a pixel token.
func TestConformancePixelToken(t *testing.T) {
	t.Parallel()
	platformtest.Exercise(t, platformtest.Case{
		Platform: platformsim.X,
		Start: func(t *testing.T, secret string) (string, platformtest.Sim) {
			sim := platformsim.New(platformsim.Options{Tokens: map[string]string{platformsim.X: secret}})
			srv := httptest.NewServer(sim.Handler())
			t.Cleanup(srv.Close)
			return srv.URL + "/" + platformsim.X, simAdapter{sim: sim, platform: platformsim.X}
		},
		New:    newAdapter,
		Pixel:  *tokenPixel(),
		Secret: pixelToken,
		Golden: golden,
	})
}

// With OAuth 1.0a, the simulator verifying the signature: the secret is
// the consumer secret, which never travels.
func TestConformanceOAuth(t *testing.T) {
	t.Parallel()
	platformtest.Exercise(t, platformtest.Case{
		Platform: platformsim.X,
		Start: func(t *testing.T, secret string) (string, platformtest.Sim) {
			sim := platformsim.New(platformsim.Options{XOAuth: platformsim.XOAuth{
				ConsumerKey: consumerKey, ConsumerSecret: secret, Token: accessToken, TokenSecret: tokenSecret,
			}})
			srv := httptest.NewServer(sim.Handler())
			t.Cleanup(srv.Close)
			return srv.URL + "/" + platformsim.X, simAdapter{sim: sim, platform: platformsim.X}
		},
		New:    newAdapter,
		Pixel:  *oauthPixel(),
		Secret: consumerSecret,
		Golden: golden,
	})
}

// The simulator verifies every signature; a wrong token secret is an auth
// failure.
func TestConformanceOAuthWrongTokenSecret(t *testing.T) {
	t.Parallel()
	sim := platformsim.New(platformsim.Options{XOAuth: platformsim.XOAuth{
		ConsumerKey: consumerKey, ConsumerSecret: consumerSecret, Token: accessToken, TokenSecret: tokenSecret,
	}})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	a := newAdapter(srv.URL+"/x", client)
	ev := platformtest.Purchase(time.Now())
	_, err := a.Send(t.Context(), oauthPixel(), []*platforms.Event{ev})
	require.NoError(t, err)
	p := oauthPixel()
	p.Credentials["access_token_secret"] = "not-the-secret"
	_, err = a.Send(t.Context(), p, []*platforms.Event{ev})
	var pe *platforms.PermanentError
	require.ErrorAs(t, err, &pe)
	require.True(t, pe.Auth)
	reqs := sim.Requests(platformsim.X)
	require.Len(t, reqs, 2)
	require.Contains(t, reqs[1].Errors, "bad oauth_signature")
}
