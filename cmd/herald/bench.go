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
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// benchConfig configures herald bench.
type benchConfig struct {
	Events      int
	Concurrency int
	BatchSize   int
	Database    string
	JSON        bool
	Timeout     time.Duration
}

// benchResult is one measured scenario.
type benchResult struct {
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
	fs.StringVar(&cfg.Database, "database", "", "database for the herald under test (default: a new SQLite file in a temporary directory)")
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
	fmt.Fprintln(tw, "scenario\tevents\taccepted/s\tdeliveries/s\tp50 ms\tp99 ms\tduplicates\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f\t%.1f\t%.1f\t%d\t\n", r.Scenario, r.Events, r.AcceptedPerSec, r.DeliveriesPerSec, r.P50MS, r.P99MS, r.Duplicates)
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
	dsn := cfg.Database
	if dsn == "" {
		dsn = "sqlite:" + filepath.Join(dir, "bench.db")
	}
	recv, err := newBenchReceiver()
	if err != nil {
		return nil, err
	}
	defer recv.srv.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	adminKey := "bench-admin-key"
	hctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() {
		served <- serve(hctx, config{Database: dsn, AdminKey: adminKey, AllowPrivateURLs: true}, ln, log, io.Discard)
	}()
	defer func() { stop(); <-served }()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency * 2, MaxConnsPerHost: cfg.Concurrency * 2}}

	var env struct {
		SecretKey string `json:"secret_key"`
	}
	if err := benchCall(ctx, client, "POST", base+"/admin/environments", adminKey, fmt.Sprintf(`{"name":"bench-%d"}`, time.Now().UnixNano()%1e9), &env); err != nil {
		return nil, fmt.Errorf("bench: create environment: %w", err)
	}
	if err := benchCall(ctx, client, "PATCH", base+"/environment/webhook", env.SecretKey, `{"primary_url":"`+recv.url+`"}`, nil); err != nil {
		return nil, fmt.Errorf("bench: set webhook URL: %w", err)
	}

	var results []benchResult
	for _, sc := range []struct {
		name  string
		batch int
	}{{"single", 1}, {"batch", cfg.BatchSize}} {
		recv.reset()
		fmt.Fprintf(logw, "bench: %s: %d events…\n", sc.name, cfg.Events)
		res, err := benchScenario(ctx, cfg, client, base, env.SecretKey, recv, sc.batch)
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", sc.name, err)
		}
		res.Scenario = sc.name
		results = append(results, res)
	}
	return results, nil
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

func benchScenario(ctx context.Context, cfg benchConfig, client *http.Client, base, key string, recv *benchReceiver, batch int) (benchResult, error) {
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
