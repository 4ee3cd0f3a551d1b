package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

func ingestTests() []test {
	return []test{
		{"DeliveriesPerEvent", testIngestDeliveriesPerEvent},
		{"Batch", testIngestBatch},
		{"StoredClaimed", testIngestStoredClaimed},
		{"WithoutKeyNoDedup", testIngestWithoutKey},
		{"IdempotencyReplay", testIngestIdempotencyReplay},
		{"IdempotencyPerEnvironment", testIngestIdempotencyPerEnvironment},
		{"IdempotencyWindow", testIngestIdempotencyWindow},
		{"IdempotencyKeyReused", testIngestIdempotencyKeyReused},
		{"FailureStoresNothing", testIngestFailureStoresNothing},
		{"ConcurrentWithFailure", testIngestConcurrentWithFailure},
		{"IdempotencyConcurrentSameKey", testIngestIdempotencyConcurrent},
		{"HeadersInboundAndDeliveryBodies", testIngestForwardParts},
	}
}

// A forwarded event carries headers and its inbound log, and a delivery
// may send its own body: claims hand out the delivery's body (else the
// event's) with the event's headers, and the reads return them.
func testIngestForwardParts(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	fwd := makeEvent(t, env.ID, spec{Type: "forward", URLs: []string{urlA, urlB, urlC}})
	fwd.Event.Headers = []byte(`{"x-hubspot-signature":"abc"}`)
	fwd.Event.Inbound = []byte(`{"provider":"hubspot","status":200}`)
	fwd.Event.UnknownFields = []string{"payload.extra"}
	// Two deliveries send their own bodies, one the event's, all claimed
	// together.
	fwd.Deliveries[0].Body = []byte(`{"connectionId":"conn-a","payload":1}`)
	fwd.Deliveries[2].Body = []byte(`{"connectionId":"conn-c","payload":1}`)
	plain := makeEvent(t, env.ID, spec{URLs: []string{urlA}})
	ingest(t, s, env.ID, fwd, plain)

	want := map[string]struct{ body, headers []byte }{
		fwd.Deliveries[0].ID:   {fwd.Deliveries[0].Body, fwd.Event.Headers},
		fwd.Deliveries[1].ID:   {fwd.Event.Body, fwd.Event.Headers},
		fwd.Deliveries[2].ID:   {fwd.Deliveries[2].Body, fwd.Event.Headers},
		plain.Deliveries[0].ID: {plain.Event.Body, nil},
	}
	jobs := claim(t, s, t0, 100)
	if len(jobs) != len(want) {
		t.Fatalf("claimed %d, want %d", len(jobs), len(want))
	}
	for _, j := range jobs {
		w := want[j.DeliveryID]
		if !bytes.Equal(j.Body, w.body) || !sameBytes(j.Headers, w.headers) {
			t.Errorf("job %s: body %s, headers %s; want body %s, headers %s", j.DeliveryID, j.Body, j.Headers, w.body, w.headers)
		}
	}
	for id, w := range want {
		if _, body, _ := getDelivery(t, s, env.ID, id); !bytes.Equal(body, w.body) {
			t.Errorf("GetDelivery(%s) body %s, want %s", id, body, w.body)
		}
	}
	for _, ne := range []herald.EventRecord{fwd, plain} {
		got, _, err := s.GetEvent(ctx, env.ID, ne.Event.ID)
		if err != nil {
			t.Fatalf("GetEvent: %v", err)
		}
		checkEvent(t, got, ne.Event)
	}
	// A released delivery claimed again still sends its own body.
	if err := s.Release(ctx, jobLeases(jobs), t0); err != nil {
		t.Fatalf("Release: %v", err)
	}
	for _, j := range claim(t, s, at(time.Second), 100) {
		if w := want[j.DeliveryID]; !bytes.Equal(j.Body, w.body) || !sameBytes(j.Headers, w.headers) {
			t.Errorf("job %s claimed again: body %s, headers %s; want body %s, headers %s", j.DeliveryID, j.Body, j.Headers, w.body, w.headers)
		}
	}
}

