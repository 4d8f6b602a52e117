package storesqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jaraba/pixelgw/store"
)

const pixelColumns = `id, uuid, tenant_id, platform, pixel_id, credentials_key_id, credentials,
	credential_hints, extras, event_map, is_active, server_side_enabled, client_side_enabled,
	test_event_code, domains, status, created_at, updated_at, confirm_browser_conversions`

func scanPixel(row interface{ Scan(...any) error }) (store.Pixel, error) {
	var (
		p                       store.Pixel
		credKeyID               string
		cred                    []byte
		hints, extras, eventMap string
		domains                 string
		active, server, client  int
		confirm                 int
		createdAt, updatedAt    int64
	)
	err := row.Scan(&p.ID, &p.UUID, &p.TenantID, &p.Platform, &p.PixelID, &credKeyID, &cred,
		&hints, &extras, &eventMap, &active, &server, &client,
		&p.TestEventCode, &domains, &p.Status, &createdAt, &updatedAt, &confirm)
	if err != nil {
		return store.Pixel{}, mapErr(err)
	}
	p.Credentials = sealedFrom(credKeyID, cred)
	for _, c := range []struct {
		src string
		dst any
	}{{hints, &p.CredentialHints}, {extras, &p.Extras}, {eventMap, &p.EventMap}, {domains, &p.Domains}} {
		if err := fromJSON(c.src, c.dst); err != nil {
			return store.Pixel{}, fmt.Errorf("cannot decode pixel: %w", err)
		}
	}
	p.IsActive, p.ServerSideEnabled, p.ClientSideEnabled = active != 0, server != 0, client != 0
	p.ConfirmBrowserConversions = confirm != 0
	p.CreatedAt, p.UpdatedAt = fromMicros(createdAt), fromMicros(updatedAt)
	return p, nil
}

// pixelArgs returns the values of every column but id, in pixelColumns order.
func pixelArgs(p store.Pixel) ([]any, error) {
	var js [4]string
	for i, v := range []any{p.CredentialHints, p.Extras, p.EventMap, p.Domains} {
		s, err := toJSON(v)
		if err != nil {
			return nil, fmt.Errorf("cannot encode pixel: %w", err)
		}
		js[i] = s
	}
	credKeyID, cred := sealedArgs(p.Credentials)
	return []any{p.UUID, p.TenantID, p.Platform, p.PixelID, credKeyID, cred,
		js[0], js[1], js[2], boolInt(p.IsActive), boolInt(p.ServerSideEnabled), boolInt(p.ClientSideEnabled),
		p.TestEventCode, js[3], p.Status, toMicros(p.CreatedAt), toMicros(p.UpdatedAt), boolInt(p.ConfirmBrowserConversions)}, nil
}

// CreatePixel stores p and assigns p.ID; ErrConflict on a duplicate UUID or
// platform+pixel_id within the tenant, ErrNotFound for an unknown tenant.
func (s *Store) CreatePixel(ctx context.Context, p store.Pixel) (store.Pixel, error) {
	p.CreatedAt = s.stamp(p.CreatedAt)
	p.UpdatedAt = p.CreatedAt
	args, err := pixelArgs(p)
	if err != nil {
		return store.Pixel{}, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO tracking_pixel (uuid, tenant_id, platform, pixel_id,
			credentials_key_id, credentials, credential_hints, extras, event_map, is_active,
			server_side_enabled, client_side_enabled, test_event_code, domains, status, created_at, updated_at,
			confirm_browser_conversions)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, args...).Scan(&p.ID)
		if err != nil {
			return mapErr(err)
		}
		return bumpConfigVersion(ctx, tx)
	})
	if err != nil {
		return store.Pixel{}, fmt.Errorf("cannot create pixel: %w", err)
	}
	return p, nil
}

// GetPixel returns one of the tenant's pixels.
func (s *Store) GetPixel(ctx context.Context, tenantID, uuid string) (store.Pixel, error) {
	p, err := scanPixel(s.r.QueryRowContext(ctx,
		`SELECT `+pixelColumns+` FROM tracking_pixel WHERE tenant_id = ? AND uuid = ?`, tenantID, uuid))
	if err != nil {
		return store.Pixel{}, fmt.Errorf("cannot get pixel %q: %w", uuid, err)
	}
	return p, nil
}

