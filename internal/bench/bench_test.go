package bench

import (
	"context"
	"math"
	"testing"
	"time"
)

// TestSmall runs every in-process scenario at a tiny size: it checks that
// the benchmark works and counts right, not how fast anything is.
func TestSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("bench smoke test skipped in -short mode")
	}
	rep, err := Run(context.Background(), Config{Events: 400, Concurrency: 8, BatchSize: 50, Rate: 200,
		Duration: 500 * time.Millisecond, URLs: 5, Pending: -1, Replay: 2000, Timeout: time.Minute,
		ThrottleRate: 10, OutageFor: 60 * time.Millisecond, ConvoyDuration: 500 * time.Millisecond, OutpostEvents: 200, SteadyDuration: -1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RawPerSec <= 0 || !positive(rep.RawCPUPer1000) || len(rep.Throughput) != 2 {
		t.Fatalf("report %+v", rep)
	}
	for _, tp := range rep.Throughput {
		if tp.Events != 400 || tp.Duplicates != 0 || tp.DeliveriesPerSec <= 0 || tp.AcceptedPerSec <= 0 {
			t.Errorf("%+v", tp)
		}
		checkCost(t, tp, rep.RawCPUPer1000, dbInProcess)
	}
	if rep.Latency == nil || rep.Latency.Events != 100 || rep.Latency.P99MS < rep.Latency.P50MS {
		t.Errorf("latency %+v", rep.Latency)
	}
	ratios := []*Ratio{rep.Isolation, rep.RetryStorm, rep.ReplayLoad}
	if f := rep.Forwarding; f == nil || f.Webhooks != 400 || f.ForwardsPerSec <= 0 || f.EventsPerSec <= 0 || f.AnswerP99MS < f.AnswerP50MS {
		t.Errorf("forwarding %+v", f)
	}
	// 200 events/s for 0.5 s over 5 URLs: 2 throttled URLs get 40 events.
	if th := rep.Throttle; th == nil || th.Sent != 40 || th.Succeeded+th.Failed != th.Sent || th.Requests < th.Succeeded ||
		th.PeakAny1s < th.PeakClockSecond || th.PeakClockSecond <= 0 || th.MeanPerSec <= 0 {
		t.Errorf("throttle %+v", th)
	} else {
		ratios = append(ratios, &th.Healthy)
	}
	// 200 events/s for 0.06 + 0.5 s: 112 events, every fifth to the URL
	// that is down.
	if o := rep.Outage; o == nil || o.Sent != 23 || o.Received+o.Failed != o.Sent || o.FirstAfterSec < 0 || o.LastAfterSec < o.FirstAfterSec ||
		o.InversionFraction < 0 || o.InversionFraction > 1 {
		t.Errorf("outage %+v", o)
	} else {
		ratios = append(ratios, &o.Live)
	}
	checkPeers(t, rep)
	for _, r := range ratios {
		if r == nil || r.Baseline <= 0 || r.Disturbed <= 0 {
			t.Errorf("ratio %+v", r)
		}
	}
}

// positive reports whether v is a positive, finite number.
func positive(v float64) bool { return v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) }

// checkCost checks the cost figures of a throughput row: CPU positive
// and its multiple of the ceiling's consistent with it; the database's
// CPU where db says (dbInProcess, dbMeasured or dbUnknown); WAL bytes per
// delivery positive, and more than the ~300-byte body each event stores.
func checkCost(t *testing.T, tp Throughput, rawCPUPer1000 float64, db string) {
	t.Helper()
	if !positive(tp.CPUPer1000) || !positive(tp.CPUOfCeiling) || math.Abs(tp.CPUOfCeiling*rawCPUPer1000-tp.CPUPer1000) > 1e-9*tp.CPUPer1000 {
		t.Errorf("%s %s: CPU %v s per 1,000, %v of the ceiling's %v", tp.Store, tp.Mode, tp.CPUPer1000, tp.CPUOfCeiling, rawCPUPer1000)
	}
	if tp.DatabaseCPU != db {
		t.Errorf("%s %s: database CPU %q, want %q", tp.Store, tp.Mode, tp.DatabaseCPU, db)
	}
	switch db {
	case dbInProcess:
		if tp.DBCPUPer1000 != nil || tp.CPUWithDBOfCeiling == nil || *tp.CPUWithDBOfCeiling != tp.CPUOfCeiling {
			t.Errorf("%s %s: database CPU %v, with it %v of the ceiling's; want in the process's", tp.Store, tp.Mode, tp.DBCPUPer1000, tp.CPUWithDBOfCeiling)
		}
	case dbMeasured:
		// At least 0: the server's times are in ticks of 10 ms, and a
		// tiny run may not see one.
		if tp.DBCPUPer1000 == nil || tp.CPUWithDBOfCeiling == nil || *tp.DBCPUPer1000 < 0 || math.IsInf(*tp.DBCPUPer1000, 0) ||
			math.Abs(*tp.CPUWithDBOfCeiling*rawCPUPer1000-tp.CPUPer1000-*tp.DBCPUPer1000) > 1e-9*tp.CPUPer1000 {
			t.Errorf("%s %s: database CPU %v s per 1,000, with it %v of the ceiling's", tp.Store, tp.Mode, tp.DBCPUPer1000, tp.CPUWithDBOfCeiling)
		}
	case dbUnknown:
		if tp.DBCPUPer1000 != nil || tp.CPUWithDBOfCeiling != nil {
			t.Errorf("%s %s: database CPU %v, with it %v, though unknown", tp.Store, tp.Mode, tp.DBCPUPer1000, tp.CPUWithDBOfCeiling)
		}
	}
	if w := tp.WALBytesPerDelivery; w == nil || !positive(*w) || *w < 300 {
		t.Errorf("%s %s: WAL bytes per delivery %v", tp.Store, tp.Mode, w)
	} else {
		t.Logf("%s ×%d %s: %.3f CPU s per 1,000 (%.2f of the ceiling's), database %s, %s with it; %.0f WAL bytes per delivery",
			tp.Store, tp.Processes, tp.Mode, tp.CPUPer1000, tp.CPUOfCeiling, tp.dbCPUCell(), opt(tp.CPUWithDBOfCeiling, "%.2f"), *w)
	}
}