// Requests racing with one key: exactly one is stored, and every caller
// gets either nothing back (it was the one stored) or that one's answer.
func testIngestIdempotencyConcurrent(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	const n = 24
	reqs := make([]herald.IngestRequest, n)
	for i := range reqs {
		reqs[i] = idemReq(env.ID, "same", fmt.Sprintf(`{"n":%d}`, i), t0, makeEvent(t, env.ID, spec{URLs: []string{urlA}}))
	}
	replays := make([][]byte, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Go(func() {
			<-start
			// Spread the arrivals a little, so that they meet in different
			// group commits (and, on PostgreSQL, different writers).
			time.Sleep(time.Duration(i%6) * 300 * time.Microsecond)
			replays[i], errs[i] = s.Ingest(ctx, reqs[i])
		})
	}
	close(start)
	wg.Wait()
	stored := -1
	for i := range reqs {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if replays[i] == nil {
			if stored >= 0 {
				t.Fatalf("requests %d and %d were both stored under one key", stored, i)
			}
			stored = i
		}
	}
	if stored < 0 {
		t.Fatal("no request was stored")
	}
	for i := range reqs {
		if replays[i] != nil && string(replays[i]) != string(reqs[stored].Response) {
			t.Errorf("request %d got %s, want the stored answer %s", i, replays[i], reqs[stored].Response)
		}
	}
	if got := countDeliveries(t, s, env.ID); got != 1 {
		t.Errorf("%d deliveries stored, want 1", got)
	}
}

// checkStored asserts that each event and its deliveries are stored as given.
func checkStored(t testing.TB, s herald.Store, events ...herald.EventRecord) {
	t.Helper()
	for _, ne := range events {
		got, ds, err := s.GetEvent(t.Context(), ne.Event.EnvironmentID, ne.Event.ID)
		if err != nil {
			t.Errorf("GetEvent(%s): %v", ne.Event.ID, err)
			continue
		}
		checkEvent(t, got, ne.Event)
		checkDeliveries(t, ds, ne.Deliveries)
	}
}

// checkDeliveries compares two sets of deliveries, in any order.
func checkDeliveries(t testing.TB, got, want []herald.Delivery) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d deliveries %v, want %d %v", len(got), ids(got), len(want), ids(want))
		return
	}
	byID := map[string]herald.Delivery{}
	for _, d := range got {
		byID[d.ID] = d
	}
	for _, w := range want {
		g, ok := byID[w.ID]
		if !ok {
			t.Errorf("delivery %s missing; got %v", w.ID, ids(got))
			continue
		}
		checkDelivery(t, g, w)
	}
}

// checkAbsent asserts that none of events nor their deliveries is stored.
func checkAbsent(t testing.TB, s herald.Store, events ...herald.EventRecord) {
	t.Helper()
	for _, ne := range events {
		if _, _, err := s.GetEvent(t.Context(), ne.Event.EnvironmentID, ne.Event.ID); !errors.Is(err, herald.ErrNotFound) {
			t.Errorf("event %s of a refused request: GetEvent err = %v, want herald.ErrNotFound", ne.Event.ID, err)
		}
		for _, d := range ne.Deliveries {
			if _, _, _, err := s.GetDelivery(t.Context(), d.EnvironmentID, d.ID); !errors.Is(err, herald.ErrNotFound) {
				t.Errorf("delivery %s of a refused request: GetDelivery err = %v, want herald.ErrNotFound", d.ID, err)
			}
		}
	}
}

