package storesqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/jaraba/pixelgw/store"
)

const consentColumns = `id, tenant_id, visitor_id, analytics, marketing, functional, policy_version, source, created_at`

func scanConsent(row interface{ Scan(...any) error }) (store.ConsentRecord, error) {
	var (
		r                     store.ConsentRecord
		analytics, mkt, funct int
		created               int64
	)
	if err := row.Scan(&r.ID, &r.TenantID, &r.VisitorID, &analytics, &mkt, &funct, &r.PolicyVersion, &r.Source, &created); err != nil {
		return store.ConsentRecord{}, mapErr(err)
	}
	r.Analytics, r.Marketing, r.Functional = analytics != 0, mkt != 0, funct != 0
	r.CreatedAt = fromMicros(created)
	return r, nil
}

// AppendConsent appends a decision (assigning ID and CreatedAt when empty)
// and updates the consent rollup (stats.go); a non-empty ip goes to
// consent_ip.
func (s *Store) AppendConsent(ctx context.Context, r store.ConsentRecord, ip string) (store.ConsentRecord, error) {
	if r.ID == "" {
		r.ID = uuid.NewString()
	}
	r.CreatedAt = s.stamp(r.CreatedAt)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := rollupConsent(ctx, tx, r, s.stamp(time.Time{})); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO consent_record (`+consentColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.TenantID, r.VisitorID, boolInt(r.Analytics), boolInt(r.Marketing), boolInt(r.Functional),
			r.PolicyVersion, r.Source, toMicros(r.CreatedAt))
		if err != nil {
			return mapErr(err)
		}
		if ip == "" {
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO consent_ip (record_id, ip, created_at) VALUES (?, ?, ?)`,
			r.ID, ip, toMicros(r.CreatedAt))
		return mapErr(err)
	})
	if err != nil {
		return store.ConsentRecord{}, fmt.Errorf("cannot append consent: %w", err)
	}
	return r, nil
}

// LatestConsent returns the visitor's newest decision; ErrNotFound if none.
func (s *Store) LatestConsent(ctx context.Context, tenantID, visitorID string) (store.ConsentRecord, error) {
	r, err := scanConsent(s.r.QueryRowContext(ctx, `SELECT `+consentColumns+` FROM consent_record
		WHERE tenant_id = ? AND visitor_id = ? ORDER BY created_at DESC, seq DESC LIMIT 1`, tenantID, visitorID))
	if err != nil {
		return store.ConsentRecord{}, fmt.Errorf("cannot get latest consent: %w", err)
	}
	return r, nil
}

// ConsentHistory lists the visitor's decisions, oldest first.
func (s *Store) ConsentHistory(ctx context.Context, tenantID, visitorID string) ([]store.ConsentRecord, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+consentColumns+` FROM consent_record
		WHERE tenant_id = ? AND visitor_id = ? ORDER BY created_at, seq`, tenantID, visitorID)
	if err != nil {
		return nil, fmt.Errorf("cannot list consent history: %w", err)
	}
	defer rows.Close()
	var out []store.ConsentRecord
	for rows.Next() {
		r, err := scanConsent(rows)
		if err != nil {
			return nil, fmt.Errorf("cannot list consent history: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot list consent history: %w", err)
	}
	return out, nil
}

// PurgeConsentIPs deletes the IPs of decisions created before t; the
// decisions themselves are never touched.
func (s *Store) PurgeConsentIPs(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.purgeChunks(ctx, `DELETE FROM consent_ip WHERE record_id IN (
		SELECT record_id FROM consent_ip WHERE created_at < ? LIMIT ?)`, toMicros(before))
	if err != nil {
		return n, fmt.Errorf("cannot purge consent ips: %w", err)
	}
	return n, nil
}

// EraseVisitor deletes the IPs of the visitor's consent records and clears
// the personal data of the visitor's audit events, in one transaction.
func (s *Store) EraseVisitor(ctx context.Context, tenantID, visitorID string) (store.Erasure, error) {
	var out store.Erasure
	if visitorID == "" {
		return out, nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM consent_ip WHERE record_id IN
			(SELECT id FROM consent_record WHERE tenant_id = ? AND visitor_id = ?)`, tenantID, visitorID)
		if err != nil {
			return err
		}
		if out.ConsentIPs, err = res.RowsAffected(); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `UPDATE tracking_event SET user_data = NULL, user_data_key_id = '',
			client_ip = '', client_user_agent = '', fbc = '', fbp = '', gclid = ''
			WHERE tenant_id = ? AND visitor_id = ?
			AND (user_data IS NOT NULL OR client_ip <> '' OR client_user_agent <> '' OR fbc <> '' OR fbp <> '' OR gclid <> '')`,
			tenantID, visitorID)
		if err != nil {
			return err
		}
		out.Events, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return store.Erasure{}, fmt.Errorf("cannot erase visitor: %w", err)
	}
	return out, nil
}
