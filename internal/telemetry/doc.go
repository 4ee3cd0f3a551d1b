// Package telemetry owns herald's Prometheus metrics: one registry per
// process (not the global default), every metric declared here, and the
// handler that serves them at GET /metrics.
//
// The packages where things happen count them through a *Metrics:
// internal/intake counts the events it stores, internal/dispatch the
// attempts, their duration, the attempts in flight, the deliveries that
// reach a final state and its open lanes. The queue gauges are read from
// the store on each scrape (herald.StatsStore), with a timeout; when the
// store does not answer, they are left out of that scrape, which still
// succeeds. So is herald_store_wal_bytes_total, the bytes the embedded
// SQLite store has written to its write-ahead log, when the store (or the
// store the process's wrappers wrap) counts them (WALCounter).
//
// Every method of *Metrics does nothing on a nil *Metrics, so a package
// or a test that does not wire metrics needs no change.
//
// Labels take values from small fixed sets only (webhook types, skip
// reasons, outcomes, status classes): never a URL, a connection or an
// environment, so the number of series stays bounded however herald is
// used.
package telemetry