func testIngestDeliveriesPerEvent(t *testing.T, s herald.Store) {
	env := newEnv(t, s, "prod")
	cases := []struct {
		name string
		urls []string
	}{
		{"none (skipped)", nil},
		{"one", []string{urlA}},
		{"two", []string{urlA, urlB}},
	}
	total := 0
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			created := at(time.Duration(i) * time.Minute)
			ne := makeEvent(t, env.ID, spec{URLs: c.urls, Created: created})
			ingest(t, s, env.ID, ne)
			checkStored(t, s, ne)
			total += len(c.urls)
			if ds := list(t, s, env.ID, herald.DeliveryFilter{Limit: 100}); len(ds) != total {
				t.Errorf("ListDeliveries: %d deliveries, want %d", len(ds), total)
			}
			// Every delivery is due at once and carries the event's body.
			jobs := claim(t, s, created, 100)
			if len(jobs) != len(c.urls) {
				t.Fatalf("claimed %d, want %d", len(jobs), len(c.urls))
			}
			for _, j := range jobs {
				if j.EventID != ne.Event.ID || j.EnvironmentID != env.ID || string(j.Body) != string(ne.Event.Body) || j.Attempts != 0 {
					t.Errorf("job %+v (body %s) does not match event %s", j, j.Body, ne.Event.ID)
				}
			}
		})
	}
}

func testIngestBatch(t *testing.T, s herald.Store) {
	env := newEnv(t, s, "prod")
	events := []herald.EventRecord{
		makeEvent(t, env.ID, spec{Type: "auth", URLs: []string{urlA, urlB}}),
		makeEvent(t, env.ID, spec{Type: "sync"}),
		makeEvent(t, env.ID, spec{Type: "async_action", URLs: []string{urlA}}),
	}
	ingest(t, s, env.ID, events...)
	checkStored(t, s, events...)
	if ds := list(t, s, env.ID, herald.DeliveryFilter{Limit: 100}); len(ds) != 3 {
		t.Errorf("ListDeliveries: %d deliveries, want 3", len(ds))
	}
	// A request with no events at all is harmless.
	ingest(t, s, env.ID)
}

func testIngestWithoutKey(t *testing.T, s herald.Store) {
	env := newEnv(t, s, "prod")
	a := makeEvent(t, env.ID, spec{URLs: []string{urlA}})
	b := makeEvent(t, env.ID, spec{URLs: []string{urlA}})
	for _, ne := range []herald.EventRecord{a, b} {
		replay, err := s.Ingest(t.Context(), herald.IngestRequest{EnvironmentID: env.ID, Response: []byte(`{"same":1}`),
			Events: []herald.EventRecord{ne}, Now: t0})
		if err != nil || replay != nil {
			t.Fatalf("Ingest without key = %q, %v", replay, err)
		}
	}
	checkStored(t, s, a, b)
}

func idemReq(envID, key, response string, now time.Time, events ...herald.EventRecord) herald.IngestRequest {
	return herald.IngestRequest{EnvironmentID: envID, IdempotencyKey: key, Response: []byte(response), Events: events, Now: now}
}

// The same key with another request hash is refused and stores nothing; the
// same hash replays; a key stored without a hash (before hashes were kept)
// replays for any request. In a group commit only the reused request fails.
func testIngestIdempotencyKeyReused(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	req := func(key, hash string) herald.IngestRequest {
		r := idemReq(env.ID, key, `{"id":"`+key+`"}`, t0, makeEvent(t, env.ID, spec{URLs: []string{urlA}}))
		if hash != "" {
			r.RequestHash = []byte(hash)
		}
		return r
	}
	if _, err := s.Ingest(ctx, req("k", "hash-1")); err != nil {
		t.Fatal(err)
	}
	reused := req("k", "hash-2")
	if replay, err := s.Ingest(ctx, reused); !errors.Is(err, herald.ErrIdempotencyKeyReused) || replay != nil {
		t.Fatalf("same key, other hash: %q, %v; want herald.ErrIdempotencyKeyReused", replay, err)
	}
	if _, _, err := s.GetEvent(ctx, env.ID, reused.Events[0].Event.ID); !errors.Is(err, herald.ErrNotFound) {
		t.Errorf("the refused request stored its event: %v", err)
	}
	if replay, err := s.Ingest(ctx, req("k", "hash-1")); err != nil || string(replay) != `{"id":"k"}` {
		t.Errorf("same key, same hash: %q, %v; want the first answer", replay, err)
	}
	if _, err := s.Ingest(ctx, req("old", "")); err != nil {
		t.Fatal(err)
	}
	if replay, err := s.Ingest(ctx, req("old", "any")); err != nil || string(replay) != `{"id":"old"}` {
		t.Errorf("key stored without a hash: %q, %v; want the first answer", replay, err)
	}
	// Concurrent requests share group commits: the reused one fails alone.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 0 {
				_, errs[i] = s.Ingest(ctx, req("k", "hash-3"))
				return
			}
			_, errs[i] = s.Ingest(ctx, req(fmt.Sprint("fresh-", i), "h"))
		}()
	}
	wg.Wait()
	if !errors.Is(errs[0], herald.ErrIdempotencyKeyReused) {
		t.Errorf("reused key among others: %v, want herald.ErrIdempotencyKeyReused", errs[0])
	}
	for i, err := range errs[1:] {
		if err != nil {
			t.Errorf("fresh request %d beside a reused key: %v", i+1, err)
		}
	}
}

