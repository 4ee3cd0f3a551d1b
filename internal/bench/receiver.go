package bench

import (
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
	healthy = iota
	hang    // holds the request until herald gives up
	fail    // answers 500
)

// receiver is the loopback webhook receiver. URL i is base/h/i; each has
// a behaviour. It records first-attempt arrivals by event id and counts
// deliveries by id, for the healthy URLs.
type receiver struct {
	srv  *http.Server
	base string

	modes   []atomic.Int32
	healthy atomic.Int64 // distinct deliveries received on healthy URLs
	dups    atomic.Int64
	seen    sync.Map // delivery id → struct{}
	first   sync.Map // event id → time of first attempt
	mu      sync.Mutex
	last    time.Time // last healthy arrival
}

func newReceiver(urls int) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{base: "http://" + ln.Addr().String(), modes: make([]atomic.Int32, urls)}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

func (r *receiver) url(i int) string { return r.base + "/h/" + strconv.Itoa(i) }

func (r *receiver) close() { r.srv.Close() }

// reset forgets what was received and makes every URL healthy.
func (r *receiver) reset() {
	r.healthy.Store(0)
	r.dups.Store(0)
	r.seen.Clear()
	r.first.Clear()
	for i := range r.modes {
		r.modes[i].Store(healthy)
	}
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	io.Copy(io.Discard, req.Body)
	i, _ := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/h/"))
	mode := int32(healthy)
	if i >= 0 && i < len(r.modes) {
		mode = r.modes[i].Load()
	}
	switch mode {
	case hang:
		<-req.Context().Done()
		return
	case fail:
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if id := req.Header.Get("X-Herald-Delivery-Id"); id != "" {
		if _, dup := r.seen.LoadOrStore(id, struct{}{}); dup {
			r.dups.Add(1)
		} else {
			r.healthy.Add(1)
		}
		if req.Header.Get("X-Herald-Attempt") == "1" {
			r.first.LoadOrStore(req.Header.Get("X-Herald-Event-Id"), now)
		}
		r.mu.Lock()
		r.last = now
		r.mu.Unlock()
	}
	w.WriteHeader(http.StatusOK)
}

func (r *receiver) lastArrival() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}
