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

// Queries of tracking_event, delivery_outcome and platform_response. Writes
// are one COPY per batch.

var eventCopyColumns = []string{
	"tenant_id", "event_id", "event_name", "event_source", "visitor_id", "user_data_key_id", "user_data", "custom_data",
	"event_source_url", "client_ip", "client_user_agent", "fbc", "fbp", "gclid", "created_at",
}

// tenantIDs parses tenant ids of a batch, caching the last one (a batch
// usually belongs to few tenants). An invalid id names no tenant.
type tenantIDs struct {
	last   string
	parsed pgtype.UUID
}

func (c *tenantIDs) parse(op, id string) (pgtype.UUID, error) {
	if c.parsed.Valid && id == c.last {
		return c.parsed, nil
	}
	u, ok := parseID(id)
	if !ok {
		return pgtype.UUID{}, notFound(op)
	}
	c.last, c.parsed = id, u
	return u, nil
}

// AppendEvents writes the batch with one COPY. A tenant that does not exist
// fails the whole batch with ErrNotFound.
func (s *Store) AppendEvents(ctx context.Context, evs []store.AuditEvent) error {
	if len(evs) == 0 {
		return nil
	}
	var ids tenantIDs
	now := s.timestamp(time.Time{})
	rows := make([][]any, len(evs))
	for i := range evs {
		e := &evs[i]
		tid, err := ids.parse("append events", e.TenantID)
		if err != nil {
			return err
		}
		at := now
		if !e.CreatedAt.IsZero() {
			at = e.CreatedAt.UTC()
		}
		rows[i] = []any{
			tid, e.EventID, e.EventName, e.EventSource, e.VisitorID, e.UserData.KeyID, nullBytes(e.UserData.Ciphertext),
			nullBytes(e.CustomData), e.EventSourceURL, nullText(e.ClientIP), e.ClientUserAgent,
			e.FBC, e.FBP, e.GCLID, at,
		}
	}
	if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{"tracking_event"}, eventCopyColumns, pgx.CopyFromRows(rows)); err != nil {
		return wrap("append events", err)
	}
	return nil
}

var outcomeCopyColumns = []string{
	"tenant_id", "event_id", "pixel_uuid", "platform", "status", "attempts", "response_id", "created_at", "source", "test",
}

// AppendOutcomes writes the batch with one COPY.
func (s *Store) AppendOutcomes(ctx context.Context, outs []store.DeliveryOutcome) error {
	if len(outs) == 0 {
		return nil
	}
	var ids tenantIDs
	now := s.timestamp(time.Time{})
	rows := make([][]any, len(outs))
	for i := range outs {
		o := &outs[i]
		tid, err := ids.parse("append outcomes", o.TenantID)
		if err != nil {
			return err
		}
		rid, err := optionalID(o.ResponseID)
		if err != nil {
			return fmt.Errorf("cannot append outcomes: response id: %w", err)
		}
		at := now
		if !o.CreatedAt.IsZero() {
			at = o.CreatedAt.UTC()
		}
		rows[i] = []any{tid, o.EventID, o.PixelUUID, o.Platform, o.Status, int32(o.Attempts), rid, at, o.Source, o.Test}
	}
	if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{"delivery_outcome"}, outcomeCopyColumns, pgx.CopyFromRows(rows)); err != nil {
		return wrap("append outcomes", err)
	}
	return nil
}

var responseCopyColumns = []string{"id", "tenant_id", "pixel_uuid", "platform", "http_status", "body", "created_at"}

// AppendResponses writes the batch with one COPY; an empty ID gets a new
// UUIDv7.
func (s *Store) AppendResponses(ctx context.Context, rs []store.PlatformResponse) error {
	if len(rs) == 0 {
		return nil
	}
	var ids tenantIDs
	now := s.timestamp(time.Time{})
	rows := make([][]any, len(rs))
	for i := range rs {
		r := &rs[i]
		tid, err := ids.parse("append responses", r.TenantID)
		if err != nil {
			return err
		}
		var id pgtype.UUID
		if r.ID == "" {
			u, err := uuid.NewV7()
			if err != nil {
				return fmt.Errorf("cannot append responses: %w", err)
			}
			id = pgtype.UUID{Bytes: u, Valid: true}
		} else if id, err = optionalID(r.ID); err != nil {
			return fmt.Errorf("cannot append responses: %w", err)
		}
		at := now
		if !r.CreatedAt.IsZero() {
			at = r.CreatedAt.UTC()
		}
		rows[i] = []any{id, tid, r.PixelUUID, r.Platform, int32(r.HTTPStatus), nullBytes(r.Body), at}
	}
	if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{"platform_response"}, responseCopyColumns, pgx.CopyFromRows(rows)); err != nil {
		return wrap("append responses", err)
	}
	return nil
}

const eventColumns = `tenant_id, event_id, event_name, event_source, visitor_id, user_data_key_id, user_data, custom_data,
	event_source_url, coalesce(client_ip, ''), client_user_agent, fbc, fbp, gclid, created_at`

