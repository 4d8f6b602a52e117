package storesqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jaraba/pixelgw/store"
)

// The stats rollups (migration 002, store/stats.go). The audit and consent
// writes call these inside their transaction: the batch is aggregated in Go
// and each rollup table gets one upsert of a JSON array of rows (json_each),
// so the cost is per batch, not per row. The single write connection
// serialises writers, so no lock ordering is needed.

func hourOf(t time.Time) int64 { return toMicros(t.UTC().Truncate(time.Hour)) }

type hourKey struct {
	tenant string
	hour   int64
}

func cmpHourKey(a, b hourKey) int {
	if c := cmp.Compare(a.tenant, b.tenant); c != 0 {
		return c
	}
	return cmp.Compare(a.hour, b.hour)
}

type pixelHourKey struct {
	tenant, pixel string
	hour          int64
}

type seenKey struct{ tenant, event string }

// upsertRows runs one INSERT ... SELECT FROM json_each(?) ON CONFLICT DO
// UPDATE for rows (each a JSON array of the columns, in order).
func upsertRows(ctx context.Context, tx *sql.Tx, table string, cols []string, conflict string, set string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	js, err := toJSON(rows)
	if err != nil {
		return err
	}
	sel := ""
	for i := range cols {
		if i > 0 {
			sel += ", "
		}
		sel += fmt.Sprintf("json_extract(value, '$[%d]')", i)
	}
	colList := ""
	for i, c := range cols {
		if i > 0 {
			colList += ", "
		}
		colList += c
	}
	// "WHERE true" lets SQLite parse ON CONFLICT after a SELECT.
	_, err = tx.ExecContext(ctx, `INSERT INTO `+table+` (`+colList+`) SELECT `+sel+` FROM json_each(?) WHERE true
		ON CONFLICT (`+conflict+`) DO UPDATE SET `+set, js)
	return err
}

// dedupEntry is a candidate for the deduplicated count: its hour, and the
// side the batch shows (store.DedupCandidate).
type dedupEntry struct {
	hour int64
	side string
}

