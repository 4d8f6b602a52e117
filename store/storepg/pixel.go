package storepg

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/jaraba/pixelgw/store"
)

// Queries of tracking_pixel.

const pixelColumns = `id, uuid, tenant_id, platform, pixel_id, credentials_key_id, credentials,
	credential_hints, extras, event_map, is_active, server_side_enabled, client_side_enabled,
	test_event_code, domains, status, created_at, updated_at, confirm_browser_conversions`

func scanPixel(row pgx.Row) (store.Pixel, error) {
	var (
		p                    store.Pixel
		pid, tid             pgtype.UUID
		hints, extras, evmap []byte
	)
	err := row.Scan(&p.ID, &pid, &tid, &p.Platform, &p.PixelID, &p.Credentials.KeyID, &p.Credentials.Ciphertext,
		&hints, &extras, &evmap, &p.IsActive, &p.ServerSideEnabled, &p.ClientSideEnabled,
		&p.TestEventCode, &p.Domains, &p.Status, &p.CreatedAt, &p.UpdatedAt, &p.ConfirmBrowserConversions)
	if err != nil {
		return store.Pixel{}, err
	}
	p.UUID, p.TenantID = uuidString(pid), uuidString(tid)
	for _, f := range []struct {
		raw []byte
		dst *map[string]string
	}{{hints, &p.CredentialHints}, {extras, &p.Extras}, {evmap, &p.EventMap}} {
		if len(f.raw) == 0 {
			continue
		}
		if err := json.Unmarshal(f.raw, f.dst); err != nil {
			return store.Pixel{}, fmt.Errorf("cannot decode pixel %s: %w", p.UUID, err)
		}
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, nil
}

func collectPixels(rows pgx.Rows, err error) ([]store.Pixel, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Pixel, error) { return scanPixel(r) })
}

// jsonMap encodes a map as jsonb; an empty map is SQL NULL.
func jsonMap(m map[string]string) ([]byte, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("cannot encode map: %w", err)
	}
	return b, nil
}

