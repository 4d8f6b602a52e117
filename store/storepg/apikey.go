package storepg

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/jaraba/pixelgw/store"
)

// Queries of api_key.

const apiKeyColumns = `id, tenant_id, name, prefix, hash, scopes, created_at, revoked_at`

func scanAPIKey(row pgx.Row) (store.APIKey, error) {
	var (
		k       store.APIKey
		id, tid pgtype.UUID
	)
	if err := row.Scan(&id, &tid, &k.Name, &k.Prefix, &k.Hash, &k.Scopes, &k.CreatedAt, &k.RevokedAt); err != nil {
		return store.APIKey{}, err
	}
	k.ID, k.TenantID = uuidString(id), uuidString(tid)
	k.CreatedAt = k.CreatedAt.UTC()
	if k.RevokedAt != nil {
		r := k.RevokedAt.UTC()
		k.RevokedAt = &r
	}
	return k, nil
}

// CreateAPIKey stores k; ErrConflict on a duplicate id or prefix,
// ErrNotFound for an unknown tenant.
func (s *Store) CreateAPIKey(ctx context.Context, k store.APIKey) (store.APIKey, error) {
	tid, ok := parseID(k.TenantID)
	if !ok {
		return store.APIKey{}, notFound("create api key")
	}
	id, ok := parseID(k.ID)
	if !ok {
		return store.APIKey{}, fmt.Errorf("cannot create api key: invalid id %q", k.ID)
	}
	hash := k.Hash
	if hash == nil {
		hash = []byte{}
	}
	var revoked *pgtype.Timestamptz
	if k.RevokedAt != nil {
		revoked = &pgtype.Timestamptz{Time: s.timestamp(*k.RevokedAt), Valid: true}
	}
	out, err := scanAPIKey(s.pool.QueryRow(ctx,
		`INSERT INTO api_key (id, tenant_id, name, prefix, hash, scopes, created_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING `+apiKeyColumns,
		id, tid, k.Name, k.Prefix, hash, nullSlice(k.Scopes), s.timestamp(k.CreatedAt), revoked))
	if err != nil {
		return store.APIKey{}, wrap("create api key", err)
	}
	return out, nil
}

// ListAPIKeys lists the tenant's keys, revoked ones included, oldest first.
func (s *Store) ListAPIKeys(ctx context.Context, tenantID string) ([]store.APIKey, error) {
	tid, ok := parseID(tenantID)
	if !ok {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx,
		`SELECT `+apiKeyColumns+` FROM api_key WHERE tenant_id = $1 ORDER BY created_at, id`, tid)
	if err != nil {
		return nil, wrap("list api keys", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.APIKey, error) { return scanAPIKey(r) })
	if err != nil {
		return nil, wrap("list api keys", err)
	}
	return out, nil
}

// APIKeyByPrefix finds a key of any tenant by its public prefix.
func (s *Store) APIKeyByPrefix(ctx context.Context, prefix string) (store.APIKey, error) {
	k, err := scanAPIKey(s.pool.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_key WHERE prefix = $1`, prefix))
	if err != nil {
		return store.APIKey{}, wrap("find api key", err)
	}
	return k, nil
}

// RevokeAPIKey sets revoked_at (kept from the first revocation).
func (s *Store) RevokeAPIKey(ctx context.Context, tenantID, id string) error {
	tid, ok1 := parseID(tenantID)
	kid, ok2 := parseID(id)
	if !ok1 || !ok2 {
		return notFound("revoke api key")
	}
	tag, err := s.pool.Exec(ctx,
		`UPDATE api_key SET revoked_at = coalesce(revoked_at, $3) WHERE tenant_id = $1 AND id = $2`,
		tid, kid, s.timestamp(s.now()))
	if err != nil {
		return wrap("revoke api key", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("revoke api key")
	}
	return nil
}
