package bench

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Receiver behaviours, per target URL index.
const (
	healthy   = iota
	hang      // holds the request until herald gives up
	fail      // answers 500
	throttled // answers 429 with Retry-After: 1 past limit requests per clock second
	down      // answers 503 without Retry-After: an outage, not a throttle
)

// receiver is the loopback webhook receiver. URL i is base/h/i; each has
// a behaviour, which may change while herald delivers. It records
// first-attempt arrivals by event id and counts deliveries by id, for the
// healthy URLs, and logs what the watched URLs received.
type receiver struct {
	srv   *http.Server
	base  string
	limit atomic.Int64 // requests per clock second a throttled URL answers 200

	modes   []atomic.Int32
	logs    []urlLog
	healthy atomic.Int64 // distinct deliveries received on healthy URLs
	dups    atomic.Int64
	seen    stamps // delivery id → when it first arrived
	first   stamps // event id → when its first attempt arrived, and at which URL
	mu      sync.Mutex
	last    time.Time // last healthy arrival
}

// urlLog is what one URL received. Every URL counts; a watched one also
// keeps the time of every request and the arrival of every delivery.
type urlLog struct {
	requests  atomic.Int64 // every request, whatever the answer
	refused   atomic.Int64 // answered 429 or 503
	delivered atomic.Int64 // distinct deliveries answered 200
	last      atomic.Int64 // when the latest of them arrived, unix ns
	watch     atomic.Bool

	mu       sync.Mutex
	second   int64 // the clock second the throttle counts in
	admitted int   // requests answered 200 in it
	times    []time.Time
	arrivals []arrival
}

// arrival is a delivery answered 200 at a watched URL: when, and the
// index of its event (event(i)'s connectionId).
type arrival struct {
	at    time.Time
	index int
}

func newReceiver(urls int) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{base: "http://" + ln.Addr().String(), modes: make([]atomic.Int32, urls), logs: make([]urlLog, urls)}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

func (r *receiver) url(i int) string { return r.base + "/h/" + strconv.Itoa(i) }

func (r *receiver) close() { r.srv.Close() }

// reset forgets what was received and makes every URL healthy and
// unwatched.
func (r *receiver) reset() {
	r.healthy.Store(0)
	r.dups.Store(0)
	r.seen.clear()
	r.first.clear()
	for i := range r.modes {
		r.modes[i].Store(healthy)
		r.logs[i].reset()
	}
}

func (l *urlLog) reset() {
	l.requests.Store(0)
	l.refused.Store(0)
	l.delivered.Store(0)
	l.last.Store(0)
	l.watch.Store(false)
	l.mu.Lock()
	l.second, l.admitted, l.times, l.arrivals = 0, 0, nil, nil
	l.mu.Unlock()
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	i, _ := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/h/"))
	var l *urlLog
	mode := int32(healthy)
	if i >= 0 && i < len(r.modes) {
		mode, l = r.modes[i].Load(), &r.logs[i]
	}
	var body []byte
	if l != nil && l.watch.Load() {
		body, _ = io.ReadAll(req.Body)
	} else {
		io.Copy(io.Discard, req.Body)
	}
	if l != nil {
		l.request(now)
	}
	switch mode {
	case hang:
		<-req.Context().Done()
		return
	case fail:
		w.WriteHeader(http.StatusInternalServerError)
		return
	case down:
		l.refused.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case throttled:
		if !l.admit(now, int(r.limit.Load())) {
			l.refused.Add(1)
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
	}
	if id := req.Header.Get("X-Herald-Delivery-Id"); id != "" {
		if r.seen.add(id, now, i) {
			r.delivered(l, mode, now, body)
		} else {
			r.dups.Add(1)
		}
		if req.Header.Get("X-Herald-Attempt") == "1" {
			r.first.add(req.Header.Get("X-Herald-Event-Id"), now, i)
		}
		if mode == healthy {
			r.mu.Lock()
			r.last = now
			r.mu.Unlock()
		}
	}
	w.WriteHeader(http.StatusOK)
}

// delivered counts a delivery received for the first time.
func (r *receiver) delivered(l *urlLog, mode int32, now time.Time, body []byte) {
	if mode == healthy {
		r.healthy.Add(1)
	}
	if l == nil {
		return
	}
	l.delivered.Add(1)
	for t := now.UnixNano(); ; {
		if seen := l.last.Load(); seen >= t || l.last.CompareAndSwap(seen, t) {
			break
		}
	}
	if body != nil {
		l.mu.Lock()
		l.arrivals = append(l.arrivals, arrival{at: now, index: eventIndex(body)})
		l.mu.Unlock()
	}
}

// request counts one request, and logs its time if the URL is watched.
func (l *urlLog) request(now time.Time) {
	l.requests.Add(1)
	if l.watch.Load() {
		l.mu.Lock()
		l.times = append(l.times, now)
		l.mu.Unlock()
	}
}

// admit says whether a throttled URL answers this request: at most limit
// in each clock second.
func (l *urlLog) admit(now time.Time, limit int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := now.Unix(); s != l.second {
		l.second, l.admitted = s, 0
	}
	if l.admitted >= limit {
		return false
	}
	l.admitted++
	return true
}

// requestTimes returns a copy of the request times a watched URL logged.
func (l *urlLog) requestTimes() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Time(nil), l.times...)
}

// arrived returns a copy of the deliveries a watched URL logged, in
// arrival order.
func (l *urlLog) arrived() []arrival {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]arrival(nil), l.arrivals...)
}

// eventIndex reads i back from a body made by event(i); -1 if absent.
func eventIndex(body []byte) int {
	const key = `"connectionId":"conn-`
	k := bytes.Index(body, []byte(key))
	if k < 0 {
		return -1
	}
	rest := body[k+len(key):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return -1
	}
	n, err := strconv.Atoi(string(rest[:end]))
	if err != nil {
		return -1
	}
	return n
}

// deliveredFrom is how many distinct deliveries URLs from, from+1, … got,
// and when the latest of them arrived.
func (r *receiver) deliveredFrom(from int) (n int64, last time.Time) {
	var ns int64
	for i := from; i < len(r.logs); i++ {
		n += r.logs[i].delivered.Load()
		ns = max(ns, r.logs[i].last.Load())
	}
	return n, time.Unix(0, ns)
}

func (r *receiver) lastArrival() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}
