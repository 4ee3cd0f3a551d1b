package telemetry

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/singleflight"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/nango"
)

// QueueStatsTimeout bounds the store's QueueStats on each scrape; past it
// the queue gauges are left out of that scrape.
const QueueStatsTimeout = 2 * time.Second

// QueueStatsReuse is how long an answer of QueueStats serves the scrapes
// that follow it, so that the store is read at most this often however
// often /metrics is called.
const QueueStatsReuse = 5 * time.Second

// Status classes of herald_attempts_total.
const (
	ClassError = "error" // no response: connection refused, timeout, blocked address, …
	ClassOther = "other" // a status outside 200–599
)

// AttemptBuckets are herald_attempt_duration_seconds' buckets: from a
// receiver on the same host (5 ms) to the longest timeout_ms (60 s).
var AttemptBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30, 60}

// eventTypes are the values of the type label; any other type (none
// reaches a store today) is counted as "other".
var eventTypes = []string{string(nango.TypeAuth), string(nango.TypeSync), string(nango.TypeAsyncAction), string(nango.TypeForward)}

var finalStatuses = []string{herald.StatusSucceeded, herald.StatusFailed, herald.StatusSkipped}

var statusClasses = []string{"2xx", "3xx", "4xx", "5xx", ClassError}

// Metrics is one process's metrics. A nil *Metrics does nothing.
type Metrics struct {
	reg *prometheus.Registry
	now func() time.Time

	eventsAccepted   *prometheus.CounterVec
	eventsSkipped    *prometheus.CounterVec
	deliveries       *prometheus.CounterVec
	attempts         *prometheus.CounterVec
	attemptDuration  prometheus.Histogram
	inFlight         prometheus.Gauge
	prunedDeliveries prometheus.Counter
	prunedBodies     prometheus.Counter
	endpointEvents   *prometheus.CounterVec
	lanes            atomic.Pointer[func() int]
}

// New declares every metric on a new registry, with the Go runtime's and
// the process's collectors. store, when not nil, is read on each scrape
// for the queue gauges (pass the process's store; its QueueStats must stay
// cheap). When it is, or wraps, a WALCounter (the embedded SQLite store),
// herald_store_wal_bytes_total is read from it on each scrape too.
func New(store herald.StatsStore) *Metrics {
	return newMetrics(store, options{timeout: QueueStatsTimeout, reuse: QueueStatsReuse, walTimeout: WALBytesTimeout, now: time.Now})
}

// options are New's fixed choices, which tests change.
type options struct {
	timeout, reuse time.Duration
	walTimeout     time.Duration
	now            func() time.Time
}

func newMetrics(store herald.StatsStore, o options) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		now: o.now,
		eventsAccepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_events_accepted_total",
			Help: "Events stored, by webhook type (skipped ones included).",
		}, []string{"type"}),
		eventsSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_events_skipped_total",
			Help: "Events stored without deliveries, by webhook type and skip reason.",
		}, []string{"type", "reason"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_deliveries_total",
			Help: "Deliveries that reached a final state (succeeded, failed, skipped) in this process, by outcome.",
		}, []string{"outcome"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_attempts_total",
			Help: "Delivery attempts made by this process, by the class of the receiver's status, or error when there was no response.",
		}, []string{"status_class"}),
		attemptDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_attempt_duration_seconds",
			Help:    "Time from sending an attempt's request to the end of its response, or to its error.",
			Buckets: AttemptBuckets,
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_deliveries_in_flight",
			Help: "Attempts running now in this process.",
		}),
		prunedDeliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_pruned_deliveries_total",
			Help: "Finished deliveries deleted by retention (--retention) in this process, with their attempts.",
		}),
		prunedBodies: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_pruned_bodies_total",
			Help: "Event bodies emptied by retention (--body-retention) in this process.",
		}),
		endpointEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_endpoint_events_total",
			Help: "Endpoints disabled (by reason: manual, gone, failing) and enabled, and circuits opened and closed, by this process.",
		}, []string{"event", "reason"}),
	}
	lanes := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "herald_lanes",
		Help: "URL lanes open in this process's dispatcher now.",
	}, func() float64 {
		if f := m.lanes.Load(); f != nil {
			return float64((*f)())
		}
		return 0
	})
	// Series that exist from the start, at 0, so that rates and alerts
	// see them before the first increment.
	for _, t := range eventTypes {
		m.eventsAccepted.WithLabelValues(t)
	}
	for _, s := range finalStatuses {
		m.deliveries.WithLabelValues(s)
	}
	for _, c := range statusClasses {
		m.attempts.WithLabelValues(c)
	}
	for _, r := range []string{herald.DisabledManually, herald.DisabledGone, herald.DisabledFailing} {
		m.endpointEvents.WithLabelValues(EndpointDisabled, r)
	}
	for _, e := range []string{EndpointEnabled, EndpointCircuitOpened, EndpointCircuitClosed} {
		m.endpointEvents.WithLabelValues(e, "")
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.eventsAccepted, m.eventsSkipped, m.deliveries, m.attempts, m.attemptDuration, m.inFlight, lanes,
		m.prunedDeliveries, m.prunedBodies, m.endpointEvents,
	)
	if store != nil {
		errs := prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_queue_stats_errors_total",
			Help: "Scrapes for which the store failed to give the queue figures within the time limit; the herald_queue_* gauges are absent from those.",
		})
		m.reg.MustRegister(newQueueCollector(store, o, errs))
		if w := walCounter(store); w != nil {
			m.reg.MustRegister(newWALCollector(w, o.walTimeout))
		}
	}
	return m
}

