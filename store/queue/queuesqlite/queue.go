// Package queuesqlite is the embedded-mode queue.Queue: its own SQLite file
// (modernc.org/sqlite, no cgo) holding the dedup ledger, the revocation set,
// the queue and the consumer groups. Each Admit is ONE transaction, so the
// revocation check, the dedup mark and the enqueue are atomic, and a restart
// keeps the dedup window.
//
// The file has one write connection (transactions begin IMMEDIATE, WAL,
// synchronous=NORMAL: durable across a process crash; a power cut may lose
// the last commits, never corrupt the file). Expired dedup keys of a tenant
// are purged inside that tenant's next Admit (up to Options.PurgeLimit rows)
// and by the loop Start runs; a key that has expired is never reported as a
// Duplicate, purged or not, so the per-tenant live count is exact up to
// expired rows not yet purged (it over-counts, never under-counts).
//
// Entries are deleted once every consumer group has acknowledged them
// (checked on every Ack). With no group, nothing is deleted. An entry
// targeted at one group (entry.target_group, a replayed dead letter) is
// never pending in the other groups: their Read passes over it.
//
// Dead letters live in table dead_letter (per tenant, capped by
// Options.DeadLetterCap with dead_letter_count keeping the live and dropped
// counts); DeadLetter and Replay are one transaction each (deadletter.go).
// EraseVisitor's markers live in table erasure, purged with the expired
// revocations (erase.go).
package queuesqlite

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/jaraba/pixelgw/internal/periodic"
	"github.com/jaraba/pixelgw/internal/sqlitefile"
	"github.com/jaraba/pixelgw/store/queue"
)

//go:embed schema.sql
var schema string

// busyTimeout is how long a connection waits for a lock held by another
// process before failing.
const busyTimeout = 10 * time.Second

// Options configures a Queue.
type Options struct {
	queue.Options
	// Logger receives the purge loop's warnings; nil discards them.
	Logger *slog.Logger
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// PurgeInterval is how often Start's loop deletes expired dedup keys and
	// revocations of every tenant (1 minute by default).
	PurgeInterval time.Duration
	// PurgeLimit bounds the expired keys one Admit deletes per tenant it
	// touches (1,000 by default), so no request pays for a large backlog.
	PurgeLimit int
}

func (o Options) withDefaults() Options {
	o.Options = o.Options.WithDefaults()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PurgeInterval <= 0 {
		o.PurgeInterval = time.Minute
	}
	if o.PurgeLimit <= 0 {
		o.PurgeLimit = 1000
	}
	return o
}

// Queue is the SQLite queue.Queue.
type Queue struct {
	db   *sql.DB
	opts Options
	st   stmts // Admit's statements, prepared once on the one connection

	mu     sync.Mutex
	notify chan struct{} // closed (and replaced) when entries are added: wakes blocked readers
	purger periodic.Loop
}

// Open opens (creating it, mode 0600, with its schema) the queue database at
// path. It must be a file of its own, not the store's database.
func Open(ctx context.Context, path string, opts Options) (*Queue, error) {
	if err := sqlitefile.Create(path, "queue database"); err != nil {
		return nil, err
	}
	// A 32 MB page cache keeps the random-keyed dedup index mostly in memory.
	dsn := fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-32000)&_txlock=immediate",
		path, busyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("cannot open queue database: %w", err)
	}
	sqlitefile.OneConnection(db)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("cannot create queue schema: %w", err)
	}
	if err := addColumns(ctx, db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("cannot update queue schema: %w", err)
	}
	q := &Queue{db: db, opts: opts.withDefaults(), notify: make(chan struct{})}
	if err := q.st.prepare(ctx, db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("cannot prepare queue statements: %w", err)
	}
	return q, nil
}

// addColumns adds the columns later versions introduced to a queue file
// created before them: entry.target_group (dead letters), entry.visitor_id
// and dead_letter.visitor_id (erasure). Another process may add one at the
// same moment: a failed ALTER is fine if the column is there afterwards.
func addColumns(ctx context.Context, db *sql.DB) error {
	for _, c := range []struct{ table, column, ddl string }{
		{"entry", "target_group", `ALTER TABLE entry ADD COLUMN target_group TEXT NOT NULL DEFAULT ''`},
		{"entry", "visitor_id", `ALTER TABLE entry ADD COLUMN visitor_id TEXT NOT NULL DEFAULT ''`},
		{"dead_letter", "visitor_id", `ALTER TABLE dead_letter ADD COLUMN visitor_id TEXT NOT NULL DEFAULT ''`},
	} {
		has := func() (bool, error) {
			var n int
			err := db.QueryRowContext(ctx, sqlHasColumn, c.table, c.column).Scan(&n)
			return n > 0, err
		}
		ok, err := has()
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		if _, aerr := db.ExecContext(ctx, c.ddl); aerr != nil {
			if ok, err := has(); err != nil || !ok {
				return aerr
			}
		}
	}
	return nil
}

