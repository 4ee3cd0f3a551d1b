package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// settlePer100k is how long the replay scenario waits after its bulk
// ingest, per 100,000 events (at most maxSettle).
const (
	settlePer100k = 25 * time.Second
	maxSettle     = time.Minute
)

// replayLoad: p99 accept-to-first-attempt of live events at Rate while a
// replay of Replay events runs in the same process, against the same live
// traffic before the replay (issue: "never starves live traffic").
func (b *runner) replayLoad(ctx context.Context) (*Ratio, error) {
	r, err := newReceiver(2)
	if err != nil {
		return nil, err
	}
	defer r.close()
	c, err := b.startSQLite(ctx, "replay")
	if err != nil {
		return nil, err
	}
	defer c.close()
	bulkKey, err := c.newEnv(ctx, "", nil) // no URL: its events are skipped
	if err != nil {
		return nil, err
	}
	liveKey, err := c.newEnv(ctx, r.url(1), nil)
	if err != nil {
		return nil, err
	}
	from := time.Now().Add(-time.Second)
	b.logf("replay: %d events stored without a URL (skipped)", b.cfg.Replay)
	if err := b.produce(ctx, c, []string{bulkKey}, b.cfg.Replay, 1000, nil); err != nil {
		return nil, err
	}
	// A bulk ingest leaves a large WAL whose checkpoint slows the store
	// for some seconds (live p99 ~240 ms instead of ~6 ms in the 20 s after
	// 100,000 events on 2 vCPUs): let it settle, so that the calm run and
	// the replay run start alike and the ratio measures the replay.
	settle := min(maxSettle, time.Duration(b.cfg.Replay)*settlePer100k/100_000)
	b.logf("replay: letting the store settle for %s", settle)
	select {
	case <-time.After(settle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	live := func(name string) (float64, error) {
		r.reset()
		b.logf("replay %s: live %d events/s for %s", name, b.cfg.Rate, b.cfg.Duration)
		_, sent, _, err := b.paced(ctx, c, []string{liveKey})
		if err != nil {
			return 0, err
		}
		deadline := time.Now().Add(b.cfg.Timeout)
		for {
			missing := 0
			sent.Range(func(id, _ any) bool {
				if _, ok := r.first.Load(id); !ok {
					missing++
				}
				return true
			})
			if missing == 0 {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return 0, fmt.Errorf("%d live events never arrived", missing)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return pct(latencies(sent, &r.first), 0.99), nil
	}
	calm, err := live("calm")
	if err != nil {
		return nil, err
	}

	// The replay: the bulk environment gets its URL, and all its events
	// are sent again, while the same live traffic runs.
	base := c.bases[0]
	if err := call(ctx, c.client, "PATCH", base+"/environment/webhook", bulkKey, fmt.Appendf(nil, `{"primary_url":%q}`, r.url(0)), nil); err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]string{"since": from.UTC().Format(time.RFC3339Nano),
		"until": time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano), "status": "skipped"})
	replayed := make(chan error, 1)
	var queued struct{ Queued int }
	var wg sync.WaitGroup
	rctx, stopReplay := context.WithCancel(ctx)
	defer stopReplay()
	wg.Go(func() {
		long := &http.Client{Transport: c.client.Transport}
		replayed <- call(rctx, long, "POST", base+"/events/replay", bulkKey, body, &queued)
	})
	disturbed, err := live("during the replay")
	if err != nil {
		return nil, err
	}
	select {
	case err := <-replayed:
		if err != nil {
			return nil, fmt.Errorf("replay: %w", err)
		}
		b.logf("replay: %d deliveries queued", queued.Queued)
	default:
		b.logf("replay: still queueing when the live run ended")
	}
	stopReplay() // the replay call, if it is still queueing
	wg.Wait()
	return &Ratio{What: fmt.Sprintf("live p99 first-attempt ms during a replay of %d events, vs calm", b.cfg.Replay),
		Disturbed: disturbed, Baseline: calm, Ratio: disturbed / calm}, nil
}
