package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jaraba/pixelgw/internal/periodic"
	"github.com/jaraba/pixelgw/store"
)

// ipRetention is how long client and consent IPs are kept (SPEC §8, §11).
const ipRetention = 30 * 24 * time.Hour

// maintainer runs the periodic jobs: hourly the IP purge, the stats
// rollups' retention (store.StatsRetention) and, on PostgreSQL, the creation
// of the audit's daily partitions ahead of time; every minute the dedup
// count's reconciliation (store.Stats.ReconcileDedup). All are idempotent,
// so every instance may run them: a second run finds nothing to do (no fleet
// lock needed).
type maintainer struct {
	st         store.Store
	partition  func(ctx context.Context, from, to time.Time) error // nil in embedded mode
	log        *slog.Logger
	every      time.Duration
	dedupEvery time.Duration
	now        func() time.Time

	loop, dedupLoop periodic.Loop
}

func newMaintainer(st store.Store, partition func(ctx context.Context, from, to time.Time) error, log *slog.Logger) *maintainer {
	return &maintainer{st: st, partition: partition, log: log, every: time.Hour, dedupEvery: time.Minute, now: time.Now}
}

// reconcile counts the deduplicated events no batch could see.
func (m *maintainer) reconcile(ctx context.Context) {
	now := m.now().UTC()
	if n, err := m.st.ReconcileDedup(ctx, now.Add(-store.DedupReconcileWindow), now); err != nil {
		m.log.Warn("cannot reconcile the dedup count", slog.Any("err", err))
	} else if n > 0 {
		m.log.Debug("dedup count reconciled", slog.Int64("events", n))
	}
}

// run does one round of every job.
func (m *maintainer) run(ctx context.Context) {
	now := m.now().UTC()
	cut := now.Add(-ipRetention)
	if n, err := m.st.PurgeClientIPs(ctx, cut); err != nil {
		m.log.Warn("cannot purge client ips", slog.Any("err", err))
	} else if n > 0 {
		m.log.Info("client ips purged", slog.Int64("events", n))
	}
	if n, err := m.st.PurgeConsentIPs(ctx, cut); err != nil {
		m.log.Warn("cannot purge consent ips", slog.Any("err", err))
	} else if n > 0 {
		m.log.Info("consent ips purged", slog.Int64("records", n))
	}
	if n, err := m.st.PurgeStats(ctx, now); err != nil {
		m.log.Warn("cannot purge stats rollups", slog.Any("err", err))
	} else if n > 0 {
		m.log.Info("stats rollups purged", slog.Int64("rows", n))
	}
	if m.partition != nil {
		if err := m.partition(ctx, now.Add(-24*time.Hour), now.Add(7*24*time.Hour)); err != nil {
			m.log.Warn("cannot create audit partitions", slog.Any("err", err))
		}
	}
}

// Start runs every job now and then at its cadence, until Stop.
func (m *maintainer) Start(context.Context) error {
	m.loop.Start(m.every, true, m.run)
	m.dedupLoop.Start(m.dedupEvery, true, m.reconcile)
	return nil
}

// Stop waits for the rounds in progress (or ctx). Idempotent.
func (m *maintainer) Stop(ctx context.Context) error {
	return errors.Join(m.loop.Stop(ctx, "maintenance"), m.dedupLoop.Stop(ctx, "dedup reconciliation"))
}
