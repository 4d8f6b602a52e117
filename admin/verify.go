package admin

import (
	"context"
	"maps"
	"net/http"
	"time"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/platforms/verify"
)

// Verifier runs a pixel's live check against its platform.
type Verifier interface {
	Verify(ctx context.Context, p *platforms.Pixel) []verify.Result
}

// verifyTimeout bounds a verify call (one platform request).
const verifyTimeout = 20 * time.Second

func (a *API) handleVerifyPixel(w http.ResponseWriter, r *http.Request, p principal) error {
	if a.ver == nil {
		return errf(http.StatusServiceUnavailable, codeUnavailable, "pixel verification is not enabled on this server")
	}
	id, err := parseUUID(r.PathValue("uuid"), "pixel")
	if err != nil {
		return err
	}
	px, err := a.store.GetPixel(r.Context(), p.tenantID, id)
	if err != nil {
		return storeError(err, "pixel")
	}
	creds, err := a.openCreds(px.Credentials)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), verifyTimeout)
	defer cancel()
	results := a.ver.Verify(ctx, &platforms.Pixel{
		UUID: px.UUID, TenantID: px.TenantID, Platform: px.Platform, PixelID: px.PixelID,
		Credentials: creds, Extras: maps.Clone(px.Extras), EventMap: maps.Clone(px.EventMap), TestEventCode: px.TestEventCode,
	})
	ok := len(results) > 0
	for _, res := range results {
		ok = ok && res.OK
	}
	writeJSON(w, http.StatusOK, map[string]any{"pixel": px.UUID, "platform": px.Platform, "ok": ok, "checks": results})
	return nil
}
