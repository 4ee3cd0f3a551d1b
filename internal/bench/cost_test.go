package bench

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/pgtest"
)

// TestPostgresCost runs the throughput of one herald on PostgreSQL at a
// tiny size, for its cost figures: the server's CPU is read when it runs
// on this Linux machine, and its WAL position always.
func TestPostgresCost(t *testing.T) {
	if testing.Short() {
		t.Skip("bench smoke test skipped in -short mode")
	}
	dsn := pgtest.DSN(t)
	b := &runner{cfg: Config{Events: 400, Concurrency: 8, BatchSize: 50}}
	b.cfg.defaults()
	ctx := context.Background()
	_, rawCPU, err := b.rawCeiling(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := b.throughput(ctx, target{store: "postgres", dsn: dsn, processes: 1}, 1, rawCPU)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 {
		t.Fatalf("%d rows", len(ts))
	}
	db := dbUnknown
	if runtime.GOOS == "linux" && localDSN(dsn) {
		db = dbMeasured
	}
	for _, tp := range ts {
		checkCost(t, tp, rawCPU, db)
	}
}

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		line string
		want procStat
		ok   bool
	}{
		{"2224 (postgres) S 2223 2223 2223 0 -1 4194624 1093 0 0 0 12 34 5 6 20 0 1 0 1786 226672640 1990 18446744073709551615",
			procStat{ppid: 2223, ticks: 12 + 34 + 5 + 6, start: 1786}, true},
		{"77 (a (b) c) R 1 77 77 0 -1 4194560 10 0 0 0 1500 250 0 0 20 0 1 0 99 1 1 1", procStat{ppid: 1, ticks: 1750, start: 99}, true},
		{"77 (short) R 1 77", procStat{}, false},
		{"no parenthesis 1 2 3", procStat{}, false},
		{"77 (x) R 1 77 77 0 -1 4194560 10 0 0 0 u s 0 0 20 0 1 0 99 1", procStat{}, false},
	} {
		got, ok := parseStat([]byte(tc.line))
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseStat(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMetricValue(t *testing.T) {
	const scrape = `# HELP herald_store_wal_bytes_total_x other
herald_store_wal_bytes_total_x 5
# TYPE herald_store_wal_bytes_total counter
herald_store_wal_bytes_total 1.23456789e+08
herald_lanes 0
`
	if v, err := metricValue(strings.NewReader(scrape), walMetric); err != nil || v != 123456789 {
		t.Errorf("metricValue = %d, %v; want 123456789", v, err)
	}
	if v, err := metricValue(strings.NewReader(walMetric+" 42 1700000000000\n"), walMetric); err != nil || v != 42 {
		t.Errorf("metricValue with a timestamp = %d, %v; want 42", v, err)
	}
	for _, bad := range []string{"herald_lanes 0\n", walMetric + " \n", walMetric + " many\n"} {
		if v, err := metricValue(strings.NewReader(bad), walMetric); err == nil {
			t.Errorf("metricValue(%q) = %d, no error", bad, v)
		}
	}
}

func TestLocalDSN(t *testing.T) {
	for dsn, want := range map[string]bool{
		"postgres://postgres@127.0.0.1:5432/test?sslmode=disable":   true,
		"postgres://u@localhost/db":                                 true,
		"postgres://u@[::1]:5432/db":                                true,
		"postgres:///db?host=/var/run/postgresql":                   true,
		"postgres://u@db.internal:5432/db":                          false,
		"postgres://u@10.0.0.5/db":                                  false,
		"postgres://u@127.0.0.1/db?host=db.internal":                false,
		"postgresql://u@127.0.0.2:6543/db?search_path=herald_bench": true,
	} {
		if got := localDSN(dsn); got != want {
			t.Errorf("localDSN(%q) = %v, want %v", dsn, got, want)
		}
	}
}