// stmts are Admit's statements. Prepared once: SQLite would otherwise
// parse each statement again for every entry.
type stmts struct {
	revocation, dedupGet, dedupDelete, dedupInsert, dedupPurgeTenant, liveCount, liveSet, entryInsert *sql.Stmt
}

func (s *stmts) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.revocation, sqlRevocation}, {&s.dedupGet, sqlDedupGet}, {&s.dedupDelete, sqlDedupDelete},
		{&s.dedupInsert, sqlDedupInsert}, {&s.dedupPurgeTenant, sqlDedupPurgeTenant},
		{&s.liveCount, sqlLiveCount}, {&s.liveSet, sqlLiveSet}, {&s.entryInsert, sqlEntryInsert},
	} {
		st, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			return err
		}
		*p.stmt = st
	}
	return nil
}

// txStmts binds the prepared statements to tx.
func (s *stmts) in(ctx context.Context, tx *sql.Tx) stmts {
	return stmts{
		revocation: tx.StmtContext(ctx, s.revocation), dedupGet: tx.StmtContext(ctx, s.dedupGet),
		dedupDelete: tx.StmtContext(ctx, s.dedupDelete), dedupInsert: tx.StmtContext(ctx, s.dedupInsert),
		dedupPurgeTenant: tx.StmtContext(ctx, s.dedupPurgeTenant), liveCount: tx.StmtContext(ctx, s.liveCount),
		liveSet: tx.StmtContext(ctx, s.liveSet), entryInsert: tx.StmtContext(ctx, s.entryInsert),
	}
}

// Close closes the database. Stop the purge loop first.
func (q *Queue) Close() error {
	if err := q.db.Close(); err != nil { // closes the prepared statements too
		return fmt.Errorf("cannot close queue database: %w", err)
	}
	return nil
}

func (q *Queue) now() int64 { return q.opts.Now().UnixMilli() }

// inTx runs fn in a write transaction and commits it if fn succeeds.
func (q *Queue) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// wake wakes readers blocked in Read.
func (q *Queue) wake() {
	q.mu.Lock()
	close(q.notify)
	q.notify = make(chan struct{})
	q.mu.Unlock()
}

func (q *Queue) waiter() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.notify
}

// tenantState is one tenant's live-key count inside an Admit transaction.
type tenantState struct {
	live    int64
	changed bool
}

// Admit implements queue.Queue in one transaction.
func (q *Queue) Admit(ctx context.Context, entries []queue.Entry) ([]queue.Result, error) {
	if err := queue.ValidateBatch(entries); err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return []queue.Result{}, nil
	}
	res := make([]queue.Result, len(entries))
	var added bool
	err := q.inTx(ctx, func(tx *sql.Tx) error {
		added = false
		now := q.now()
		st := q.st.in(ctx, tx)
		tenants := map[string]*tenantState{}
		tenant := func(id string) (*tenantState, error) {
			if ts, ok := tenants[id]; ok {
				return ts, nil
			}
			purged, err := purgeTenant(ctx, st.dedupPurgeTenant, id, now, q.opts.PurgeLimit)
			if err != nil {
				return nil, err
			}
			var live int64
			if err := st.liveCount.QueryRowContext(ctx, id).Scan(&live); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, fmt.Errorf("cannot read live keys: %w", err)
			}
			ts := &tenantState{live: max(live-purged, 0), changed: purged > 0}
			tenants[id] = ts
			return ts, nil
		}
		for i := range entries {
			e := &entries[i]
			if e.VisitorID != "" && !e.DecidedAt.IsZero() {
				var decided int64
				err := st.revocation.QueryRowContext(ctx, e.TenantID, e.VisitorID, now).Scan(&decided)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("cannot check revocation: %w", err)
				}
				if err == nil && decided > max(e.DecidedAt.UnixMilli(), 1) {
					res[i] = queue.Revoked
					continue
				}
			}
			ts, err := tenant(e.TenantID)
			if err != nil {
				return err
			}
			key := e.DedupKey()
			var expires int64
			err = st.dedupGet.QueryRowContext(ctx, key[:]).Scan(&expires)
			switch {
			case err == nil && expires > now:
				res[i] = queue.Duplicate
				if e.Conversion {
					if err := insertEntry(ctx, st.entryInsert, queue.KindMerge, e); err != nil {
						return err
					}
					added = true
				}
				continue
			case err == nil: // expired, not purged yet
				if _, err := st.dedupDelete.ExecContext(ctx, key[:]); err != nil {
					return fmt.Errorf("cannot delete expired dedup key: %w", err)
				}
				ts.live, ts.changed = max(ts.live-1, 0), true
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("cannot read dedup key: %w", err)
			}
			if ts.live >= q.opts.MaxKeysPerTenant {
				res[i] = queue.OverCap
				continue
			}
			if _, err := st.dedupInsert.ExecContext(ctx, key[:], e.TenantID, now+e.Window.Milliseconds()); err != nil {
				return fmt.Errorf("cannot insert dedup key: %w", err)
			}
			ts.live, ts.changed = ts.live+1, true
			if err := insertEntry(ctx, st.entryInsert, queue.KindEvent, e); err != nil {
				return err
			}
			added = true
			res[i] = queue.Queued
		}
		for id, ts := range tenants {
			if !ts.changed {
				continue
			}
			if _, err := st.liveSet.ExecContext(ctx, id, ts.live); err != nil {
				return fmt.Errorf("cannot update live keys: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot admit %d entries: %w", len(entries), err)
	}
	if added {
		q.wake()
	}
	return res, nil
}

