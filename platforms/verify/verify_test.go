package verify_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/google"
	"github.com/jaraba/pixelgw/platforms/linkedin"
	"github.com/jaraba/pixelgw/platforms/meta"
	"github.com/jaraba/pixelgw/platforms/tiktok"
	"github.com/jaraba/pixelgw/platforms/verify"
	"github.com/jaraba/pixelgw/test/platformsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func setup(t *testing.T) (*verify.Verifier, *platformsim.Sim) {
	t.Helper()
	sim := platformsim.New(platformsim.Options{Tokens: map[string]string{"meta": "good-meta-token", "tiktok": "good-tiktok-token"}})
	srv := httptest.NewServer(sim.Handler())
	client := &http.Client{}
	t.Cleanup(func() { sim.Close(); srv.Close(); client.CloseIdleConnections() })
	mc, gc, lc, tc := meta.Defaults(), google.Defaults(), linkedin.Defaults(), tiktok.Defaults()
	mc.BaseURL, gc.BaseURL, lc.BaseURL, tc.BaseURL = srv.URL+"/meta", srv.URL+"/google", srv.URL+"/linkedin", srv.URL+"/tiktok"
	return verify.New([]platforms.Destination{meta.New(mc, client), google.New(gc, client), linkedin.New(lc, client), tiktok.New(tc, client)}, nil), sim
}

func checks(rs []verify.Result) map[string]bool {
	m := map[string]bool{}
	for _, r := range rs {
		m[r.Check] = r.OK
	}
	return m
}

func TestVerify(t *testing.T) {
	t.Parallel()
	v, sim := setup(t)
	ctx := context.Background()
	metaPixel := func(token, code string) *platforms.Pixel {
		return &platforms.Pixel{UUID: "p1", TenantID: "t1", Platform: "meta", PixelID: "1234567890",
			Credentials: map[string]string{"access_token": token}, TestEventCode: code}
	}

	rs := v.Verify(ctx, metaPixel("good-meta-token", "TEST123"))
	require.Equal(t, map[string]bool{"configuration": true, "test_event": true}, checks(rs), "%+v", rs)
	reqs := sim.Requests("meta")
	require.Len(t, reqs, 1)
	require.Contains(t, string(reqs[0].Body), "TEST123", "sent as a test event")

	rs = v.Verify(ctx, metaPixel("wrong-token-value", "TEST123"))
	require.Equal(t, map[string]bool{"configuration": true, "test_event": false}, checks(rs))
	require.Contains(t, rs[1].Message, "refused the credentials")
	require.NotContains(t, rs[1].Message, "wrong-token-value", "no secret in the message")

	before := len(sim.Requests("meta"))
	rs = v.Verify(ctx, metaPixel("good-meta-token", ""))
	require.False(t, checks(rs)["test_event"])
	require.Contains(t, rs[1].Message, "test_event_code")
	require.Len(t, sim.Requests("meta"), before, "no real event without a test code")

	rs = v.Verify(ctx, &platforms.Pixel{UUID: "p2", TenantID: "t1", Platform: "google", PixelID: "G-ABC123",
		Credentials: map[string]string{"api_secret": "s3cret"}})
	require.Equal(t, map[string]bool{"configuration": true, "validation": true}, checks(rs), "%+v", rs)
	require.Contains(t, sim.Requests("google")[0].Path, "/debug/mp/collect", "the validation endpoint, not a real hit")

	rs = v.Verify(ctx, &platforms.Pixel{UUID: "p3", TenantID: "t1", Platform: "tiktok", PixelID: "CDEMO0000000000000AB",
		Credentials: map[string]string{"access_token": "good-tiktok-token"}, TestEventCode: "TEST1"})
	require.Equal(t, map[string]bool{"configuration": true, "test_event": true}, checks(rs), "%+v", rs)

	rs = v.Verify(ctx, &platforms.Pixel{UUID: "p4", TenantID: "t1", Platform: "linkedin", PixelID: "123",
		Credentials: map[string]string{"access_token": "li"}, EventMap: map[string]string{"lead": "urn:lla:llaPartnerConversion:1"}})
	require.Equal(t, map[string]bool{"configuration": true, "credentials": false}, checks(rs))
	require.Empty(t, sim.Requests("linkedin"), "no conversion sent to a platform without a test mode")

	rs = v.Verify(ctx, &platforms.Pixel{UUID: "p5", TenantID: "t1", Platform: "linkedin", PixelID: "123",
		Credentials: map[string]string{"access_token": "li"}})
	require.Equal(t, map[string]bool{"configuration": false}, checks(rs), "an unmapped LinkedIn pixel cannot build a request")
}