func (s *Store) queryPixels(ctx context.Context, q string, args ...any) ([]store.Pixel, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Pixel
	for rows.Next() {
		p, err := scanPixel(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// ListPixels lists the tenant's pixels, oldest first.
func (s *Store) ListPixels(ctx context.Context, tenantID string) ([]store.Pixel, error) {
	out, err := s.queryPixels(ctx, `SELECT `+pixelColumns+` FROM tracking_pixel WHERE tenant_id = ? ORDER BY id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("cannot list pixels: %w", err)
	}
	return out, nil
}

// AllActivePixels lists the active pixels of every tenant.
func (s *Store) AllActivePixels(ctx context.Context) ([]store.Pixel, error) {
	out, err := s.queryPixels(ctx, `SELECT `+pixelColumns+` FROM tracking_pixel WHERE is_active = 1 ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("cannot list active pixels: %w", err)
	}
	return out, nil
}

func applyPixelPatch(p *store.Pixel, u store.PixelPatch) {
	if u.PixelID != nil {
		p.PixelID = *u.PixelID
	}
	if u.Credentials != nil {
		p.Credentials = *u.Credentials
	}
	if u.CredentialHints != nil {
		p.CredentialHints = *u.CredentialHints
	}
	if u.Extras != nil {
		p.Extras = *u.Extras
	}
	if u.EventMap != nil {
		p.EventMap = *u.EventMap
	}
	if u.IsActive != nil {
		p.IsActive = *u.IsActive
	}
	if u.ServerSideEnabled != nil {
		p.ServerSideEnabled = *u.ServerSideEnabled
	}
	if u.ClientSideEnabled != nil {
		p.ClientSideEnabled = *u.ClientSideEnabled
	}
	if u.TestEventCode != nil {
		p.TestEventCode = *u.TestEventCode
	}
	if u.Domains != nil {
		p.Domains = *u.Domains
	}
	if u.Status != nil {
		p.Status = *u.Status
	}
	if u.ConfirmBrowserConversions != nil {
		p.ConfirmBrowserConversions = *u.ConfirmBrowserConversions
	}
}

// UpdatePixel applies u to one of the tenant's pixels; nil fields stay
// unchanged. ErrConflict if the new pixel_id collides.
func (s *Store) UpdatePixel(ctx context.Context, tenantID, uuid string, u store.PixelPatch) (store.Pixel, error) {
	var p store.Pixel
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		p, err = scanPixel(tx.QueryRowContext(ctx,
			`SELECT `+pixelColumns+` FROM tracking_pixel WHERE tenant_id = ? AND uuid = ?`, tenantID, uuid))
		if err != nil {
			return err
		}
		applyPixelPatch(&p, u)
		p.UpdatedAt = s.after(p.UpdatedAt)
		args, err := pixelArgs(p)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE tracking_pixel SET uuid = ?, tenant_id = ?, platform = ?, pixel_id = ?,
			credentials_key_id = ?, credentials = ?, credential_hints = ?, extras = ?, event_map = ?, is_active = ?,
			server_side_enabled = ?, client_side_enabled = ?, test_event_code = ?, domains = ?, status = ?,
			created_at = ?, updated_at = ?, confirm_browser_conversions = ?
			WHERE id = ?`, append(args, p.ID)...)
		if err != nil {
			return mapErr(err)
		}
		return bumpConfigVersion(ctx, tx)
	})
	if err != nil {
		return store.Pixel{}, fmt.Errorf("cannot update pixel %q: %w", uuid, err)
	}
	return p, nil
}

// DeletePixel removes one of the tenant's pixels.
func (s *Store) DeletePixel(ctx context.Context, tenantID, uuid string) error {
	if err := s.configRow(ctx, `DELETE FROM tracking_pixel WHERE tenant_id = ? AND uuid = ?`, tenantID, uuid); err != nil {
		return fmt.Errorf("cannot delete pixel %q: %w", uuid, err)
	}
	return nil
}