func insertEntry(ctx context.Context, stmt *sql.Stmt, kind queue.Kind, e *queue.Entry) error {
	payload := e.Payload
	if payload == nil {
		payload = []byte{}
	}
	if _, err := stmt.ExecContext(ctx, int(kind), e.TenantID, e.EventID, e.EventName, payload, e.VisitorID); err != nil {
		return fmt.Errorf("cannot enqueue entry: %w", err)
	}
	return nil
}

// purgeTenant deletes up to limit expired dedup keys of tenant and returns
// how many it deleted. It does not touch the live count.
func purgeTenant(ctx context.Context, stmt *sql.Stmt, tenant string, now int64, limit int) (int64, error) {
	r, err := stmt.ExecContext(ctx, tenant, now, limit)
	if err != nil {
		return 0, fmt.Errorf("cannot purge expired dedup keys: %w", err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("cannot purge expired dedup keys: %w", err)
	}
	return n, nil
}

// SetDecision implements queue.Queue.
func (q *Queue) SetDecision(ctx context.Context, tenantID, visitorID string, at time.Time, ttl time.Duration) error {
	if tenantID == "" || visitorID == "" {
		return fmt.Errorf("cannot set decision: %w: empty tenant or visitor id", queue.ErrInvalidEntry)
	}
	if ttl < time.Millisecond {
		return fmt.Errorf("cannot set decision: %w: ttl %s is under 1ms", queue.ErrInvalidEntry, ttl)
	}
	now := q.now()
	if _, err := q.db.ExecContext(ctx, sqlRevocationSet, tenantID, visitorID, at.UnixMilli(), now+ttl.Milliseconds(), now); err != nil {
		return fmt.Errorf("cannot set decision: %w", err)
	}
	return nil
}

// Read implements queue.Queue.
func (q *Queue) Read(ctx context.Context, group, consumer string, n int, block time.Duration) ([]queue.Message, error) {
	if n <= 0 {
		return []queue.Message{}, nil
	}
	var deadline <-chan time.Time
	if block > 0 {
		t := time.NewTimer(block)
		defer t.Stop()
		deadline = t.C
	}
	for {
		wake := q.waiter() // before the read, so an admit in between is not missed
		msgs, err := q.claim(ctx, group, consumer, n)
		if err != nil || len(msgs) > 0 || deadline == nil {
			return msgs, err
		}
		select {
		case <-wake:
		case <-deadline:
			return []queue.Message{}, nil
		case <-ctx.Done():
			return nil, fmt.Errorf("cannot read group %q: %w", group, ctx.Err())
		}
	}
}

func (q *Queue) claim(ctx context.Context, group, consumer string, n int) ([]queue.Message, error) {
	out := []queue.Message{}
	err := q.inTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		if _, err := tx.ExecContext(ctx, sqlGroupCreate, group); err != nil {
			return fmt.Errorf("cannot create group: %w", err)
		}
		var last int64
		if err := tx.QueryRowContext(ctx, sqlGroupLast, group).Scan(&last); err != nil {
			return fmt.Errorf("cannot read group: %w", err)
		}
		start, now := last, q.now()
		// Entries for other groups are passed over (never pending: that is
		// their ack); read on while a full page held only such entries.
		for {
			msgs, ids, seen, lastSeen, err := entriesAfter(ctx, tx, group, last, n)
			if err != nil {
				return err
			}
			for _, id := range ids {
				if _, err := tx.ExecContext(ctx, sqlPendingInsert, group, id, consumer, now); err != nil {
					return fmt.Errorf("cannot record pending entry: %w", err)
				}
			}
			out = append(out, msgs...)
			last = max(last, lastSeen)
			if len(out) > 0 || seen < n {
				break
			}
		}
		if last == start {
			return nil
		}
		if _, err := tx.ExecContext(ctx, sqlGroupAdvance, last, group); err != nil {
			return fmt.Errorf("cannot advance group: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read group %q: %w", group, err)
	}
	return out, nil
}

// entriesAfter reads up to n entries after id `after` and returns those for
// group (targeted at it or at every group) with their ids, how many rows it
// saw and the last id it saw.
func entriesAfter(ctx context.Context, tx *sql.Tx, group string, after int64, n int) ([]queue.Message, []int64, int, int64, error) {
	rows, err := tx.QueryContext(ctx, sqlEntriesAfter, after, n)
	if err != nil {
		return nil, nil, 0, 0, fmt.Errorf("cannot read entries: %w", err)
	}
	var (
		out  []queue.Message
		ids  []int64
		seen int
		last int64
	)
	for rows.Next() {
		var (
			id   int64
			kind int
			m    queue.Message
		)
		if err := rows.Scan(&id, &kind, &m.TenantID, &m.EventID, &m.EventName, &m.Payload, &m.Group, &m.VisitorID); err != nil {
			_ = rows.Close()
			return nil, nil, 0, 0, fmt.Errorf("cannot read entries: %w", err)
		}
		seen, last = seen+1, id
		if m.Group != "" && m.Group != group {
			continue
		}
		if len(m.Payload) == 0 {
			m.Payload = nil
		}
		m.ID, m.Kind = strconv.FormatInt(id, 10), queue.Kind(kind)
		out = append(out, m)
		ids = append(ids, id)
	}
	if err := errors.Join(rows.Close(), rows.Err()); err != nil {
		return nil, nil, 0, 0, fmt.Errorf("cannot read entries: %w", err)
	}
	return out, ids, seen, last, nil
}

// Reclaim implements queue.Queue: the group's pending rows delivered at
// least minIdle ago move to consumer, delivered now. Rows whose entry is
// gone, or that belong to another group's replay, are acknowledged.
func (q *Queue) Reclaim(ctx context.Context, group, consumer string, minIdle time.Duration, n int) ([]queue.Message, error) {
	out := []queue.Message{}
	if n <= 0 {
		return out, nil
	}
	err := q.inTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		now := q.now()
		cutoff := now - max(minIdle, 0).Milliseconds()
		var after int64
		for len(out) < n {
			type row struct {
				id     int64
				exists bool
				m      queue.Message
			}
			limit := n - len(out)
			rows, err := tx.QueryContext(ctx, sqlPendingIdle, group, after, cutoff, limit)
			if err != nil {
				return fmt.Errorf("cannot read pending entries: %w", err)
			}
			var page []row
			for rows.Next() {
				var (
					r    row
					kind int
				)
				if err := rows.Scan(&r.id, &r.exists, &kind, &r.m.TenantID, &r.m.EventID, &r.m.EventName, &r.m.Payload, &r.m.Group, &r.m.VisitorID); err != nil {
					_ = rows.Close()
					return fmt.Errorf("cannot read pending entries: %w", err)
				}
				r.m.ID, r.m.Kind = strconv.FormatInt(r.id, 10), queue.Kind(kind)
				if len(r.m.Payload) == 0 {
					r.m.Payload = nil
				}
				page = append(page, r)
			}
			if err := errors.Join(rows.Close(), rows.Err()); err != nil {
				return fmt.Errorf("cannot read pending entries: %w", err)
			}
			for _, r := range page {
				after = r.id
				if !r.exists || (r.m.Group != "" && r.m.Group != group) {
					if _, err := tx.ExecContext(ctx, sqlPendingDelete, group, r.id); err != nil {
						return fmt.Errorf("cannot delete pending entry: %w", err)
					}
					continue
				}
				if _, err := tx.ExecContext(ctx, sqlPendingClaim, consumer, now, group, r.id); err != nil {
					return fmt.Errorf("cannot claim pending entry: %w", err)
				}
				out = append(out, r.m)
			}
			if len(page) < limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot reclaim entries of group %q: %w", group, err)
	}
	return out, nil
}

// Ack implements queue.Queue and deletes what every group has acknowledged.
// Ids that are not this queue's (not decimal) are ignored like unknown ones.
func (q *Queue) Ack(ctx context.Context, group string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	err := q.inTx(ctx, func(tx *sql.Tx) error {
		for _, s := range ids {
			id, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				continue
			}
			if _, err := tx.ExecContext(ctx, sqlPendingDelete, group, id); err != nil {
				return fmt.Errorf("cannot delete pending entry: %w", err)
			}
		}
		var floor sql.NullInt64
		if err := tx.QueryRowContext(ctx, sqlTrimFloor).Scan(&floor); err != nil {
			return fmt.Errorf("cannot compute trim point: %w", err)
		}
		if floor.Valid {
			if _, err := tx.ExecContext(ctx, sqlEntryTrim, floor.Int64); err != nil {
				return fmt.Errorf("cannot trim entries: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot ack %d entries of group %q: %w", len(ids), group, err)
	}
	return nil
}

// Lag implements queue.Queue.
func (q *Queue) Lag(ctx context.Context) (int64, error) {
	var lag int64
	if err := q.db.QueryRowContext(ctx, sqlLag).Scan(&lag); err != nil {
		return 0, fmt.Errorf("cannot compute queue lag: %w", err)
	}
	return lag, nil
}

// Ping implements queue.Queue.
func (q *Queue) Ping(ctx context.Context) error {
	var one int
	if err := q.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("cannot ping queue database: %w", err)
	}
	return nil
}

// Purge deletes every tenant's expired dedup keys (keeping the live counts
// exact), the expired revocations and the expired erasure markers. Start runs it every PurgeInterval.
func (q *Queue) Purge(ctx context.Context) error {
	rows, err := q.db.QueryContext(ctx, sqlLiveTenants)
	if err != nil {
		return fmt.Errorf("cannot list tenants to purge: %w", err)
	}
	var tenants []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			_ = rows.Close()
			return fmt.Errorf("cannot list tenants to purge: %w", err)
		}
		tenants = append(tenants, id)
	}
	if err := errors.Join(rows.Close(), rows.Err()); err != nil {
		return fmt.Errorf("cannot list tenants to purge: %w", err)
	}
	const chunk = 10_000 // rows per transaction: keeps the writer free for Admit
	for _, id := range tenants {
		for {
			var n int64
			err := q.inTx(ctx, func(tx *sql.Tx) error {
				var err error
				if n, err = purgeTenant(ctx, tx.StmtContext(ctx, q.st.dedupPurgeTenant), id, q.now(), chunk); err != nil || n == 0 {
					return err
				}
				_, err = tx.ExecContext(ctx, sqlLiveAdd, id, -n)
				return err
			})
			if err != nil {
				return fmt.Errorf("cannot purge tenant dedup keys: %w", err)
			}
			if n < chunk {
				break
			}
		}
	}
	if _, err := q.db.ExecContext(ctx, sqlRevocationPurge, q.now()); err != nil {
		return fmt.Errorf("cannot purge revocations: %w", err)
	}
	if _, err := q.db.ExecContext(ctx, sqlErasurePurge, q.now()); err != nil {
		return fmt.Errorf("cannot purge erasure markers: %w", err)
	}
	return nil
}

// Start runs the purge loop until Stop. Calling it twice is a no-op.
func (q *Queue) Start(context.Context) error {
	q.purger.Start(q.opts.PurgeInterval, false, func(ctx context.Context) {
		if err := q.Purge(ctx); err != nil && ctx.Err() == nil {
			q.opts.Logger.Warn("queue purge failed", slog.String("error", err.Error()))
		}
	})
	return nil
}

// Stop ends the purge loop and waits for it (or ctx). Safe if never
// started; idempotent.
func (q *Queue) Stop(ctx context.Context) error { return q.purger.Stop(ctx, "queue purge") }

// Interface guards
var _ queue.Queue = (*Queue)(nil)