// Registry returns the registry the metrics are on (nil for a nil
// *Metrics), to add collectors or to read them in tests.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the metrics in Prometheus' text format (or OpenMetrics,
// as the scraper asks). A collector's error never fails the scrape: what
// could be collected is served. A nil *Metrics serves 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, EnableOpenMetrics: true})
}

// EventsStored counts events just stored (not an idempotent replay):
// each as accepted, and those with a skip reason as skipped too.
func (m *Metrics) EventsStored(events []herald.EventRecord) {
	if m == nil {
		return
	}
	for i := range events {
		ev := &events[i].Event
		t := typeLabel(ev.Type)
		m.eventsAccepted.WithLabelValues(t).Inc()
		if ev.Skipped != "" {
			m.eventsSkipped.WithLabelValues(t, ev.Skipped).Inc()
		}
	}
}

// AttemptStarted counts an attempt in flight; AttemptDone ends it.
func (m *Metrics) AttemptStarted() {
	if m == nil {
		return
	}
	m.inFlight.Inc()
}

// AttemptDone ends an attempt counted by AttemptStarted. made is false when
// the attempt was interrupted and is not recorded (shutdown): it then only
// leaves the in-flight gauge. Otherwise it counts the attempt by its status
// class, its duration (from res.Attempt.StartedAt, when the request was
// sent, to now), and the delivery when res leaves it in a final state.
func (m *Metrics) AttemptDone(res herald.AttemptResult, made bool) {
	if m == nil {
		return
	}
	m.inFlight.Dec()
	if !made {
		return
	}
	m.attempts.WithLabelValues(StatusClass(res.Attempt.StatusCode)).Inc()
	if !res.Attempt.StartedAt.IsZero() {
		m.attemptDuration.Observe(max(0, m.now().Sub(res.Attempt.StartedAt).Seconds()))
	}
	switch res.Status {
	case herald.StatusSucceeded, herald.StatusFailed, herald.StatusSkipped:
		m.deliveries.WithLabelValues(res.Status).Inc()
	}
}

// Pruned counts deliveries deleted and event bodies emptied by retention.
func (m *Metrics) Pruned(deliveries, bodies int) {
	if m == nil {
		return
	}
	m.prunedDeliveries.Add(float64(deliveries))
	m.prunedBodies.Add(float64(bodies))
}

// Endpoint operations events (herald_endpoint_events_total's event).
const (
	EndpointDisabled = "endpoint.disabled"
	EndpointEnabled  = "endpoint.enabled"
	// EndpointCircuitOpened and EndpointCircuitClosed: an endpoint's
	// circuit breaker opened (or a probe failed), or a probe succeeded.
	EndpointCircuitOpened = "circuit.opened"
	EndpointCircuitClosed = "circuit.closed"
)

// EndpointEvent counts an endpoint disabled (with its reason) or enabled
// (reason "").
func (m *Metrics) EndpointEvent(event, reason string) {
	if m == nil {
		return
	}
	m.endpointEvents.WithLabelValues(event, reason).Inc()
}

