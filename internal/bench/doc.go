// Package bench is herald's reproducible benchmark (herald bench). It
// starts its own loopback receivers and its own herald — in this process
// on SQLite or PostgreSQL, or as a child process for the memory figure —
// and measures, in one run:
//
//   - the raw ceiling: a minimal Go client POSTing one body with
//     keep-alive to the receiver, the machine's limit;
//   - herald end to end, events posted one per request and in batches:
//     events accepted/s, deliveries completed/s and their ratio to the
//     ceiling; CPU seconds per 1,000 deliveries as a multiple of the
//     ceiling's per 1,000 requests (the bench process's, and on a
//     PostgreSQL server on this machine, with the server's), and bytes of
//     write-ahead log per delivery (cost.go);
//   - accept-to-first-attempt latency at a fixed rate;
//   - isolation: throughput of the other URLs while 20 % of URLs hang
//     until the timeout, as a ratio to the same URLs in an all-healthy
//     run;
//   - retry storm: first-attempt latency of healthy URLs while 50 % of URLs
//     answer 500, as a ratio to a calm run;
//   - throttle: the same while 50 % of URLs are a rate-limited API (429
//     with Retry-After: 1 past a rate), and how many requests herald sent
//     each of those per second, against that rate;
//   - outage: one URL answers 503 for a while (90 s; the hour,
//     compressed), then comes back: whether every delivery to it arrives
//     then, how far from creation order, and the other URLs' first-attempt
//     latency meanwhile as a ratio to a calm run;
//   - memory: peak RSS of a herald process holding many pending deliveries;
//   - the peers' published scenarios: convoy (one endpoint, single events
//     at 50/s then 200/s: accept-to-first-attempt per rate) and outpost
//     (10 publishers at 100/s each into 100 destinations: latency and
//     events lost), each with the bench process's CPU seconds per 1,000
//     deliveries and peak RSS (herald, load and receiver together).
//
// All traffic stays on 127.0.0.1.
package bench
