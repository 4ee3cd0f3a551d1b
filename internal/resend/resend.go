// Package resend sends again what was sent, or never sent: retry of one
// delivery, recovery of the failed deliveries of a window, and replay of
// events as new deliveries to the environment's current URLs (SPEC §10).
// Bulk work is paced, so that it never starves live traffic, and a second
// identical bulk call within a minute does nothing. A bulk replay answers
// at once and writes its deliveries in the background in small chunks,
// each when it is due, handed straight to the dispatcher as an ingest's
// are.
package resend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/intake"
)

// Defaults of a Service.
const (
	// DefaultRate is how many requeued or replayed deliveries a bulk call
	// makes due per second: their due times are spread at this rate, and
	// live deliveries, due at once, go between them.
	DefaultRate = 1000
	// Window is how long a second identical bulk call does nothing.
	Window = time.Minute
	// batch is how many deliveries or events one transaction handles.
	batch = 500
)

// Dispatcher is what resend needs of the delivery side: to be told that
// work was stored (Notify), to take new deliveries straight into its lanes
// as they are stored (SubmitBulk, as for an ingest), and to say how long
// live deliveries wait (LiveLag), which a replay yields to.
type Dispatcher interface {
	Notify()
	SubmitBulk(events []herald.EventRecord, commit func() (stored bool, err error)) error
	LiveLag(q float64, window time.Duration) (time.Duration, int)
}

// Config wires a Service.
type Config struct {
	Store      herald.Store
	Dispatcher Dispatcher
	// Rate paces bulk calls (deliveries made due per second); 0:
	// DefaultRate. A replay goes at most this fast, slower while live
	// traffic would wait for it (pace.go).
	Rate int
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Logger reports bulk replays that stop on an error; nil: slog.Default.
	Logger *slog.Logger
}

// Service retries, recovers and replays. It is safe for concurrent use.
// Close stops its background replays.
type Service struct {
	cfg Config
	// background is the context of bulk replays, cancelled by Close.
	background context.Context
	stop       context.CancelFunc
	wg         sync.WaitGroup
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Service{cfg: cfg}
	s.background, s.stop = context.WithCancel(context.Background())
	return s
}

// Close stops the bulk replays in progress, at the end of a batch, and
// waits for them. What they had not written yet is not sent: a replay
// is at-least-once for what it wrote, and can be called again.
func (s *Service) Close() {
	s.stop()
	s.wg.Wait()
}

// Retry queues one more round of attempts of a finished delivery now.
func (s *Service) Retry(ctx context.Context, env *herald.Environment, id string) (*herald.Delivery, error) {
	d, err := s.cfg.Store.RetryDelivery(ctx, env.ID, id, s.cfg.Now().UTC())
	if errors.Is(err, herald.ErrConflict) {
		return nil, &herald.Error{Code: herald.ErrorConflict, Message: "the delivery is already waiting for an attempt"}
	}
	if err != nil {
		return nil, err
	}
	s.cfg.Dispatcher.Notify()
	return d, nil
}

// Recover queues a new round of attempts for every failed delivery of env
// created in [since, until), paced, and returns how many.
func (s *Service) Recover(ctx context.Context, env *herald.Environment, since, until time.Time) (int, error) {
	if err := checkWindow(since, until); err != nil {
		return 0, err
	}
	if ok, err := s.once(ctx, env, "recover", since, until); err != nil || !ok {
		return 0, err
	}
	start := s.cfg.Now().UTC()
	total := 0
	for {
		n, err := s.cfg.Store.RecoverDeliveries(ctx, env.ID, since, until, s.dueAt(start, total), batch)
		total += n
		if err != nil {
			return total, err
		}
		if n > 0 {
			s.cfg.Dispatcher.Notify()
		}
		if n < batch {
			return total, nil
		}
	}
}

// ReplayEvent sends one event again as new deliveries to env's current
// URLs (its connections' overrides included), skipped or not, and returns
// how many events it queued: 1, or 0 when env has no URL for it.
func (s *Service) ReplayEvent(ctx context.Context, env *herald.Environment, id string) (int, error) {
	ev, _, err := s.cfg.Store.GetEvent(ctx, env.ID, id)
	if err != nil {
		return 0, err
	}
	if ok, err := s.once(ctx, env, "replay-event", id); err != nil || !ok {
		return 0, err
	}
	// The event, found by the millisecond it was created in.
	f := herald.EventFilter{Since: &ev.CreatedAt, Until: ptr(ev.CreatedAt.Add(time.Millisecond))}
	var after string
	for {
		srcs, err := s.cfg.Store.ReplaySources(ctx, env.ID, f, after, batch)
		if err != nil {
			return 0, err
		}
		for _, src := range srcs {
			if src.Event.ID == id {
				n, err := s.replay(ctx, env, []herald.ReplaySource{src})
				return min(n, 1), err
			}
		}
		if len(srcs) < batch {
			return 0, herald.ErrNotFound
		}
		after = srcs[len(srcs)-1].Event.ID
	}
}

