// Package e2e holds herald's end-to-end tests. They build the herald binary
// once, start it as a separate process per test (herald serve on 127.0.0.1
// with a SQLite file in a temporary directory), drive it through its public
// HTTP API only, and receive its webhooks on loopback receivers.
//
// Run them with:
//
//	go test -race -count=1 ./e2e/
//
// Environment variables:
//
//	HERALD_E2E_RACE=1   build the herald binary itself with -race; a data
//	                    race in herald then fails the test whose process
//	                    reported it (exit status 66).
//
// The tests make network connections to 127.0.0.1 only. They never assert
// that herald is fast: every wait is a bounded poll for a state, and the only
// timing assertions are lower bounds the contract mandates (retry gaps,
// Retry-After, the per-attempt timeout).
package e2e
