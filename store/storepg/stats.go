package storepg

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/jaraba/pixelgw/store"
)

// The stats rollups (migration 002, store/stats.go). The audit writes call
// rollupEvents / rollupOutcomes inside their transaction, after the COPY:
// the batch is aggregated in Go and each rollup table gets one upsert of
// unnest()ed arrays, sorted by key so that concurrent batches lock rows in
// the same order (no deadlock).

type hourKey struct {
	tenant [16]byte
	hour   int64 // Unix seconds of the UTC hour
}

func cmpHourKey(a, b hourKey) int {
	if c := bytes.Compare(a.tenant[:], b.tenant[:]); c != 0 {
		return c
	}
	return cmp.Compare(a.hour, b.hour)
}

type pixelHourKey struct {
	tenant [16]byte
	pixel  string
	hour   int64
}

type seenKey struct {
	tenant [16]byte
	event  string
}

func hourOf(t time.Time) int64 { return t.UTC().Truncate(time.Hour).Unix() }

// dedupEntry is a candidate for the deduplicated count: its hour, and the
// side the batch shows (store.DedupCandidate).
type dedupEntry struct {
	hour int64
	side string
}

// mergeLedger collects the (tenant, event id) pairs a batch may show to be
// seen from both sides.
type mergeLedger map[seenKey]dedupEntry

func (m mergeLedger) add(tenant [16]byte, event string, hour int64, side string) {
	k := seenKey{tenant, event}
	if _, ok := m[k]; !ok {
		m[k] = dedupEntry{hour, side}
	}
}

// queue adds the ledger insert + dedup count upsert to b: a pair counts
// when its side is "both", or when a stored outcome of the event (this
// transaction's included) has another known source — one index probe of
// delivery_outcome (tenant_id, event_id) per candidate, bounded to the
// partitions of the ledger's retention; only the pairs the ledger did not
// know yet are counted.
func (m mergeLedger) queue(b *pgx.Batch) {
	if len(m) == 0 {
		return
	}
	keys := make([]seenKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b seenKey) int {
		if c := bytes.Compare(a.tenant[:], b.tenant[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.event, b.event)
	})
	tids := make([]pgtype.UUID, len(keys))
	events := make([]string, len(keys))
	hours := make([]time.Time, len(keys))
	sides := make([]string, len(keys))
	first := int64(math.MaxInt64)
	for i, k := range keys {
		e := m[k]
		tids[i] = pgtype.UUID{Bytes: k.tenant, Valid: true}
		events[i], hours[i], sides[i] = k.event, time.Unix(e.hour, 0).UTC(), e.side
		first = min(first, e.hour)
	}
	since := time.Unix(first, 0).UTC().Add(-store.StatsLedgerRetention)
	b.Queue(`WITH cand AS (
			SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[]) AS c (tenant_id, event_id, hour, side)
		)`+countCandidates(5),
		tids, events, hours, sides, since)
}

// countCandidates is the end of a statement that starts with a CTE "cand"
// (tenant_id, event_id, hour, side) of dedup candidates: it adds to the
// ledger those that count (side both, or another known source among the
// event's stored outcomes created at or after the parameter $since), adds
// them to the hourly rollup and answers how many it counted. Inserts are
// ordered by key, as every writer's, so concurrent writers cannot deadlock.
func countCandidates(since int) string {
	return fmt.Sprintf(`, seen AS (
			INSERT INTO stats_merge_seen (tenant_id, event_id, hour)
			SELECT c.tenant_id, c.event_id, c.hour FROM cand c
			WHERE c.side = 'both' OR EXISTS (
				SELECT 1 FROM delivery_outcome d
				WHERE d.tenant_id = c.tenant_id AND d.event_id = c.event_id AND d.created_at >= $%d
					AND d.source <> '' AND d.source <> c.side)
			ORDER BY c.tenant_id, c.event_id
			ON CONFLICT DO NOTHING
			RETURNING tenant_id, hour
		), hourly AS (
			INSERT INTO stats_merge_hourly AS t (tenant_id, hour, merged)
			SELECT tenant_id, hour, count(*) FROM seen GROUP BY tenant_id, hour ORDER BY tenant_id, hour
			ON CONFLICT (tenant_id, hour) DO UPDATE SET merged = t.merged + excluded.merged
		)
		SELECT count(*) FROM seen`, since)
}

