package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// What the throughput runs cost: CPU per 1,000 deliveries against the raw
// ceiling's per 1,000 requests, and bytes of write-ahead log per delivery.
//
// CPU is the bench process's (getrusage(RUSAGE_SELF), user + system), from
// the first request to the last delivery's arrival: herald runs in this
// process, and so do the producers and the receiver, as the raw ceiling's
// client and server do. A PostgreSQL server is another process: its CPU
// over the same window is read apart, from /proc, when it runs on this
// machine (Linux only).
//
// The log is read before the first request and once herald has written
// every outcome (no delivery pending or sending, by GET /deliveries), so
// that the outcomes written after the last arrival count: on SQLite
// herald's own count of what its store wrote (herald_store_wal_bytes_total,
// from GET /metrics); on PostgreSQL the server's WAL insert position,
// which covers the whole server.

// Values of Throughput.DatabaseCPU.
const (
	dbInProcess = "in_process" // SQLite: in the bench process's CPU
	dbMeasured  = "measured"   // PostgreSQL, its processes read from /proc
	dbUnknown   = "unknown"    // PostgreSQL elsewhere, or not on Linux
)

// The wait for herald's last outcomes after a run, before the log is
// read: polled every settlePoll, at most settleMax.
const (
	settlePoll = 10 * time.Millisecond
	settleMax  = 30 * time.Second
)

// walMetric is the metric of herald's SQLite store that counts its log.
const walMetric = "herald_store_wal_bytes_total"

// clkTck is the unit of /proc/<pid>/stat's CPU times: sysconf(_SC_CLK_TCK),
// 100 on Linux.
const clkTck = 100

// costMeter reads what a throughput target's runs cost.
type costMeter struct {
	wal   func(ctx context.Context) (int64, error) // nil: unknown
	db    bool                                     // read the PostgreSQL server's CPU
	close func()
}

// costSample is one reading of the meters.
type costSample struct {
	cpu   float64 // the bench process's CPU s
	db    float64 // the database server's CPU s
	dbOK  bool
	dbIDs string // the database server's processes at the top (postgresCPUSec)
	wal   int64
	walOK bool
}

// meterFor sets up the meters of tg, whose herald instances are c.
func (b *runner) meterFor(ctx context.Context, tg target, c *cluster) *costMeter {
	m := &costMeter{close: func() {}}
	if tg.store != "postgres" {
		base := c.bases[0]
		m.wal = func(ctx context.Context) (int64, error) { return scrapeWAL(ctx, c.client, base) }
		return m
	}
	m.db = localDSN(tg.dsn)
	conn, err := pgx.Connect(ctx, tg.dsn)
	if err != nil {
		b.logf("%s ×%d: no WAL figure: %v", tg.store, tg.processes, err)
		return m
	}
	m.close = func() { conn.Close(context.Background()) }
	m.wal = func(ctx context.Context) (int64, error) { return serverWAL(ctx, conn) }
	return m
}

// start reads the meters before a run: the log first, so that reading it
// falls outside the CPU window.
func (m *costMeter) start(ctx context.Context) costSample {
	var s costSample
	if m.wal != nil {
		s.wal, s.walOK = m.readWAL(ctx)
	}
	if m.db {
		s.db, s.dbIDs, s.dbOK = postgresCPUSec()
	}
	s.cpu = cpuSec()
	return s
}

// end reads the meters at the end of a run: the CPU at once (the last
// delivery has arrived), the log once herald has written every outcome
// (settled).
func (m *costMeter) end(ctx context.Context, settled func(context.Context)) costSample {
	s := costSample{cpu: cpuSec()}
	if m.db {
		s.db, s.dbIDs, s.dbOK = postgresCPUSec()
	}
	if m.wal != nil {
		settled(ctx)
		s.wal, s.walOK = m.readWAL(ctx)
	}
	return s
}

// settled waits until no delivery of the environment of key is pending or
// sending: every outcome is written (the last ones follow the last
// arrival by a few ms). It polls every settlePoll, at most settleMax.
func (b *runner) settled(c *cluster, key string) func(context.Context) {
	return func(ctx context.Context) {
		deadline := time.Now().Add(settleMax)
		for {
			done, err := noneIn(ctx, c, key, "pending", "sending")
			if done || time.Now().After(deadline) || ctx.Err() != nil {
				if !done {
					b.logf("outcomes still unwritten after %s (%v): WAL read anyway", settleMax, err)
				}
				return
			}
			time.Sleep(settlePoll)
		}
	}
}