// ObserveLanes makes herald_lanes read count on each scrape (the
// dispatcher's number of open lanes); count must be safe to call from any
// goroutine.
func (m *Metrics) ObserveLanes(count func() int) {
	if m == nil {
		return
	}
	m.lanes.Store(&count)
}

// StatusClass is the status_class label of an attempt's status code: 2xx,
// 3xx, 4xx or 5xx, "error" when there was no response (nil), "other" for
// a status outside 200–599.
func StatusClass(code *int) string {
	if code == nil {
		return ClassError
	}
	switch c := *code; {
	case c >= 200 && c < 300:
		return "2xx"
	case c >= 300 && c < 400:
		return "3xx"
	case c >= 400 && c < 500:
		return "4xx"
	case c >= 500 && c < 600:
		return "5xx"
	}
	return ClassOther
}

func typeLabel(t string) string {
	for _, known := range eventTypes {
		if t == known {
			return t
		}
	}
	return "other"
}

// queueCollector reads the queue gauges from the store on each scrape, at
// most once per reuse: /metrics is public, and the store's answer costs a
// read of every pending delivery, so scrapes that come together share one
// read, and one a little later reuses it (the age is still computed at the
// scrape).
type queueCollector struct {
	store                    herald.StatsStore
	timeout, reuse           time.Duration
	now                      func() time.Time
	errors                   prometheus.Counter
	pending, sending, oldest *prometheus.Desc

	flight singleflight.Group
	mu     sync.Mutex
	last   herald.QueueStats
	lastAt time.Time // when last was read; zero: never
}

func newQueueCollector(store herald.StatsStore, o options, errs prometheus.Counter) *queueCollector {
	return &queueCollector{
		store: store, timeout: o.timeout, reuse: o.reuse, now: o.now, errors: errs,
		pending: prometheus.NewDesc("herald_queue_pending_deliveries",
			"Deliveries waiting for an attempt (due or not), in the whole database.", nil, nil),
		sending: prometheus.NewDesc("herald_queue_sending_deliveries",
			"Deliveries claimed by a herald process, in the whole database.", nil, nil),
		oldest: prometheus.NewDesc("herald_queue_oldest_pending_age_seconds",
			"Age of the oldest pending delivery (since it was created); 0 when none is pending.", nil, nil),
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.sending
	ch <- c.oldest
	c.errors.Describe(ch)
}

// Collect sends the gauges, or, when the store fails or does not answer
// within the timeout, leaves them out of this scrape and counts the error
// (in this very scrape: the collector sends its error counter itself).
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	st, err := c.stats()
	if err != nil {
		c.errors.Inc()
		ch <- c.errors
		return
	}
	ch <- c.errors
	age := 0.0
	if st.OldestPendingAt != nil {
		age = max(0, c.now().Sub(*st.OldestPendingAt).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(st.Pending))
	ch <- prometheus.MustNewConstMetric(c.sending, prometheus.GaugeValue, float64(st.Sending))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
}

func (c *queueCollector) stats() (herald.QueueStats, error) {
	c.mu.Lock()
	if !c.lastAt.IsZero() && time.Since(c.lastAt) < c.reuse {
		st := c.last
		c.mu.Unlock()
		return st, nil
	}
	c.mu.Unlock()
	return readWithin(&c.flight, c.timeout, func(ctx context.Context) (herald.QueueStats, error) {
		st, err := c.store.QueueStats(ctx)
		if err == nil {
			c.mu.Lock()
			c.last, c.lastAt = st, time.Now()
			c.mu.Unlock()
		}
		return st, err
	})
}

// readWithin runs read once for the scrapes that come together (flight),
// with a context that ends after timeout, and stops waiting for it then:
// a store that does not heed its context still cannot hold up a scrape.
func readWithin[T any](flight *singleflight.Group, timeout time.Duration, read func(context.Context) (T, error)) (T, error) {
	ch := flight.DoChan("", func() (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		v, err := read(ctx)
		return v, err
	})
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var zero T
	select {
	case r := <-ch:
		if r.Err != nil {
			return zero, r.Err
		}
		return r.Val.(T), nil
	case <-timer.C:
		return zero, context.DeadlineExceeded
	}
}