func nullSlice(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// CreatePixel stores p and assigns its ID; ErrConflict on a duplicate UUID
// or (tenant, platform, pixel_id), ErrNotFound for an unknown tenant.
func (s *Store) CreatePixel(ctx context.Context, p store.Pixel) (store.Pixel, error) {
	tid, ok := parseID(p.TenantID)
	if !ok {
		return store.Pixel{}, notFound("create pixel")
	}
	if p.UUID == "" {
		p.UUID = uuid.NewString()
	}
	pid, ok := parseID(p.UUID)
	if !ok {
		return store.Pixel{}, fmt.Errorf("cannot create pixel: invalid uuid %q", p.UUID)
	}
	hints, err := jsonMap(p.CredentialHints)
	if err != nil {
		return store.Pixel{}, err
	}
	extras, err := jsonMap(p.Extras)
	if err != nil {
		return store.Pixel{}, err
	}
	evmap, err := jsonMap(p.EventMap)
	if err != nil {
		return store.Pixel{}, err
	}
	out, err := scanPixel(s.pool.QueryRow(ctx,
		`INSERT INTO tracking_pixel (uuid, tenant_id, platform, pixel_id, credentials_key_id, credentials,
			credential_hints, extras, event_map, is_active, server_side_enabled, client_side_enabled,
			test_event_code, domains, status, created_at, updated_at, confirm_browser_conversions)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
		RETURNING `+pixelColumns,
		pid, tid, p.Platform, p.PixelID, p.Credentials.KeyID, nullBytes(p.Credentials.Ciphertext),
		hints, extras, evmap, p.IsActive, p.ServerSideEnabled, p.ClientSideEnabled,
		p.TestEventCode, nullSlice(p.Domains), p.Status, s.timestamp(p.CreatedAt), s.timestamp(s.now()),
		p.ConfirmBrowserConversions))
	if err != nil {
		return store.Pixel{}, wrap("create pixel", err)
	}
	return out, nil
}

// GetPixel loads one pixel of the tenant.
func (s *Store) GetPixel(ctx context.Context, tenantID, pixelUUID string) (store.Pixel, error) {
	tid, ok1 := parseID(tenantID)
	pid, ok2 := parseID(pixelUUID)
	if !ok1 || !ok2 {
		return store.Pixel{}, notFound("get pixel")
	}
	p, err := scanPixel(s.pool.QueryRow(ctx,
		`SELECT `+pixelColumns+` FROM tracking_pixel WHERE tenant_id = $1 AND uuid = $2`, tid, pid))
	if err != nil {
		return store.Pixel{}, wrap("get pixel", err)
	}
	return p, nil
}

// ListPixels lists the tenant's pixels in creation order.
func (s *Store) ListPixels(ctx context.Context, tenantID string) ([]store.Pixel, error) {
	tid, ok := parseID(tenantID)
	if !ok {
		return nil, nil
	}
	out, err := collectPixels(s.pool.Query(ctx,
		`SELECT `+pixelColumns+` FROM tracking_pixel WHERE tenant_id = $1 ORDER BY id`, tid))
	if err != nil {
		return nil, wrap("list pixels", err)
	}
	return out, nil
}

// AllActivePixels lists the active pixels of every tenant.
func (s *Store) AllActivePixels(ctx context.Context) ([]store.Pixel, error) {
	out, err := collectPixels(s.pool.Query(ctx,
		`SELECT `+pixelColumns+` FROM tracking_pixel WHERE is_active ORDER BY id`))
	if err != nil {
		return nil, wrap("list active pixels", err)
	}
	return out, nil
}

// UpdatePixel applies p in one statement and moves updated_at.
func (s *Store) UpdatePixel(ctx context.Context, tenantID, pixelUUID string, p store.PixelPatch) (store.Pixel, error) {
	tid, ok1 := parseID(tenantID)
	pid, ok2 := parseID(pixelUUID)
	if !ok1 || !ok2 {
		return store.Pixel{}, notFound("update pixel")
	}
	var (
		credKeyID string
		cred      []byte
	)
	if p.Credentials != nil {
		credKeyID, cred = p.Credentials.KeyID, nullBytes(p.Credentials.Ciphertext)
	}
	var maps [3][]byte
	for i, m := range []*map[string]string{p.CredentialHints, p.Extras, p.EventMap} {
		if m == nil {
			continue
		}
		b, err := jsonMap(*m)
		if err != nil {
			return store.Pixel{}, err
		}
		maps[i] = b
	}
	var domains []string
	if p.Domains != nil {
		domains = nullSlice(*p.Domains)
	}
	out, err := scanPixel(s.pool.QueryRow(ctx,
		`UPDATE tracking_pixel SET
			pixel_id = coalesce($3, pixel_id),
			credentials_key_id = CASE WHEN $4::boolean THEN $5::text ELSE credentials_key_id END,
			credentials = CASE WHEN $4::boolean THEN $6::bytea ELSE credentials END,
			credential_hints = CASE WHEN $7::boolean THEN $8::jsonb ELSE credential_hints END,
			extras = CASE WHEN $9::boolean THEN $10::jsonb ELSE extras END,
			event_map = CASE WHEN $11::boolean THEN $12::jsonb ELSE event_map END,
			is_active = coalesce($13, is_active),
			server_side_enabled = coalesce($14, server_side_enabled),
			client_side_enabled = coalesce($15, client_side_enabled),
			test_event_code = coalesce($16, test_event_code),
			domains = CASE WHEN $17::boolean THEN $18::text[] ELSE domains END,
			status = coalesce($19, status),
			updated_at = $20,
			confirm_browser_conversions = coalesce($21, confirm_browser_conversions)
		WHERE tenant_id = $1 AND uuid = $2
		RETURNING `+pixelColumns,
		tid, pid, p.PixelID,
		p.Credentials != nil, credKeyID, cred,
		p.CredentialHints != nil, maps[0],
		p.Extras != nil, maps[1],
		p.EventMap != nil, maps[2],
		p.IsActive, p.ServerSideEnabled, p.ClientSideEnabled, p.TestEventCode,
		p.Domains != nil, domains,
		p.Status, s.timestamp(s.now()), p.ConfirmBrowserConversions))
	if err != nil {
		return store.Pixel{}, wrap("update pixel", err)
	}
	return out, nil
}

// DeletePixel removes one pixel of the tenant.
func (s *Store) DeletePixel(ctx context.Context, tenantID, pixelUUID string) error {
	tid, ok1 := parseID(tenantID)
	pid, ok2 := parseID(pixelUUID)
	if !ok1 || !ok2 {
		return notFound("delete pixel")
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM tracking_pixel WHERE tenant_id = $1 AND uuid = $2`, tid, pid)
	if err != nil {
		return wrap("delete pixel", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("delete pixel")
	}
	return nil
}
