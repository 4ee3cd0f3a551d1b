package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// rawCeiling is the machine's limit: Concurrency goroutines POSTing the
// same body with keep-alive to the receiver, Events requests in all. It
// returns the requests per second and the process's CPU seconds per 1,000
// requests (the client's and the receiver's).
func (b *runner) rawCeiling(ctx context.Context) (perSec, cpuPer1000 float64, err error) {
	r, err := newReceiver(1)
	if err != nil {
		return 0, 0, err
	}
	defer r.close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: b.cfg.Concurrency, MaxConnsPerHost: b.cfg.Concurrency}}
	defer client.CloseIdleConnections()
	body := event(1)
	var next atomic.Int64
	var failed atomic.Int64
	cpu0 := cpuSec()
	start := time.Now()
	var wg sync.WaitGroup
	for range b.cfg.Concurrency {
		wg.Go(func() {
			for next.Add(1) <= int64(b.cfg.Events) && ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "POST", r.url(0), bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuSec()-cpu0
	if failed.Load() > 0 {
		return 0, 0, fmt.Errorf("%d requests failed", failed.Load())
	}
	perSec, cpuPer1000 = float64(b.cfg.Events)/elapsed.Seconds(), cpu/float64(b.cfg.Events)*1000
	b.logf("raw ceiling: %.0f requests/s, %.3f CPU s per 1,000", perSec, cpuPer1000)
	return perSec, cpuPer1000, nil
}

// throughput posts Events events one per request, then in batches, to a
// herald set-up and measures acceptance and delivery rates, and what they
// cost (cost.go) against the raw ceiling's rate and CPU per 1,000 requests.
func (b *runner) throughput(ctx context.Context, tg target, raw, rawCPUPer1000 float64) ([]Throughput, error) {
	r, err := newReceiver(1)
	if err != nil {
		return nil, err
	}
	defer r.close()
	c, err := b.start(ctx, tg.dsn, tg.processes)
	if err != nil {
		return nil, err
	}
	defer c.close()
	key, err := c.newEnv(ctx, r.url(0), nil)
	if err != nil {
		return nil, err
	}
	m := b.meterFor(ctx, tg, c)
	defer m.close()
	var out []Throughput
	for _, mode := range []string{"single", "batch"} {
		r.reset()
		per := 1
		if mode == "batch" {
			per = b.cfg.BatchSize
		}
		b.logf("%s ×%d, %s: %d events", tg.store, tg.processes, mode, b.cfg.Events)
		s0 := m.start(ctx)
		start := time.Now()
		if err := b.produce(ctx, c, []string{key}, b.cfg.Events, per, nil); err != nil {
			return nil, err
		}
		accepted := time.Since(start)
		if err := b.waitHealthy(ctx, r, b.cfg.Events); err != nil {
			return nil, err
		}
		s1 := m.end(ctx, b.settled(c, key))
		done := r.lastArrival().Sub(start)
		t := Throughput{Store: tg.store, Processes: tg.processes, Mode: mode, Events: b.cfg.Events,
			AcceptedPerSec: float64(b.cfg.Events) / accepted.Seconds(), DeliveriesPerSec: float64(b.cfg.Events) / done.Seconds(),
			Duplicates: int(r.dups.Load())}
		t.OfCeiling = t.DeliveriesPerSec / raw
		t.fill(s0, s1, rawCPUPer1000)
		out = append(out, t)
	}
	return out, nil
}

// produce posts events 0..n-1 in requests of per events from Concurrency
// producers, spreading requests over the instances and the keys.
func (b *runner) produce(ctx context.Context, c *cluster, keys []string, n, per int, sent *stamps) error {
	requests := (n + per - 1) / per
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range b.cfg.Concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= requests || ctx.Err() != nil {
					return
				}
				lo, hi := i*per, min((i+1)*per, n)
				err := c.post(ctx, c.bases[i%len(c.bases)], keys[i%len(keys)], lo, hi, per > 1, sent)
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// paced posts single events at Rate per second for Duration, spread over
// keys, and returns how many were sent and the send times by event id.
func (b *runner) paced(ctx context.Context, c *cluster, keys []string) (int, *stamps, float64, error) {
	return b.pacedFor(ctx, c, keys, b.cfg.Duration)
}

// pacedFor is paced for d instead of Duration. Event i goes to
// keys[i%len(keys)].
func (b *runner) pacedFor(ctx context.Context, c *cluster, keys []string, d time.Duration) (int, *stamps, float64, error) {
	return b.pacedN(ctx, c, keys, b.cfg.Rate, int(float64(b.cfg.Rate)*d.Seconds()))
}

// pacedN posts total single events at rate per second, event i to
// keys[i%len(keys)], and returns how many were sent, the send times by
// event id and the rate achieved.
func (b *runner) pacedN(ctx context.Context, c *cluster, keys []string, rate, total int) (int, *stamps, float64, error) {
	sent := newStamps()
	interval := time.Second / time.Duration(rate)
	sem := make(chan struct{}, 256) // producers in flight
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < total && ctx.Err() == nil; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := c.post(ctx, c.bases[i%len(c.bases)], keys[i%len(keys)], i, i+1, false, sent); err != nil {
				once.Do(func() { firstErr = err })
			}
		})
	}
	wg.Wait()
	return total, sent, float64(total) / time.Since(start).Seconds(), firstErr
}

