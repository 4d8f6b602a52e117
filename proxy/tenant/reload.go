package tenant

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jaraba/pixelgw/store/secret"
)

// DefaultReloadInterval is how often a Reloader polls the config version.
const DefaultReloadInterval = 250 * time.Millisecond

// failureLogEvery throttles "cannot reload" logs while the store is down.
const failureLogEvery = time.Minute

// Reloader keeps a Registry current: it polls the store's config version
// and, when it changed, builds a new snapshot and swaps it in. A failed
// build keeps the previous snapshot. Start and Stop are idempotent; Stop is
// safe if Start never ran.
type Reloader struct {
	src      Source
	kr       *secret.Keyring
	reg      *Registry
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}
	stopped bool

	// Owned by the polling goroutine (and Start's first build, which
	// happens before the goroutine exists).
	failures  int
	lastLog   time.Time
	lastError string
}

// NewReloader builds a reloader; interval ≤ 0 means DefaultReloadInterval.
func NewReloader(src Source, kr *secret.Keyring, reg *Registry, log *slog.Logger, interval time.Duration) *Reloader {
	if interval <= 0 {
		interval = DefaultReloadInterval
	}
	return &Reloader{src: src, kr: kr, reg: reg, log: log, interval: interval, now: time.Now}
}

// ErrStopped: Start after Stop.
var ErrStopped = errors.New("reloader stopped")

// Start builds the first snapshot synchronously (an error here means the
// edge has no configuration to serve) and then polls in a goroutine owned by
// the reloader until Stop.
func (r *Reloader) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return ErrStopped
	}
	if r.done != nil {
		return nil
	}
	if err := r.reload(ctx); err != nil {
		return err
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	r.done = make(chan struct{})
	go r.loop(pctx, r.done)
	return nil
}

// Stop ends polling and waits for the goroutine, or for ctx.
func (r *Reloader) Stop(ctx context.Context) error {
	r.mu.Lock()
	r.stopped = true
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Reloader) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.poll(ctx); err != nil && ctx.Err() == nil {
			r.failed(ctx, err)
		}
	}
}

// poll rebuilds when the config version moved (or no snapshot exists yet).
func (r *Reloader) poll(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, max(r.interval*4, 2*time.Second))
	defer cancel()
	cur := r.reg.Snapshot()
	if cur != nil {
		v, err := r.src.ConfigVersion(pctx)
		if err != nil {
			return err
		}
		if v == cur.Version {
			r.recovered(ctx)
			return nil
		}
	}
	return r.reload(pctx)
}

// reload builds and swaps unconditionally.
func (r *Reloader) reload(ctx context.Context) error {
	s, err := Build(ctx, r.src, r.kr, r.now())
	if err != nil {
		return err
	}
	r.reg.Swap(s)
	for _, e := range s.Skipped {
		r.log.WarnContext(ctx, "tenant config skipped", slog.String("error", e.Error()))
	}
	r.log.DebugContext(ctx, "edge config loaded", slog.Int64("version", s.Version),
		slog.Int("tenants", s.Tenants()), slog.Int("domains", s.Domains()), slog.Int("skipped", len(s.Skipped)))
	r.recovered(ctx)
	return nil
}

func (r *Reloader) failed(ctx context.Context, err error) {
	r.failures++
	now := r.now()
	if r.failures == 1 || now.Sub(r.lastLog) >= failureLogEvery || err.Error() != r.lastError {
		r.log.ErrorContext(ctx, "cannot reload edge config; serving the previous snapshot",
			slog.String("error", err.Error()), slog.Int("failures", r.failures))
		r.lastLog, r.lastError = now, err.Error()
	}
}

func (r *Reloader) recovered(ctx context.Context) {
	if r.failures > 0 {
		r.log.InfoContext(ctx, "edge config reload recovered", slog.Int("failures", r.failures))
		r.failures, r.lastError = 0, ""
	}
}