// checkPeers checks the convoy and outpost figures of TestSmall's run.
func checkPeers(t *testing.T, rep *Report) {
	t.Helper()
	// 50/s, then 200/s, for 0.5 s each: 25 and 100 events.
	if c := rep.Convoy; c == nil || len(c.Rates) != 2 || c.Rates[0].Rate != 50 || c.Rates[0].Events != 25 ||
		c.Rates[1].Rate != 200 || c.Rates[1].Events != 100 || c.Rates[1].P99MS < c.Rates[1].P50MS ||
		c.Deliveries != 125 || c.CPUSec <= 0 || c.CPUPer1000 <= 0 || c.PeakRSSMB <= 0 {
		t.Errorf("convoy %+v", c)
	}
	if o := rep.Outpost; o == nil || o.Sent != 200 || o.Received != 200 || o.Lost != 0 || o.Destinations != 100 ||
		o.P99MS < o.P50MS || o.CPUPer1000 <= 0 || o.PeakRSSMB <= 0 {
		t.Errorf("outpost %+v", o)
	}
}

// TestDisorder checks the order figures of the outage run on small
// arrival sequences.
func TestDisorder(t *testing.T) {
	at := func(idx ...int) []arrival {
		var out []arrival
		for _, i := range idx {
			out = append(out, arrival{index: i})
		}
		return out
	}
	for _, c := range []struct {
		arr        []arrival
		window     int
		inversions int64
		fraction   float64
		beyond     int
	}{
		{at(0, 10, 20, 30), 0, 0, 0, 0},
		{at(30, 20, 10, 0), 0, 6, 1, 3},
		{at(30, 20, 10, 0), 1, 6, 1, 2},
		{at(10, 0, 30, 20, -1), 0, 2, 2.0 / 6, 2},
		{at(50, 0, 10, 20, 30, 40), 3, 5, 5.0 / 15, 2},
		{nil, 32, 0, 0, 0},
	} {
		inv, frac, beyond := disorder(c.arr, c.window)
		if inv != c.inversions || frac != c.fraction || beyond != c.beyond {
			t.Errorf("disorder(%v, %d) = %d, %v, %d; want %d, %v, %d", c.arr, c.window, inv, frac, beyond, c.inversions, c.fraction, c.beyond)
		}
	}
}

// TestPeaks checks the sliding and clock-second request peaks.
func TestPeaks(t *testing.T) {
	base := time.Unix(1000, 0)
	ms := func(offsets ...int) []time.Time {
		var out []time.Time
		for _, o := range offsets {
			out = append(out, base.Add(time.Duration(o)*time.Millisecond))
		}
		return out
	}
	for _, c := range []struct {
		times          []time.Time
		sliding, clock int
	}{
		{nil, 0, 0},
		{ms(0), 1, 1},
		// Three at the end of one second, three at the start of the next.
		{ms(800, 900, 950, 1000, 1050, 1100), 6, 3},
		{ms(0, 999, 1000, 1999, 2000), 2, 2},
	} {
		if s, k := peaks(c.times); s != c.sliding || k != c.clock {
			t.Errorf("peaks(%v) = %d, %d; want %d, %d", c.times, s, k, c.sliding, c.clock)
		}
	}
}

// TestEventIndex reads the index back from event bodies.
func TestEventIndex(t *testing.T) {
	for _, i := range []int{0, 7, 123456} {
		if got := eventIndex(event(i)); got != i {
			t.Errorf("eventIndex(event(%d)) = %d", i, got)
		}
	}
	if got := eventIndex([]byte(`{"a":1}`)); got != -1 {
		t.Errorf("eventIndex without one = %d", got)
	}
}