func testIngestIdempotencyReplay(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	first := makeEvent(t, env.ID, spec{URLs: []string{urlA, urlB}})
	replay, err := s.Ingest(ctx, idemReq(env.ID, "key-1", `{"id":"first"}`, t0, first))
	if err != nil || replay != nil {
		t.Fatalf("first Ingest = %q, %v; want no replay", replay, err)
	}
	for _, c := range []struct {
		name string
		now  time.Time
	}{
		{"immediately", t0},
		{"an hour later", at(time.Hour)},
		{"just inside the window", at(herald.IdempotencyWindow - time.Minute)},
	} {
		t.Run(c.name, func(t *testing.T) {
			repeat := makeEvent(t, env.ID, spec{URLs: []string{urlA}})
			replay, err := s.Ingest(ctx, idemReq(env.ID, "key-1", `{"id":"second"}`, c.now, repeat))
			if err != nil {
				t.Fatalf("repeated Ingest: %v", err)
			}
			if string(replay) != `{"id":"first"}` {
				t.Errorf("repeated Ingest replayed %q, want the first answer", replay)
			}
			checkAbsent(t, s, repeat)
		})
	}
	checkStored(t, s, first)
	if ds := list(t, s, env.ID, herald.DeliveryFilter{Limit: 100}); len(ds) != 2 {
		t.Errorf("ListDeliveries: %d deliveries, want only the first request's 2", len(ds))
	}
	if jobs := claim(t, s, at(48*time.Hour), 100); len(jobs) != 2 {
		t.Errorf("claimed %d deliveries, want only the first request's 2", len(jobs))
	}

	// A different key is a different request.
	other := makeEvent(t, env.ID, spec{URLs: []string{urlA}})
	if replay, err := s.Ingest(ctx, idemReq(env.ID, "key-2", `{"id":"other"}`, t0, other)); err != nil || replay != nil {
		t.Fatalf("Ingest with another key = %q, %v; want no replay", replay, err)
	}
	checkStored(t, s, other)
}

func testIngestIdempotencyPerEnvironment(t *testing.T, s herald.Store) {
	a := newEnv(t, s, "a")
	b := newEnv(t, s, "b")
	evA := makeEvent(t, a.ID, spec{URLs: []string{urlA}})
	evB := makeEvent(t, b.ID, spec{URLs: []string{urlA}})
	if replay, err := s.Ingest(t.Context(), idemReq(a.ID, "shared", `"a"`, t0, evA)); err != nil || replay != nil {
		t.Fatalf("Ingest(a) = %q, %v", replay, err)
	}
	if replay, err := s.Ingest(t.Context(), idemReq(b.ID, "shared", `"b"`, t0, evB)); err != nil || replay != nil {
		t.Fatalf("Ingest(b) with a's key = %q, %v; want it stored, not replayed", replay, err)
	}
	checkStored(t, s, evA, evB)
	// And each environment replays its own answer.
	for env, want := range map[string]string{a.ID: `"a"`, b.ID: `"b"`} {
		extra := makeEvent(t, env, spec{URLs: []string{urlA}})
		replay, err := s.Ingest(t.Context(), idemReq(env, "shared", `"x"`, t0, extra))
		if err != nil || string(replay) != want {
			t.Errorf("replay in %s = %q, %v; want %s", env, replay, err, want)
		}
		checkAbsent(t, s, extra)
	}
}

