package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
)

// benchConfig configures herald bench.
type benchConfig struct {
	Events      int
	Concurrency int
	BatchSize   int
	Postgres    string // also measure PostgreSQL with 1 and 3 processes
	JSON        bool
	Timeout     time.Duration
}

// benchTarget is one herald set-up under test: a database and how many
// herald instances share it.
type benchTarget struct {
	Store     string // "sqlite" or "postgres"
	DSN       string
	Processes int
}

// benchResult is one measured scenario.
type benchResult struct {
	Store            string  `json:"store"`
	Processes        int     `json:"processes"`
	Scenario         string  `json:"scenario"`
	Events           int     `json:"events"`
	AcceptedPerSec   float64 `json:"events_accepted_per_sec"`
	DeliveriesPerSec float64 `json:"deliveries_completed_per_sec"`
	P50MS            float64 `json:"accept_to_first_attempt_p50_ms"`
	P99MS            float64 `json:"accept_to_first_attempt_p99_ms"`
	Duplicates       int     `json:"duplicates"`
}

func benchCmd(ctx context.Context, args []string) error {
	cfg := benchConfig{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&cfg.Events, "events", 20000, "events per scenario")
	fs.IntVar(&cfg.Concurrency, "concurrency", 32, "concurrent producer requests")
	fs.IntVar(&cfg.BatchSize, "batch", 100, "events per POST /events/batch request")
	fs.StringVar(&cfg.Postgres, "postgres", "", "PostgreSQL server URL: also measure herald on PostgreSQL (a fresh schema), with 1 and with 3 processes")
	fs.BoolVar(&cfg.JSON, "json", false, "print JSON instead of a table")
	fs.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "give up on a scenario after this long")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if cfg.Events <= 0 || cfg.Concurrency <= 0 || cfg.BatchSize <= 0 || cfg.BatchSize > 1000 {
		return errors.New("bench: --events, --concurrency must be positive and --batch within 1–1000")
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	results, err := runBench(ctx, cfg, os.Stderr)
	if err != nil {
		return err
	}
	if cfg.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"machine": machineInfo(), "results": results})
	}
	fmt.Printf("herald bench — %s\n\n", machineInfo())
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "store\tprocesses\tscenario\tevents\taccepted/s\tdeliveries/s\tp50 ms\tp99 ms\tduplicates\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%.0f\t%.0f\t%.1f\t%.1f\t%d\t\n", r.Store, r.Processes, r.Scenario, r.Events,
			r.AcceptedPerSec, r.DeliveriesPerSec, r.P50MS, r.P99MS, r.Duplicates)
	}
	return tw.Flush()
}

func machineInfo() string {
	return fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
}

// benchReceiver answers 200 to every webhook and measures the time from
// the producer's request to the first attempt of each event.
type benchReceiver struct {
	srv      *http.Server
	url      string
	sent     sync.Map // event id → time the producer sent it
	first    sync.Map // event id → time its first attempt arrived
	seen     sync.Map // delivery id → count
	received atomic.Int64
	dups     atomic.Int64

	mu   sync.Mutex
	last time.Time
}

func newBenchReceiver() (*benchReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &benchReceiver{url: "http://" + ln.Addr().String() + "/webhook"}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve)}
	go r.srv.Serve(ln)
	return r, nil
}

func (r *benchReceiver) serve(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	io.Copy(io.Discard, req.Body)
	id := req.Header.Get("X-Herald-Delivery-Id")
	if _, loaded := r.seen.LoadOrStore(id, 1); loaded {
		r.dups.Add(1)
	} else {
		r.received.Add(1)
	}
	if req.Header.Get("X-Herald-Attempt") == "1" {
		r.first.LoadOrStore(req.Header.Get("X-Herald-Event-Id"), now)
	}
	r.mu.Lock()
	r.last = now
	r.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (r *benchReceiver) reset() {
	r.sent.Clear()
	r.first.Clear()
	r.seen.Clear()
	r.received.Store(0)
	r.dups.Store(0)
}

func runBench(ctx context.Context, cfg benchConfig, logw io.Writer) ([]benchResult, error) {
	dir, err := os.MkdirTemp("", "herald-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	targets := []benchTarget{{Store: "sqlite", DSN: "sqlite:" + filepath.Join(dir, "bench.db"), Processes: 1}}
	if cfg.Postgres != "" {
		for _, n := range []int{1, 3} {
			dsn, drop, err := benchSchema(ctx, cfg.Postgres)
			if err != nil {
				return nil, err
			}
			defer drop()
			targets = append(targets, benchTarget{Store: "postgres", DSN: dsn, Processes: n})
		}
	}
	var results []benchResult
	for _, tg := range targets {
		rs, err := benchTargetRun(ctx, cfg, tg, logw)
		if err != nil {
			return nil, fmt.Errorf("bench: %s ×%d: %w", tg.Store, tg.Processes, err)
		}
		results = append(results, rs...)
	}
	return results, nil
}

// benchSchema makes a fresh schema on the PostgreSQL server at base and
// returns a URL that selects it, and a function that drops it.
func benchSchema(ctx context.Context, base string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("bench: postgres: %w", err)
	}
	defer conn.Close(ctx)
	schema := fmt.Sprintf("herald_bench_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("bench: postgres: %w", err)
	}
	drop := func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	}
	u, err := url.Parse(base)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// benchTargetRun starts tg.Processes herald instances on one database and
// measures each scenario against them.
func benchTargetRun(ctx context.Context, cfg benchConfig, tg benchTarget, logw io.Writer) ([]benchResult, error) {
	recv, err := newBenchReceiver()
	if err != nil {
		return nil, err
	}
	defer recv.srv.Close()

	adminKey := "bench-admin-key"
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	hctx, stop := context.WithCancel(ctx)
	var bases []string
	var served []chan error
	defer func() {
		stop()
		for _, c := range served {
			<-c
		}
	}()
	for range tg.Processes {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		done := make(chan error, 1)
		served = append(served, done)
		go func() {
			done <- serve(hctx, config{Database: tg.DSN, AdminKey: adminKey, AllowPrivateURLs: true}, ln, log, io.Discard)
		}()
		bases = append(bases, "http://"+ln.Addr().String())
		// Let the first instance migrate before the next ones start.
		if err := benchWaitReady(ctx, bases[len(bases)-1]); err != nil {
			return nil, err
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency * 2, MaxConnsPerHost: cfg.Concurrency * 2}}

	var env struct {
		SecretKey string `json:"secret_key"`
	}
	if err := benchCall(ctx, client, "POST", bases[0]+"/admin/environments", adminKey, fmt.Sprintf(`{"name":"bench-%d"}`, time.Now().UnixNano()%1e9), &env); err != nil {
		return nil, fmt.Errorf("create environment: %w", err)
	}
	if err := benchCall(ctx, client, "PATCH", bases[0]+"/environment/webhook", env.SecretKey, `{"primary_url":"`+recv.url+`"}`, nil); err != nil {
		return nil, fmt.Errorf("set webhook URL: %w", err)
	}

	var results []benchResult
	for _, sc := range []struct {
		name  string
		batch int
	}{{"single", 1}, {"batch", cfg.BatchSize}} {
		recv.reset()
		fmt.Fprintf(logw, "bench: %s ×%d %s: %d events…\n", tg.Store, tg.Processes, sc.name, cfg.Events)
		res, err := benchScenario(ctx, cfg, client, bases, env.SecretKey, recv, sc.batch)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sc.name, err)
		}
		res.Store, res.Processes, res.Scenario = tg.Store, tg.Processes, sc.name
		results = append(results, res)
	}
	return results, nil
}

