package retention

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/telemetry"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type call struct {
	what   string
	before time.Time
	limit  int
}

// fakeStore answers each prune call with the next scripted count (0 when
// the script is out), and records the calls.
type fakeStore struct {
	mu              sync.Mutex
	calls           []call
	deliveries      []int
	bodies          []int
	keys            []int
	errOnDeliveries error
}

func (f *fakeStore) next(what string, script *[]int, before time.Time, limit int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{what, before, limit})
	if len(*script) == 0 {
		return 0
	}
	n := (*script)[0]
	*script = (*script)[1:]
	return n
}

func (f *fakeStore) PruneDeliveries(_ context.Context, before time.Time, limit int) (int, error) {
	if f.errOnDeliveries != nil {
		f.next("deliveries", new([]int), before, limit)
		return 0, f.errOnDeliveries
	}
	return f.next("deliveries", &f.deliveries, before, limit), nil
}

func (f *fakeStore) PruneBodies(_ context.Context, before time.Time, limit int) (int, error) {
	return f.next("bodies", &f.bodies, before, limit), nil
}

func (f *fakeStore) PruneIdempotencyKeys(_ context.Context, before time.Time, limit int) (int, error) {
	return f.next("keys", &f.keys, before, limit), nil
}

func (f *fakeStore) PruneEndpointStats(_ context.Context, before time.Time, limit int) (int, error) {
	return f.next("endpoint figures", new([]int), before, limit), nil
}

func (f *fakeStore) taken() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.calls
	f.calls = nil
	return out
}

// wait is one After call of the pruner, which the test fires.
type wait struct {
	d  time.Duration
	ch chan time.Time
}

// clock is an injected clock: the pruner's waits arrive on waits.
type clock struct {
	now   time.Time
	waits chan wait
}

func (c *clock) after(d time.Duration) <-chan time.Time {
	w := wait{d, make(chan time.Time, 1)}
	c.waits <- w
	return w.ch
}

