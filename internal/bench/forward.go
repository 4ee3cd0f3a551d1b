package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Forwarding is the inbound scenario: providers' webhooks (GitHub App
// pushes, signed) posted one per request to POST /webhook/…, verified,
// routed to a connection and forwarded, beside herald's own one event per
// request /events figure of the same run and set-up.
type Forwarding struct {
	Webhooks int `json:"webhooks"`
	// InboundPerSec: provider requests answered per second; ForwardsPerSec:
	// forwards received by the app per second.
	InboundPerSec  float64 `json:"inbound_accepted_per_sec"`
	ForwardsPerSec float64 `json:"forwards_completed_per_sec"`
	// EventsPerSec is POST /events, one event per request, in the same run.
	EventsPerSec float64 `json:"events_single_completed_per_sec"`
	OfCeiling    float64 `json:"forwards_of_raw_ceiling"`
	OfEvents     float64 `json:"forwards_of_events_single"`
	// Answer times of the provider's requests at Rate per second.
	Rate         int     `json:"paced_rate_per_sec"`
	AchievedRate float64 `json:"paced_achieved_per_sec"`
	AnswerP50MS  float64 `json:"answer_p50_ms"`
	AnswerP99MS  float64 `json:"answer_p99_ms"`
}

// githubPush is a GitHub App push webhook (trimmed to its routing fields
// and a realistic size).
func githubPush(i int) []byte {
	return fmt.Appendf(nil, `{"ref":"refs/heads/main","before":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","after":"76ae82c7b1a177c8d03f9e96e0adf2466113728f","repository":{"id":%d,"name":"herald","full_name":"heraldhq/herald","private":true,"owner":{"login":"heraldhq","id":9919}},"pusher":{"name":"octocat","email":"octocat@github.com"},"installation":{"id":424242,"node_id":"MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI0MjQy"},"commits":[{"id":"76ae82c7b1a177c8d03f9e96e0adf2466113728f","message":"Update README.md","timestamp":"2026-12-03T09:00:00Z","author":{"name":"octocat"}}]}`, 1296269+i)
}

const benchWebhookSecret = "bench-webhook-secret"

// forwarding measures the inbound path on one SQLite process.
func (b *runner) forwarding(ctx context.Context, raw float64) (*Forwarding, error) {
	r, err := newReceiver(1)
	if err != nil {
		return nil, err
	}
	defer r.close()
	c, key, inbound, err := b.forwardingSetUp(ctx, "forwarding", r)
	if err != nil {
		return nil, err
	}
	defer c.close()
	f := &Forwarding{Webhooks: b.cfg.Events, Rate: b.cfg.Rate}

	// herald's own one-event-per-request figure, on the same process.
	b.logf("forwarding: %d events one per request to /events", b.cfg.Events)
	start := time.Now()
	if err := b.produce(ctx, c, []string{key}, b.cfg.Events, 1, nil); err != nil {
		return nil, err
	}
	if err := b.waitHealthy(ctx, r, b.cfg.Events); err != nil {
		return nil, err
	}
	f.EventsPerSec = float64(b.cfg.Events) / r.lastArrival().Sub(start).Seconds()

	r.reset()
	b.logf("forwarding: %d provider webhooks one per request", b.cfg.Events)
	start = time.Now()
	var next atomic.Int64
	errs := make(chan error, b.cfg.Concurrency)
	var wg sync.WaitGroup
	for range b.cfg.Concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.cfg.Events || ctx.Err() != nil {
					return
				}
				if _, err := postWebhook(ctx, c.client, inbound, githubPush(i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	f.InboundPerSec = float64(b.cfg.Events) / time.Since(start).Seconds()
	if err := b.waitHealthy(ctx, r, b.cfg.Events); err != nil {
		return nil, err
	}
	f.ForwardsPerSec = float64(b.cfg.Events) / r.lastArrival().Sub(start).Seconds()
	f.OfCeiling = f.ForwardsPerSec / raw
	f.OfEvents = f.ForwardsPerSec / f.EventsPerSec

	// The provider's answer time at a steady rate, on a fresh process (as
	// the latency scenario): not behind the outcomes of the runs above.
	pc, _, pacedURL, err := b.forwardingSetUp(ctx, "forwarding-paced", r)
	if err != nil {
		return nil, err
	}
	defer pc.close()
	b.logf("forwarding: %d provider webhooks/s for %s", b.cfg.Rate, b.cfg.Duration)
	total := int(float64(b.cfg.Rate) * b.cfg.Duration.Seconds())
	interval := time.Second / time.Duration(b.cfg.Rate)
	times := make([]time.Duration, total)
	sem := make(chan struct{}, 256)
	var failed atomic.Int64
	start = time.Now()
	for i := 0; i < total && ctx.Err() == nil; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d, err := postWebhook(ctx, pc.client, pacedURL, githubPush(i))
			if err != nil {
				failed.Add(1)
			}
			times[i] = d
		})
	}
	wg.Wait()
	f.AchievedRate = float64(total) / time.Since(start).Seconds()
	if n := failed.Load(); n > 0 {
		return nil, fmt.Errorf("%d paced provider requests failed", n)
	}
	slices.Sort(times)
	f.AnswerP50MS, f.AnswerP99MS = pct(times, 0.50), pct(times, 0.99)
	return f, nil
}

// forwardingSetUp starts a SQLite herald with an environment delivering to
// r, a GitHub App integration and one connection, and returns its secret
// key and the integration's inbound URL.
func (b *runner) forwardingSetUp(ctx context.Context, name string, r *receiver) (*cluster, string, string, error) {
	c, err := b.startSQLite(ctx, name)
	if err != nil {
		return nil, "", "", err
	}
	key, err := c.newEnv(ctx, r.url(0), nil)
	if err == nil {
		base := c.bases[0]
		integration := []byte(`{"provider":"github-app","rate_limit_per_s":1000000,"credentials":{"webhook_secret":"` + benchWebhookSecret + `"}}`)
		var env struct {
			ID string `json:"id"`
		}
		for _, step := range []func() error{
			func() error { return call(ctx, c.client, "PUT", base+"/integrations/github", key, integration, nil) },
			func() error {
				return call(ctx, c.client, "PUT", base+"/connections/github/octo-org", key, []byte(`{"connection_config":{"installation_id":424242}}`), nil)
			},
			func() error { return call(ctx, c.client, "GET", base+"/environment", key, nil, &env) },
		} {
			if err = step(); err != nil {
				break
			}
		}
		if err == nil {
			return c, key, base + "/webhook/" + env.ID + "/github", nil
		}
	}
	c.close()
	return nil, "", "", err
}

// postWebhook posts one signed GitHub App webhook and returns how long
// the provider waited for its answer.
func postWebhook(ctx context.Context, client *http.Client, url string, body []byte) (time.Duration, error) {
	m := hmac.New(sha256.New, []byte(benchWebhookSecret))
	m.Write(body)
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		return d, fmt.Errorf("POST %s: %d %s", url, resp.StatusCode, b)
	}
	var ok struct{ Status string }
	if json.Unmarshal(b, &ok) != nil || ok.Status != "success" {
		return d, fmt.Errorf("POST %s: answer %s", url, b)
	}
	return d, nil
}
