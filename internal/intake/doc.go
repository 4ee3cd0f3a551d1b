// Package intake turns webhook bodies into stored events and deliveries:
// it validates each body for its environment, computes the canonical bytes,
// applies the gates, picks the target URLs, and stores everything in one
// transaction together with the answer for the Idempotency-Key. It is the
// one owner of the rules for events coming in.
package intake
