// Package herald holds the domain of the herald webhook delivery service:
// environments and their webhook settings, events, deliveries and attempts,
// the retry policy, what a valid webhook URL is, the one error type with
// codes, and the Store interface — with every capability the service relies
// on declared in it, such as Wakeups — that internal/store/sqlite and
// internal/store/postgres implement.
//
// The package depends on nothing but the standard library; everything else
// depends on it, never the other way round. It is public, with nango and
// canonjson; the machinery lives under internal/.
package herald
