package queuesqlite

// The queue's statements, one place (schema in schema.sql). Times are unix ms.
const (
	sqlRevocation = `SELECT decided_at FROM revocation
		WHERE tenant_id = ? AND visitor_id = ? AND expires_at > ?`
	// A newer decision replaces the stored one; so does any decision once
	// the stored one has expired.
	sqlRevocationSet = `INSERT INTO revocation (tenant_id, visitor_id, decided_at, expires_at) VALUES (?1, ?2, ?3, ?4)
		ON CONFLICT (tenant_id, visitor_id) DO UPDATE SET decided_at = excluded.decided_at, expires_at = excluded.expires_at
		WHERE excluded.decided_at > revocation.decided_at OR revocation.expires_at <= ?5`
	sqlRevocationPurge = `DELETE FROM revocation WHERE expires_at <= ?`

	// Erasure markers follow the revocation set's rules.
	sqlErasureSet = `INSERT INTO erasure (tenant_id, visitor_id, erased_at, expires_at) VALUES (?1, ?2, ?3, ?4)
		ON CONFLICT (tenant_id, visitor_id) DO UPDATE SET erased_at = excluded.erased_at, expires_at = excluded.expires_at
		WHERE excluded.erased_at > erasure.erased_at OR erasure.expires_at <= ?5`
	sqlErasurePurge = `DELETE FROM erasure WHERE expires_at <= ?`

	sqlDedupGet         = `SELECT expires_at FROM dedup WHERE key = ?`
	sqlDedupDelete      = `DELETE FROM dedup WHERE key = ?`
	sqlDedupInsert      = `INSERT INTO dedup (key, tenant_id, expires_at) VALUES (?, ?, ?)`
	sqlDedupPurgeTenant = `DELETE FROM dedup WHERE key IN
		(SELECT key FROM dedup WHERE tenant_id = ? AND expires_at <= ? LIMIT ?)`

	sqlLiveCount = `SELECT live FROM dedup_count WHERE tenant_id = ?`
	sqlLiveSet   = `INSERT INTO dedup_count (tenant_id, live) VALUES (?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET live = excluded.live`
	sqlLiveAdd     = `UPDATE dedup_count SET live = max(live + ?2, 0) WHERE tenant_id = ?1`
	sqlLiveTenants = `SELECT tenant_id FROM dedup_count`

	sqlEntryInsert  = `INSERT INTO entry (kind, tenant_id, event_id, event_name, payload, visitor_id) VALUES (?, ?, ?, ?, ?, ?)`
	sqlEntriesAfter = `SELECT id, kind, tenant_id, event_id, event_name, payload, target_group, visitor_id FROM entry
		WHERE id > ? ORDER BY id LIMIT ?`
	sqlEntryInsertTargeted = `INSERT INTO entry (kind, tenant_id, event_id, event_name, payload, target_group, visitor_id)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	sqlHasColumn = `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`

	// EraseVisitor: the visitor's entries (and their pending rows) and
	// dead letters, of one tenant.
	sqlErasePending = `DELETE FROM pending WHERE entry_id IN
		(SELECT id FROM entry WHERE tenant_id = ? AND visitor_id = ?)`
	sqlEraseEntries = `DELETE FROM entry WHERE tenant_id = ? AND visitor_id = ?`
	sqlEraseDead    = `DELETE FROM dead_letter WHERE tenant_id = ? AND visitor_id = ?`
	// Everything below the oldest entry some group still needs: its oldest
	// pending entry, or the one after its last delivered. NULL: no group.
	sqlTrimFloor = `SELECT min(coalesce(
			(SELECT min(p.entry_id) FROM pending p WHERE p.group_name = g.name),
			g.last_id + 1)) FROM consumer_group g`
	sqlEntryTrim = `DELETE FROM entry WHERE id < ?`

	sqlGroupCreate   = `INSERT INTO consumer_group (name, last_id) VALUES (?, 0) ON CONFLICT (name) DO NOTHING`
	sqlGroupLast     = `SELECT last_id FROM consumer_group WHERE name = ?`
	sqlGroupAdvance  = `UPDATE consumer_group SET last_id = ? WHERE name = ?`
	sqlPendingInsert = `INSERT INTO pending (group_name, entry_id, consumer, delivered_at) VALUES (?, ?, ?, ?)`
	sqlPendingDelete = `DELETE FROM pending WHERE group_name = ? AND entry_id = ?`
	// A group's pending entries idle since ?3 or before, after entry ?2;
	// the entry's columns are NULL when it is gone.
	sqlPendingIdle = `SELECT p.entry_id, e.id IS NOT NULL, coalesce(e.kind, 0), coalesce(e.tenant_id, ''),
			coalesce(e.event_id, ''), coalesce(e.event_name, ''), e.payload, coalesce(e.target_group, ''),
			coalesce(e.visitor_id, '')
		FROM pending p LEFT JOIN entry e ON e.id = p.entry_id
		WHERE p.group_name = ?1 AND p.entry_id > ?2 AND p.delivered_at <= ?3
		ORDER BY p.entry_id LIMIT ?4`
	sqlPendingClaim = `UPDATE pending SET consumer = ?, delivered_at = ? WHERE group_name = ? AND entry_id = ?`

	sqlDeadInsert = `INSERT INTO dead_letter (tenant_id, group_name, kind, event_id, event_name, payload, reason, at, visitor_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlDeadCountAdd = `INSERT INTO dead_letter_count (tenant_id, live, dropped) VALUES (?, 1, 0)
		ON CONFLICT (tenant_id) DO UPDATE SET live = live + 1 RETURNING live`
	sqlDeadDropOldest = `DELETE FROM dead_letter WHERE id IN
		(SELECT id FROM dead_letter WHERE tenant_id = ? ORDER BY id LIMIT ?)`
	sqlDeadCountDrop = `UPDATE dead_letter_count SET live = max(live - ?2, 0), dropped = dropped + ?2 WHERE tenant_id = ?1`
	sqlDeadCountSub  = `UPDATE dead_letter_count SET live = max(live - ?2, 0) WHERE tenant_id = ?1`
	sqlDeadList      = `SELECT id, group_name, kind, event_id, event_name, reason, at, payload, visitor_id FROM dead_letter
		WHERE tenant_id = ? ORDER BY id DESC LIMIT ?`
	sqlDeadDropped = `SELECT dropped FROM dead_letter_count WHERE tenant_id = ?`
	sqlDeadGet     = `SELECT group_name, kind, event_id, event_name, payload, visitor_id FROM dead_letter
		WHERE id = ? AND tenant_id = ?`
	sqlDeadDelete = `DELETE FROM dead_letter WHERE id = ?`

	// Per group: entries after its last delivered one (ids are never reused,
	// so the sequence minus last_id counts them; after EraseVisitor deleted
	// entries beyond a group's position it over-counts them until the group
	// reads past) plus its pending ones; the worst group.
	sqlLag = `SELECT coalesce(max(
			coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'entry'), 0) - g.last_id
			+ (SELECT count(*) FROM pending p WHERE p.group_name = g.name)), 0)
		FROM consumer_group g`
)
