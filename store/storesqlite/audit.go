package storesqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jaraba/pixelgw/store"
)

// purgeChunk bounds how many rows one purge statement rewrites, so the write
// lock is released between chunks.
const purgeChunk = 5000

// appendBatch inserts every item of a batch with one prepared statement in
// one transaction.
func appendBatch[T any](ctx context.Context, s *Store, q string, items []T, args func(T) []any) error {
	if len(items) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, it := range items {
			if _, err := stmt.ExecContext(ctx, args(it)...); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
}

// AppendEvents appends a batch of audit events in one transaction.
func (s *Store) AppendEvents(ctx context.Context, evs []store.AuditEvent) error {
	now := s.stamp(time.Time{})
	err := appendBatch(ctx, s, `INSERT INTO tracking_event (tenant_id, event_id, event_name, event_source, visitor_id,
		user_data_key_id, user_data, custom_data, event_source_url, client_ip, client_user_agent, fbc, fbp, gclid, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, evs, func(e store.AuditEvent) []any {
		udKeyID, ud := sealedArgs(e.UserData)
		var custom sql.NullString
		if len(e.CustomData) > 0 {
			custom = sql.NullString{String: string(e.CustomData), Valid: true}
		}
		at := now
		if !e.CreatedAt.IsZero() {
			at = s.stamp(e.CreatedAt)
		}
		return []any{e.TenantID, e.EventID, e.EventName, e.EventSource, e.VisitorID, udKeyID, ud, custom, e.EventSourceURL,
			e.ClientIP, e.ClientUserAgent, e.FBC, e.FBP, e.GCLID, toMicros(at)}
	})
	if err != nil {
		return fmt.Errorf("cannot append %d events: %w", len(evs), err)
	}
	return nil
}

// AppendOutcomes appends a batch of delivery outcomes in one transaction.
func (s *Store) AppendOutcomes(ctx context.Context, outs []store.DeliveryOutcome) error {
	now := s.stamp(time.Time{})
	err := appendBatch(ctx, s, `INSERT INTO delivery_outcome (tenant_id, event_id, pixel_uuid, platform, status,
		attempts, response_id, created_at, source, test) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, outs, func(o store.DeliveryOutcome) []any {
		at := now
		if !o.CreatedAt.IsZero() {
			at = s.stamp(o.CreatedAt)
		}
		return []any{o.TenantID, o.EventID, o.PixelUUID, o.Platform, o.Status, o.Attempts, o.ResponseID, toMicros(at),
			o.Source, boolInt(o.Test)}
	})
	if err != nil {
		return fmt.Errorf("cannot append %d outcomes: %w", len(outs), err)
	}
	return nil
}

// AppendResponses appends a batch of platform responses in one transaction;
// ErrConflict on a duplicate id.
func (s *Store) AppendResponses(ctx context.Context, rs []store.PlatformResponse) error {
	now := s.stamp(time.Time{})
	err := appendBatch(ctx, s, `INSERT INTO platform_response (id, tenant_id, pixel_uuid, platform, http_status,
		body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`, rs, func(r store.PlatformResponse) []any {
		at := now
		if !r.CreatedAt.IsZero() {
			at = s.stamp(r.CreatedAt)
		}
		return []any{r.ID, r.TenantID, r.PixelUUID, r.Platform, r.HTTPStatus, r.Body, toMicros(at)}
	})
	if err != nil {
		return fmt.Errorf("cannot append %d responses: %w", len(rs), err)
	}
	return nil
}

// RecentEvents returns the tenant's newest events, newest first, each with
// its outcomes oldest first and the platform answers those reference.
func (s *Store) RecentEvents(ctx context.Context, tenantID string, limit int) ([]store.RecentEvent, error) {
	if limit <= 0 {
		return nil, nil
	}
	out, err := s.recentEvents(ctx, tenantID, limit)
	if err != nil {
		return nil, fmt.Errorf("cannot list recent events: %w", err)
	}
	return out, nil
}

func (s *Store) recentEvents(ctx context.Context, tenantID string, limit int) ([]store.RecentEvent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT tenant_id, event_id, event_name, event_source, visitor_id, user_data_key_id,
		user_data, custom_data, event_source_url, client_ip, client_user_agent, fbc, fbp, gclid, created_at
		FROM tracking_event WHERE tenant_id = ? ORDER BY created_at DESC, seq DESC LIMIT ?`, tenantID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		out   []store.RecentEvent
		index = map[string][]int{} // event id -> positions in out
	)
	for rows.Next() {
		var (
			e       store.AuditEvent
			udKeyID string
			ud      []byte
			custom  sql.NullString
			created int64
		)
		err := rows.Scan(&e.TenantID, &e.EventID, &e.EventName, &e.EventSource, &e.VisitorID, &udKeyID, &ud, &custom,
			&e.EventSourceURL, &e.ClientIP, &e.ClientUserAgent, &e.FBC, &e.FBP, &e.GCLID, &created)
		if err != nil {
			return nil, err
		}
		e.UserData = sealedFrom(udKeyID, ud)
		if custom.Valid {
			e.CustomData = []byte(custom.String)
		}
		e.CreatedAt = fromMicros(created)
		index[e.EventID] = append(index[e.EventID], len(out))
		out = append(out, store.RecentEvent{Event: e})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(index))
	for id := range index {
		ids = append(ids, id)
	}
	idsJSON, err := toJSON(ids)
	if err != nil {
		return nil, err
	}
	orows, err := s.r.QueryContext(ctx, `SELECT tenant_id, event_id, pixel_uuid, platform, status, attempts,
		response_id, created_at, source, test FROM delivery_outcome
		WHERE tenant_id = ? AND event_id IN (SELECT value FROM json_each(?))
		ORDER BY created_at, seq`, tenantID, idsJSON)
	if err != nil {
		return nil, err
	}
	defer orows.Close()
	for orows.Next() {
		var (
			o       store.DeliveryOutcome
			created int64
			test    int
		)
		if err := orows.Scan(&o.TenantID, &o.EventID, &o.PixelUUID, &o.Platform, &o.Status, &o.Attempts,
			&o.ResponseID, &created, &o.Source, &test); err != nil {
			return nil, err
		}
		o.CreatedAt, o.Test = fromMicros(created), test != 0
		for _, i := range index[o.EventID] {
			out[i].Outcomes = append(out[i].Outcomes, o)
		}
	}
	if err := orows.Err(); err != nil {
		return nil, err
	}
	return out, s.attachResponses(ctx, tenantID, out)
}

// attachResponses loads the platform answers the outcomes of out reference
// (one query) into each event's Responses.
func (s *Store) attachResponses(ctx context.Context, tenantID string, out []store.RecentEvent) error {
	var ids []string
	seen := map[string]bool{}
	for i := range out {
		for _, o := range out[i].Outcomes {
			if o.ResponseID != "" && !seen[o.ResponseID] {
				seen[o.ResponseID] = true
				ids = append(ids, o.ResponseID)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	idsJSON, err := toJSON(ids)
	if err != nil {
		return err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, tenant_id, pixel_uuid, platform, http_status, body, created_at
		FROM platform_response WHERE tenant_id = ? AND id IN (SELECT value FROM json_each(?))`, tenantID, idsJSON)
	if err != nil {
		return err
	}
	defer rows.Close()
	byID := map[string]store.PlatformResponse{}
	for rows.Next() {
		var (
			r       store.PlatformResponse
			created int64
		)
		if err := rows.Scan(&r.ID, &r.TenantID, &r.PixelUUID, &r.Platform, &r.HTTPStatus, &r.Body, &created); err != nil {
			return err
		}
		r.CreatedAt = fromMicros(created)
		byID[r.ID] = r
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range out {
		for _, o := range out[i].Outcomes {
			if r, ok := byID[o.ResponseID]; ok {
				if out[i].Responses == nil {
					out[i].Responses = map[string]store.PlatformResponse{}
				}
				out[i].Responses[o.ResponseID] = r
			}
		}
	}
	return nil
}

// PurgeClientIPs blanks the client IP of events created before t, in chunks,
// and returns how many it cleared.
func (s *Store) PurgeClientIPs(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.purgeChunks(ctx, `UPDATE tracking_event SET client_ip = '' WHERE seq IN (
		SELECT seq FROM tracking_event WHERE created_at < ? AND client_ip <> '' LIMIT ?)`, toMicros(before))
	if err != nil {
		return n, fmt.Errorf("cannot purge client ips: %w", err)
	}
	return n, nil
}

// purgeChunks runs q (taking a cutoff and a chunk size) until it touches
// no row, and returns the total.
func (s *Store) purgeChunks(ctx context.Context, q string, cutoff int64) (int64, error) {
	var total int64
	for {
		res, err := s.w.ExecContext(ctx, q, cutoff, purgeChunk)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		if n < purgeChunk {
			return total, nil
		}
	}
}
