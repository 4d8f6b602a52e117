package storesqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jaraba/pixelgw/store"
)

const domainColumns = `hostname, tenant_id, cookie_domain, verification, verify_token, created_at`

func (s *Store) queryDomains(ctx context.Context, q string, args ...any) ([]store.TenantDomain, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.TenantDomain
	for rows.Next() {
		var (
			d       store.TenantDomain
			created int64
		)
		if err := rows.Scan(&d.Hostname, &d.TenantID, &d.CookieDomain, &d.Verification, &d.VerifyToken, &created); err != nil {
			return nil, err
		}
		d.CreatedAt = fromMicros(created)
		out = append(out, d)
	}
	return out, rows.Err()
}

// AddDomain maps d.Hostname to d.TenantID; ErrConflict if any tenant has it,
// ErrNotFound if the tenant does not exist.
func (s *Store) AddDomain(ctx context.Context, d store.TenantDomain) (store.TenantDomain, error) {
	d.CreatedAt = s.stamp(d.CreatedAt)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tenant_domain (`+domainColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
			d.Hostname, d.TenantID, d.CookieDomain, d.Verification, d.VerifyToken, toMicros(d.CreatedAt))
		if err != nil {
			return mapErr(err)
		}
		return bumpConfigVersion(ctx, tx)
	})
	if err != nil {
		return store.TenantDomain{}, fmt.Errorf("cannot add domain %q: %w", d.Hostname, err)
	}
	return d, nil
}

// ListDomains lists the tenant's domains by hostname.
func (s *Store) ListDomains(ctx context.Context, tenantID string) ([]store.TenantDomain, error) {
	out, err := s.queryDomains(ctx, `SELECT `+domainColumns+` FROM tenant_domain WHERE tenant_id = ? ORDER BY hostname`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("cannot list domains: %w", err)
	}
	return out, nil
}

// AllDomains lists every domain of every tenant.
func (s *Store) AllDomains(ctx context.Context) ([]store.TenantDomain, error) {
	out, err := s.queryDomains(ctx, `SELECT `+domainColumns+` FROM tenant_domain ORDER BY hostname`)
	if err != nil {
		return nil, fmt.Errorf("cannot list all domains: %w", err)
	}
	return out, nil
}

// SetDomainVerification sets the verification state of one of the tenant's
// hostnames.
func (s *Store) SetDomainVerification(ctx context.Context, tenantID, hostname, state string) error {
	if err := s.configRow(ctx, `UPDATE tenant_domain SET verification = ? WHERE tenant_id = ? AND hostname = ?`, state, tenantID, hostname); err != nil {
		return fmt.Errorf("cannot set verification of domain %q: %w", hostname, err)
	}
	return nil
}

// DeleteDomain removes one of the tenant's hostnames.
func (s *Store) DeleteDomain(ctx context.Context, tenantID, hostname string) error {
	if err := s.configRow(ctx, `DELETE FROM tenant_domain WHERE tenant_id = ? AND hostname = ?`, tenantID, hostname); err != nil {
		return fmt.Errorf("cannot delete domain %q: %w", hostname, err)
	}
	return nil
}

// oneRow returns ErrNotFound unless res touched a row.
// configRow runs a configuration write that must change exactly one row
// (store.ErrNotFound when none) and bumps the config version with it, in one
// transaction.
func (s *Store) configRow(ctx context.Context, query string, args ...any) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		if err := oneRow(res); err != nil {
			return err
		}
		return bumpConfigVersion(ctx, tx)
	})
}

func oneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}
