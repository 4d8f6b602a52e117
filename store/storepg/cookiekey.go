package storepg

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/jaraba/pixelgw/store"
)

// Queries of cookie_key.

const cookieKeyColumns = `tenant_id, key_id, secret_key_id, secret, active, created_at`

func scanCookieKey(row pgx.Row) (store.CookieKey, error) {
	var (
		k   store.CookieKey
		tid pgtype.UUID
	)
	if err := row.Scan(&tid, &k.KeyID, &k.Secret.KeyID, &k.Secret.Ciphertext, &k.Active, &k.CreatedAt); err != nil {
		return store.CookieKey{}, err
	}
	k.TenantID = uuidString(tid)
	k.CreatedAt = k.CreatedAt.UTC()
	return k, nil
}

func collectCookieKeys(rows pgx.Rows, err error) ([]store.CookieKey, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.CookieKey, error) { return scanCookieKey(r) })
}

// AddCookieKey stores a signing key; ErrConflict on a duplicate (tenant, key
// id), ErrNotFound for an unknown tenant.
func (s *Store) AddCookieKey(ctx context.Context, k store.CookieKey) error {
	tid, ok := parseID(k.TenantID)
	if !ok {
		return notFound("add cookie key")
	}
	secret := k.Secret.Ciphertext
	if secret == nil {
		secret = []byte{}
	}
	_, err := s.pool.Exec(ctx,
		`INSERT INTO cookie_key (tenant_id, key_id, secret_key_id, secret, active, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		tid, k.KeyID, k.Secret.KeyID, secret, k.Active, s.timestamp(k.CreatedAt))
	if err != nil {
		return wrap("add cookie key", err)
	}
	return nil
}

// ListCookieKeys lists the tenant's keys, newest first.
func (s *Store) ListCookieKeys(ctx context.Context, tenantID string) ([]store.CookieKey, error) {
	tid, ok := parseID(tenantID)
	if !ok {
		return nil, nil
	}
	out, err := collectCookieKeys(s.pool.Query(ctx,
		`SELECT `+cookieKeyColumns+` FROM cookie_key WHERE tenant_id = $1 ORDER BY created_at DESC, key_id DESC`, tid))
	if err != nil {
		return nil, wrap("list cookie keys", err)
	}
	return out, nil
}

// AllCookieKeys lists the non-retired keys of every tenant, newest first
// within a tenant.
func (s *Store) AllCookieKeys(ctx context.Context) ([]store.CookieKey, error) {
	out, err := collectCookieKeys(s.pool.Query(ctx,
		`SELECT `+cookieKeyColumns+` FROM cookie_key WHERE active ORDER BY tenant_id, created_at DESC, key_id DESC`))
	if err != nil {
		return nil, wrap("list all cookie keys", err)
	}
	return out, nil
}

// RetireCookieKey marks a key retired; it no longer verifies.
func (s *Store) RetireCookieKey(ctx context.Context, tenantID, keyID string) error {
	tid, ok := parseID(tenantID)
	if !ok {
		return notFound("retire cookie key")
	}
	tag, err := s.pool.Exec(ctx, `UPDATE cookie_key SET active = false WHERE tenant_id = $1 AND key_id = $2`, tid, keyID)
	if err != nil {
		return wrap("retire cookie key", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("retire cookie key")
	}
	return nil
}
