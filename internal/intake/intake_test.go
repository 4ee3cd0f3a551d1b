package intake_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/canonjson"
	"github.com/heraldhq/herald/internal/intake"
	"github.com/heraldhq/herald/internal/testkit"
	"github.com/heraldhq/herald/nango"
)

// TestParse: fields Nango's types do not declare are kept unless the
// environment's strict_validation refuses them; every refusal is a
// *nango.ValidationError naming the field.
func TestParse(t *testing.T) {
	loose := &herald.Environment{Settings: herald.DefaultSettings()}
	strict := &herald.Environment{Settings: herald.DefaultSettings()}
	strict.Settings.StrictValidation = true
	withExtra := strings.Replace(validAuth, `"success":true`, `"success":true,"extra":1`, 1)
	nested := strings.Replace(validSync, `"added":1`, `"added":1,"skipped":2`, 1)

	cases := []struct {
		name    string
		env     *herald.Environment
		body    string
		field   string   // "": accepted
		msg     string   // part of the error message
		unknown []string // UnknownFields of an accepted body
	}{
		{"loose_known_only", loose, validAuth, "", "", nil},
		{"strict_known_only", strict, validSync, "", "", nil},
		{"loose_keeps_unknown", loose, withExtra, "", "", []string{"extra"}},
		{"loose_keeps_nested_unknown", loose, nested, "", "", []string{"responseResults.skipped"}},
		{"strict_refuses_unknown", strict, withExtra, "extra", "strict_validation", nil},
		{"strict_refuses_nested_unknown", strict, nested, "responseResults.skipped", "strict_validation", nil},
		{"loose_unknown_type", loose, strings.Replace(validAuth, `"type":"auth"`, `"type":"webhook"`, 1), "type", "", nil},
		{"strict_unknown_type", strict, strings.Replace(validAuth, `"type":"auth"`, `"type":"webhook"`, 1), "type", "", nil},
		{"missing_type", loose, `{"connectionId":"c1"}`, "type", "required", nil},
		{"missing_model", loose, strings.Replace(validSync, `"model":"M",`, ``, 1), "model", "", nil},
		{"not_an_object", loose, `[1,2]`, "", "JSON object", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := canonjson.Parse([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			h, err := intake.Parse(c.env, v)
			if c.field == "" && c.msg == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got := nango.UnknownFields(h); !slices.Equal(got, c.unknown) {
					t.Errorf("UnknownFields %v, want %v", got, c.unknown)
				}
				return
			}
			var ve *nango.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v (%T), want a *nango.ValidationError", err, err)
			}
			if h != nil {
				t.Errorf("a refused body returned a webhook %v", h)
			}
			if ve.Field != c.field || !strings.Contains(ve.Msg, c.msg) {
				t.Errorf("field %q msg %q, want field %q and a message with %q", ve.Field, ve.Msg, c.field, c.msg)
			}
		})
	}
}