// next is the pruner's next wait, within a bound.
func (c *clock) next(t *testing.T) wait {
	t.Helper()
	select {
	case w := <-c.waits:
		return w
	case <-time.After(10 * time.Second):
		t.Fatal("the pruner did not wait within 10 s")
		return wait{}
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestRunBatchesAndIntervals(t *testing.T) {
	store := &fakeStore{deliveries: []int{3, 3, 1, 0, 2}, bodies: []int{3, 0, 0, 1}}
	clk := &clock{now: t0, waits: make(chan wait)}
	metrics := telemetry.New(nil)
	p := New(Config{Store: store, Retention: 720 * time.Hour, BodyRetention: 168 * time.Hour,
		Interval: time.Minute, Batch: 3, Pause: 50 * time.Millisecond, Metrics: metrics,
		Now: func() time.Time { return clk.now }, After: clk.after,
		Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()

	// First pass at once: deliveries 3, pause, 3, pause, 1 (short: done);
	// bodies 3, pause, 0.
	for _, want := range []time.Duration{50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond, time.Minute} {
		w := clk.next(t)
		if w.d != want {
			t.Fatalf("waited %v, want %v", w.d, want)
		}
		if w.d == time.Minute {
			// The interval: the pass is over.
			calls := store.taken()
			wantCalls := []call{
				{"keys", t0.Add(-24 * time.Hour), 3}, {"endpoint figures", t0.Add(-EndpointStatsKept), 3},
				{"deliveries", t0.Add(-720 * time.Hour), 3}, {"deliveries", t0.Add(-720 * time.Hour), 3},
				{"deliveries", t0.Add(-720 * time.Hour), 3},
				{"bodies", t0.Add(-168 * time.Hour), 3}, {"bodies", t0.Add(-168 * time.Hour), 3},
			}
			if !equalCalls(calls, wantCalls) {
				t.Fatalf("first pass calls %v, want %v", calls, wantCalls)
			}
			clk.now = t0.Add(time.Minute) // read by the pruner after the wait fires
		}
		w.ch <- clk.now
	}
	// Second pass, a minute later: deliveries 0, bodies 0.
	w := clk.next(t)
	if w.d != time.Minute {
		t.Fatalf("waited %v, want the interval", w.d)
	}
	calls := store.taken()
	later := t0.Add(time.Minute)
	if want := []call{{"keys", later.Add(-24 * time.Hour), 3}, {"endpoint figures", later.Add(-EndpointStatsKept), 3},
		{"deliveries", later.Add(-720 * time.Hour), 3},
		{"bodies", later.Add(-168 * time.Hour), 3}}; !equalCalls(calls, want) {
		t.Fatalf("second pass calls %v, want %v", calls, want)
	}
	cancel()
	<-done

	const want = `
# HELP herald_pruned_bodies_total Event bodies emptied by retention (--body-retention) in this process.
# TYPE herald_pruned_bodies_total counter
herald_pruned_bodies_total 3
# HELP herald_pruned_deliveries_total Finished deliveries deleted by retention (--retention) in this process, with their attempts.
# TYPE herald_pruned_deliveries_total counter
herald_pruned_deliveries_total 7
`
	if err := testutil.GatherAndCompare(metrics.Registry(), strings.NewReader(want),
		"herald_pruned_deliveries_total", "herald_pruned_bodies_total"); err != nil {
		t.Error(err)
	}
}

func equalCalls(a, b []call) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].what != b[i].what || !a[i].before.Equal(b[i].before) || a[i].limit != b[i].limit {
			return false
		}
	}
	return true
}

// A zero retention keeps that kind: only the other is pruned; both zero,
// and a pass prunes only the idempotency keys past their 24 hours, in
// batches like the rest.
func TestZeroKeeps(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []call
	}{
		{"body retention only", Config{BodyRetention: time.Hour},
			[]call{{"keys", t0.Add(-24 * time.Hour), DefaultBatch}, {"endpoint figures", t0.Add(-EndpointStatsKept), DefaultBatch},
				{"bodies", t0.Add(-time.Hour), DefaultBatch}}},
		{"no retention", Config{}, []call{{"keys", t0.Add(-24 * time.Hour), DefaultBatch},
			{"endpoint figures", t0.Add(-EndpointStatsKept), DefaultBatch}}},
	} {
		store := &fakeStore{}
		tc.cfg.Store, tc.cfg.Now = store, func() time.Time { return t0 }
		tc.cfg.After = func(time.Duration) <-chan time.Time { t.Fatal("unexpected wait"); return nil }
		d, b := New(tc.cfg).Pass(t.Context())
		if calls := store.taken(); d != 0 || b != 0 || !equalCalls(calls, tc.want) {
			t.Errorf("%s: Pass = %d, %d with calls %v; want 0, 0 with %v", tc.name, d, b, calls, tc.want)
		}
	}
	// A full batch of keys is followed by another, after the pause.
	store := &fakeStore{keys: []int{DefaultBatch, 7}}
	waits := 0
	p := New(Config{Store: store, Now: func() time.Time { return t0 },
		After: func(d time.Duration) <-chan time.Time {
			waits++
			ch := make(chan time.Time, 1)
			ch <- t0
			return ch
		}})
	p.Pass(t.Context())
	if calls := store.taken(); len(calls) != 3 || waits != 1 {
		t.Errorf("keys pass made calls %v with %d pauses; want 2 keys calls and 1 figures call, 1 pause", calls, waits)
	}
}

// A store error is logged and ends that kind's pass; the other goes on.
func TestStoreErrorLogged(t *testing.T) {
	store := &fakeStore{errOnDeliveries: errors.New("disk on fire"), bodies: []int{2}}
	var buf bytes.Buffer
	p := New(Config{Store: store, Retention: time.Hour, BodyRetention: time.Hour, Batch: 10,
		Now: func() time.Time { return t0 }, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	d, b := p.Pass(t.Context())
	if d != 0 || b != 2 {
		t.Errorf("Pass = %d, %d; want 0, 2", d, b)
	}
	if !strings.Contains(buf.String(), "disk on fire") {
		t.Errorf("log %q does not tell the store error", buf.String())
	}
}
