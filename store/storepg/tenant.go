package storepg

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/jaraba/pixelgw/store"
)

// Queries of tenant.

const tenantColumns = `id, slug, name, settings, created_at, updated_at`

func scanTenant(row pgx.Row) (store.Tenant, error) {
	var (
		t        store.Tenant
		id       pgtype.UUID
		settings []byte
	)
	if err := row.Scan(&id, &t.Slug, &t.Name, &settings, &t.CreatedAt, &t.UpdatedAt); err != nil {
		return store.Tenant{}, err
	}
	t.ID = uuidString(id)
	if len(settings) > 0 {
		if err := json.Unmarshal(settings, &t.Settings); err != nil {
			return store.Tenant{}, fmt.Errorf("cannot decode settings of tenant %s: %w", t.ID, err)
		}
	}
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return t, nil
}

// CreateTenant stores t; ErrConflict on a duplicate id or slug.
func (s *Store) CreateTenant(ctx context.Context, t store.Tenant) (store.Tenant, error) {
	id, ok := parseID(t.ID)
	if !ok {
		return store.Tenant{}, fmt.Errorf("cannot create tenant: invalid id %q", t.ID)
	}
	settings, err := json.Marshal(t.Settings)
	if err != nil {
		return store.Tenant{}, fmt.Errorf("cannot encode tenant settings: %w", err)
	}
	created := s.timestamp(t.CreatedAt)
	updated := s.timestamp(s.now())
	out, err := scanTenant(s.pool.QueryRow(ctx,
		`INSERT INTO tenant (id, slug, name, settings, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+tenantColumns,
		id, t.Slug, t.Name, settings, created, updated))
	if err != nil {
		return store.Tenant{}, wrap("create tenant", err)
	}
	return out, nil
}

// GetTenant loads a tenant by id.
func (s *Store) GetTenant(ctx context.Context, id string) (store.Tenant, error) {
	uid, ok := parseID(id)
	if !ok {
		return store.Tenant{}, notFound("get tenant")
	}
	t, err := scanTenant(s.pool.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenant WHERE id = $1`, uid))
	if err != nil {
		return store.Tenant{}, wrap("get tenant", err)
	}
	return t, nil
}

// GetTenantBySlug loads a tenant by slug.
func (s *Store) GetTenantBySlug(ctx context.Context, slug string) (store.Tenant, error) {
	t, err := scanTenant(s.pool.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenant WHERE slug = $1`, slug))
	if err != nil {
		return store.Tenant{}, wrap("get tenant by slug", err)
	}
	return t, nil
}

// ListTenants lists every tenant by slug.
func (s *Store) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tenantColumns+` FROM tenant ORDER BY slug`)
	if err != nil {
		return nil, wrap("list tenants", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Tenant, error) { return scanTenant(r) })
	if err != nil {
		return nil, wrap("list tenants", err)
	}
	return out, nil
}

// UpdateTenant applies p and moves updated_at.
func (s *Store) UpdateTenant(ctx context.Context, id string, p store.TenantPatch) (store.Tenant, error) {
	uid, ok := parseID(id)
	if !ok {
		return store.Tenant{}, notFound("update tenant")
	}
	var settings []byte
	if p.Settings != nil {
		var err error
		if settings, err = json.Marshal(*p.Settings); err != nil {
			return store.Tenant{}, fmt.Errorf("cannot encode tenant settings: %w", err)
		}
	}
	t, err := scanTenant(s.pool.QueryRow(ctx,
		`UPDATE tenant SET
			name = coalesce($2, name),
			settings = coalesce($3::jsonb, settings),
			updated_at = $4
		WHERE id = $1 RETURNING `+tenantColumns,
		uid, p.Name, settings, s.timestamp(s.now())))
	if err != nil {
		return store.Tenant{}, wrap("update tenant", err)
	}
	return t, nil
}

// DeleteTenant deletes the tenant; foreign keys cascade to everything it
// owns.
func (s *Store) DeleteTenant(ctx context.Context, id string) error {
	uid, ok := parseID(id)
	if !ok {
		return notFound("delete tenant")
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM tenant WHERE id = $1`, uid)
	if err != nil {
		return wrap("delete tenant", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("delete tenant")
	}
	return nil
}
