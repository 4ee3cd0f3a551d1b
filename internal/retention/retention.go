package retention

import (
	"context"
	"log/slog"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/telemetry"
)

// Defaults of Config.
const (
	DefaultInterval = time.Minute
	DefaultBatch    = 1000
	DefaultPause    = 100 * time.Millisecond
)

// Config configures a Pruner.
type Config struct {
	Store herald.RetentionStore
	// Retention is the age past which finished deliveries, their attempts
	// and their events are deleted; 0 keeps them for ever.
	Retention time.Duration
	// BodyRetention is the age past which the bodies of events whose
	// deliveries are all finished are emptied; 0 keeps them.
	BodyRetention time.Duration
	// Interval is the time between passes; 0: DefaultInterval.
	Interval time.Duration
	// Batch is the most rows a store call prunes; 0: DefaultBatch.
	Batch int
	// Pause is the wait between two full batches; 0: DefaultPause.
	Pause   time.Duration
	Metrics *telemetry.Metrics // nil: not counted
	Logger  *slog.Logger       // nil: slog.Default()
	// Now and After are the clock (tests inject theirs); nil: time.Now
	// and time.After.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

// Pruner runs retention passes.
type Pruner struct {
	cfg Config
}

// New returns a Pruner; it does nothing until Run.
func New(cfg Config) *Pruner {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Pause <= 0 {
		cfg.Pause = DefaultPause
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	return &Pruner{cfg: cfg}
}

// Run makes a pass at once, then one every interval, until ctx is done.
func (p *Pruner) Run(ctx context.Context) {
	for {
		p.Pass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-p.cfg.After(p.cfg.Interval):
		}
	}
}

// EndpointStatsKept is how long endpoints' per-minute figures are kept:
// GET /endpoints shows the last hour.
const EndpointStatsKept = 2 * time.Hour

// Pass prunes everything due now, batch after batch, and returns the
// number of deliveries deleted and of bodies emptied. Idempotency keys
// older than their window (herald.IdempotencyWindow) and endpoints'
// figures older than EndpointStatsKept go too, whatever the retention:
// nothing reads them any more. A store error is logged and
// ends that kind of pruning until the next pass.
func (p *Pruner) Pass(ctx context.Context) (deliveries, bodies int) {
	now := p.cfg.Now()
	keys := p.loop(ctx, "idempotency keys", now.Add(-herald.IdempotencyWindow), p.cfg.Store.PruneIdempotencyKeys, func(int) {})
	p.loop(ctx, "endpoint figures", now.Add(-EndpointStatsKept), p.cfg.Store.PruneEndpointStats, func(int) {})
	if p.cfg.Retention > 0 {
		deliveries = p.loop(ctx, "deliveries", now.Add(-p.cfg.Retention), p.cfg.Store.PruneDeliveries,
			func(n int) { p.cfg.Metrics.Pruned(n, 0) })
	}
	if p.cfg.BodyRetention > 0 {
		bodies = p.loop(ctx, "bodies", now.Add(-p.cfg.BodyRetention), p.cfg.Store.PruneBodies,
			func(n int) { p.cfg.Metrics.Pruned(0, n) })
	}
	if deliveries > 0 || bodies > 0 || keys > 0 {
		p.cfg.Logger.Info("retention pass", "pruned_deliveries", deliveries, "pruned_bodies", bodies, "pruned_idempotency_keys", keys)
	}
	return deliveries, bodies
}

// loop calls prune until a batch comes back short, pausing between
// batches so that other writers get the database.
func (p *Pruner) loop(ctx context.Context, what string, before time.Time,
	prune func(context.Context, time.Time, int) (int, error), count func(int)) int {
	total := 0
	for ctx.Err() == nil {
		n, err := prune(ctx, before, p.cfg.Batch)
		if err != nil {
			if ctx.Err() == nil {
				p.cfg.Logger.Error("retention: prune "+what, "err", err)
			}
			return total
		}
		count(n)
		total += n
		if n < p.cfg.Batch {
			return total
		}
		select {
		case <-ctx.Done():
		case <-p.cfg.After(p.cfg.Pause):
		}
	}
	return total
}