func testIngestIdempotencyWindow(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	old := makeEvent(t, env.ID, spec{URLs: []string{urlA}, Created: at(-25 * time.Hour)})
	if replay, err := s.Ingest(ctx, idemReq(env.ID, "k", `"old"`, at(-herald.IdempotencyWindow-time.Hour), old)); err != nil || replay != nil {
		t.Fatalf("first Ingest = %q, %v", replay, err)
	}
	// More than 24 h later the key is forgotten: the request is stored...
	fresh := makeEvent(t, env.ID, spec{URLs: []string{urlA}})
	replay, err := s.Ingest(ctx, idemReq(env.ID, "k", `"fresh"`, t0, fresh))
	if err != nil || replay != nil {
		t.Fatalf("Ingest with an expired key = %q, %v; want it stored", replay, err)
	}
	checkStored(t, s, old, fresh)
	// ...and it is now the answer the key replays.
	third := makeEvent(t, env.ID, spec{URLs: []string{urlA}})
	replay, err = s.Ingest(ctx, idemReq(env.ID, "k", `"third"`, at(time.Minute), third))
	if err != nil || string(replay) != `"fresh"` {
		t.Errorf("Ingest after the key was renewed = %q, %v; want %q", replay, err, `"fresh"`)
	}
	checkAbsent(t, s, third)
}

func testIngestFailureStoresNothing(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	existing := makeEvent(t, env.ID, spec{URLs: []string{urlA}})
	ingest(t, s, env.ID, existing)

	cases := []struct {
		name string
		// build returns the request's events; the first ones are valid, the
		// last is not, so a partial write would show.
		build func() []herald.EventRecord
	}{
		{"unknown environment", func() []herald.EventRecord {
			bad := makeEvent(t, newID(t), spec{URLs: []string{urlA}})
			return []herald.EventRecord{makeEvent(t, env.ID, spec{URLs: []string{urlA, urlB}}), bad}
		}},
		{"event id already stored", func() []herald.EventRecord {
			bad := makeEvent(t, env.ID, spec{URLs: []string{urlB}})
			bad.Event.ID = existing.Event.ID
			bad.Deliveries[0].EventID = existing.Event.ID
			return []herald.EventRecord{makeEvent(t, env.ID, spec{URLs: []string{urlA}}), bad}
		}},
		{"event id twice in the request", func() []herald.EventRecord {
			good := makeEvent(t, env.ID, spec{URLs: []string{urlA}})
			bad := makeEvent(t, env.ID, spec{URLs: []string{urlB}})
			bad.Event.ID = good.Event.ID
			bad.Deliveries[0].EventID = good.Event.ID
			return []herald.EventRecord{good, makeEvent(t, env.ID, spec{}), bad}
		}},
		{"delivery id already stored", func() []herald.EventRecord {
			bad := makeEvent(t, env.ID, spec{URLs: []string{urlB}})
			bad.Deliveries[0].ID = existing.Deliveries[0].ID
			return []herald.EventRecord{makeEvent(t, env.ID, spec{URLs: []string{urlA}}), bad}
		}},
		{"delivery of an unknown event", func() []herald.EventRecord {
			bad := makeEvent(t, env.ID, spec{URLs: []string{urlA, urlB}})
			bad.Deliveries[1].EventID = newID(t)
			return []herald.EventRecord{makeEvent(t, env.ID, spec{URLs: []string{urlA}}), bad}
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			events := c.build()
			key := fmt.Sprintf("key-%d", i)
			replay, err := s.Ingest(ctx, idemReq(env.ID, key, `"refused"`, t0, events...))
			if err == nil {
				t.Fatalf("Ingest succeeded (replay %q), want an error", replay)
			}
			last := len(events) - 1
			checkAbsent(t, s, events[:last]...)
			// The offending event may reuse the existing event's ids.
			bad := events[last]
			bad.Deliveries = slices.DeleteFunc(slices.Clone(bad.Deliveries), func(d herald.Delivery) bool {
				return d.ID == existing.Deliveries[0].ID
			})
			if bad.Event.ID != existing.Event.ID {
				checkAbsent(t, s, bad)
			}
			checkStored(t, s, existing)
			if ds := list(t, s, env.ID, herald.DeliveryFilter{Limit: 100}); len(ds) != 1 {
				t.Errorf("ListDeliveries: %d deliveries, want only the existing one", len(ds))
			}
			// The key of a refused request is not remembered.
			retry := makeEvent(t, env.ID, spec{})
			replay, err = s.Ingest(ctx, idemReq(env.ID, key, `"retried"`, t0, retry))
			if err != nil || replay != nil {
				t.Fatalf("retry with the refused request's key = %q, %v; want it stored", replay, err)
			}
			checkStored(t, s, retry)
		})
	}
	// Nothing of the refused requests reached the queue.
	jobs := claim(t, s, at(time.Hour), 100)
	if len(jobs) != 1 || jobs[0].DeliveryID != existing.Deliveries[0].ID {
		t.Errorf("claimed %v, want only the existing delivery", jobIDs(jobs))
	}
}

