package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"time"

	"github.com/heraldhq/herald/client"
	"github.com/heraldhq/herald/internal/heraldtest"
	"github.com/heraldhq/herald/nango"
)

// exampleHerald is a real herald (internal/server.Run on a SQLite file in
// a temporary directory) on loopback, with an environment whose primary
// URL is a loopback receiver, for the examples.
type exampleHerald struct {
	URL      string // herald's base URL
	AdminKey string
	Key      string // the environment's secret key
	Receiver *exampleReceiver
	stop     func()
}

// exampleReceiver is a webhook endpoint that answers 200 and keeps the
// bodies it got.
type exampleReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []string
}

func (rc *exampleReceiver) Bodies() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.bodies...)
}

// startExampleHerald starts the herald of an example; Stop ends it and
// removes its files. It exits the process when herald does not start.
func startExampleHerald() *exampleHerald {
	dir, err := os.MkdirTemp("", "herald-client-example-")
	if err != nil {
		log.Fatal(err)
	}
	h := &exampleHerald{AdminKey: "example-admin-key", Receiver: &exampleReceiver{}}
	h.Receiver.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.Receiver.mu.Lock()
		h.Receiver.bodies = append(h.Receiver.bodies, string(b))
		h.Receiver.mu.Unlock()
	}))
	run, err := heraldtest.Start(dir, h.AdminKey)
	if err != nil {
		log.Fatal(err)
	}
	h.URL = run.URL
	h.stop = func() {
		run.Close()
		h.Receiver.srv.Close()
		os.RemoveAll(dir)
	}
	admin := client.New(h.URL, h.AdminKey)
	env, err := admin.CreateEnvironment(context.Background(), "prod")
	if err != nil {
		log.Fatal(err)
	}
	h.Key = env.SecretKey
	url := h.Receiver.srv.URL + "/webhooks/nango"
	if _, err := client.New(h.URL, h.Key).PatchSettings(context.Background(), client.SettingsPatch{PrimaryURL: &url}); err != nil {
		log.Fatal(err)
	}
	return h
}

// Stop ends herald and the receiver.
func (h *exampleHerald) Stop() { h.stop() }