// TestAcceptEventSkipped: an event that is not to be sent is stored with
// its reason and no delivery, and nothing reaches the receiver.
func TestAcceptEventSkipped(t *testing.T) {
	db, store := stores(t)
	d := runDispatcher(t, store)
	svc := &intake.Service{Store: store, Dispatcher: d}
	rc := newReceiver(t)
	noURL := newEnv(t, store, "no-url", nil)
	withURL := newEnv(t, store, "with-url", map[string]any{"primary_url": rc.URL("/hook"), "on_sync_error": false})

	cases := []struct {
		name, body, typ, reason string
		env                     *herald.Environment
	}{
		{"no_url", validAuth, "auth", intake.SkippedNoURL, noURL},
		{"no_url_forward", `{"type":"forward","providerConfigKey":"p","payload":{}}`, "forward", "no_webhook_url", noURL},
		{"on_sync_error_off", failedSync, "sync", nango.ReasonSyncErrorDisabled, withURL},
		{"unknown_operation", strings.Replace(validAuth, `"creation"`, `"unknown"`, 1), "auth", "unknown_operation", withURL},
		{"deletion_off_by_default", strings.Replace(validAuth, `"creation"`, `"deletion"`, 1), "auth", "on_connection_deletion_disabled", withURL},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			answer, err := svc.AcceptEvent(t.Context(), c.env, "", hook(t, c.env, c.body))
			if err != nil {
				t.Fatal(err)
			}
			var res intake.Result
			if err := json.Unmarshal(answer, &res); err != nil {
				t.Fatal(err)
			}
			want := `{"id":"` + res.ID + `","type":"` + c.typ + `","deliveries":[],"skipped":"` + c.reason + `"}`
			if string(answer) != want {
				t.Errorf("answer\n got %s\nwant %s", answer, want)
			}
			ev, ds, err := db.GetEvent(t.Context(), c.env.ID, res.ID)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Skipped != c.reason || len(ds) != 0 {
				t.Errorf("stored event skipped %q with %d deliveries, want %q and none", ev.Skipped, len(ds), c.reason)
			}
			if !bytes.Equal(ev.Body, canonical(t, c.body)) {
				t.Errorf("stored body %s, want the canonical one", ev.Body)
			}
		})
	}
	for _, env := range []*herald.Environment{noURL, withURL} {
		if ds := deliveries(t, store, env); len(ds) != 0 {
			t.Errorf("%s: %d deliveries for skipped events", env.Name, len(ds))
		}
	}
	// A marker that is sent: once it has arrived, anything stored before
	// it would have been sent too.
	marker, err := svc.AcceptEvent(t.Context(), withURL, "", hook(t, withURL, asyncAction))
	if err != nil {
		t.Fatal(err)
	}
	var m intake.Result
	json.Unmarshal(marker, &m)
	waitFor(t, "the marker webhook", func() bool { return len(rc.Requests()) > 0 })
	if got := rc.Requests(); len(got) != 1 || got[0].Header.Get("X-Herald-Event-Id") != m.ID {
		t.Errorf("the receiver got %d webhooks, want the marker %s alone", len(got), m.ID)
	}
}

// TestAcceptEventTwoURLs: with a primary and a secondary URL, one event
// makes two deliveries, and each receiver gets the canonical body signed
// with the environment's key.
func TestAcceptEventTwoURLs(t *testing.T) {
	_, store := stores(t)
	d := runDispatcher(t, store)
	svc := &intake.Service{Store: store, Dispatcher: d}
	primary, secondary := newReceiver(t), newReceiver(t)
	env := newEnv(t, store, "prod", map[string]any{"primary_url": primary.URL("/hook"), "secondary_url": secondary.URL("/hook")})
	body := `{"type":"forward","providerConfigKey":"p","connectionId":"c1","payload":{"z":1.50,"a":"<b>&é"}}`
	want := []byte(`{"connectionId":"c1","from":"nango","payload":{"a":"<b>&é","z":1.5},"providerConfigKey":"p","type":"forward"}`)

	answer, err := svc.AcceptEvent(t.Context(), env, "", hook(t, env, body))
	if err != nil {
		t.Fatal(err)
	}
	var res intake.Result
	if err := json.Unmarshal(answer, &res); err != nil {
		t.Fatal(err)
	}
	if res.Skipped != nil || len(res.Deliveries) != 2 || res.Deliveries[0].URL != primary.URL("/hook") || res.Deliveries[1].URL != secondary.URL("/hook") {
		t.Fatalf("answer %s, want two deliveries, primary first", answer)
	}
	for i, rc := range []*testkit.Receiver{primary, secondary} {
		waitFor(t, "webhook "+rc.URL("/hook"), func() bool { return len(rc.Requests()) > 0 })
		got := rc.Requests()
		if len(got) != 1 {
			t.Fatalf("%s got %d webhooks, want 1", rc.URL("/hook"), len(got))
		}
		q := got[0]
		if !bytes.Equal(q.Body, want) {
			t.Errorf("%s got body\n%s\nwant\n%s", rc.URL("/hook"), q.Body, want)
		}
		if !nango.VerifyHMAC(env.SigningKey, q.Body, q.Header.Get(nango.HeaderHMAC)) {
			t.Errorf("%s: %s %q does not verify", rc.URL("/hook"), nango.HeaderHMAC, q.Header.Get(nango.HeaderHMAC))
		}
		if id := q.Header.Get("X-Herald-Delivery-Id"); id != res.Deliveries[i].ID {
			t.Errorf("%s got delivery %s, want %s", rc.URL("/hook"), id, res.Deliveries[i].ID)
		}
		if id := q.Header.Get("X-Herald-Event-Id"); id != res.ID {
			t.Errorf("%s got event %s, want %s", rc.URL("/hook"), id, res.ID)
		}
	}
	waitFor(t, "both deliveries succeeded", func() bool {
		ds := deliveries(t, store, env)
		return len(ds) == 2 && ds[0].Status == herald.StatusSucceeded && ds[1].Status == herald.StatusSucceeded
	})
}