// testIngestConcurrentWithFailure runs many Ingests at once, one of them
// refused, and checks the others are all stored and the refused one is not:
// a store that shares a transaction between requests must isolate them.
func testIngestConcurrentWithFailure(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	existing := makeEvent(t, env.ID, spec{URLs: []string{urlA}})
	ingest(t, s, env.ID, existing)
	stored := 1

	const n = 48
	breakers := []struct {
		name string
		bad  func(good herald.EventRecord) herald.EventRecord
	}{
		{"unknown environment", func(herald.EventRecord) herald.EventRecord {
			return makeEvent(t, newID(t), spec{URLs: []string{urlA}})
		}},
		{"event id already stored", func(herald.EventRecord) herald.EventRecord {
			bad := makeEvent(t, env.ID, spec{URLs: []string{urlA}})
			bad.Event.ID = existing.Event.ID
			bad.Deliveries[0].EventID = existing.Event.ID
			return bad
		}},
		{"event id twice in the request", func(good herald.EventRecord) herald.EventRecord {
			bad := makeEvent(t, env.ID, spec{URLs: []string{urlB}})
			bad.Event.ID = good.Event.ID
			bad.Deliveries[0].EventID = good.Event.ID
			return bad
		}},
	}
	for round, br := range breakers {
		t.Run(br.name, func(t *testing.T) {
			badIdx := (round*17 + 5) % n
			reqs := make([]herald.IngestRequest, n)
			for i := range reqs {
				ne := makeEvent(t, env.ID, spec{URLs: []string{urlA, urlC}[:1+i%2], Created: at(time.Duration(i) * time.Second)})
				reqs[i] = idemReq(env.ID, fmt.Sprintf("r%d-%d", round, i), fmt.Sprintf(`"%d"`, i), t0, ne)
				if i == badIdx {
					reqs[i].Events = append(reqs[i].Events, br.bad(ne))
				}
			}
			errs := make([]error, n)
			replays := make([][]byte, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range reqs {
				wg.Go(func() {
					<-start
					replays[i], errs[i] = s.Ingest(ctx, reqs[i])
				})
			}
			close(start)
			wg.Wait()

			for i := range reqs {
				if i == badIdx {
					if errs[i] == nil {
						t.Errorf("the refused request %d succeeded", i)
					}
					checkAbsent(t, s, reqs[i].Events[0])
					continue
				}
				if errs[i] != nil || replays[i] != nil {
					t.Errorf("request %d next to a refused one = %q, %v", i, replays[i], errs[i])
					continue
				}
				checkStored(t, s, reqs[i].Events...)
				stored += len(reqs[i].Events[0].Deliveries)
			}
			checkStored(t, s, existing)
			if n := countDeliveries(t, s, env.ID); n != stored {
				t.Errorf("ListDeliveries: %d deliveries, want %d", n, stored)
			}
			// The refused request's key was not kept.
			retry := makeEvent(t, env.ID, spec{})
			if replay, err := s.Ingest(ctx, idemReq(env.ID, reqs[badIdx].IdempotencyKey, `"retry"`, t0, retry)); err != nil || replay != nil {
				t.Errorf("retry with the refused request's key = %q, %v; want it stored", replay, err)
			}
			// The good requests' keys were.
			for _, i := range []int{0, n - 1} {
				if i == badIdx {
					continue
				}
				if replay, err := s.Ingest(ctx, idemReq(env.ID, reqs[i].IdempotencyKey, `"again"`, t0)); err != nil || string(replay) != string(reqs[i].Response) {
					t.Errorf("repeat of request %d = %q, %v; want %s", i, replay, err, reqs[i].Response)
				}
			}
		})
	}
}

// testIngestStoredClaimed: a delivery handed to Ingest with Status sending is
// stored already claimed (a dispatcher lane reserved it), so no claimer gets
// it; the others are pending. A claimed one is then finished or released
// like any claimed delivery.
func testIngestStoredClaimed(t *testing.T, s herald.Store) {
	env := newEnv(t, s, "prod")
	ne := makeEvent(t, env.ID, spec{URLs: []string{urlA, urlB, urlC}})
	lease := at(time.Minute)
	ne.Deliveries[0].Status, ne.Deliveries[0].LeaseUntil = herald.StatusSending, &lease
	ne.Deliveries[1].Status, ne.Deliveries[1].LeaseUntil = herald.StatusSending, &lease
	ne.Deliveries[2].Status = "" // not given: pending
	ingest(t, s, env.ID, ne)

	want := slices.Clone(ne.Deliveries)
	want[0].NextAttemptAt, want[1].NextAttemptAt = nil, nil
	want[2].Status = herald.StatusPending
	_, ds, err := s.GetEvent(t.Context(), env.ID, ne.Event.ID)
	if err != nil {
		t.Fatalf("GetEvent: %v", err)
	}
	checkDeliveries(t, ds, want)
	if got := list(t, s, env.ID, herald.DeliveryFilter{Status: herald.StatusSending, Limit: 10}); !slices.Equal(sorted(ids(got)), sorted(ids(want[:2]))) {
		t.Errorf("sending deliveries %v, want %v", ids(got), ids(want[:2]))
	}

	jobs := claim(t, s, at(30*time.Second), 10)
	if len(jobs) != 1 || jobs[0].DeliveryID != want[2].ID {
		t.Fatalf("claimed %v, want only the pending %s", jobIDs(jobs), want[2].ID)
	}
	if next, ok, err := s.NextDue(t.Context()); err != nil || ok {
		t.Errorf("NextDue = %v, %v, %v; want nothing pending", next, ok, err)
	}

	// The reserving process attempts one and gives the other back.
	record(t, s, herald.AttemptResult{DeliveryID: want[0].ID, Status: herald.StatusSucceeded,
		Attempt: herald.Attempt{Number: 1, StartedAt: at(time.Second), DurationMS: 10, StatusCode: ptr(200)}})
	if err := s.Release(t.Context(), firstLeases(want[1].ID), at(2*time.Second)); err != nil {
		t.Fatalf("Release: %v", err)
	}
	got, _, attempts := getDelivery(t, s, env.ID, want[0].ID)
	if got.Status != herald.StatusSucceeded || got.Attempts != 1 || len(attempts) != 1 {
		t.Errorf("recorded delivery: %q, %d attempts, %d rows; want succeeded, 1, 1", got.Status, got.Attempts, len(attempts))
	}
	jobs = claim(t, s, at(3*time.Second), 10)
	if len(jobs) != 1 || jobs[0].DeliveryID != want[1].ID || jobs[0].Attempts != 0 || string(jobs[0].Body) != string(ne.Event.Body) {
		t.Errorf("after release claimed %+v, want %s with its body", jobs, want[1].ID)
	}
}

// countDeliveries counts envID's deliveries, page by page.
func countDeliveries(t testing.TB, s herald.Store, envID string) int {
	t.Helper()
	n := 0
	f := herald.DeliveryFilter{Limit: 200}
	for {
		ds := list(t, s, envID, f)
		n += len(ds)
		if len(ds) < f.Limit {
			return n
		}
		f.Cursor = ds[len(ds)-1].ID
	}
}
