package telemetry

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store/cache"
	"github.com/heraldhq/herald/internal/store/crypt"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// fakeWAL is a store that counts its write-ahead log. Its herald.Store is
// nil: only QueueStats and WALBytes are called.
type fakeWAL struct {
	herald.Store
	fakeStats
	bytes int64
	err   error
	// block, when set, makes WALBytes wait for it, ignoring its context.
	block chan struct{}
}

func (f *fakeWAL) QueueStats(ctx context.Context) (herald.QueueStats, error) {
	return f.fakeStats.QueueStats(ctx)
}

func (f *fakeWAL) WALBytes(ctx context.Context) (int64, error) {
	if f.block != nil {
		<-f.block
	}
	return f.bytes, f.err
}

// wrapper wraps a store as internal/store/cache and crypt do.
type wrapper struct{ herald.Store }

func (w *wrapper) Unwrap() herald.Store { return w.Store }

func (w *wrapper) QueueStats(ctx context.Context) (herald.QueueStats, error) {
	if st, ok := w.Store.(herald.StatsStore); ok {
		return st.QueueStats(ctx)
	}
	return herald.QueueStats{}, nil
}

// hider wraps a store without saying which.
type hider struct{ herald.Store }

func (h *hider) QueueStats(ctx context.Context) (herald.QueueStats, error) {
	return herald.QueueStats{}, nil
}

const walHelp = `
# HELP herald_store_wal_bytes_total Bytes the embedded SQLite store has written to its write-ahead log since the process started.
# TYPE herald_store_wal_bytes_total counter
`

// herald_store_wal_bytes_total is read on each scrape from the store,
// found under the wrappers around it; it is there only for a store that
// counts its log.
func TestWALBytes(t *testing.T) {
	f := &fakeWAL{bytes: 123456789}
	for _, tc := range []struct {
		name  string
		store herald.StatsStore
		want  string
	}{
		{"the store", f, walHelp + "herald_store_wal_bytes_total 1.23456789e+08\n"},
		{"wrapped twice", &wrapper{&wrapper{f}}, walHelp + "herald_store_wal_bytes_total 1.23456789e+08\n"},
		{"a wrapper that does not unwrap", &hider{f}, ""},
		{"no counter", &fakeStats{}, ""},
		{"a wrapper around nothing", &wrapper{}, ""},
		{"no store", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTest(tc.store)
			if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(tc.want), "herald_store_wal_bytes_total"); err != nil {
				t.Error(err)
			}
		})
	}
	f.bytes = 2 << 40
	if err := testutil.GatherAndCompare(newTest(f).Registry(), strings.NewReader(walHelp+"herald_store_wal_bytes_total 2.199023255552e+12\n"),
		"herald_store_wal_bytes_total"); err != nil {
		t.Error(err)
	}
}

// A store that fails, or does not answer in time, leaves the counter out
// of the scrape, which still succeeds with everything else.
func TestWALBytesErrors(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	for _, tc := range []struct {
		name  string
		store *fakeWAL
	}{
		{"error", &fakeWAL{err: errors.New("database is on fire")}},
		{"timeout", &fakeWAL{block: block}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := scrape(t, newTest(tc.store))
			if strings.Contains(body, "herald_store_wal_bytes_total") {
				t.Errorf("scrape shows herald_store_wal_bytes_total despite the store's failure:\n%s", body)
			}
			for _, want := range []string{"herald_queue_pending_deliveries 0\n", "herald_lanes 0\n", "go_goroutines "} {
				if !strings.Contains(body, want) {
					t.Errorf("scrape lacks %q:\n%s", want, body)
				}
			}
		})
	}
}

var walLine = regexp.MustCompile(`(?m)^herald_store_wal_bytes_total (\S+)$`)

// The embedded store, wrapped as herald wraps it, shows its log's bytes,
// and they grow with a write.
func TestWALBytesSQLite(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "herald.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := cache.New(crypt.New(db, crypt.Keyring{}), cache.Options{})
	m := New(store)
	read := func() float64 {
		t.Helper()
		body := scrape(t, m)
		match := walLine.FindStringSubmatch(body)
		if match == nil {
			t.Fatalf("no herald_store_wal_bytes_total in the scrape:\n%s", body)
		}
		v, err := strconv.ParseFloat(match[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := read()
	if before <= 0 {
		t.Errorf("herald_store_wal_bytes_total = %v after open (the migrations), want > 0", before)
	}
	env := &herald.Environment{ID: "env-1", Name: "wal", SecretKeyHash: []byte("0123456789abcdef0123456789abcdef"),
		SigningKey: "k", Settings: herald.DefaultSettings(), CreatedAt: time.Now()}
	if err := store.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	if after := read(); after <= before {
		t.Errorf("herald_store_wal_bytes_total = %v after a write, %v before", after, before)
	}
}