// ReconcileDedup implements store.Stats: the merged outcomes of [from, to)
// (partial index delivery_outcome_merged_idx, migration 004) not yet in the
// ledger are counted like a batch's candidates, each event once, with the
// side and hour of its earliest merged outcome.
func (s *Store) ReconcileDedup(ctx context.Context, from, to time.Time) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `WITH cand AS (
			SELECT DISTINCT ON (m.tenant_id, m.event_id) m.tenant_id, m.event_id,
				date_trunc('hour', m.created_at, 'UTC') AS hour, m.source AS side
			FROM delivery_outcome m
			WHERE m.status = 'merged' AND m.created_at >= $1 AND m.created_at < $2 AND m.source <> ''
				AND NOT EXISTS (SELECT 1 FROM stats_merge_seen l WHERE l.tenant_id = m.tenant_id AND l.event_id = m.event_id)
			ORDER BY m.tenant_id, m.event_id, m.created_at
		)`+countCandidates(3),
		from.UTC(), to.UTC(), from.UTC().Add(-store.StatsLedgerRetention)).Scan(&n)
	if err != nil {
		return 0, wrap("reconcile dedup", err)
	}
	return n, nil
}

// sendStats runs the queued rollup statements in one round trip.
func sendStats(ctx context.Context, tx pgx.Tx, b *pgx.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("rollups: %w", err)
	}
	return nil
}

// rollupEvents counts the batch's events per tenant, hour and source.
// tids are the parsed tenant ids of evs, index for index.
func rollupEvents(ctx context.Context, tx pgx.Tx, evs []store.AuditEvent, tids []pgtype.UUID, now time.Time) error {
	type counts struct{ client, server, both int64 }
	agg := make(map[hourKey]*counts, 2)
	ledger := mergeLedger{}
	for i := range evs {
		e := &evs[i]
		at := e.CreatedAt
		if at.IsZero() {
			at = now
		}
		k := hourKey{tids[i].Bytes, hourOf(at)}
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
			ledger.add(k.tenant, e.EventID, k.hour, store.SourceBoth)
		default: // client, and "" from older records
			c.client++
		}
	}
	keys := make([]hourKey, 0, len(agg))
	for k := range agg {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpHourKey)
	n := len(keys)
	ts, hours := make([]pgtype.UUID, n), make([]time.Time, n)
	client, server, both := make([]int64, n), make([]int64, n), make([]int64, n)
	for i, k := range keys {
		c := agg[k]
		ts[i], hours[i] = pgtype.UUID{Bytes: k.tenant, Valid: true}, time.Unix(k.hour, 0).UTC()
		client[i], server[i], both[i] = c.client, c.server, c.both
	}
	var b pgx.Batch
	b.Queue(`INSERT INTO stats_event_hourly AS t (tenant_id, hour, client, server, src_both)
		SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::bigint[], $4::bigint[], $5::bigint[])
		ON CONFLICT (tenant_id, hour) DO UPDATE SET client = t.client + excluded.client,
			server = t.server + excluded.server, src_both = t.src_both + excluded.src_both`,
		ts, hours, client, server, both)
	ledger.queue(&b)
	return sendStats(ctx, tx, &b)
}

