package storesqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jaraba/pixelgw/store"
)

const tenantColumns = `id, slug, name, settings, created_at, updated_at`

func scanTenant(row interface{ Scan(...any) error }) (store.Tenant, error) {
	var (
		t                  store.Tenant
		settings           string
		created, updatedAt int64
	)
	if err := row.Scan(&t.ID, &t.Slug, &t.Name, &settings, &created, &updatedAt); err != nil {
		return store.Tenant{}, mapErr(err)
	}
	if err := fromJSON(settings, &t.Settings); err != nil {
		return store.Tenant{}, fmt.Errorf("cannot decode tenant settings: %w", err)
	}
	t.CreatedAt, t.UpdatedAt = fromMicros(created), fromMicros(updatedAt)
	return t, nil
}

// CreateTenant stores t; ErrConflict on a duplicate id or slug.
func (s *Store) CreateTenant(ctx context.Context, t store.Tenant) (store.Tenant, error) {
	t.CreatedAt = s.stamp(t.CreatedAt)
	t.UpdatedAt = t.CreatedAt
	settings, err := toJSON(t.Settings)
	if err != nil {
		return store.Tenant{}, fmt.Errorf("cannot encode tenant settings: %w", err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO tenant (`+tenantColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
			t.ID, t.Slug, t.Name, settings, toMicros(t.CreatedAt), toMicros(t.UpdatedAt))
		if err != nil {
			return mapErr(err)
		}
		return bumpConfigVersion(ctx, tx)
	})
	if err != nil {
		return store.Tenant{}, fmt.Errorf("cannot create tenant %q: %w", t.Slug, err)
	}
	return t, nil
}

// GetTenant returns the tenant with id.
func (s *Store) GetTenant(ctx context.Context, id string) (store.Tenant, error) {
	t, err := scanTenant(s.r.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenant WHERE id = ?`, id))
	if err != nil {
		return store.Tenant{}, fmt.Errorf("cannot get tenant %q: %w", id, err)
	}
	return t, nil
}

// GetTenantBySlug returns the tenant with slug.
func (s *Store) GetTenantBySlug(ctx context.Context, slug string) (store.Tenant, error) {
	t, err := scanTenant(s.r.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenant WHERE slug = ?`, slug))
	if err != nil {
		return store.Tenant{}, fmt.Errorf("cannot get tenant %q: %w", slug, err)
	}
	return t, nil
}

// ListTenants lists every tenant by slug.
func (s *Store) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+tenantColumns+` FROM tenant ORDER BY slug`)
	if err != nil {
		return nil, fmt.Errorf("cannot list tenants: %w", err)
	}
	defer rows.Close()
	var out []store.Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("cannot list tenants: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot list tenants: %w", err)
	}
	return out, nil
}

// UpdateTenant applies p; nil fields stay unchanged.
func (s *Store) UpdateTenant(ctx context.Context, id string, p store.TenantPatch) (store.Tenant, error) {
	var t store.Tenant
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = scanTenant(tx.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenant WHERE id = ?`, id))
		if err != nil {
			return err
		}
		if p.Name != nil {
			t.Name = *p.Name
		}
		if p.Settings != nil {
			t.Settings = *p.Settings
		}
		t.UpdatedAt = s.after(t.UpdatedAt)
		settings, err := toJSON(t.Settings)
		if err != nil {
			return fmt.Errorf("cannot encode tenant settings: %w", err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE tenant SET name = ?, settings = ?, updated_at = ? WHERE id = ?`,
			t.Name, settings, toMicros(t.UpdatedAt), id)
		if err != nil {
			return mapErr(err)
		}
		return bumpConfigVersion(ctx, tx)
	})
	if err != nil {
		return store.Tenant{}, fmt.Errorf("cannot update tenant %q: %w", id, err)
	}
	return t, nil
}

// DeleteTenant removes the tenant, its configuration (cascading foreign
// keys), its audit rows and its consent log, in one transaction.
func (s *Store) DeleteTenant(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM tenant WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrNotFound
		}
		for _, q := range []string{
			`DELETE FROM delivery_outcome WHERE tenant_id = ?`,
			`DELETE FROM platform_response WHERE tenant_id = ?`,
			`DELETE FROM tracking_event WHERE tenant_id = ?`,
			`DELETE FROM consent_record WHERE tenant_id = ?`, // consent_ip cascades
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		return bumpConfigVersion(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("cannot delete tenant %q: %w", id, err)
	}
	return nil
}