// waitUntil polls cond every 10 ms for at most 10 s.
func waitUntil(what string, cond func() bool) {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			log.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func syncWebhook(connectionID string) *nango.SyncWebhook {
	return &nango.SyncWebhook{ConnectionID: connectionID, ProviderConfigKey: "github", SyncName: "issues",
		Model: "Issue", SyncType: nango.SyncTypeIncremental, Success: true,
		ResponseResults: &nango.ResponseResults{Added: 3, Updated: 1}, ModifiedAfter: "2026-03-25T19:42:49.717Z"}
}

// A producer sends a typed Nango webhook; herald stores it with one
// delivery per URL before it answers, then delivers it. The same
// Idempotency-Key again answers as the first time and delivers nothing
// new.
func ExampleClient_SendEvent() {
	h := startExampleHerald()
	defer h.Stop()
	ctx := context.Background()

	c := client.New(h.URL, h.Key)
	res, err := c.SendEvent(ctx, syncWebhook("c1"), &client.SendOptions{IdempotencyKey: "sync-42"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Type, len(res.Deliveries), "delivery")

	again, err := c.SendEvent(ctx, syncWebhook("c1"), &client.SendOptions{IdempotencyKey: "sync-42"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same event:", again.ID == res.ID)

	waitUntil("the webhook", func() bool { return len(h.Receiver.Bodies()) == 1 })
	fmt.Println(h.Receiver.Bodies()[0])
	// Output:
	// sync 1 delivery
	// same event: true
	// {"connectionId":"c1","from":"nango","model":"Issue","modifiedAfter":"2026-03-25T19:42:49.717Z","providerConfigKey":"github","responseResults":{"added":3,"deleted":0,"updated":1},"success":true,"syncName":"issues","syncType":"INCREMENTAL","syncVariant":"base","type":"sync"}
}

// A body already encoded as JSON is sent as it is; herald validates it.
func ExampleClient_SendEventJSON() {
	h := startExampleHerald()
	defer h.Stop()

	c := client.New(h.URL, h.Key)
	res, err := c.SendEventJSON(context.Background(), []byte(`{"type":"async_action","connectionId":"c1",`+
		`"providerConfigKey":"github","payload":{"id":"a1","statusUrl":"/action/a1"}}`), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Type, len(res.Deliveries), "delivery")
	// Output: async_action 1 delivery
}

// A batch is accepted whole or not at all; the results follow the order
// of the events.
func ExampleClient_SendBatch() {
	h := startExampleHerald()
	defer h.Stop()

	c := client.New(h.URL, h.Key)
	results, err := c.SendBatch(context.Background(), []nango.Webhook{syncWebhook("c1"), syncWebhook("c2")}, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range results {
		fmt.Println(r.Type, len(r.Deliveries))
	}
	// Output:
	// sync 1
	// sync 1
}

// AllDeliveries follows the cursors: here pages of two deliveries.
func ExampleClient_AllDeliveries() {
	h := startExampleHerald()
	defer h.Stop()
	ctx := context.Background()

	c := client.New(h.URL, h.Key)
	for _, conn := range []string{"c1", "c2", "c3"} {
		if _, err := c.SendEvent(ctx, syncWebhook(conn), nil); err != nil {
			log.Fatal(err)
		}
	}
	waitUntil("three webhooks", func() bool { return len(h.Receiver.Bodies()) == 3 })
	waitUntil("three deliveries succeeded", func() bool {
		page, err := c.ListDeliveries(ctx, &client.ListParams{Status: "succeeded"})
		return err == nil && len(page.Data) == 3
	})

	n := 0
	for d, err := range c.AllDeliveries(ctx, &client.ListParams{Type: "sync", Limit: 2}) {
		if err != nil {
			log.Fatal(err)
		}
		n++
		fmt.Println(d.Type, d.Status, d.Attempts)
	}
	fmt.Println(n, "deliveries")
	// Output:
	// sync succeeded 1
	// sync succeeded 1
	// sync succeeded 1
	// 3 deliveries
}

// A delivery's detail holds the body it sends and the log of its
// attempts.
func ExampleClient_GetDelivery() {
	h := startExampleHerald()
	defer h.Stop()
	ctx := context.Background()

	c := client.New(h.URL, h.Key)
	res, err := c.SendEvent(ctx, syncWebhook("c1"), nil)
	if err != nil {
		log.Fatal(err)
	}
	var d *client.DeliveryDetail
	waitUntil("the delivery succeeded", func() bool {
		d, err = c.GetDelivery(ctx, res.Deliveries[0].ID)
		return err == nil && d.Status == "succeeded"
	})
	fmt.Println(d.Status, len(d.AttemptLog), "attempt,", "status", *d.AttemptLog[0].StatusCode)
	fmt.Println("event:", d.EventID == res.ID)
	// Output:
	// succeeded 1 attempt, status 200
	// event: true
}

// Every answer other than a 2xx is an *Error with herald's code.
func ExampleError() {
	h := startExampleHerald()
	defer h.Stop()

	c := client.New(h.URL, h.Key)
	_, err := c.GetDelivery(context.Background(), "00000000-0000-4000-8000-000000000000")
	var herr *client.Error
	if errors.As(err, &herr) {
		fmt.Println(herr.StatusCode, herr.Code)
		fmt.Println(herr.Code == client.CodeNotFound)
	}

	_, err = client.New(h.URL, "not-a-key").GetSettings(context.Background())
	if errors.As(err, &herr) {
		fmt.Println(herr.StatusCode, herr.Code)
	}
	// Output:
	// 404 not_found
	// true
	// 401 unauthorized
}

// A patch changes only the fields it sets and returns the whole settings.
func ExampleClient_PatchSettings() {
	h := startExampleHerald()
	defer h.Stop()
	ctx := context.Background()

	c := client.New(h.URL, h.Key)
	s, err := c.PatchSettings(ctx, client.SettingsPatch{
		OnConnectionDeletion: new(true),
		TimeoutMS:            new(5000),
		Retry:                &client.RetryPolicy{ScheduleMS: []int64{1000, 60000}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.OnConnectionDeletion, s.TimeoutMS, s.Retry.ScheduleMS, s.OnAuthCreation)

	env, err := c.GetSettings(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(env.Name, env.WebhookSettings.TimeoutMS)
	// Output:
	// true 5000 [1000 60000] true
	// prod 5000
}

// The admin key creates and lists environments; a new environment's
// secret key is shown once, in the answer to its creation.
func ExampleClient_CreateEnvironment() {
	h := startExampleHerald()
	defer h.Stop()
	ctx := context.Background()

	admin := client.New(h.URL, h.AdminKey)
	env, err := admin.CreateEnvironment(ctx, "staging")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(env.Name, env.SecretKey != "", env.WebhookSigningKey != "")

	envs, err := admin.ListEnvironments(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range envs {
		fmt.Println(e.Name)
	}
	// Output:
	// staging true true
	// prod
	// staging
}

// Replay sends the events of a window again, as new deliveries to the
// environment's current URLs; herald writes them in the background.
func ExampleClient_Replay() {
	h := startExampleHerald()
	defer h.Stop()
	ctx := context.Background()

	c := client.New(h.URL, h.Key)
	start := time.Now().Add(-time.Minute)
	for _, conn := range []string{"c1", "c2"} {
		if _, err := c.SendEvent(ctx, syncWebhook(conn), nil); err != nil {
			log.Fatal(err)
		}
	}
	waitUntil("two webhooks", func() bool { return len(h.Receiver.Bodies()) == 2 })

	queued, err := c.Replay(ctx, client.ReplayParams{Since: start, Until: time.Now().Add(time.Minute), Type: "sync"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("queued", queued)
	waitUntil("the replays", func() bool { return len(h.Receiver.Bodies()) == 4 })
	fmt.Println(len(h.Receiver.Bodies()), "webhooks received")
	// Output:
	// queued 2
	// 4 webhooks received
}

// New takes options: the HTTP client, the retry policy and the
// User-Agent.
func ExampleNew() {
	h := startExampleHerald()
	defer h.Stop()

	c := client.New(h.URL, h.Key,
		client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}),
		client.WithRetry(5, 2*time.Second), // 5 attempts at most, never waiting more than 2 s at once
		client.WithUserAgent("billing-sync/1.4"),
	)
	env, err := c.GetSettings(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(env.Name)
	// Output: prod
}