func benchWaitReady(ctx context.Context, base string) error {
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

func benchCall(ctx context.Context, c *http.Client, method, url, key, body string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader([]byte(body)))
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

func benchEvent(i int) string {
	return fmt.Sprintf(`{"type":"sync","connectionId":"conn-%d","providerConfigKey":"github","syncName":"issues","model":"Issue","syncType":"INCREMENTAL","success":true,"responseResults":{"added":%d,"updated":2,"deleted":0},"modifiedAfter":"2026-03-25T19:42:49.717Z","queryTimeStamp":"2026-03-25T19:42:49.717Z"}`, i, i%97+1)
}

func benchScenario(ctx context.Context, cfg benchConfig, client *http.Client, bases []string, key string, recv *benchReceiver, batch int) (benchResult, error) {
	requests := (cfg.Events + batch - 1) / batch
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < cfg.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				r := int(next.Add(1)) - 1
				if r >= requests || ctx.Err() != nil {
					return
				}
				lo, hi := r*batch, min((r+1)*batch, cfg.Events)
				base := bases[r%len(bases)] // producers spread over the instances
				var body, url string
				if batch == 1 {
					body, url = benchEvent(lo), base+"/events"
				} else {
					var b bytes.Buffer
					b.WriteString(`{"events":[`)
					for i := lo; i < hi; i++ {
						if i > lo {
							b.WriteByte(',')
						}
						b.WriteString(benchEvent(i))
					}
					b.WriteString(`]}`)
					body, url = b.String(), base+"/events/batch"
				}
				sent := time.Now()
				var single struct{ ID string }
				var many struct{ Results []struct{ ID string } }
				var out any = &single
				if batch > 1 {
					out = &many
				}
				if err := benchCall(ctx, client, "POST", url, key, body, out); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				// Latency runs from the moment the request was sent
				// (an upper bound on accept time) to the first attempt.
				if batch == 1 {
					recv.sent.Store(single.ID, sent)
				} else {
					for _, r := range many.Results {
						recv.sent.Store(r.ID, sent)
					}
				}
			}
		}()
	}
	wg.Wait()
	accepted := time.Since(start)
	if firstErr != nil {
		return benchResult{}, firstErr
	}
	deadline := time.Now().Add(cfg.Timeout)
	for recv.received.Load() < int64(cfg.Events) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return benchResult{}, fmt.Errorf("only %d of %d deliveries arrived", recv.received.Load(), cfg.Events)
		}
		time.Sleep(5 * time.Millisecond)
	}
	recv.mu.Lock()
	done := recv.last.Sub(start)
	recv.mu.Unlock()
	var lats []time.Duration
	recv.sent.Range(func(id, sent any) bool {
		if at, ok := recv.first.Load(id); ok {
			lats = append(lats, at.(time.Time).Sub(sent.(time.Time)))
		}
		return true
	})
	slices.Sort(lats)
	pct := func(p float64) float64 {
		if len(lats) == 0 {
			return 0
		}
		return float64(lats[min(len(lats)-1, int(p*float64(len(lats))))].Microseconds()) / 1000
	}
	return benchResult{
		Events:           cfg.Events,
		AcceptedPerSec:   float64(cfg.Events) / accepted.Seconds(),
		DeliveriesPerSec: float64(cfg.Events) / done.Seconds(),
		P50MS:            pct(0.50),
		P99MS:            pct(0.99),
		Duplicates:       int(recv.dups.Load()),
	}, nil
}