// TestAcceptBatch: the answer is {"results":[…]} in the order of the
// hooks, and a batch is stored all or nothing.
func TestAcceptBatch(t *testing.T) {
	_, store := stores(t)
	d := runDispatcher(t, store)
	svc := &intake.Service{Store: store, Dispatcher: d}
	rc := newReceiver(t)
	env := newEnv(t, store, "prod", map[string]any{"primary_url": rc.URL("/hook")})

	// A hook built by hand that Nango would not send: Canonical refuses it.
	invalid := &nango.AuthWebhook{ConnectionID: "", ProviderConfigKey: "p", Operation: "creation"}
	_, err := svc.AcceptBatch(t.Context(), env, "", []nango.Webhook{hook(t, env, validAuth), invalid, hook(t, env, validSync)})
	var ve *nango.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("batch with an invalid hook: %v, want a *nango.ValidationError", err)
	}
	if ds := deliveries(t, store, env); len(ds) != 0 {
		t.Fatalf("a refused batch stored %d deliveries", len(ds))
	}

	bodies := []string{validAuth, strings.Replace(validAuth, `"creation"`, `"deletion"`, 1), validSync, asyncAction}
	hooks := make([]nango.Webhook, len(bodies))
	for i, b := range bodies {
		hooks[i] = hook(t, env, b)
	}
	answer, err := svc.AcceptBatch(t.Context(), env, "", hooks)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Results []json.RawMessage `json:"results"`
	}
	dec := json.NewDecoder(bytes.NewReader(answer))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("answer %s: %v", answer, err)
	}
	if len(out.Results) != len(bodies) {
		t.Fatalf("%d results, want %d: %s", len(out.Results), len(bodies), answer)
	}
	wantTypes := []string{"auth", "auth", "sync", "async_action"}
	wantSkipped := []string{"", "on_connection_deletion_disabled", "", ""}
	ids := map[string]bool{}
	for i, raw := range out.Results {
		var r intake.Result
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields()
		if err := d.Decode(&r); err != nil {
			t.Fatalf("result %d %s: %v", i, raw, err)
		}
		skipped := ""
		if r.Skipped != nil {
			skipped = *r.Skipped
		}
		if r.Type != wantTypes[i] || skipped != wantSkipped[i] {
			t.Errorf("result %d: type %s skipped %q, want %s %q", i, r.Type, skipped, wantTypes[i], wantSkipped[i])
		}
		if (skipped == "") != (len(r.Deliveries) == 1) {
			t.Errorf("result %d: %d deliveries with skipped %q", i, len(r.Deliveries), skipped)
		}
		ids[r.ID] = true
	}
	if len(ids) != len(bodies) {
		t.Errorf("results share ids: %s", answer)
	}
	if ds := deliveries(t, store, env); len(ds) != 3 {
		t.Errorf("%d deliveries stored, want 3", len(ds))
	}
	waitFor(t, "3 webhooks", func() bool { return len(rc.Requests()) == 3 })
}