// noneIn reports whether the environment of key has no delivery in any of
// statuses.
func noneIn(ctx context.Context, c *cluster, key string, statuses ...string) (bool, error) {
	for _, st := range statuses {
		var page struct {
			Data []json.RawMessage `json:"data"`
		}
		q := url.Values{"status": {st}, "limit": {"1"}}
		if err := call(ctx, c.client, "GET", c.bases[0]+"/deliveries?"+q.Encode(), key, nil, &page); err != nil {
			return false, err
		}
		if len(page.Data) > 0 {
			return false, nil
		}
	}
	return true, nil
}

func (m *costMeter) readWAL(ctx context.Context) (int64, bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	w, err := m.wal(ctx)
	return w, err == nil
}

// fill sets t's cost figures from the samples before and after its run,
// and the raw ceiling's CPU per 1,000 requests.
func (t *Throughput) fill(s0, s1 costSample, rawCPUPer1000 float64) {
	per1000 := func(v float64) float64 { return v / float64(t.Events) * 1000 }
	t.CPUPer1000 = per1000(s1.cpu - s0.cpu)
	if rawCPUPer1000 > 0 {
		t.CPUOfCeiling = t.CPUPer1000 / rawCPUPer1000
	}
	switch {
	case t.Store != "postgres":
		t.DatabaseCPU = dbInProcess
		if rawCPUPer1000 > 0 {
			t.CPUWithDBOfCeiling = ptr(t.CPUOfCeiling)
		}
	case s0.dbOK && s1.dbOK && s0.dbIDs == s1.dbIDs && s1.db >= s0.db:
		t.DatabaseCPU = dbMeasured
		t.DBCPUPer1000 = ptr(per1000(s1.db - s0.db))
		if rawCPUPer1000 > 0 {
			t.CPUWithDBOfCeiling = ptr((t.CPUPer1000 + *t.DBCPUPer1000) / rawCPUPer1000)
		}
	default:
		t.DatabaseCPU = dbUnknown
	}
	if s0.walOK && s1.walOK {
		t.WALBytesPerDelivery = ptr(float64(s1.wal-s0.wal) / float64(t.Events))
	}
}

func ptr[T any](v T) *T { return &v }

// scrapeWAL reads herald_store_wal_bytes_total from the herald at base.
// GET /metrics needs no key.
func scrapeWAL(ctx context.Context, client *http.Client, base string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /metrics: %d", resp.StatusCode)
	}
	return metricValue(resp.Body, walMetric)
}

// metricValue finds the value of the unlabelled metric name in a scrape in
// Prometheus' text format.
func metricValue(r io.Reader, name string) (int64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	prefix := []byte(name + " ")
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), prefix); ok {
			fields := strings.Fields(string(v)) // the value, then perhaps a timestamp
			if len(fields) == 0 {
				return 0, fmt.Errorf("%s: no value", name)
			}
			f, err := strconv.ParseFloat(fields[0], 64)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", name, err)
			}
			return int64(f), nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: not in the scrape", name)
}

// serverWAL is the PostgreSQL server's WAL insert position, in bytes: how
// much WAL it has generated, for every database it serves. (pg_stat_wal's
// wal_bytes would do, but a backend adds to it at most once a second, and
// an idle one after 10 s: read just after a run it misses the run's end.)
func serverWAL(ctx context.Context, conn *pgx.Conn) (int64, error) {
	var n int64
	err := conn.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint`).Scan(&n)
	return n, err
}

// localDSN reports whether the PostgreSQL server at dsn runs on this
// machine: at a loopback address, localhost or a Unix socket.
func localDSN(dsn string) bool {
	u, err := url.Parse(dsn)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if h := u.Query().Get("host"); h != "" {
		host = h
	}
	if host == "" || host == "localhost" || strings.HasPrefix(host, "/") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// procStat is what the bench reads of a /proc/<pid>/stat line.
type procStat struct {
	ppid int64 // field 4
	// ticks is the process's user and system time and its reaped
	// children's (fields 14 to 17), in clock ticks: a server that forks a
	// process per connection keeps, in its own, the time of those that
	// have exited.
	ticks int64
	start int64 // field 22, the start time: with the pid, names the process
}

// parseStat parses a /proc/<pid>/stat line. Field 2, the name, is in
// parentheses and may hold spaces and parentheses.
func parseStat(stat []byte) (procStat, bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(stat[i+1:])) // f[0] is field 3
	if len(f) < 20 {
		return procStat{}, false
	}
	var n [6]int64
	for j, field := range []int{4, 14, 15, 16, 17, 22} {
		v, err := strconv.ParseInt(f[field-3], 10, 64)
		if err != nil {
			return procStat{}, false
		}
		n[j] = v
	}
	return procStat{ppid: n[0], ticks: n[1] + n[2] + n[3] + n[4], start: n[5]}, true
}
