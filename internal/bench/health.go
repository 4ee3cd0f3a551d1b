package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"time"
)

// patientRetry lets a delivery outlast a throttle or an outage: 30
// retries from 1 s, ×1.5, at most a minute apart (about 23 minutes).
var patientRetry = map[string]any{"retry": map[string]any{
	"max_retries": 30, "initial_delay_ms": 1000, "multiplier": 1.5, "max_delay_ms": 60000}}

// laneWindow is how many attempts herald has in flight per URL (the
// dispatcher's LaneConcurrency): arrivals within it may swap places.
const laneWindow = 32

// throttle: the first URLs/2 URLs are a rate-limited API (ThrottleRate
// requests per clock second, then 429 with Retry-After: 1) while events
// go to all URLs at Rate. It measures the p99 first-attempt latency of the
// other URLs against a calm run, how hard herald pressed the throttled
// URLs, and what reached them in the end.
func (b *runner) throttle(ctx context.Context) (*Throttle, error) {
	n := b.cfg.URLs / 2
	t, err := b.throttled(ctx, n)
	if err != nil {
		return nil, err
	}
	others := func(u int, _ time.Time) bool { return u >= n }
	calm, err := b.calm(ctx, "throttle", b.cfg.Duration, others)
	if err != nil {
		return nil, err
	}
	t.Healthy.What = fmt.Sprintf("healthy p99 first-attempt ms with %d of %d URLs throttled at %d requests/s, vs calm", n, b.cfg.URLs, b.cfg.ThrottleRate)
	t.Healthy.Baseline, t.Healthy.Ratio = calm, t.Healthy.Disturbed/calm
	return t, nil
}

// throttled is the disturbed run of throttle, n URLs throttled; its
// Healthy holds the disturbed figure only.
func (b *runner) throttled(ctx context.Context, n int) (*Throttle, error) {
	r, c, keys, close, err := b.multiURL(ctx, "throttle", n, throttled, patientRetry)
	if err != nil {
		return nil, err
	}
	defer close()
	r.limit.Store(int64(b.cfg.ThrottleRate))
	for i := range n {
		r.logs[i].watch.Store(true)
	}
	b.logf("throttle: %d events/s for %s over %d URLs, %d throttled at %d requests/s", b.cfg.Rate, b.cfg.Duration, b.cfg.URLs, n, b.cfg.ThrottleRate)
	start := time.Now()
	total, sent, _, err := b.paced(ctx, c, keys)
	if err != nil {
		return nil, err
	}
	toThrottled := sentTo(total, len(keys), 0, n)
	if err := b.waitHealthy(ctx, r, total-toThrottled); err != nil {
		return nil, err
	}
	t := &Throttle{Rate: b.cfg.ThrottleRate, URLs: n, Sent: toThrottled}
	t.Healthy.Disturbed = pct(latenciesWhere(sent, &r.first, func(u int, _ time.Time) bool { return u >= n }), 0.99)

	// At the advertised rate the throttled URLs need perURL/Rate seconds;
	// allow twice that and a minute for the retries' backoff.
	perURL := float64(toThrottled) / float64(max(n, 1))
	deadline := start.Add(min(b.cfg.Timeout, 2*time.Duration(perURL/float64(b.cfg.ThrottleRate)*float64(time.Second))+time.Minute))
	b.logf("throttle: waiting for %d deliveries to the throttled URLs (until %s at most)", toThrottled, deadline.Format(time.TimeOnly))
	if t.Succeeded, t.Failed, err = b.drain(ctx, c, r, keys[:n], toThrottled, deadline); err != nil {
		return nil, err
	}
	t.Pending = t.Sent - t.Succeeded - t.Failed
	t.DrainSec = time.Since(start).Seconds()

	var last time.Time
	for i := range n {
		times := r.logs[i].requestTimes()
		slices.SortFunc(times, time.Time.Compare)
		sliding, clock := peaks(times)
		t.PeakAny1s, t.PeakClockSecond = max(t.PeakAny1s, sliding), max(t.PeakClockSecond, clock)
		if len(times) > 0 && times[len(times)-1].After(last) {
			last = times[len(times)-1]
		}
		t.Requests += int(r.logs[i].requests.Load())
		t.Refused += int(r.logs[i].refused.Load())
	}
	if span := last.Sub(start).Seconds(); n > 0 && span > 0 {
		t.MeanPerSec = float64(t.Requests) / float64(n) / span
	}
	return t, nil
}

