package storepg

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/jaraba/pixelgw/store"
)

// Queries of consent_record and consent_ip.

const consentColumns = `id, tenant_id, visitor_id, analytics, marketing, functional, policy_version, source, created_at`

func scanConsent(row pgx.Row) (store.ConsentRecord, error) {
	var (
		r       store.ConsentRecord
		id, tid pgtype.UUID
	)
	err := row.Scan(&id, &tid, &r.VisitorID, &r.Analytics, &r.Marketing, &r.Functional, &r.PolicyVersion, &r.Source, &r.CreatedAt)
	if err != nil {
		return store.ConsentRecord{}, err
	}
	r.ID, r.TenantID = uuidString(id), uuidString(tid)
	r.CreatedAt = r.CreatedAt.UTC()
	return r, nil
}

// AppendConsent stores a decision and, if ip is not empty, its IP, and
// updates the consent rollup (stats.go), in one transaction. An empty ID
// gets a new UUIDv7.
func (s *Store) AppendConsent(ctx context.Context, r store.ConsentRecord, ip string) (store.ConsentRecord, error) {
	tid, ok := parseID(r.TenantID)
	if !ok {
		return store.ConsentRecord{}, notFound("append consent")
	}
	var id pgtype.UUID
	if r.ID == "" {
		u, err := uuid.NewV7()
		if err != nil {
			return store.ConsentRecord{}, fmt.Errorf("cannot append consent: %w", err)
		}
		id = pgtype.UUID{Bytes: u, Valid: true}
	} else if id, ok = parseID(r.ID); !ok {
		return store.ConsentRecord{}, fmt.Errorf("cannot append consent: invalid id %q", r.ID)
	}
	at := s.timestamp(r.CreatedAt)
	var out store.ConsentRecord
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		deltas, err := consentDeltas(ctx, tx, tid, r.VisitorID, at, r.Marketing, s.timestamp(time.Time{}))
		if err != nil {
			return err
		}
		out, err = scanConsent(tx.QueryRow(ctx,
			`WITH rec AS (
			INSERT INTO consent_record (id, tenant_id, visitor_id, analytics, marketing, functional, policy_version, source, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			RETURNING `+consentColumns+`
		), addr AS (
			INSERT INTO consent_ip (record_id, ip, created_at)
			SELECT id, $10, created_at FROM rec WHERE $10 <> ''
		)
		SELECT `+consentColumns+` FROM rec`,
			id, tid, r.VisitorID, r.Analytics, r.Marketing, r.Functional, r.PolicyVersion, r.Source, at, ip))
		if err != nil {
			return err
		}
		return rollupConsent(ctx, tx, tid, deltas)
	})
	if err != nil {
		return store.ConsentRecord{}, wrap("append consent", err)
	}
	return out, nil
}

// LatestConsent returns the visitor's newest decision.
func (s *Store) LatestConsent(ctx context.Context, tenantID, visitorID string) (store.ConsentRecord, error) {
	tid, ok := parseID(tenantID)
	if !ok {
		return store.ConsentRecord{}, notFound("get latest consent")
	}
	r, err := scanConsent(s.pool.QueryRow(ctx,
		`SELECT `+consentColumns+` FROM consent_record WHERE tenant_id = $1 AND visitor_id = $2
		ORDER BY created_at DESC, seq DESC LIMIT 1`, tid, visitorID))
	if err != nil {
		return store.ConsentRecord{}, wrap("get latest consent", err)
	}
	return r, nil
}

// ConsentHistory lists the visitor's decisions, oldest first.
func (s *Store) ConsentHistory(ctx context.Context, tenantID, visitorID string) ([]store.ConsentRecord, error) {
	tid, ok := parseID(tenantID)
	if !ok {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx,
		`SELECT `+consentColumns+` FROM consent_record WHERE tenant_id = $1 AND visitor_id = $2
		ORDER BY created_at, seq`, tid, visitorID)
	if err != nil {
		return nil, wrap("list consent history", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.ConsentRecord, error) { return scanConsent(r) })
	if err != nil {
		return nil, wrap("list consent history", err)
	}
	return out, nil
}

// PurgeConsentIPs deletes IPs of decisions created before t; the decisions
// themselves are never rewritten.
func (s *Store) PurgeConsentIPs(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM consent_ip WHERE created_at < $1`, before.UTC())
	if err != nil {
		return 0, wrap("purge consent ips", err)
	}
	return tag.RowsAffected(), nil
}

// EraseVisitor deletes the IPs of the visitor's consent records and clears
// the personal data of the visitor's audit events, in one transaction.
func (s *Store) EraseVisitor(ctx context.Context, tenantID, visitorID string) (store.Erasure, error) {
	var out store.Erasure
	tid, ok := parseID(tenantID)
	if !ok || visitorID == "" {
		return out, nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM consent_ip WHERE record_id IN
			(SELECT id FROM consent_record WHERE tenant_id = $1 AND visitor_id = $2)`, tid, visitorID)
		if err != nil {
			return err
		}
		out.ConsentIPs = tag.RowsAffected()
		tag, err = tx.Exec(ctx, `UPDATE tracking_event SET user_data = NULL, user_data_key_id = '',
			client_ip = NULL, client_user_agent = '', fbc = '', fbp = '', gclid = ''
			WHERE tenant_id = $1 AND visitor_id = $2
			AND (user_data IS NOT NULL OR client_ip IS NOT NULL OR client_user_agent <> '' OR fbc <> '' OR fbp <> '' OR gclid <> '')`,
			tid, visitorID)
		if err != nil {
			return err
		}
		out.Events = tag.RowsAffected()
		return nil
	})
	if err != nil {
		return store.Erasure{}, wrap("erase visitor", err)
	}
	return out, nil
}
