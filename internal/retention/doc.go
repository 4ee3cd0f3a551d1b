// Package retention deletes what herald no longer needs to keep
// (docs/running.md, "Retention"): once an interval, finished deliveries
// older than the retention go with their attempts and their events, and
// the bodies of finished events older than the body retention are
// emptied, and idempotency keys past their 24 hours are deleted. It works in bounded batches with a pause between them, so that
// ingest and dispatch interleave with it, and counts what it pruned in
// herald_pruned_deliveries_total and herald_pruned_bodies_total.
package retention
