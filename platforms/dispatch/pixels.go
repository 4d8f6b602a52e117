package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/jaraba/pixelgw/platforms"
	"github.com/jaraba/pixelgw/store"
)

// pixelRed is the red health light (store.Pixel.Status).
const pixelRed = "red"

// snapshot is the delivery view of the pixels: platform -> tenant -> the
// tenant's active pixels with server-side delivery, credentials opened.
// Immutable once published.
type snapshot struct {
	byPlatform map[string]map[string][]*platforms.Pixel
	red        map[string]bool // UUIDs of the pixels whose stored status is red
	// confirm are the UUIDs of the pixels with ConfirmBrowserConversions.
	confirm map[string]bool
}

// confirms reports whether the pixel delivers browser conversions only
// once a server copy confirms them.
func (s *snapshot) confirms(uuid string) bool {
	return s != nil && s.confirm[uuid]
}

// isRed reports whether the pixel's stored status was red at the refresh.
func (s *snapshot) isRed(uuid string) bool {
	return s != nil && s.red[uuid]
}

func (s *snapshot) lookup(platform, tenant string) []*platforms.Pixel {
	if s == nil {
		return nil
	}
	return s.byPlatform[platform][tenant]
}

// cachedPixel keeps an opened pixel while its row is unchanged, so a
// refresh does not decrypt every credential again.
type cachedPixel struct {
	updated time.Time
	sealed  store.Sealed
	pixel   *platforms.Pixel
}

// refresh rebuilds the snapshot. A pixel whose credentials cannot be opened
// is left out (and logged, without any secret).
func (e *Engine) refresh(ctx context.Context) error {
	rows, err := e.d.Pixels.AllActivePixels(ctx)
	if err != nil {
		return fmt.Errorf("dispatch: cannot load pixels: %w", err)
	}
	next := &snapshot{byPlatform: map[string]map[string][]*platforms.Pixel{}, red: map[string]bool{}, confirm: map[string]bool{}}
	cache := make(map[string]cachedPixel, len(rows))
	for i := range rows {
		r := &rows[i]
		if !r.IsActive || !r.ServerSideEnabled {
			continue
		}
		c, ok := e.cache[r.UUID]
		if !ok || !c.updated.Equal(r.UpdatedAt) || c.sealed.KeyID != r.Credentials.KeyID ||
			!bytes.Equal(c.sealed.Ciphertext, r.Credentials.Ciphertext) {
			p, err := e.open(r)
			if err != nil {
				e.log.Warn("pixel left out of delivery: cannot open its credentials",
					"pixel", r.UUID, "platform", r.Platform, "err", err)
				continue
			}
			c = cachedPixel{updated: r.UpdatedAt, sealed: r.Credentials, pixel: p}
		}
		cache[r.UUID] = c
		if r.Status == pixelRed {
			next.red[r.UUID] = true
		}
		if r.ConfirmBrowserConversions {
			next.confirm[r.UUID] = true
		}
		byTenant := next.byPlatform[r.Platform]
		if byTenant == nil {
			byTenant = map[string][]*platforms.Pixel{}
			next.byPlatform[r.Platform] = byTenant
		}
		byTenant[r.TenantID] = append(byTenant[r.TenantID], c.pixel)
	}
	e.cache = cache
	e.pixels.Store(next)
	return nil
}

func (e *Engine) open(r *store.Pixel) (*platforms.Pixel, error) {
	creds := map[string]string{}
	if !r.Credentials.IsZero() {
		b, err := e.d.Keyring.Open(r.Credentials)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &creds); err != nil {
			return nil, errors.New("credentials are not a JSON object of strings")
		}
	}
	return &platforms.Pixel{
		UUID: r.UUID, TenantID: r.TenantID, Platform: r.Platform, PixelID: r.PixelID,
		Credentials: creds, Extras: maps.Clone(r.Extras), EventMap: maps.Clone(r.EventMap),
		TestEventCode: r.TestEventCode,
	}, nil
}

// refreshLoop rebuilds the snapshot every PixelsRefresh until ctx ends; a
// failed refresh keeps the previous snapshot.
func (e *Engine) refreshLoop(ctx context.Context) {
	t := time.NewTicker(e.cfg.PixelsRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := e.refresh(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("pixel snapshot not refreshed", "err", err)
		}
	}
}
