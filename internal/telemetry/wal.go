package telemetry

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	herald "github.com/heraldhq/herald"
)

// WALBytesTimeout bounds the store's WALBytes on each scrape; past it
// herald_store_wal_bytes_total is left out of that scrape.
const WALBytesTimeout = time.Second

// WALCounter is a store that counts the bytes it has written to its
// write-ahead log: the embedded SQLite store (internal/store/sqlite). Its
// count starts when the store opens, that is, when the process starts.
type WALCounter interface {
	WALBytes(ctx context.Context) (int64, error)
}

// walCounter finds the WALCounter in store, or in the store it wraps,
// however deep: a wrapper (internal/store/cache, internal/store/crypt)
// returns the store it wraps from Unwrap. nil when none counts.
func walCounter(store any) WALCounter {
	for store != nil {
		if w, ok := store.(WALCounter); ok {
			return w
		}
		u, ok := store.(interface{ Unwrap() herald.Store })
		if !ok {
			return nil
		}
		store = u.Unwrap()
	}
	return nil
}

// walCollector reads herald_store_wal_bytes_total from the store on each
// scrape. Reading it waits for the writer's transaction in progress, so
// the read has a time limit; past it, or when the store fails, the
// counter is left out of that scrape (which Prometheus treats as a gap,
// not as a reset). Scrapes that come together share one read.
type walCollector struct {
	store   WALCounter
	timeout time.Duration
	desc    *prometheus.Desc
	flight  singleflight.Group
}

func newWALCollector(store WALCounter, timeout time.Duration) *walCollector {
	return &walCollector{store: store, timeout: timeout, desc: prometheus.NewDesc("herald_store_wal_bytes_total",
		"Bytes the embedded SQLite store has written to its write-ahead log since the process started.", nil, nil)}
}

func (c *walCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *walCollector) Collect(ch chan<- prometheus.Metric) {
	if n, err := readWithin(&c.flight, c.timeout, c.store.WALBytes); err == nil {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(n))
	}
}
