package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
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
			sent.each(func(id uuid.UUID, _ stamp) bool {
				if _, ok := r.first.get(id); !ok {
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
	replayStart := time.Now()
	wg.Go(func() {
		long := &http.Client{Transport: c.client.Transport}
		replayed <- call(rctx, long, "POST", base+"/events/replay", bulkKey, body, &queued)
	})
	disturbed, err := live("during the replay")
	if err != nil {
		return nil, err
	}
	// Every live event has arrived: the rest of what arrived was replayed.
	replayedRate := (float64(r.healthy.Load()) - float64(b.cfg.Rate)*b.cfg.Duration.Seconds()) / time.Since(replayStart).Seconds()
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
	return &Ratio{What: fmt.Sprintf("live p99 first-attempt ms during a replay of %d events (replayed meanwhile at %.0f/s), vs calm", b.cfg.Replay, replayedRate),
		Disturbed: disturbed, Baseline: calm, Ratio: disturbed / calm}, nil
}
