// Package dispatch delivers claimed webhooks: it claims due deliveries from
// the store in batches, queues each on the lane of its target URL, makes the
// attempts through the egress client, and writes the outcomes back in
// batches.
//
// Isolation comes from the lanes: each URL has its own queue and at most
// LaneConcurrency attempts in flight, so an endpoint that hangs ties up only
// its own lane, and a full lane is left out of the next claim instead of
// filling memory. Retries are rows in the store with a later
// next_attempt_at, so a retry storm never sits in front of first attempts in
// memory.
//
// Files by concern: dispatch.go (configuration, Run and shutdown),
// claim.go (the claim loop and wake-ups), lanes.go (per-URL queues and
// workers), handoff.go (Submit: fresh deliveries from an ingest straight to
// their lanes), attempt.go (one HTTP attempt and its outcome), results.go
// (batched outcome writes), leases.go (lease renewal). Endpoint health, a
// circuit breaker and rate limits per endpoint belong here too, each in its
// own file.
package dispatch
