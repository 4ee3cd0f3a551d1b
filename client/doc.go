// Package client is the Go client of herald's HTTP API, for producers:
// the services that emit Nango-style webhooks through herald, and the
// operators who read its delivery log and send things again.
//
// A [Client] is made with the base URL of a herald process and a bearer
// key: an environment's secret key for every route but the admin ones,
// or the admin key for [Client.CreateEnvironment],
// [Client.ListEnvironments] and [Client.DeleteEnvironment].
//
//	c := client.New("http://127.0.0.1:8080", os.Getenv("HERALD_KEY"))
//	res, err := c.SendEvent(ctx, &nango.SyncWebhook{…}, &client.SendOptions{IdempotencyKey: "sync-42"})
//
// # Sending events
//
// [Client.SendEvent] takes a typed body from package
// github.com/heraldhq/herald/nango, validated and written as the
// canonical bytes herald will sign before it leaves; [Client.SendEventJSON]
// takes a body already encoded. [Client.SendBatch] and
// [Client.SendBatchJSON] send up to 1,000 events in one all-or-nothing
// request. A [SendOptions.IdempotencyKey] makes a repeat of the same
// request (the same key and body within 24 h) answer as the first did and
// deliver nothing new, which also makes it safe to retry after a network
// error.
//
// # The log
//
// [Client.ListEvents] and [Client.ListDeliveries] read one page, newest
// first, with the filters of [ListParams]; [Client.AllEvents] and
// [Client.AllDeliveries] follow the cursors for you as an iterator.
// [Client.GetEvent] and [Client.GetDelivery] add the body, and the
// deliveries or the attempt log.
//
// # Sending again
//
// [Client.RetryDelivery] queues one more round of attempts of a delivery,
// [Client.Recover] every failed delivery of a window, [Client.ReplayEvent]
// one event and [Client.Replay] every event of a window that a filter
// selects, to the environment's current URLs.
//
// # Errors and retries
//
// Every answer other than a 2xx is an [*Error] carrying the status and
// the code and message of herald's error body; use [errors.As]:
//
//	var herr *client.Error
//	if errors.As(err, &herr) && herr.Code == client.CodeNotFound { … }
//
// A request refused with 503 unavailable or 429 too_many_requests is
// tried again after the Retry-After that herald sent (seconds or an HTTP
// date), up to 3 attempts in all by default and never waiting longer than
// 10 s at once ([WithRetry]). A request that failed on the network (no
// answer) is tried again only when repeating it cannot do anything twice:
// a GET, or a POST /events or /events/batch with an Idempotency-Key.
//
// Routes without a method of their own (endpoints, integrations,
// connections, key rotation) are reached with [Client.Do].
package client