func scanEvent(row pgx.Row) (store.AuditEvent, error) {
	var (
		e   store.AuditEvent
		tid pgtype.UUID
	)
	err := row.Scan(&tid, &e.EventID, &e.EventName, &e.EventSource, &e.VisitorID, &e.UserData.KeyID, &e.UserData.Ciphertext,
		&e.CustomData, &e.EventSourceURL, &e.ClientIP, &e.ClientUserAgent, &e.FBC, &e.FBP, &e.GCLID, &e.CreatedAt)
	if err != nil {
		return store.AuditEvent{}, err
	}
	e.TenantID = uuidString(tid)
	e.CreatedAt = e.CreatedAt.UTC()
	return e, nil
}

const outcomeColumns = `tenant_id, event_id, pixel_uuid, platform, status, attempts, response_id, created_at, source, test`

func scanOutcome(row pgx.Row) (store.DeliveryOutcome, error) {
	var (
		o        store.DeliveryOutcome
		tid, rid pgtype.UUID
		attempts int32
	)
	if err := row.Scan(&tid, &o.EventID, &o.PixelUUID, &o.Platform, &o.Status, &attempts, &rid, &o.CreatedAt, &o.Source, &o.Test); err != nil {
		return store.DeliveryOutcome{}, err
	}
	o.TenantID, o.ResponseID, o.Attempts = uuidString(tid), uuidString(rid), int(attempts)
	o.CreatedAt = o.CreatedAt.UTC()
	return o, nil
}

// RecentEvents returns the tenant's newest events with their outcomes
// (oldest first) and the platform answers those reference, in three
// queries.
func (s *Store) RecentEvents(ctx context.Context, tenantID string, limit int) ([]store.RecentEvent, error) {
	tid, ok := parseID(tenantID)
	if !ok || limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx,
		`SELECT `+eventColumns+` FROM tracking_event WHERE tenant_id = $1
		ORDER BY created_at DESC, seq DESC LIMIT $2`, tid, limit)
	if err != nil {
		return nil, wrap("list recent events", err)
	}
	evs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.AuditEvent, error) { return scanEvent(r) })
	if err != nil {
		return nil, wrap("list recent events", err)
	}
	if len(evs) == 0 {
		return nil, nil
	}
	out := make([]store.RecentEvent, len(evs))
	index := make(map[string][]int, len(evs))
	eventIDs := make([]string, 0, len(evs))
	for i, e := range evs {
		out[i].Event = e
		if _, seen := index[e.EventID]; !seen {
			eventIDs = append(eventIDs, e.EventID)
		}
		index[e.EventID] = append(index[e.EventID], i)
	}
	rows, err = s.pool.Query(ctx,
		`SELECT `+outcomeColumns+` FROM delivery_outcome WHERE tenant_id = $1 AND event_id = ANY($2)
		ORDER BY created_at, seq`, tid, eventIDs)
	if err != nil {
		return nil, wrap("list outcomes", err)
	}
	outs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.DeliveryOutcome, error) { return scanOutcome(r) })
	if err != nil {
		return nil, wrap("list outcomes", err)
	}
	var respIDs []pgtype.UUID
	seen := map[string]bool{}
	for _, o := range outs {
		for _, i := range index[o.EventID] {
			out[i].Outcomes = append(out[i].Outcomes, o)
		}
		if o.ResponseID != "" && !seen[o.ResponseID] {
			seen[o.ResponseID] = true
			if id, ok := parseID(o.ResponseID); ok {
				respIDs = append(respIDs, id)
			}
		}
	}
	if len(respIDs) == 0 {
		return out, nil
	}
	rows, err = s.pool.Query(ctx,
		`SELECT id, tenant_id, pixel_uuid, platform, http_status, body, created_at FROM platform_response
		WHERE tenant_id = $1 AND id = ANY($2)`, tid, respIDs)
	if err != nil {
		return nil, wrap("list platform responses", err)
	}
	resps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.PlatformResponse, error) {
		var (
			p        store.PlatformResponse
			id, rtid pgtype.UUID
			status   int32
		)
		if err := r.Scan(&id, &rtid, &p.PixelUUID, &p.Platform, &status, &p.Body, &p.CreatedAt); err != nil {
			return p, err
		}
		p.ID, p.TenantID, p.HTTPStatus, p.CreatedAt = uuidString(id), uuidString(rtid), int(status), p.CreatedAt.UTC()
		return p, nil
	})
	if err != nil {
		return nil, wrap("list platform responses", err)
	}
	byID := make(map[string]store.PlatformResponse, len(resps))
	for _, r := range resps {
		byID[r.ID] = r
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
	return out, nil
}

// PurgeClientIPs nulls client_ip of events created before t. The created_at
// bound prunes partitions; only rows that still hold an IP are rewritten.
func (s *Store) PurgeClientIPs(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx,
		`UPDATE tracking_event SET client_ip = NULL WHERE created_at < $1 AND client_ip IS NOT NULL`, before.UTC())
	if err != nil {
		return 0, wrap("purge client ips", err)
	}
	return tag.RowsAffected(), nil
}