// outage: URL 0 answers 503 without Retry-After for OutageFor, then comes
// back, while events go to all URLs at Rate during the outage and for
// Duration after. It measures whether every delivery to that URL arrives
// once it is back and in what order, and the p99 first-attempt latency of
// the other URLs during the outage against a calm run as long.
func (b *runner) outage(ctx context.Context) (*Outage, error) {
	o, err := b.outaged(ctx)
	if err != nil {
		return nil, err
	}
	others := func(u int, _ time.Time) bool { return u != 0 }
	calm, err := b.calm(ctx, "outage", b.cfg.OutageFor, others)
	if err != nil {
		return nil, err
	}
	o.Live.What = fmt.Sprintf("live p99 first-attempt ms of the other %d URLs during a %s outage of one URL (the issue's hour, compressed), vs calm",
		b.cfg.URLs-1, b.cfg.OutageFor)
	o.Live.Baseline, o.Live.Ratio = calm, o.Live.Disturbed/calm
	return o, nil
}

// outaged is the disturbed run of outage; its Live holds the disturbed
// figure only.
func (b *runner) outaged(ctx context.Context) (*Outage, error) {
	r, c, keys, close, err := b.multiURL(ctx, "outage", 1, down, patientRetry)
	if err != nil {
		return nil, err
	}
	defer close()
	r.logs[0].watch.Store(true)
	b.logf("outage: %d events/s for %s over %d URLs, one down for the first %s", b.cfg.Rate, b.cfg.OutageFor+b.cfg.Duration, b.cfg.URLs, b.cfg.OutageFor)
	back := make(chan time.Time, 1)
	timer := time.AfterFunc(b.cfg.OutageFor, func() {
		at := time.Now()
		r.modes[0].Store(healthy)
		back <- at
	})
	defer timer.Stop()
	total, sent, _, err := b.pacedFor(ctx, c, keys, b.cfg.OutageFor+b.cfg.Duration)
	if err != nil {
		return nil, err
	}
	var backAt time.Time
	select {
	case backAt = <-back:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	toDown := sentTo(total, len(keys), 0, 1)
	if err := b.waitURLs(ctx, r, 1, len(keys), total-toDown); err != nil {
		return nil, err
	}
	o := &Outage{OutageSec: b.cfg.OutageFor.Seconds(), Sent: toDown, Window: laneWindow}
	o.Live.Disturbed = pct(latenciesWhere(sent, &r.first, func(u int, at time.Time) bool { return u != 0 && at.Before(backAt) }), 0.99)

	// An open circuit waits 60 s before its probe; the retries are at
	// most a minute apart.
	deadline := backAt.Add(3 * time.Minute)
	b.logf("outage: waiting for %d deliveries to the URL that came back (until %s at most)", toDown, deadline.Format(time.TimeOnly))
	if o.Received, o.Failed, err = b.drain(ctx, c, r, keys[:1], toDown, deadline); err != nil {
		return nil, err
	}
	o.Pending = o.Sent - o.Received - o.Failed
	o.RequestsWhileDown = int(r.logs[0].refused.Load())
	arr := r.logs[0].arrived()
	slices.SortStableFunc(arr, func(a, b arrival) int { return a.at.Compare(b.at) })
	if len(arr) > 0 {
		o.FirstAfterSec = arr[0].at.Sub(backAt).Seconds()
		o.LastAfterSec = arr[len(arr)-1].at.Sub(backAt).Seconds()
	}
	o.Inversions, o.InversionFraction, o.BeyondWindow = disorder(arr, laneWindow)
	return o, nil
}

// calm is the p99 first-attempt latency, in ms, of the events whose first
// attempt keep accepts, with every URL healthy: events at Rate for d, the
// environments set as in the disturbed runs.
func (b *runner) calm(ctx context.Context, name string, d time.Duration, keep func(int, time.Time) bool) (float64, error) {
	r, c, keys, close, err := b.multiURL(ctx, name+"-calm", 0, healthy, patientRetry)
	if err != nil {
		return 0, err
	}
	defer close()
	b.logf("%s calm: %d events/s for %s over %d URLs, all healthy", name, b.cfg.Rate, d, b.cfg.URLs)
	total, sent, _, err := b.pacedFor(ctx, c, keys, d)
	if err != nil {
		return 0, err
	}
	if err := b.waitHealthy(ctx, r, total); err != nil {
		return 0, err
	}
	return pct(latenciesWhere(sent, &r.first, keep), 0.99), nil
}

// sentTo is how many of events 0..total-1, event i going to URL i%urls,
// went to the URLs lo..hi-1.
func sentTo(total, urls, lo, hi int) int {
	n := 0
	for i := range total {
		if u := i % urls; u >= lo && u < hi {
			n++
		}
	}
	return n
}

// deliveredTo is how many distinct deliveries the URLs lo..hi-1 received.
func (r *receiver) deliveredTo(lo, hi int) int {
	n := 0
	for i := lo; i < hi; i++ {
		n += int(r.logs[i].delivered.Load())
	}
	return n
}

// waitURLs waits until the URLs lo..hi-1 have received n distinct
// deliveries.
func (b *runner) waitURLs(ctx context.Context, r *receiver, lo, hi, n int) error {
	deadline := time.Now().Add(b.cfg.Timeout)
	for r.deliveredTo(lo, hi) < n {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("only %d of %d deliveries arrived", r.deliveredTo(lo, hi), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// drain waits until the want deliveries to the URLs 0..len(keys)-1
// (environment i delivering to URL i) have arrived or failed, or until
// deadline, and returns how many arrived and how many herald marked
// failed.
func (b *runner) drain(ctx context.Context, c *cluster, r *receiver, keys []string, want int, deadline time.Time) (arrived, failed int, err error) {
	var checked time.Time
	for {
		arrived = r.deliveredTo(0, len(keys))
		if arrived >= want {
			break
		}
		if time.Since(checked) >= 2*time.Second {
			if failed, err = countFailed(ctx, c, keys); err != nil {
				return 0, 0, err
			}
			checked = time.Now()
			if arrived+failed >= want {
				break
			}
		}
		if time.Now().After(deadline) {
			break
		}
		if ctx.Err() != nil {
			return 0, 0, ctx.Err()
		}
		time.Sleep(10 * time.Millisecond)
	}
	failed, err = countFailed(ctx, c, keys)
	return r.deliveredTo(0, len(keys)), failed, err
}

// countFailed is how many deliveries of the environments of keys herald
// has marked failed.
func countFailed(ctx context.Context, c *cluster, keys []string) (int, error) {
	n := 0
	for _, key := range keys {
		cursor := ""
		for {
			q := url.Values{"status": {"failed"}, "limit": {"200"}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			var page struct {
				Data       []json.RawMessage `json:"data"`
				NextCursor *string           `json:"next_cursor"`
			}
			if err := call(ctx, c.client, "GET", c.bases[0]+"/deliveries?"+q.Encode(), key, nil, &page); err != nil {
				return 0, err
			}
			n += len(page.Data)
			if page.NextCursor == nil || *page.NextCursor == "" || len(page.Data) == 0 {
				break
			}
			cursor = *page.NextCursor
		}
	}
	return n, nil
}

// peaks returns the most of the sorted times within any 1 s span, and
// within one clock second.
func peaks(times []time.Time) (sliding, clock int) {
	lo := 0
	for hi := range times {
		for times[hi].Sub(times[lo]) >= time.Second {
			lo++
		}
		sliding = max(sliding, hi-lo+1)
	}
	run := 0
	for i := range times {
		if i > 0 && times[i].Unix() == times[i-1].Unix() {
			run++
		} else {
			run = 1
		}
		clock = max(clock, run)
	}
	return sliding, clock
}

// disorder measures how far arrivals (sorted by arrival time) are from
// the order their events were created in: the pairs out of order, as a
// count and as a share of all pairs (a Kendall-like distance), and the
// arrivals more than window places behind the newest event already
// arrived. Arrivals without an event index are left out.
func disorder(arr []arrival, window int) (inversions int64, fraction float64, beyond int) {
	idx := make([]int, 0, len(arr))
	for _, a := range arr {
		if a.index >= 0 {
			idx = append(idx, a.index)
		}
	}
	// Ranks in creation order: the event indices are distinct.
	sorted := slices.Clone(idx)
	slices.Sort(sorted)
	rank := make(map[int]int, len(sorted))
	for i, v := range sorted {
		rank[v] = i
	}
	ranks := make([]int, len(idx))
	top := -1
	for i, v := range idx {
		ranks[i] = rank[v]
		top = max(top, ranks[i])
		if top-ranks[i] > window {
			beyond++
		}
	}
	inversions = countInversions(ranks)
	if m := int64(len(ranks)); m > 1 {
		fraction = float64(inversions) / float64(m*(m-1)/2)
	}
	return inversions, fraction, beyond
}

// countInversions counts the pairs i < j with a[i] > a[j] (merge sort;
// a is sorted on return).
func countInversions(a []int) int64 {
	if len(a) < 2 {
		return 0
	}
	mid := len(a) / 2
	n := countInversions(a[:mid]) + countInversions(a[mid:])
	merged := make([]int, 0, len(a))
	i, j := 0, mid
	for i < mid && j < len(a) {
		if a[i] <= a[j] {
			merged = append(merged, a[i])
			i++
		} else {
			merged = append(merged, a[j])
			n += int64(mid - i)
			j++
		}
	}
	merged = append(merged, a[i:mid]...)
	merged = append(merged, a[j:]...)
	copy(a, merged)
	return n
}
