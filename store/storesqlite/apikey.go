package storesqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jaraba/pixelgw/store"
)

const apiKeyColumns = `id, tenant_id, name, prefix, hash, scopes, created_at, revoked_at`

func scanAPIKey(row interface{ Scan(...any) error }) (store.APIKey, error) {
	var (
		k       store.APIKey
		scopes  string
		created int64
		revoked sql.NullInt64
	)
	if err := row.Scan(&k.ID, &k.TenantID, &k.Name, &k.Prefix, &k.Hash, &scopes, &created, &revoked); err != nil {
		return store.APIKey{}, mapErr(err)
	}
	if err := fromJSON(scopes, &k.Scopes); err != nil {
		return store.APIKey{}, fmt.Errorf("cannot decode api key scopes: %w", err)
	}
	k.CreatedAt = fromMicros(created)
	if revoked.Valid {
		t := fromMicros(revoked.Int64)
		k.RevokedAt = &t
	}
	return k, nil
}

// CreateAPIKey stores k; ErrConflict on a duplicate id or prefix,
// ErrNotFound for an unknown tenant.
func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey) (store.APIKey, error) {
	k.CreatedAt = s.stamp(k.CreatedAt)
	scopes, err := toJSON(k.Scopes)
	if err != nil {
		return store.APIKey{}, fmt.Errorf("cannot encode api key scopes: %w", err)
	}
	var revoked sql.NullInt64
	if k.RevokedAt != nil {
		t := s.stamp(*k.RevokedAt)
		k.RevokedAt = &t
		revoked = sql.NullInt64{Int64: toMicros(t), Valid: true}
	}
	hash := k.Hash
	if hash == nil {
		hash = []byte{}
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO api_key (`+apiKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.TenantID, k.Name, k.Prefix, hash, scopes, toMicros(k.CreatedAt), revoked)
	if err != nil {
		return store.APIKey{}, fmt.Errorf("cannot create api key %q: %w", k.Prefix, mapErr(err))
	}
	return k, nil
}

// ListAPIKeys lists the tenant's keys, revoked ones included, oldest first.
func (s *Store) ListAPIKeys(ctx context.Context, tenantID string) ([]store.APIKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM api_key
		WHERE tenant_id = ? ORDER BY created_at, rowid`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("cannot list api keys: %w", err)
	}
	defer rows.Close()
	var out []store.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("cannot list api keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot list api keys: %w", err)
	}
	return out, nil
}

// APIKeyByPrefix finds a key of any tenant by its public prefix; revoked
// keys are returned too.
func (s *Store) APIKeyByPrefix(ctx context.Context, prefix string) (store.APIKey, error) {
	k, err := scanAPIKey(s.r.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_key WHERE prefix = ?`, prefix))
	if err != nil {
		return store.APIKey{}, fmt.Errorf("cannot get api key %q: %w", prefix, err)
	}
	return k, nil
}

// RevokeAPIKey sets RevokedAt on one of the tenant's keys (once: a second
// revoke keeps the first time).
func (s *Store) RevokeAPIKey(ctx context.Context, tenantID, id string) error {
	res, err := s.w.ExecContext(ctx, `UPDATE api_key SET revoked_at = coalesce(revoked_at, ?)
		WHERE tenant_id = ? AND id = ?`, toMicros(s.stamp(s.now())), tenantID, id)
	if err == nil {
		err = oneRow(res)
	}
	if err != nil {
		return fmt.Errorf("cannot revoke api key %q: %w", id, err)
	}
	return nil
}