// rollupOutcomes counts the batch's finished deliveries per tenant, pixel
// and hour, and its events seen from both sides (store.DedupCandidates) in
// the dedup ledger.
func rollupOutcomes(ctx context.Context, tx pgx.Tx, outs []store.DeliveryOutcome, tids []pgtype.UUID, now time.Time) error {
	agg := map[pixelHourKey]*store.DeliveryCounts{}
	ledger := mergeLedger{}
	for i := range outs {
		o := &outs[i]
		at := o.CreatedAt
		if at.IsZero() {
			at = now
		}
		var c *store.DeliveryCounts
		count := func() *store.DeliveryCounts {
			k := pixelHourKey{tids[i].Bytes, o.PixelUUID, hourOf(at)}
			if c = agg[k]; c == nil {
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
	for _, c := range store.DedupCandidates(outs, now) {
		ledger.add(tids[c.Index].Bytes, c.EventID, c.Hour.Unix(), c.Side)
	}
	var b pgx.Batch
	if len(agg) > 0 {
		keys := make([]pixelHourKey, 0, len(agg))
		for k := range agg {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b pixelHourKey) int {
			if c := bytes.Compare(a.tenant[:], b.tenant[:]); c != 0 {
				return c
			}
			if c := cmp.Compare(a.pixel, b.pixel); c != 0 {
				return c
			}
			return cmp.Compare(a.hour, b.hour)
		})
		n := len(keys)
		ts, pixels, hours := make([]pgtype.UUID, n), make([]string, n), make([]time.Time, n)
		delivered, failed, dead := make([]int64, n), make([]int64, n), make([]int64, n)
		for i, k := range keys {
			c := agg[k]
			ts[i], pixels[i], hours[i] = pgtype.UUID{Bytes: k.tenant, Valid: true}, k.pixel, time.Unix(k.hour, 0).UTC()
			delivered[i], failed[i], dead[i] = c.Delivered, c.Failed, c.Dead
		}
		b.Queue(`INSERT INTO stats_delivery_hourly AS t (tenant_id, pixel_uuid, hour, delivered, failed, dead)
			SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::bigint[], $5::bigint[], $6::bigint[])
			ON CONFLICT (tenant_id, hour, pixel_uuid) DO UPDATE SET delivered = t.delivered + excluded.delivered,
				failed = t.failed + excluded.failed, dead = t.dead + excluded.dead`,
			ts, pixels, hours, delivered, failed, dead)
	}
	ledger.queue(&b)
	return sendStats(ctx, tx, &b)
}

// rollupConsent applies the deltas of one decision (store.ConsentDeltas);
// the caller holds the visitor's advisory lock and read their previous
// decision in the same transaction.
func rollupConsent(ctx context.Context, tx pgx.Tx, tid pgtype.UUID, deltas []store.ConsentDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	slices.SortFunc(deltas, func(a, b store.ConsentDelta) int { return a.Hour.Compare(b.Hour) })
	n := len(deltas)
	ts, hours, decided, mkt := make([]pgtype.UUID, n), make([]time.Time, n), make([]int64, n), make([]int64, n)
	for i, d := range deltas {
		ts[i], hours[i], decided[i], mkt[i] = tid, d.Hour.UTC(), d.Decided, d.Marketing
	}
	_, err := tx.Exec(ctx, `INSERT INTO stats_consent_hourly AS t (tenant_id, hour, decided, marketing)
		SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::bigint[], $4::bigint[])
		ON CONFLICT (tenant_id, hour) DO UPDATE SET decided = t.decided + excluded.decided,
			marketing = t.marketing + excluded.marketing`, ts, hours, decided, mkt)
	if err != nil {
		return fmt.Errorf("rollups: %w", err)
	}
	return nil
}

// TenantStats reads the tenant's rollups and pixels in one round trip.
func (s *Store) TenantStats(ctx context.Context, tenantID string, now time.Time) (store.TenantStats, error) {
	now = now.UTC()
	from, from48 := store.WindowStart(now, store.StatsWindow), store.WindowStart(now, store.StatsRedWindow)
	out := store.TenantStats{From: from, To: now}
	tid, ok := parseID(tenantID)
	if !ok {
		return out, nil
	}
	var b pgx.Batch
	b.Queue(`SELECT
		(SELECT coalesce(sum(client), 0) FROM stats_event_hourly WHERE tenant_id = $1 AND hour >= $2),
		(SELECT coalesce(sum(server), 0) FROM stats_event_hourly WHERE tenant_id = $1 AND hour >= $2),
		(SELECT coalesce(sum(src_both), 0) FROM stats_event_hourly WHERE tenant_id = $1 AND hour >= $2),
		(SELECT coalesce(sum(merged), 0) FROM stats_merge_hourly WHERE tenant_id = $1 AND hour >= $2),
		(SELECT coalesce(sum(decided), 0) FROM stats_consent_hourly WHERE tenant_id = $1 AND hour >= $2),
		(SELECT coalesce(sum(marketing), 0) FROM stats_consent_hourly WHERE tenant_id = $1 AND hour >= $2)`,
		tid, from).QueryRow(func(row pgx.Row) error {
		return row.Scan(&out.Events.Client, &out.Events.Server, &out.Events.Both, &out.Deduplicated,
			&out.Consent.Decided, &out.Consent.Marketing)
	})
	type pixelCounts struct{ day, two store.DeliveryCounts }
	byPixel := map[string]*pixelCounts{}
	b.Queue(`SELECT pixel_uuid,
			coalesce(sum(delivered) FILTER (WHERE hour >= $2), 0), coalesce(sum(failed) FILTER (WHERE hour >= $2), 0),
			coalesce(sum(dead) FILTER (WHERE hour >= $2), 0),
			sum(delivered), sum(failed), sum(dead)
		FROM stats_delivery_hourly WHERE tenant_id = $1 AND hour >= $3 GROUP BY pixel_uuid`,
		tid, from, from48).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var (
				uuid string
				c    pixelCounts
			)
			if err := rows.Scan(&uuid, &c.day.Delivered, &c.day.Failed, &c.day.Dead,
				&c.two.Delivered, &c.two.Failed, &c.two.Dead); err != nil {
				return err
			}
			byPixel[uuid] = &c
			out.Deliveries = out.Deliveries.Add(c.day)
		}
		return rows.Err()
	})
	b.Queue(`SELECT uuid, platform, pixel_id, is_active, status FROM tracking_pixel WHERE tenant_id = $1 ORDER BY id`,
		tid).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var (
				p  store.PixelStats
				id pgtype.UUID
			)
			if err := rows.Scan(&id, &p.Platform, &p.PixelID, &p.Active, &p.StoredStatus); err != nil {
				return err
			}
			p.UUID = uuidString(id)
			out.Pixels = append(out.Pixels, p)
		}
		return rows.Err()
	})
	if err := s.pool.SendBatch(ctx, &b).Close(); err != nil {
		return store.TenantStats{}, wrap("read stats", err)
	}
	for i := range out.Pixels {
		p := &out.Pixels[i]
		if c := byPixel[p.UUID]; c != nil {
			p.Day, p.TwoDays = c.day, c.two
		}
		p.Light = store.PixelLight(p.StoredStatus, p.Day, p.TwoDays)
	}
	return out, nil
}

