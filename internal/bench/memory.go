package bench

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // to count pending deliveries in the child's database
)

// child is a herald process the bench started on a new SQLite file.
type child struct {
	c      *cluster
	pid    int
	dbPath string
	stop   func() // ends the process and removes its files
}

// startChild runs the herald binary as a child process on a new SQLite
// file named name, and waits until it listens.
func (b *runner) startChild(ctx context.Context, name string) (*child, error) {
	if b.cfg.Binary == "" {
		return nil, errors.New("no herald binary to run")
	}
	dir, err := os.MkdirTemp("", "herald-bench-"+name+"-")
	if err != nil {
		return nil, err
	}
	dbPath := filepath.Join(dir, name+".db")
	cmd := exec.CommandContext(ctx, b.cfg.Binary, "serve", "--addr", "127.0.0.1:0", "--database", "sqlite:"+dbPath,
		"--admin-key", adminKey, "--allow-private-urls")
	cmd.Stderr = b.cfg.Log
	out, err := cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		os.RemoveAll(dir)
	}
	base, err := listeningOn(out)
	if err != nil {
		stop()
		return nil, err
	}
	c := &cluster{bases: []string{base}, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: b.cfg.Concurrency}}}
	return &child{c: c, pid: cmd.Process.Pid, dbPath: dbPath, stop: stop}, nil
}

// steadyRate and steadyGoalMiB are the steady run's load and goal
// (issue 14): a steady 500 events/s in at most 60 MiB.
const (
	steadyRate    = 500
	steadyGoalMiB = 60
)

// steady runs herald as a child process taking steadyRate single events
// a second for SteadyDuration, every one delivered to a loopback URL
// answering 200, and reports the child's peak RSS (VmHWM) over the run,
// until the last delivery arrived.
func (b *runner) steady(ctx context.Context) (*Steady, error) {
	ch, err := b.startChild(ctx, "steady")
	if err != nil {
		return nil, err
	}
	defer ch.stop()
	r, err := newReceiver(1)
	if err != nil {
		return nil, err
	}
	defer r.close()
	key, err := ch.c.newEnv(ctx, r.url(0), nil)
	if err != nil {
		return nil, err
	}
	peak := sampleRSS(ctx, ch.pid, "VmHWM")
	b.logf("steady: %d events/s for %s", steadyRate, b.cfg.SteadyDuration)
	n, _, _, err := b.pacedN(ctx, ch.c, []string{key}, steadyRate, int(steadyRate*b.cfg.SteadyDuration.Seconds()))
	if err == nil {
		err = b.waitHealthy(ctx, r, n)
	}
	mib := peak() // /proc's kB are KiB: rssMB's "MB" are MiB
	if err != nil {
		return nil, err
	}
	return &Steady{Rate: steadyRate, Seconds: b.cfg.SteadyDuration.Seconds(), Events: n, PeakRSSMiB: mib, GoalMiB: steadyGoalMiB}, nil
}

// memory runs herald as a child process on a new SQLite file, points an
// environment at a closed port on 127.0.0.1 with one retry an hour away,
// posts Pending events, and waits until every delivery has failed its
// first attempt or waits behind the endpoint's open circuit. It reports
// the child's peak RSS.
func (b *runner) memory(ctx context.Context) (*Memory, error) {
	ch, err := b.startChild(ctx, "memory")
	if err != nil {
		return nil, err
	}
	defer ch.stop()
	c, dbPath := ch.c, ch.dbPath

	// A port nothing listens on: every attempt is refused at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	down := "http://" + ln.Addr().String() + "/down"
	ln.Close()
	key, err := c.newEnv(ctx, down, map[string]any{"retry": map[string]any{"schedule_ms": []int{3_600_000}}})
	if err != nil {
		return nil, err
	}

	stopSampling := sampleRSS(ctx, ch.pid, "VmHWM")

	b.logf("memory: %d deliveries to a closed port", b.cfg.Pending)
	start := time.Now()
	if err := b.produce(ctx, c, []string{key}, b.cfg.Pending, 1000, nil); err != nil {
		stopSampling()
		return nil, err
	}
	ingest := time.Since(start)
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		stopSampling()
		return nil, err
	}
	defer db.Close()
	deadline := time.Now().Add(b.cfg.Timeout)
	for {
		var n int
		// Each delivery has had its first attempt, or waits behind the
		// endpoint's open circuit (which a dead URL opens after a few
		// failures) without one; those the dispatcher holds for the
		// circuit's next probe show as sending.
		err := db.QueryRowContext(ctx, `SELECT count(*) FROM deliveries WHERE status IN ('pending', 'sending')
			AND (attempts = 1 OR last_error = 'circuit open')`).Scan(&n)
		if err == nil && n == b.cfg.Pending {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stopSampling()
			return nil, fmt.Errorf("%d of %d deliveries pending after their first attempt or behind the open circuit (%v)", n, b.cfg.Pending, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	return &Memory{Pending: b.cfg.Pending, PeakRSSMB: stopSampling(), IngestSec: ingest.Seconds()}, nil
}

// sampleRSS reads field (VmRSS, VmHWM) of process pid every 100 ms until
// the function it returns is called, which returns the largest value
// read, in MB.
func sampleRSS(ctx context.Context, pid int, field string) func() float64 {
	peak := make(chan float64, 1)
	sampling, stop := context.WithCancel(ctx)
	go func() {
		max := 0.0
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if mb, err := rssMB(pid, field); err == nil && mb > max {
				max = mb
			}
			select {
			case <-sampling.Done():
				peak <- max
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	var mb float64
	return func() float64 {
		once.Do(func() { stop(); mb = <-peak })
		return mb
	}
}

// listeningOn reads herald's stdout until it prints its address.
func listeningOn(out interface{ Read([]byte) (int, error) }) (string, error) {
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, addr, ok := strings.Cut(sc.Text(), "listening on "); ok {
			go func() {
				for sc.Scan() {
				}
			}()
			return strings.TrimSpace(addr), nil
		}
	}
	return "", errors.New("herald exited before listening")
}

// rssMB reads a Vm* field of /proc/PID/status in MB.
func rssMB(pid int, field string) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// cpuModel names the processor, from /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
		}
	}
	return "unknown CPU"
}
