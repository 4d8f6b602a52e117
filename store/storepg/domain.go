package storepg

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/jaraba/pixelgw/store"
)

// Queries of tenant_domain.

const domainColumns = `hostname, tenant_id, cookie_domain, verification, verify_token, created_at`

func scanDomain(row pgx.Row) (store.TenantDomain, error) {
	var (
		d  store.TenantDomain
		id pgtype.UUID
	)
	if err := row.Scan(&d.Hostname, &id, &d.CookieDomain, &d.Verification, &d.VerifyToken, &d.CreatedAt); err != nil {
		return store.TenantDomain{}, err
	}
	d.TenantID = uuidString(id)
	d.CreatedAt = d.CreatedAt.UTC()
	return d, nil
}

func collectDomains(rows pgx.Rows, err error) ([]store.TenantDomain, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.TenantDomain, error) { return scanDomain(r) })
}

// AddDomain maps a hostname to a tenant; ErrConflict if any tenant has it,
// ErrNotFound if the tenant does not exist.
func (s *Store) AddDomain(ctx context.Context, d store.TenantDomain) (store.TenantDomain, error) {
	tid, ok := parseID(d.TenantID)
	if !ok {
		return store.TenantDomain{}, notFound("add domain")
	}
	if d.Verification == "" {
		d.Verification = store.VerificationPending
	}
	out, err := scanDomain(s.pool.QueryRow(ctx,
		`INSERT INTO tenant_domain (hostname, tenant_id, cookie_domain, verification, verify_token, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+domainColumns,
		strings.ToLower(d.Hostname), tid, d.CookieDomain, d.Verification, d.VerifyToken, s.timestamp(d.CreatedAt)))
	if err != nil {
		return store.TenantDomain{}, wrap(fmt.Sprintf("add domain %q", d.Hostname), err)
	}
	return out, nil
}

// ListDomains lists the tenant's domains by hostname.
func (s *Store) ListDomains(ctx context.Context, tenantID string) ([]store.TenantDomain, error) {
	tid, ok := parseID(tenantID)
	if !ok {
		return nil, nil
	}
	out, err := collectDomains(s.pool.Query(ctx,
		`SELECT `+domainColumns+` FROM tenant_domain WHERE tenant_id = $1 ORDER BY hostname`, tid))
	if err != nil {
		return nil, wrap("list domains", err)
	}
	return out, nil
}

// AllDomains lists every tenant's domains by hostname.
func (s *Store) AllDomains(ctx context.Context) ([]store.TenantDomain, error) {
	out, err := collectDomains(s.pool.Query(ctx, `SELECT `+domainColumns+` FROM tenant_domain ORDER BY hostname`))
	if err != nil {
		return nil, wrap("list all domains", err)
	}
	return out, nil
}

// SetDomainVerification sets the verification state of a tenant's domain.
func (s *Store) SetDomainVerification(ctx context.Context, tenantID, hostname, state string) error {
	tid, ok := parseID(tenantID)
	if !ok {
		return notFound("set domain verification")
	}
	tag, err := s.pool.Exec(ctx,
		`UPDATE tenant_domain SET verification = $3 WHERE tenant_id = $1 AND hostname = $2`,
		tid, strings.ToLower(hostname), state)
	if err != nil {
		return wrap("set domain verification", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("set domain verification")
	}
	return nil
}

// DeleteDomain removes a tenant's domain.
func (s *Store) DeleteDomain(ctx context.Context, tenantID, hostname string) error {
	tid, ok := parseID(tenantID)
	if !ok {
		return notFound("delete domain")
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM tenant_domain WHERE tenant_id = $1 AND hostname = $2`,
		tid, strings.ToLower(hostname))
	if err != nil {
		return wrap("delete domain", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("delete domain")
	}
	return nil
}