// latency: accept-to-first-attempt at a fixed rate, one healthy URL.
func (b *runner) latency(ctx context.Context) (*Latency, error) {
	r, c, keys, close, err := b.sqliteURLs(ctx, "latency", 1, 0, healthy, nil)
	if err != nil {
		return nil, err
	}
	defer close()
	key := keys[0]
	b.logf("latency: %d events/s for %s", b.cfg.Rate, b.cfg.Duration)
	n, sent, achieved, err := b.paced(ctx, c, []string{key})
	if err != nil {
		return nil, err
	}
	if err := b.waitHealthy(ctx, r, n); err != nil {
		return nil, err
	}
	l := latencies(sent, &r.first)
	return &Latency{Rate: b.cfg.Rate, AchievedRate: achieved, Events: len(l), P50MS: pct(l, 0.50), P95MS: pct(l, 0.95), P99MS: pct(l, 0.99)}, nil
}

func (b *runner) startSQLite(ctx context.Context, name string) (*cluster, error) {
	dir, err := os.MkdirTemp("", "herald-bench-")
	if err != nil {
		return nil, err
	}
	c, err := b.start(ctx, "sqlite:"+filepath.Join(dir, name+".db"), 1)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	stop := c.stop
	c.stop = func() { stop(); go func() { time.Sleep(time.Second); os.RemoveAll(dir) }() }
	return c, nil
}

// multiURL starts a receiver with URLs target URLs, the first bad of them
// behaving as mode, and a SQLite herald with one environment per URL
// (environment i delivering to URL i) with the given settings. close
// stops both.
func (b *runner) multiURL(ctx context.Context, name string, bad, mode int, settings map[string]any) (r *receiver, c *cluster, keys []string, close func(), err error) {
	return b.sqliteURLs(ctx, name, b.cfg.URLs, bad, mode, settings)
}

// sqliteURLs is multiURL with urls target URLs.
func (b *runner) sqliteURLs(ctx context.Context, name string, urls, bad, mode int, settings map[string]any) (r *receiver, c *cluster, keys []string, close func(), err error) {
	if r, err = newReceiver(urls); err != nil {
		return nil, nil, nil, nil, err
	}
	r.reset()
	for i := range bad {
		r.modes[i].Store(int32(mode))
	}
	if c, err = b.startSQLite(ctx, name); err != nil {
		r.close()
		return nil, nil, nil, nil, err
	}
	close = func() { c.close(); r.close() }
	for i := range urls {
		key, err := c.newEnv(ctx, r.url(i), settings)
		if err != nil {
			close()
			return nil, nil, nil, nil, err
		}
		keys = append(keys, key)
	}
	return r, c, keys, close, nil
}