// countMerges adds the ledger's new (tenant, event id) pairs to the dedup
// rollup: a pair counts when its side is "both", or when a stored outcome
// of the event (this transaction's included) has another known source — an
// index probe of delivery_outcome (tenant_id, event_id) per candidate; a
// pair already in the ledger was counted before.
// It returns how many pairs it counted.
func countMerges(ctx context.Context, tx *sql.Tx, seen map[seenKey]dedupEntry) (int64, error) {
	if len(seen) == 0 {
		return 0, nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO stats_merge_seen (tenant_id, event_id, hour)
		SELECT ?1, ?2, ?3 WHERE ?4 = 'both' OR EXISTS (
			SELECT 1 FROM delivery_outcome WHERE tenant_id = ?1 AND event_id = ?2 AND source <> '' AND source <> ?4)
		ON CONFLICT DO NOTHING`)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	agg := map[hourKey]int64{}
	var counted int64
	for k, e := range seen {
		hour := e.hour
		res, err := stmt.ExecContext(ctx, k.tenant, k.event, hour, e.side)
		if err != nil {
			return 0, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return 0, err
		} else if n > 0 {
			agg[hourKey{k.tenant, hour}]++
			counted++
		}
	}
	keys := slices.SortedFunc(maps.Keys(agg), cmpHourKey)
	rows := make([][]any, 0, len(keys))
	for _, k := range keys {
		rows = append(rows, []any{k.tenant, k.hour, agg[k]})
	}
	return counted, upsertRows(ctx, tx, "stats_merge_hourly", []string{"tenant_id", "hour", "merged"}, "tenant_id, hour",
		"merged = merged + excluded.merged", rows)
}

// rollupEvents counts the batch's events per tenant, hour and source.
func rollupEvents(ctx context.Context, tx *sql.Tx, evs []store.AuditEvent, now time.Time) error {
	type counts struct{ client, server, both int64 }
	agg := map[hourKey]*counts{}
	seen := map[seenKey]dedupEntry{}
	for i := range evs {
		e := &evs[i]
		at := e.CreatedAt
		if at.IsZero() {
			at = now
		}
		k := hourKey{e.TenantID, hourOf(at)}
		c := agg[k]
		if c == nil {
			c = &counts{}
			agg[k] = c
		}
		switch e.EventSource {
		case store.SourceServer:
			c.server++
		case store.SourceBoth:
			c.both++
			if _, ok := seen[seenKey{e.TenantID, e.EventID}]; !ok {
				seen[seenKey{e.TenantID, e.EventID}] = dedupEntry{k.hour, store.SourceBoth}
			}
		default: // client, and "" from older records
			c.client++
		}
	}
	keys := slices.SortedFunc(maps.Keys(agg), cmpHourKey)
	rows := make([][]any, 0, len(keys))
	for _, k := range keys {
		c := agg[k]
		rows = append(rows, []any{k.tenant, k.hour, c.client, c.server, c.both})
	}
	err := upsertRows(ctx, tx, "stats_event_hourly", []string{"tenant_id", "hour", "client", "server", "src_both"},
		"tenant_id, hour", "client = client + excluded.client, server = server + excluded.server, src_both = src_both + excluded.src_both", rows)
	if err != nil {
		return err
	}
	_, err = countMerges(ctx, tx, seen)
	return err
}

// rollupOutcomes counts the batch's finished deliveries per tenant, pixel
// and hour, and its events seen from both sides (store.DedupCandidates) in
// the dedup ledger.
func rollupOutcomes(ctx context.Context, tx *sql.Tx, outs []store.DeliveryOutcome, now time.Time) error {
	agg := map[pixelHourKey]*store.DeliveryCounts{}
	for i := range outs {
		o := &outs[i]
		at := o.CreatedAt
		if at.IsZero() {
			at = now
		}
		count := func() *store.DeliveryCounts {
			k := pixelHourKey{o.TenantID, o.PixelUUID, hourOf(at)}
			c := agg[k]
			if c == nil {
				c = &store.DeliveryCounts{}
				agg[k] = c
			}
			return c
		}
		switch o.Status {
		case "delivered":
			count().Delivered++
		case "failed":
			count().Failed++
		case "dead":
			count().Dead++
		}
	}
	seen := map[seenKey]dedupEntry{}
	for _, c := range store.DedupCandidates(outs, now) {
		seen[seenKey{c.TenantID, c.EventID}] = dedupEntry{hourOf(c.Hour), c.Side}
	}
	keys := slices.SortedFunc(maps.Keys(agg), func(a, b pixelHourKey) int {
		return cmp.Or(cmp.Compare(a.tenant, b.tenant), cmp.Compare(a.pixel, b.pixel), cmp.Compare(a.hour, b.hour))
	})
	rows := make([][]any, 0, len(keys))
	for _, k := range keys {
		c := agg[k]
		rows = append(rows, []any{k.tenant, k.pixel, k.hour, c.Delivered, c.Failed, c.Dead})
	}
	err := upsertRows(ctx, tx, "stats_delivery_hourly", []string{"tenant_id", "pixel_uuid", "hour", "delivered", "failed", "dead"},
		"tenant_id, hour, pixel_uuid", "delivered = delivered + excluded.delivered, failed = failed + excluded.failed, dead = dead + excluded.dead", rows)
	if err != nil {
		return err
	}
	_, err = countMerges(ctx, tx, seen)
	return err
}

// rollupConsent reads the visitor's latest decision before r is appended
// (in the same write transaction) and applies what r changes.
func rollupConsent(ctx context.Context, tx *sql.Tx, r store.ConsentRecord, now time.Time) error {
	var (
		prevAt  int64
		prevMkt int
		hasPrev = true
	)
	err := tx.QueryRowContext(ctx, `SELECT created_at, marketing FROM consent_record WHERE tenant_id = ? AND visitor_id = ?
		ORDER BY created_at DESC, seq DESC LIMIT 1`, r.TenantID, r.VisitorID).Scan(&prevAt, &prevMkt)
	switch {
	case err == sql.ErrNoRows:
		hasPrev = false
	case err != nil:
		return err
	}
	deltas := store.ConsentDeltas(hasPrev, fromMicros(prevAt), prevMkt != 0, r.CreatedAt, r.Marketing, now)
	rows := make([][]any, 0, len(deltas))
	for _, d := range deltas {
		rows = append(rows, []any{r.TenantID, toMicros(d.Hour), d.Decided, d.Marketing})
	}
	return upsertRows(ctx, tx, "stats_consent_hourly", []string{"tenant_id", "hour", "decided", "marketing"},
		"tenant_id, hour", "decided = decided + excluded.decided, marketing = marketing + excluded.marketing", rows)
}

// TenantStats reads the tenant's rollups and pixels.
func (s *Store) TenantStats(ctx context.Context, tenantID string, now time.Time) (store.TenantStats, error) {
	out, err := s.tenantStats(ctx, tenantID, now.UTC())
	if err != nil {
		return store.TenantStats{}, fmt.Errorf("cannot read stats: %w", err)
	}
	return out, nil
}

func (s *Store) tenantStats(ctx context.Context, tenantID string, now time.Time) (store.TenantStats, error) {
	from, from48 := store.WindowStart(now, store.StatsWindow), store.WindowStart(now, store.StatsRedWindow)
	out := store.TenantStats{From: from, To: now}
	f, f48 := toMicros(from), toMicros(from48)
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT coalesce(sum(client), 0) FROM stats_event_hourly WHERE tenant_id = ?1 AND hour >= ?2),
		(SELECT coalesce(sum(server), 0) FROM stats_event_hourly WHERE tenant_id = ?1 AND hour >= ?2),
		(SELECT coalesce(sum(src_both), 0) FROM stats_event_hourly WHERE tenant_id = ?1 AND hour >= ?2),
		(SELECT coalesce(sum(merged), 0) FROM stats_merge_hourly WHERE tenant_id = ?1 AND hour >= ?2),
		(SELECT coalesce(sum(decided), 0) FROM stats_consent_hourly WHERE tenant_id = ?1 AND hour >= ?2),
		(SELECT coalesce(sum(marketing), 0) FROM stats_consent_hourly WHERE tenant_id = ?1 AND hour >= ?2)`,
		tenantID, f).Scan(&out.Events.Client, &out.Events.Server, &out.Events.Both, &out.Deduplicated,
		&out.Consent.Decided, &out.Consent.Marketing)
	if err != nil {
		return out, err
	}
	type pixelCounts struct{ day, two store.DeliveryCounts }
	byPixel := map[string]*pixelCounts{}
	rows, err := s.r.QueryContext(ctx, `SELECT pixel_uuid,
			coalesce(sum(delivered) FILTER (WHERE hour >= ?2), 0), coalesce(sum(failed) FILTER (WHERE hour >= ?2), 0),
			coalesce(sum(dead) FILTER (WHERE hour >= ?2), 0), sum(delivered), sum(failed), sum(dead)
		FROM stats_delivery_hourly WHERE tenant_id = ?1 AND hour >= ?3 GROUP BY pixel_uuid`, tenantID, f, f48)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			uuid string
			c    pixelCounts
		)
		if err := rows.Scan(&uuid, &c.day.Delivered, &c.day.Failed, &c.day.Dead, &c.two.Delivered, &c.two.Failed, &c.two.Dead); err != nil {
			return out, err
		}
		byPixel[uuid] = &c
		out.Deliveries = out.Deliveries.Add(c.day)
	}
	if err := rows.Err(); err != nil {
		return out, err
	}
	prows, err := s.r.QueryContext(ctx, `SELECT uuid, platform, pixel_id, is_active, status FROM tracking_pixel
		WHERE tenant_id = ? ORDER BY id`, tenantID)
	if err != nil {
		return out, err
	}
	defer prows.Close()
	for prows.Next() {
		var (
			p      store.PixelStats
			active int
		)
		if err := prows.Scan(&p.UUID, &p.Platform, &p.PixelID, &active, &p.StoredStatus); err != nil {
			return out, err
		}
		p.Active = active != 0
		if c := byPixel[p.UUID]; c != nil {
			p.Day, p.TwoDays = c.day, c.two
		}
		p.Light = store.PixelLight(p.StoredStatus, p.Day, p.TwoDays)
		out.Pixels = append(out.Pixels, p)
	}
	return out, prows.Err()
}

