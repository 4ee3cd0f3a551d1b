package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/server"
)

const adminKey = "bench-admin-key"

type runner struct {
	cfg Config
}

func (b *runner) logf(format string, args ...any) {
	fmt.Fprintf(b.cfg.Log, "bench: "+format+"\n", args...)
}

// target is one herald set-up: a database and how many instances share it.
type target struct {
	store     string
	dsn       string
	processes int
}

func (b *runner) targets(ctx context.Context) ([]target, func(), error) {
	dir, err := os.MkdirTemp("", "herald-bench-")
	if err != nil {
		return nil, nil, err
	}
	var drops []func()
	cleanup := func() {
		for _, d := range drops {
			d()
		}
		os.RemoveAll(dir)
	}
	ts := []target{{store: "sqlite", dsn: "sqlite:" + filepath.Join(dir, "throughput.db"), processes: 1}}
	if b.cfg.Postgres != "" {
		for _, n := range []int{1, 3} {
			dsn, drop, err := schema(ctx, b.cfg.Postgres)
			if err != nil {
				cleanup()
				return nil, nil, err
			}
			drops = append(drops, drop)
			ts = append(ts, target{store: "postgres", dsn: dsn, processes: n})
		}
	}
	return ts, cleanup, nil
}

// schema makes a fresh schema on the PostgreSQL server at base and returns
// a URL that selects it, and a function that drops it.
func schema(ctx context.Context, base string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("herald_bench_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		return "", nil, fmt.Errorf("postgres: %w", err)
	}
	drop := func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE")
	}
	u, err := url.Parse(base)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// cluster is a set of in-process herald instances on one database.
type cluster struct {
	bases  []string
	stop   context.CancelFunc
	done   []chan error
	client *http.Client
}

func (b *runner) start(ctx context.Context, dsn string, processes int) (*cluster, error) {
	hctx, stop := context.WithCancel(ctx)
	c := &cluster{stop: stop, client: &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: b.cfg.Concurrency * 2, MaxConnsPerHost: b.cfg.Concurrency * 2}}}
	log := slog.New(slog.NewTextHandler(b.cfg.Log, &slog.HandlerOptions{Level: slog.LevelError}))
	for range processes {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			c.close()
			return nil, err
		}
		done := make(chan error, 1)
		c.done = append(c.done, done)
		go func() {
			done <- server.Run(hctx, server.Config{Database: dsn, AdminKey: adminKey, AllowPrivateURLs: true}, ln, log, io.Discard)
		}()
		base := "http://" + ln.Addr().String()
		c.bases = append(c.bases, base)
		// The first instance migrates before the next ones start.
		if err := waitReady(ctx, base); err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

func (c *cluster) close() {
	c.stop()
	for _, d := range c.done {
		<-d
	}
	c.client.CloseIdleConnections()
}

func waitReady(ctx context.Context, base string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("herald at %s not ready: %v", base, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// call makes one API request and decodes a 2xx answer into out.
func call(ctx context.Context, c *http.Client, method, url, key string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

var envSeq atomic.Int64

// newEnv creates an environment whose primary URL is u, with extra
// settings, and returns its secret key.
func (c *cluster) newEnv(ctx context.Context, u string, settings map[string]any) (string, error) {
	var env struct {
		SecretKey string `json:"secret_key"`
	}
	name := fmt.Sprintf(`{"name":"bench-%d-%d"}`, os.Getpid(), envSeq.Add(1))
	if err := call(ctx, c.client, "POST", c.bases[0]+"/admin/environments", adminKey, []byte(name), &env); err != nil {
		return "", fmt.Errorf("create environment: %w", err)
	}
	s := map[string]any{"primary_url": u}
	for k, v := range settings {
		s[k] = v
	}
	body, _ := json.Marshal(s)
	if err := call(ctx, c.client, "PATCH", c.bases[0]+"/environment/webhook", env.SecretKey, body, nil); err != nil {
		return "", fmt.Errorf("webhook settings: %w", err)
	}
	return env.SecretKey, nil
}

// event is a realistic sync webhook body (about 300 bytes).
func event(i int) []byte {
	return fmt.Appendf(nil, `{"type":"sync","connectionId":"conn-%d","providerConfigKey":"github","syncName":"issues","model":"Issue","syncType":"INCREMENTAL","success":true,"responseResults":{"added":%d,"updated":2,"deleted":0},"modifiedAfter":"2026-03-25T19:42:49.717Z","queryTimeStamp":"2026-03-25T19:42:49.717Z"}`, i, i%97+1)
}

func batchBody(lo, hi int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"events":[`)
	for i := lo; i < hi; i++ {
		if i > lo {
			b.WriteByte(',')
		}
		b.Write(event(i))
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// post sends events lo..hi-1 (one request, or one batch) to base with key
// and records the send time of each accepted event id in sent.
func (c *cluster) post(ctx context.Context, base, key string, lo, hi int, batch bool, sent *stamps) error {
	at := time.Now()
	if !batch {
		var one struct{ ID string }
		if err := call(ctx, c.client, "POST", base+"/events", key, event(lo), &one); err != nil {
			return err
		}
		if sent != nil {
			sent.add(one.ID, at, 0)
		}
		return nil
	}
	var many struct{ Results []struct{ ID string } }
	if err := call(ctx, c.client, "POST", base+"/events/batch", key, batchBody(lo, hi), &many); err != nil {
		return err
	}
	if sent != nil {
		for _, r := range many.Results {
			sent.add(r.ID, at, 0)
		}
	}
	return nil
}

// waitHealthy waits until the receiver has n distinct healthy deliveries.
func (b *runner) waitHealthy(ctx context.Context, r *receiver, n int) error {
	deadline := time.Now().Add(b.cfg.Timeout)
	for r.healthy.Load() < int64(n) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("only %d of %d deliveries arrived", r.healthy.Load(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// latencies returns, for every event in sent whose first attempt arrived,
// the time from sending to that arrival, sorted.
func latencies(sent, first *stamps) []time.Duration {
	return latenciesWhere(sent, first, nil)
}

// latenciesWhere is latencies of the events that keep accepts, given the
// URL their first attempt arrived at and when they were sent (nil: all).
func latenciesWhere(sent, first *stamps, keep func(url int, sentAt time.Time) bool) []time.Duration {
	var out []time.Duration
	sent.each(func(id uuid.UUID, s stamp) bool {
		f, ok := first.get(id)
		if !ok {
			return true
		}
		if keep == nil || keep(int(f.url), s.time()) {
			out = append(out, time.Duration(f.at-s.at))
		}
		return true
	})
	slices.Sort(out)
	return out
}

func pct(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[min(len(sorted)-1, int(p*float64(len(sorted))))].Microseconds()) / 1000
}