// TestIdempotency: a repeated key returns the first answer, stores nothing
// new and sends nothing new.
func TestIdempotency(t *testing.T) {
	_, store := stores(t)
	d := runDispatcher(t, store)
	svc := &intake.Service{Store: store, Dispatcher: d}
	rc := newReceiver(t)
	env := newEnv(t, store, "prod", map[string]any{"primary_url": rc.URL("/hook")})

	first, err := svc.AcceptEvent(t.Context(), env, "event:k1", hook(t, env, validAuth))
	if err != nil {
		t.Fatal(err)
	}
	again, err := svc.AcceptEvent(t.Context(), env, "event:k1", hook(t, env, validAuth))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, first) {
		t.Errorf("replay\n got %s\nwant %s", again, first)
	}
	// The same key with another body is refused, and stores nothing.
	if _, err := svc.AcceptEvent(t.Context(), env, "event:k1", hook(t, env, validSync)); !errors.Is(err, herald.ErrIdempotencyKeyReused) {
		t.Errorf("same key, other body: %v, want herald.ErrIdempotencyKeyReused", err)
	}
	batch, err := svc.AcceptBatch(t.Context(), env, "batch:k1", []nango.Webhook{hook(t, env, validSync), hook(t, env, asyncAction)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AcceptBatch(t.Context(), env, "batch:k1", []nango.Webhook{hook(t, env, validAuth)}); !errors.Is(err, herald.ErrIdempotencyKeyReused) {
		t.Errorf("same batch key, other events: %v, want herald.ErrIdempotencyKeyReused", err)
	}
	again, err = svc.AcceptBatch(t.Context(), env, "batch:k1", []nango.Webhook{hook(t, env, validSync), hook(t, env, asyncAction)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, batch) {
		t.Errorf("batch replay\n got %s\nwant %s", again, batch)
	}
	if ds := deliveries(t, store, env); len(ds) != 3 {
		t.Errorf("%d deliveries stored, want 3 (1 event + 2 batch events)", len(ds))
	}
	// A fresh event after the replays is the fourth webhook; once it is
	// in, the replays would have shown up too.
	marker, err := svc.AcceptEvent(t.Context(), env, "", hook(t, env, validAuth))
	if err != nil {
		t.Fatal(err)
	}
	var m intake.Result
	json.Unmarshal(marker, &m)
	waitFor(t, "the marker", func() bool {
		return slices.ContainsFunc(rc.Requests(), func(q received) bool { return q.Header.Get("X-Herald-Event-Id") == m.ID })
	})
	waitFor(t, "4 webhooks", func() bool { return len(rc.Requests()) >= 4 })
	if n := len(rc.Requests()); n != 4 {
		t.Errorf("the receiver got %d webhooks, want 4", n)
	}
}

// TestSubmitContract: AcceptEvent and AcceptBatch hand Submit the events
// with their deliveries, store nothing before commit, commit exactly once,
// and tell commit's stored apart from a replay.
func TestSubmitContract(t *testing.T) {
	db, store := stores(t)
	env := newEnv(t, store, "prod", map[string]any{"primary_url": "http://127.0.0.1:1/a", "secondary_url": "http://127.0.0.1:1/b"})
	now := time.Date(2026, 3, 25, 19, 42, 49, 717_000_000, time.FixedZone("CET", 3600))
	fake := &fakeDispatcher{}
	fake.before = func(events []herald.EventRecord) {
		for _, e := range events {
			if _, _, err := db.GetEvent(t.Context(), env.ID, e.Event.ID); !errors.Is(err, herald.ErrNotFound) {
				t.Errorf("event %s readable before commit: %v", e.Event.ID, err)
			}
		}
	}
	svc := &intake.Service{Store: store, Dispatcher: fake, Now: func() time.Time { return now }}

	answer, err := svc.AcceptEvent(t.Context(), env, "k", hook(t, env, validAuth))
	if err != nil {
		t.Fatal(err)
	}
	if fake.calls != 1 || fake.commits != 1 || !slices.Equal(fake.stored, []bool{true}) {
		t.Fatalf("Submit calls %d, commits %d, stored %v; want 1, 1, [true]", fake.calls, fake.commits, fake.stored)
	}
	var res intake.Result
	json.Unmarshal(answer, &res)
	evs := fake.events[0]
	if len(evs) != 1 {
		t.Fatalf("Submit got %d events, want 1", len(evs))
	}
	ev := evs[0]
	if ev.Event.ID != res.ID || ev.Event.EnvironmentID != env.ID || ev.Event.Type != "auth" || !ev.Event.CreatedAt.Equal(now) ||
		ev.Event.CreatedAt.Location() != time.UTC || !bytes.Equal(ev.Event.Body, canonical(t, validAuth)) {
		t.Errorf("event %+v", ev.Event)
	}
	if len(ev.Deliveries) != 2 {
		t.Fatalf("Submit got %d deliveries, want 2", len(ev.Deliveries))
	}
	for i, dl := range ev.Deliveries {
		if dl.ID != res.Deliveries[i].ID || dl.URL != res.Deliveries[i].URL || dl.EventID != res.ID || dl.EnvironmentID != env.ID ||
			dl.Status != herald.StatusPending || dl.NextAttemptAt == nil || !dl.NextAttemptAt.Equal(now) || dl.ConnectionID != "c1" ||
			dl.ProviderConfigKey != "github" {
			t.Errorf("delivery %d: %+v, answer %+v", i, dl, res.Deliveries[i])
		}
	}
	if _, ds, err := db.GetEvent(t.Context(), env.ID, res.ID); err != nil || len(ds) != 2 {
		t.Errorf("after commit: %d deliveries, %v", len(ds), err)
	}

	// A replay: commit runs and reports that it stored nothing.
	if again, err := svc.AcceptEvent(t.Context(), env, "k", hook(t, env, validAuth)); err != nil || !bytes.Equal(again, answer) {
		t.Errorf("replay %s, %v", again, err)
	}
	if fake.calls != 2 || fake.commits != 2 || !slices.Equal(fake.stored, []bool{true, false}) {
		t.Errorf("after a replay: calls %d, commits %d, stored %v; want 2, 2, [true false]", fake.calls, fake.commits, fake.stored)
	}

	// A batch is one Submit with every event.
	if _, err := svc.AcceptBatch(t.Context(), env, "", []nango.Webhook{hook(t, env, validAuth), hook(t, env, validSync), hook(t, env, asyncAction)}); err != nil {
		t.Fatal(err)
	}
	if fake.calls != 3 || len(fake.events[2]) != 3 {
		t.Errorf("a batch of 3: %d Submit calls, last with %d events; want 3 calls, 3 events", fake.calls, len(fake.events[2]))
	}
	if ds := deliveries(t, store, env); len(ds) != 8 {
		t.Errorf("%d deliveries stored, want 8", len(ds))
	}
}

// TestSubmitError: an error from Submit is AcceptEvent's and
// AcceptBatch's error, and no answer is given.
func TestSubmitError(t *testing.T) {
	_, store := stores(t)
	env := newEnv(t, store, "prod", map[string]any{"primary_url": "http://127.0.0.1:1/a"})
	boom := errors.New("dispatcher refused")
	fake := &fakeDispatcher{err: boom}
	svc := &intake.Service{Store: store, Dispatcher: fake}
	answer, err := svc.AcceptEvent(t.Context(), env, "k", hook(t, env, validAuth))
	if !errors.Is(err, boom) || answer != nil {
		t.Errorf("AcceptEvent: %s, %v; want no answer and %v", answer, err, boom)
	}
	answer, err = svc.AcceptBatch(t.Context(), env, "", []nango.Webhook{hook(t, env, validAuth)})
	if !errors.Is(err, boom) || answer != nil {
		t.Errorf("AcceptBatch: %s, %v; want no answer and %v", answer, err, boom)
	}
	if ds := deliveries(t, store, env); len(ds) != 0 {
		t.Errorf("%d deliveries stored though Submit never committed", len(ds))
	}
}

// TestAcceptClosedStore: with the real dispatcher, a store that cannot
// write makes AcceptEvent fail with herald's unavailable error.
func TestAcceptClosedStore(t *testing.T) {
	db, store := stores(t)
	d := runDispatcher(t, store)
	rc := newReceiver(t)
	env := newEnv(t, store, "prod", map[string]any{"primary_url": rc.URL("/hook")})
	svc := &intake.Service{Store: store, Dispatcher: d}
	h := hook(t, env, validAuth)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	answer, err := svc.AcceptEvent(t.Context(), env, "", h)
	if herald.ErrorCodeOf(err) != herald.ErrorUnavailable || answer != nil {
		t.Errorf("AcceptEvent on a closed store: %s, %v; want ErrorUnavailable", answer, err)
	}
}

// TestForwardBodyIsNangos: the forward body intake writes around a
// payload's bytes is, byte for byte, the canonical encoding of Nango's
// forward body, for awkward strings too.
func TestForwardBodyIsNangos(t *testing.T) {
	for _, c := range []struct{ provider, key, conn, payload string }{
		{"hubspot", "hubspot-prod", "acme", `[{"objectId":9007199254740992,"portalId":62515}]`},
		{"slack", "s\u2028\"q\\", "T1/<é>", `{"a":"\ud83d\ude00","b":null}`},
		{"unauthenticated", "k", "c", `null`},
	} {
		v, err := canonjson.Parse([]byte(c.payload))
		if err != nil {
			t.Fatal(err)
		}
		want, err := (&nango.ForwardWebhook{From: c.provider, ConnectionID: c.conn, ProviderConfigKey: c.key, Payload: v}).Canonical()
		if err != nil {
			t.Fatal(err)
		}
		payload, err := canonjson.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := intake.ForwardBody(c.provider, c.key, c.conn, payload); !bytes.Equal(got, want) {
			t.Errorf("forwardBody\n got %s\nwant %s", got, want)
		}
	}
}
