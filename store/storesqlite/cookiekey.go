package storesqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jaraba/pixelgw/store"
)

const cookieKeyColumns = `tenant_id, key_id, secret_key_id, secret, active, created_at`

// AddCookieKey stores k; ErrConflict on a duplicate (tenant, key id),
// ErrNotFound for an unknown tenant.
func (s *Store) AddCookieKey(ctx context.Context, k store.CookieKey) error {
	k.CreatedAt = s.stamp(k.CreatedAt)
	secretKeyID, secret := sealedArgs(k.Secret)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO cookie_key (`+cookieKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
			k.TenantID, k.KeyID, secretKeyID, secret, boolInt(k.Active), toMicros(k.CreatedAt))
		if err != nil {
			return mapErr(err)
		}
		return bumpConfigVersion(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("cannot add cookie key %q: %w", k.KeyID, err)
	}
	return nil
}

func (s *Store) queryCookieKeys(ctx context.Context, q string, args ...any) ([]store.CookieKey, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.CookieKey
	for rows.Next() {
		var (
			k           store.CookieKey
			secretKeyID string
			secret      []byte
			active      int
			created     int64
		)
		if err := rows.Scan(&k.TenantID, &k.KeyID, &secretKeyID, &secret, &active, &created); err != nil {
			return nil, err
		}
		k.Secret = sealedFrom(secretKeyID, secret)
		k.Active = active != 0
		k.CreatedAt = fromMicros(created)
		out = append(out, k)
	}
	return out, rows.Err()
}

// ListCookieKeys lists the tenant's keys, retired ones included, newest
// first.
func (s *Store) ListCookieKeys(ctx context.Context, tenantID string) ([]store.CookieKey, error) {
	out, err := s.queryCookieKeys(ctx, `SELECT `+cookieKeyColumns+` FROM cookie_key
		WHERE tenant_id = ? ORDER BY created_at DESC, rowid DESC`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("cannot list cookie keys: %w", err)
	}
	return out, nil
}

// AllCookieKeys lists the non-retired keys of every tenant, newest first.
func (s *Store) AllCookieKeys(ctx context.Context) ([]store.CookieKey, error) {
	out, err := s.queryCookieKeys(ctx, `SELECT `+cookieKeyColumns+` FROM cookie_key
		WHERE active = 1 ORDER BY tenant_id, created_at DESC, rowid DESC`)
	if err != nil {
		return nil, fmt.Errorf("cannot list all cookie keys: %w", err)
	}
	return out, nil
}

// RetireCookieKey marks one of the tenant's keys retired.
func (s *Store) RetireCookieKey(ctx context.Context, tenantID, keyID string) error {
	if err := s.configRow(ctx, `UPDATE cookie_key SET active = 0 WHERE tenant_id = ? AND key_id = ?`, tenantID, keyID); err != nil {
		return fmt.Errorf("cannot retire cookie key %q: %w", keyID, err)
	}
	return nil
}
