package admin

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/meta"
	"github.com/jaraba/pixelgw/platforms/verify"
	"github.com/jaraba/pixelgw/test/platformsim"
)

func TestVerifyPixel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sim := platformsim.New(platformsim.Options{Tokens: map[string]string{"meta": "EAAB-meta-token-0001"}})
	srv := httptest.NewServer(sim.Handler())
	client := &http.Client{}
	t.Cleanup(func() { sim.Close(); srv.Close(); client.CloseIdleConnections() })
	mc := meta.Defaults()
	mc.BaseURL = srv.URL + "/meta"

	tn := e.mustTenant("verify")
	tok := e.token(RoleAdmin, tn.ID)
	r := e.do("POST", "/api/v1/tracking/pixels", tok, `{"platform":"meta","pixel_id":"123456789012345","credentials":{"access_token":"EAAB-meta-token-0001"},"test_event_code":"TEST777"}`)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	px := decode[PixelView](t, r)

	// Without a verifier the route says so.
	require.Equal(t, http.StatusServiceUnavailable, e.do("POST", "/api/v1/tracking/pixels/"+px.UUID+"/verify", tok, "").status)

	api, err := New(e.cfg, Deps{Store: e.st, Keyring: e.keyring, Logger: e.api.log,
		Verifier: verify.New([]platforms.Destination{meta.New(mc, client)}, nil)})
	require.NoError(t, err)
	e.api, e.h = api, api.Handler()

	r = e.do("POST", "/api/v1/tracking/pixels/"+px.UUID+"/verify", tok, "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	got := decode[map[string]any](t, r)
	require.Equal(t, true, got["ok"], r.body)
	require.NotContains(t, r.body, "EAAB-meta-token-0001")
	reqs := sim.Requests("meta")
	require.Len(t, reqs, 1)
	require.Contains(t, string(reqs[0].Body), "TEST777")

	require.Equal(t, http.StatusForbidden, e.do("POST", "/api/v1/tracking/pixels/"+px.UUID+"/verify", e.token(RoleViewer, tn.ID), "").status)
	require.Equal(t, http.StatusNotFound, e.do("POST", "/api/v1/tracking/pixels/not-a-uuid/verify", tok, "").status)
}