// PurgeStats deletes old rollup rows and ledger entries.
func (s *Store) PurgeStats(ctx context.Context, now time.Time) (int64, error) {
	now = now.UTC()
	rollupCut := now.Add(-store.StatsRetention).Truncate(time.Hour)
	ledgerCut := now.Add(-store.StatsLedgerRetention).Truncate(time.Hour)
	var total int64
	for _, q := range []struct {
		sql string
		cut time.Time
	}{
		{`DELETE FROM stats_event_hourly WHERE hour < $1`, rollupCut},
		{`DELETE FROM stats_delivery_hourly WHERE hour < $1`, rollupCut},
		{`DELETE FROM stats_merge_hourly WHERE hour < $1`, rollupCut},
		{`DELETE FROM stats_consent_hourly WHERE hour < $1`, rollupCut},
		{`DELETE FROM stats_merge_seen WHERE hour < $1`, ledgerCut},
	} {
		tag, err := s.pool.Exec(ctx, q.sql, q.cut)
		if err != nil {
			return total, wrap("purge stats", err)
		}
		total += tag.RowsAffected()
	}
	return total, nil
}

// consentDeltas locks the visitor's decisions for this transaction (so two
// concurrent decisions cannot both subtract the same earlier one), reads
// their latest decision and returns what appending one at at does to the
// rollup.
func consentDeltas(ctx context.Context, tx pgx.Tx, tid pgtype.UUID, visitorID string, at time.Time, marketing bool, now time.Time) ([]store.ConsentDelta, error) {
	var (
		b       pgx.Batch
		hasPrev bool
		prevAt  time.Time
		prevMkt bool
	)
	b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "pixelgw.consent."+uuidString(tid)+"."+visitorID)
	b.Queue(`SELECT created_at, marketing FROM consent_record WHERE tenant_id = $1 AND visitor_id = $2
		ORDER BY created_at DESC, seq DESC LIMIT 1`, tid, visitorID).QueryRow(func(row pgx.Row) error {
		err := row.Scan(&prevAt, &prevMkt)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		hasPrev = err == nil
		return err
	})
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return nil, fmt.Errorf("rollups: %w", err)
	}
	return store.ConsentDeltas(hasPrev, prevAt, prevMkt, at, marketing, now), nil
}