// isolation: deliveries/s to the healthy URLs while 20 % of the URLs hang
// until the (short) timeout, against the same URLs' deliveries/s in a run
// where every URL is healthy. Both runs take in the same events; only
// the first URLs behave differently, and only the others are counted.
func (b *runner) isolation(ctx context.Context) (*Ratio, error) {
	settings := map[string]any{"timeout_ms": 1000, "retry": map[string]any{"max_retries": 0}}
	hanging := b.cfg.URLs / 5
	run := func(name string, hangs int) (float64, error) {
		r, c, keys, close, err := b.multiURL(ctx, name, hangs, hang, settings)
		if err != nil {
			return 0, err
		}
		defer close()
		// Batches go round robin over the environments, so each URL gets
		// Events/URLs events; those of URLs hanging.. count.
		per := b.cfg.BatchSize
		requests := (b.cfg.Events + per - 1) / per
		counted := 0
		for i := range requests {
			if i%len(keys) >= hanging {
				counted += min(per, b.cfg.Events-i*per)
			}
		}
		b.logf("isolation %s: %d events over %d URLs, %d hanging", name, b.cfg.Events, b.cfg.URLs, hangs)
		start := time.Now()
		if err := b.produce(ctx, c, keys, b.cfg.Events, per, nil); err != nil {
			return 0, err
		}
		deadline := time.Now().Add(b.cfg.Timeout)
		for {
			n, last := r.deliveredFrom(hanging)
			if n >= int64(counted) {
				return float64(counted) / last.Sub(start).Seconds(), nil
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return 0, fmt.Errorf("only %d of %d deliveries arrived", n, counted)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	return compare(fmt.Sprintf("deliveries/s to the other %d URLs with %d of %d URLs hanging, vs all healthy", b.cfg.URLs-hanging, hanging, b.cfg.URLs),
		func() (float64, error) { return run("hanging", hanging) }, func() (float64, error) { return run("calm", 0) })
}

// compare runs a disturbed and an undisturbed measurement and returns
// their ratio.
func compare(what string, disturbed, baseline func() (float64, error)) (*Ratio, error) {
	d, err := disturbed()
	if err != nil {
		return nil, err
	}
	b, err := baseline()
	if err != nil {
		return nil, err
	}
	return &Ratio{What: what, Disturbed: d, Baseline: b, Ratio: d / b}, nil
}

// retryStorm: p99 first-attempt latency of healthy URLs while half the
// URLs answer 500 (and are retried), against a calm run, at a fixed rate.
func (b *runner) retryStorm(ctx context.Context) (*Ratio, error) {
	failing := b.cfg.URLs / 2
	run := func(name string, fails int) (float64, error) {
		r, c, keys, close, err := b.multiURL(ctx, name, fails, fail, nil)
		if err != nil {
			return 0, err
		}
		defer close()
		b.logf("retry storm %s: %d events/s for %s over %d URLs, %d failing", name, b.cfg.Rate, b.cfg.Duration, b.cfg.URLs, fails)
		n, sent, _, err := b.paced(ctx, c, keys)
		if err != nil {
			return 0, err
		}
		healthy := 0
		for i := range n {
			if i%len(keys) >= fails {
				healthy++
			}
		}
		if err := b.waitHealthy(ctx, r, healthy); err != nil {
			return 0, err
		}
		return pct(latencies(sent, &r.first), 0.99), nil
	}
	return compare(fmt.Sprintf("healthy p99 first-attempt ms with %d of %d URLs failing, vs calm", failing, b.cfg.URLs),
		func() (float64, error) { return run("storm", failing) }, func() (float64, error) { return run("calm", 0) })
}
