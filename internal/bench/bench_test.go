package bench

import (
	"context"
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
		Duration: 500 * time.Millisecond, URLs: 5, Pending: -1, Replay: 2000, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RawPerSec <= 0 || len(rep.Throughput) != 2 {
		t.Fatalf("report %+v", rep)
	}
	for _, tp := range rep.Throughput {
		if tp.Events != 400 || tp.Duplicates != 0 || tp.DeliveriesPerSec <= 0 || tp.AcceptedPerSec <= 0 {
			t.Errorf("%+v", tp)
		}
	}
	if rep.Latency == nil || rep.Latency.Events != 100 || rep.Latency.P99MS < rep.Latency.P50MS {
		t.Errorf("latency %+v", rep.Latency)
	}
	if f := rep.Forwarding; f == nil || f.Webhooks != 400 || f.ForwardsPerSec <= 0 || f.EventsPerSec <= 0 || f.AnswerP99MS < f.AnswerP50MS {
		t.Errorf("forwarding %+v", f)
	}
	for _, r := range []*Ratio{rep.Isolation, rep.RetryStorm, rep.ReplayLoad} {
		if r == nil || r.Baseline <= 0 || r.Disturbed <= 0 {
			t.Errorf("ratio %+v", r)
		}
	}
}
