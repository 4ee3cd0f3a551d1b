package intake_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/canonjson"
	"github.com/heraldhq/herald/internal/dispatch"
	"github.com/heraldhq/herald/internal/egress"
	"github.com/heraldhq/herald/internal/environments"
	"github.com/heraldhq/herald/internal/intake"
	"github.com/heraldhq/herald/internal/store/cache"
	"github.com/heraldhq/herald/internal/store/sqlite"
	"github.com/heraldhq/herald/internal/testkit"
	"github.com/heraldhq/herald/nango"
)

// Event bodies Nango sends.
const (
	validAuth = `{"type":"auth","connectionId":"c1","providerConfigKey":"github","authMode":"OAUTH2","provider":"github","environment":"prod","operation":"creation","success":true}`
	validSync = `{"type":"sync","connectionId":"c1","providerConfigKey":"p","syncName":"s","model":"M","syncType":"INCREMENTAL","success":true,` +
		`"responseResults":{"added":1,"updated":0,"deleted":0},"modifiedAfter":"2026-03-25T19:42:49.717Z"}`
	failedSync = `{"type":"sync","connectionId":"c1","providerConfigKey":"p","syncName":"s","model":"M","syncType":"INCREMENTAL","success":false,` +
		`"error":{"type":"script_error","description":"boom"},"startedAt":"2026-03-25T19:42:49.717Z","failedAt":"2026-03-25T19:42:50.001Z"}`
	asyncAction = `{"type":"async_action","connectionId":"c1","providerConfigKey":"p","payload":{"id":"a1","statusUrl":"/action/a1"}}`
)

var discard = slog.New(slog.DiscardHandler)

// stores opens a real SQLite file behind the environment cache, as
// internal/server does, closed when the test ends.
func stores(t *testing.T) (*sqlite.Store, *cache.Store) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "herald.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, cache.New(db, cache.Options{})
}

// runDispatcher runs a real dispatcher over store until the test ends.
// Register it after the store, so that it stops before the store closes.
func runDispatcher(t *testing.T, store herald.Store) *dispatch.Dispatcher {
	t.Helper()
	client := egress.New(egress.Options{AllowPrivate: true})
	d := dispatch.New(dispatch.Config{Store: store, Client: client, Logger: discard})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		<-done
		client.CloseIdleConnections()
	})
	return d
}

// newEnv creates an environment through the environments service and
// applies patch (nil: defaults).
func newEnv(t *testing.T, store herald.Store, name string, patch map[string]any) *herald.Environment {
	t.Helper()
	envs := environments.New(environments.Config{Store: store})
	env, err := envs.Create(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	if patch != nil {
		if env.Settings, err = envs.UpdateSettings(t.Context(), env, patch); err != nil {
			t.Fatal(err)
		}
	}
	return env
}

// hook parses body for env, failing the test if it is refused.
func hook(t *testing.T, env *herald.Environment, body string) nango.Webhook {
	t.Helper()
	v, err := canonjson.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	h, err := intake.Parse(env, v)
	if err != nil {
		t.Fatalf("Parse(%s): %v", body, err)
	}
	return h
}

// canonical is the body herald sends for a valid body.
func canonical(t *testing.T, body string) []byte {
	t.Helper()
	v, err := canonjson.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	h, err := nango.FromValue(v)
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// deliveries lists every delivery of env.
func deliveries(t *testing.T, store herald.Store, env *herald.Environment) []herald.Delivery {
	t.Helper()
	ds, err := store.ListDeliveries(t.Context(), env.ID, herald.DeliveryFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

type received = testkit.Received

// newReceiver starts a loopback receiver that answers 200.
func newReceiver(t *testing.T) *testkit.Receiver { return testkit.NewReceiver(t) }

var waitFor = testkit.WaitFor

// fakeDispatcher implements intake.Dispatcher to observe Submit's
// contract: it records what it is given and runs commit unless err is set.
type fakeDispatcher struct {
	err error // returned without calling commit
	// before runs just before commit, to look at the store.
	before func(events []herald.EventRecord)

	calls   int
	events  [][]herald.EventRecord
	commits int
	stored  []bool
}

func (f *fakeDispatcher) Submit(events []herald.EventRecord, commit func() (bool, error)) error {
	f.calls++
	f.events = append(f.events, events)
	if f.err != nil {
		return f.err
	}
	if f.before != nil {
		f.before(events)
	}
	f.commits++
	stored, err := commit()
	f.stored = append(f.stored, stored)
	return err
}