// ReconcileDedup implements store.Stats: the merged outcomes of [from, to)
// (partial index delivery_outcome_merged_idx, migration 004) whose event is
// not in the ledger yet go through countMerges, each event once, with the
// side and hour of its earliest merged outcome. One write transaction: the
// embedded store has one writer, so nothing can commit in between.
func (s *Store) ReconcileDedup(ctx context.Context, from, to time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// SQLite takes the bare columns of a min() aggregate from the row
		// holding the minimum: the earliest merged outcome's source.
		rows, err := tx.QueryContext(ctx, `SELECT m.tenant_id, m.event_id, min(m.created_at), m.source
			FROM delivery_outcome m
			WHERE m.status = 'merged' AND m.created_at >= ? AND m.created_at < ? AND m.source <> ''
				AND NOT EXISTS (SELECT 1 FROM stats_merge_seen l WHERE l.tenant_id = m.tenant_id AND l.event_id = m.event_id)
			GROUP BY m.tenant_id, m.event_id`, toMicros(from), toMicros(to))
		if err != nil {
			return err
		}
		defer rows.Close()
		seen := map[seenKey]dedupEntry{}
		for rows.Next() {
			var k seenKey
			var at int64
			var side string
			if err := rows.Scan(&k.tenant, &k.event, &at, &side); err != nil {
				return err
			}
			seen[k] = dedupEntry{hourOf(fromMicros(at)), side}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		n, err = countMerges(ctx, tx, seen)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("cannot reconcile dedup: %w", err)
	}
	return n, nil
}

// PurgeStats deletes old rollup rows and ledger entries.
func (s *Store) PurgeStats(ctx context.Context, now time.Time) (int64, error) {
	now = now.UTC()
	rollupCut := hourOf(now.Add(-store.StatsRetention))
	ledgerCut := hourOf(now.Add(-store.StatsLedgerRetention))
	var total int64
	for _, q := range []struct {
		sql string
		cut int64
	}{
		{`DELETE FROM stats_event_hourly WHERE hour < ?`, rollupCut},
		{`DELETE FROM stats_delivery_hourly WHERE hour < ?`, rollupCut},
		{`DELETE FROM stats_merge_hourly WHERE hour < ?`, rollupCut},
		{`DELETE FROM stats_consent_hourly WHERE hour < ?`, rollupCut},
		{`DELETE FROM stats_merge_seen WHERE hour < ?`, ledgerCut},
	} {
		res, err := s.w.ExecContext(ctx, q.sql, q.cut)
		if err != nil {
			return total, fmt.Errorf("cannot purge stats: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("cannot purge stats: %w", err)
		}
		total += n
	}
	return total, nil
}