// Replay sends every event of env that f selects again (f.Limit and
// f.Cursor are ignored) and returns how many events it selected. Their
// deliveries are written in the background in small chunks, one each
// tick, at up to Rate deliveries a second and slower while live traffic
// would wait for them (pace.go).
func (s *Service) Replay(ctx context.Context, env *herald.Environment, f herald.EventFilter) (int, error) {
	if f.Since == nil || f.Until == nil {
		return 0, herald.Invalid("since", "since and until are required")
	}
	if err := checkWindow(*f.Since, *f.Until); err != nil {
		return 0, err
	}
	if ok, err := s.once(ctx, env, "replay", f.Since, f.Until, f.Type, f.ConnectionID, f.ProviderConfigKey, f.Status); err != nil || !ok {
		return 0, err
	}
	n, err := s.cfg.Store.CountReplay(ctx, env.ID, f)
	if err != nil || n == 0 {
		return 0, err
	}
	f.Cursor, f.Limit = "", 0
	s.wg.Go(func() {
		if err := s.replayAll(s.background, env, f); err != nil && s.background.Err() == nil {
			s.cfg.Logger.Error("replay stopped", "environment_id", env.ID, "err", err)
		}
	})
	return n, nil
}

// replayAll writes the deliveries of every event f selects, a chunk each
// tick, as many as the pacer's rate allows.
func (s *Service) replayAll(ctx context.Context, env *herald.Environment, f herald.EventFilter) error {
	p := newPacer(s.cfg.Rate)
	// What the last chunks wrote beyond their share, or left of it.
	credit := 0.0
	var after string
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		lag, n := s.cfg.Dispatcher.LiveLag(lagQuantile, lagWindow)
		credit += p.observe(s.cfg.Now(), lag, n) * tick.Seconds()
		if credit >= 1 {
			// Events, not deliveries, are fetched: one event may make
			// several deliveries, which the credit then owes.
			chunk := min(batch, int(credit))
			srcs, err := s.cfg.Store.ReplaySources(ctx, env.ID, f, after, chunk)
			if err != nil {
				return err
			}
			written, err := s.replay(ctx, env, srcs)
			credit -= float64(max(written, len(srcs)))
			if err != nil || len(srcs) < chunk {
				return err
			}
			after = srcs[len(srcs)-1].Event.ID
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// replay stores new deliveries for srcs, due now, and hands them to the
// dispatcher as they are stored (those it has no room for wait in the
// store, pending, like any other). It returns how many it stored.
func (s *Service) replay(ctx context.Context, env *herald.Environment, srcs []herald.ReplaySource) (int, error) {
	targets, err := s.targets(ctx, env, srcs)
	if err != nil {
		return 0, err
	}
	now := s.cfg.Now().UTC()
	var recs []herald.EventRecord
	n := 0
	for _, src := range srcs {
		ev := src.Event
		sends := src.Sends
		if len(sends) == 0 {
			sends = []herald.ReplaySend{{ConnectionID: ev.ConnectionID}}
		}
		var ds []herald.Delivery
		for _, send := range sends {
			for _, u := range targets(send.ConnectionID, ev.ProviderConfigKey) {
				id, err := uuid.NewV7()
				if err != nil {
					return 0, err
				}
				ds = append(ds, herald.Delivery{ID: id.String(), EventID: ev.ID, EnvironmentID: env.ID, Type: ev.Type,
					ConnectionID: send.ConnectionID, ProviderConfigKey: ev.ProviderConfigKey, URL: u,
					Status: herald.StatusPending, CreatedAt: now, UpdatedAt: now, NextAttemptAt: &now, Body: send.Body})
			}
		}
		if len(ds) > 0 {
			recs = append(recs, herald.EventRecord{Event: ev, Deliveries: ds})
			n += len(ds)
		}
	}
	if n == 0 {
		return 0, nil
	}
	// Submit marks the deliveries it has room for as already claimed
	// before commit stores them.
	err = s.cfg.Dispatcher.SubmitBulk(recs, func() (bool, error) {
		ds := make([]herald.Delivery, 0, n)
		for _, r := range recs {
			ds = append(ds, r.Deliveries...)
		}
		return true, s.cfg.Store.AddDeliveries(ctx, env.ID, ds)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// targets gives the URLs a replayed delivery about one connection goes
// to now: its override, or the environment's URLs (intake.Targets).
func (s *Service) targets(ctx context.Context, env *herald.Environment, srcs []herald.ReplaySource) (func(conn, pck string) []string, error) {
	var refs []herald.ConnectionRef
	for _, src := range srcs {
		refs = append(refs, herald.ConnectionRef{ProviderConfigKey: src.Event.ProviderConfigKey, ConnectionID: src.Event.ConnectionID})
		for _, send := range src.Sends {
			refs = append(refs, herald.ConnectionRef{ProviderConfigKey: src.Event.ProviderConfigKey, ConnectionID: send.ConnectionID})
		}
	}
	return intake.Targets(ctx, s.cfg.Store, env, refs)
}

// dueAt is when the n-th delivery of a bulk call that started at start
// becomes due: n/Rate seconds later.
func (s *Service) dueAt(start time.Time, n int) time.Time {
	return start.Add(time.Duration(n) * time.Second / time.Duration(s.cfg.Rate))
}

// once claims a bulk call by what it asks, for Window.
func (s *Service) once(ctx context.Context, env *herald.Environment, op string, args ...any) (bool, error) {
	b, err := json.Marshal(args)
	if err != nil {
		return false, err
	}
	sum := sha256.Sum256(b)
	return s.cfg.Store.ClaimOnce(ctx, env.ID, op+":"+hex.EncodeToString(sum[:16]), Window, s.cfg.Now().UTC())
}

// maxWindow bounds a bulk call's time range.
const maxWindow = 90 * 24 * time.Hour

func checkWindow(since, until time.Time) error {
	switch {
	case !since.Before(until):
		return herald.Invalid("until", "must be after since")
	case until.Sub(since) > maxWindow:
		return herald.Invalid("until", fmt.Sprintf("the window may span at most %d days", int(maxWindow.Hours()/24)))
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
