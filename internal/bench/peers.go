package bench

import (
	"context"
	"os"
	"sync"
	"time"
)

// The peers' published scenarios (issue 14 item 5): Convoy's two fixed
// rates into one endpoint, and Outpost's many publishers into many
// destinations. Both run herald in this process on SQLite, so their cost
// figures (CPU, RSS) include the load generator and the receiver.

// Goals printed beside the peers' scenarios.
const (
	convoyGoalP95MS  = 10  // at 200/s; Convoy publishes 124 ms on its best queue
	outpostGoalP99MS = 25  // with 0 events lost
	outpostPubs      = 10  // publishers, each posting at outpostPubRate
	outpostPubRate   = 100 // events/s per publisher
	outpostDests     = 10  // destinations (environments) per publisher
)

// Cost is what a run cost the whole bench process: herald, the load
// generator and the receiver together.
type Cost struct {
	Deliveries int     `json:"deliveries"`
	CPUSec     float64 `json:"process_cpu_sec"`
	CPUPer1000 float64 `json:"process_cpu_sec_per_1000_deliveries"`
	PeakRSSMB  float64 `json:"process_peak_rss_mb"`
}

// Convoy is Convoy's published scenario: one healthy endpoint, fan-out 1,
// single events at 50/s and then at 200/s, PhaseSec each.
type Convoy struct {
	PhaseSec  float64   `json:"phase_sec"`
	Rates     []Latency `json:"rates"` // accept-to-first-attempt per rate
	GoalP95MS float64   `json:"goal_p95_ms_at_200_per_sec"`
	Cost
}

// Outpost is Outpost's described scenario: Publishers each posting single
// events at PublisherRate to their own Destinations environments, one
// loopback receiver behind every destination.
type Outpost struct {
	Publishers    int     `json:"publishers"`
	PublisherRate int     `json:"publisher_rate_per_sec"`
	Destinations  int     `json:"destinations"`
	Sent          int     `json:"sent"`
	AchievedRate  float64 `json:"achieved_rate_per_sec"`
	Received      int     `json:"received"`
	Lost          int     `json:"lost"`
	WaitSec       float64 `json:"straggler_wait_sec"` // from the last send until all arrived or the wait gave up
	P50MS         float64 `json:"p50_ms"`
	P95MS         float64 `json:"p95_ms"`
	P99MS         float64 `json:"p99_ms"`
	GoalP99MS     float64 `json:"goal_p99_ms"`
	Cost
}

// meter measures the bench process's CPU time and peak RSS from now until
// the function it returns is called with the deliveries made meanwhile.
func meter(ctx context.Context) func(deliveries int) Cost {
	cpu0 := cpuSec()
	peak := sampleRSS(ctx, os.Getpid(), "VmRSS")
	return func(deliveries int) Cost {
		c := Cost{Deliveries: deliveries, CPUSec: cpuSec() - cpu0, PeakRSSMB: peak()}
		if deliveries > 0 {
			c.CPUPer1000 = c.CPUSec / float64(deliveries) * 1000
		}
		return c
	}
}

// convoy: one environment, one healthy URL; single events at 50/s for
// ConvoyDuration, then at 200/s for as long; accept-to-first-attempt per
// rate, and the process's cost over both.
func (b *runner) convoy(ctx context.Context) (*Convoy, error) {
	r, c, keys, close, err := b.sqliteURLs(ctx, "convoy", 1, 0, healthy, nil)
	if err != nil {
		return nil, err
	}
	defer close()
	key := keys[0]
	d := b.cfg.ConvoyDuration
	stop := meter(ctx)
	out := &Convoy{PhaseSec: d.Seconds(), GoalP95MS: convoyGoalP95MS}
	var sents []*stamps
	total := 0
	for _, rate := range []int{50, 200} {
		b.logf("convoy: %d events/s for %s", rate, d)
		n, sent, achieved, err := b.pacedN(ctx, c, []string{key}, rate, int(float64(rate)*d.Seconds()))
		if err != nil {
			return nil, err
		}
		total += n
		sents = append(sents, sent)
		out.Rates = append(out.Rates, Latency{Rate: rate, AchievedRate: achieved})
	}
	if err := b.waitHealthy(ctx, r, total); err != nil {
		return nil, err
	}
	out.Cost = stop(int(r.healthy.Load()))
	for i, sent := range sents {
		l := latencies(sent, &r.first)
		out.Rates[i].Events, out.Rates[i].P50MS, out.Rates[i].P95MS, out.Rates[i].P99MS = len(l), pct(l, 0.50), pct(l, 0.95), pct(l, 0.99)
	}
	return out, nil
}

// outpost: outpostPubs publishers, each its own goroutine posting single
// events at outpostPubRate round robin over its own outpostDests
// environments (an Outpost tenant and its destinations; one URL each),
// OutpostEvents in all, one receiver behind every URL. Then a bounded
// wait for stragglers: what has not arrived by then is lost.
func (b *runner) outpost(ctx context.Context) (*Outpost, error) {
	dests := outpostPubs * outpostDests
	r, c, keys, close, err := b.sqliteURLs(ctx, "outpost", dests, 0, healthy, nil)
	if err != nil {
		return nil, err
	}
	defer close()
	b.logf("outpost: %d events from %d publishers at %d/s each to %d destinations", b.cfg.OutpostEvents, outpostPubs, outpostPubRate, dests)
	stop := meter(ctx)
	start := time.Now()
	sent, err := b.publish(ctx, c, keys)
	if err != nil {
		return nil, err
	}
	sendSec := time.Since(start).Seconds()
	o := &Outpost{Publishers: outpostPubs, PublisherRate: outpostPubRate, Destinations: dests, GoalP99MS: outpostGoalP99MS,
		Sent: sent.len(), AchievedRate: float64(sent.len()) / sendSec}
	o.WaitSec = b.stragglers(ctx, r, o.Sent).Seconds()
	o.Received = int(r.healthy.Load())
	o.Lost = o.Sent - o.Received
	o.Cost = stop(o.Received)
	l := latencies(sent, &r.first)
	o.P50MS, o.P95MS, o.P99MS = pct(l, 0.50), pct(l, 0.95), pct(l, 0.99)
	return o, nil
}

// publish runs the outpost publishers at once, publisher p posting its
// share of OutpostEvents to keys[p*outpostDests:(p+1)*outpostDests], and
// returns the send times of every accepted event by id.
func (b *runner) publish(ctx context.Context, c *cluster, keys []string) (*stamps, error) {
	all := newStamps()
	errs := make([]error, outpostPubs)
	var wg sync.WaitGroup
	for p := range outpostPubs {
		n := b.cfg.OutpostEvents / outpostPubs
		if p < b.cfg.OutpostEvents%outpostPubs {
			n++
		}
		wg.Go(func() {
			_, sent, _, err := b.pacedN(ctx, c, keys[p*outpostDests:(p+1)*outpostDests], outpostPubRate, n)
			all.merge(sent)
			errs[p] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return all, err
		}
	}
	return all, nil
}

// stragglers waits until the receiver has n distinct deliveries, at most
// a minute (or Timeout, if shorter), and returns how long it waited.
func (b *runner) stragglers(ctx context.Context, r *receiver, n int) time.Duration {
	start := time.Now()
	deadline := start.Add(min(time.Minute, b.cfg.Timeout))
	for r.healthy.Load() < int64(n) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}
