package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

func operationsTests() []test {
	return []test{
		{"RetryDelivery", testRetryDelivery},
		{"RetryRefused", testRetryRefused},
		{"RecoverDeliveries", testRecoverDeliveries},
		{"ReplaySources", testReplaySources},
		{"AddDeliveries", testAddDeliveries},
		{"ClaimOnce", testClaimOnce},
		{"EventFates", testEventFates},
	}
}

// far is a due time no test reaches: deliveries due then stay pending.
var far = at(100 * time.Hour)

// settle claims every delivery due at t0, which must be exactly those of
// targets, and drives each to its target status with one attempt
// (sending: left claimed; pending: due again at far).
func settle(t testing.TB, s herald.Store, targets map[string]string) {
	t.Helper()
	jobs := claim(t, s, t0, 1000)
	if len(jobs) != len(targets) {
		t.Fatalf("claimed %d deliveries, want %d", len(jobs), len(targets))
	}
	var results []herald.AttemptResult
	for _, j := range jobs {
		st, ok := targets[j.DeliveryID]
		if !ok {
			t.Fatalf("claimed %s, which has no target status", j.DeliveryID)
		}
		r := herald.AttemptResult{DeliveryID: j.DeliveryID, LeaseGen: j.LeaseGen, Status: st,
			Attempt: herald.Attempt{Number: j.Attempts + 1, StartedAt: t0, DurationMS: 5}}
		switch st {
		case herald.StatusSending:
			continue
		case herald.StatusSucceeded:
			r.Attempt.StatusCode = ptr(204)
		case herald.StatusFailed:
			r.Attempt.StatusCode, r.Attempt.ResponseBody = ptr(410), ptr("gone")
		case herald.StatusSkipped:
			r.Attempt.Error = ptr("address not allowed")
		case herald.StatusPending:
			r.Attempt.Error, r.NextAttemptAt = ptr("connection refused"), &far
		}
		results = append(results, r)
	}
	record(t, s, results...)
}

// settled is d as settle leaves it.
func settled(d herald.Delivery, status string) herald.Delivery {
	d.Status, d.Attempts, d.NextAttemptAt = status, 1, nil
	switch status {
	case herald.StatusSucceeded:
		d.LastStatusCode = ptr(204)
	case herald.StatusFailed:
		d.LastStatusCode = ptr(410)
	case herald.StatusSkipped:
		d.LastError = ptr("address not allowed")
	}
	return d
}

func checkAttemptNumbers(t testing.TB, attempts []herald.Attempt, n int) {
	t.Helper()
	var got, want []int
	for i := range n {
		want = append(want, i+1)
	}
	for _, a := range attempts {
		got = append(got, a.Number)
	}
	if !slices.Equal(got, want) {
		t.Errorf("attempt log numbers %v, want %v", got, want)
	}
}

// A finished delivery retried is pending again for a new round: its
// attempts so far are the round's start, its log and last outcome are
// kept, and its next attempt is numbered on.
func testRetryDelivery(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	ne := makeEvent(t, env.ID, spec{URLs: []string{urlA, urlB, urlC}})
	ingest(t, s, env.ID, ne)
	failed, succeeded, skipped := ne.Deliveries[0], ne.Deliveries[1], ne.Deliveries[2]

	// failed: a 500, then a connection error that ends it; the others
	// succeed and are skipped at their first attempt.
	claim(t, s, t0, 10)
	record(t, s,
		herald.AttemptResult{DeliveryID: failed.ID, Status: herald.StatusPending, NextAttemptAt: ptr(at(time.Second)),
			Attempt: herald.Attempt{Number: 1, StartedAt: t0, DurationMS: 10, StatusCode: ptr(500)}},
		herald.AttemptResult{DeliveryID: succeeded.ID, Status: herald.StatusSucceeded,
			Attempt: herald.Attempt{Number: 1, StartedAt: t0, DurationMS: 10, StatusCode: ptr(204)}},
		herald.AttemptResult{DeliveryID: skipped.ID, Status: herald.StatusSkipped,
			Attempt: herald.Attempt{Number: 1, StartedAt: t0, DurationMS: 0, Error: ptr("address not allowed")}})
	jobs := claim(t, s, at(time.Second), 10)
	if len(jobs) != 1 || jobs[0].DeliveryID != failed.ID {
		t.Fatalf("claimed %v, want %s", jobIDs(jobs), failed.ID)
	}
	lastRound := jobs[0].LeaseGen
	record(t, s, herald.AttemptResult{DeliveryID: failed.ID, LeaseGen: lastRound, Status: herald.StatusFailed,
		Attempt: herald.Attempt{Number: 2, StartedAt: at(time.Second), DurationMS: 10, Error: ptr("connection refused")}})

	now := at(time.Hour)
	d, err := s.RetryDelivery(ctx, env.ID, failed.ID, now)
	if err != nil {
		t.Fatalf("RetryDelivery(failed): %v", err)
	}
	want := failed
	want.Status, want.Attempts, want.RoundStart, want.NextAttemptAt = herald.StatusPending, 2, 2, &now
	want.LastError = ptr("connection refused")
	checkDelivery(t, *d, want)
	if !sameMS(d.UpdatedAt, now) {
		t.Errorf("retried delivery updated at %v, want %v", d.UpdatedAt, now)
	}
	got, _, attempts := getDelivery(t, s, env.ID, failed.ID)
	checkDelivery(t, *got, want)
	checkAttemptNumbers(t, attempts, 2)

	// An outcome of the previous round written late is dropped.
	record(t, s, herald.AttemptResult{DeliveryID: failed.ID, LeaseGen: lastRound, Status: herald.StatusSucceeded,
		Attempt: herald.Attempt{Number: 2, StartedAt: at(time.Second), DurationMS: 10, StatusCode: ptr(200)}})
	got, _, attempts = getDelivery(t, s, env.ID, failed.ID)
	checkDelivery(t, *got, want)
	if a := attempts[len(attempts)-1]; a.StatusCode != nil {
		t.Errorf("a late outcome of the previous round was written: %s", fmtAttempt(a))
	}

	// Not due before now; then claimed with its round's start, and its
	// attempt is the third.
	if jobs := claim(t, s, now.Add(-time.Millisecond), 10); len(jobs) != 0 {
		t.Errorf("retried delivery claimed before it is due: %v", jobIDs(jobs))
	}
	jobs = claim(t, s, now, 10)
	if len(jobs) != 1 || jobs[0].DeliveryID != failed.ID || jobs[0].Attempts != 2 || jobs[0].RoundStart != 2 ||
		string(jobs[0].Body) != string(ne.Event.Body) {
		t.Fatalf("claimed %+v, want %s with 2 attempts made and round start 2", jobs, failed.ID)
	}
	record(t, s, herald.AttemptResult{DeliveryID: failed.ID, LeaseGen: jobs[0].LeaseGen, Status: herald.StatusSucceeded,
		Attempt: herald.Attempt{Number: 3, StartedAt: now, DurationMS: 10, StatusCode: ptr(200)}})
	got, _, attempts = getDelivery(t, s, env.ID, failed.ID)
	want.Status, want.Attempts, want.NextAttemptAt, want.LastStatusCode, want.LastError = herald.StatusSucceeded, 3, nil, ptr(200), nil
	checkDelivery(t, *got, want)
	checkAttemptNumbers(t, attempts, 3)
	if ds := list(t, s, env.ID, herald.DeliveryFilter{Limit: 10}); len(ds) != 3 {
		t.Errorf("the log lists %d deliveries, want 3", len(ds))
	} else {
		for _, d := range ds {
			if d.ID == failed.ID && d.RoundStart != 2 {
				t.Errorf("listed with round start %d, want 2", d.RoundStart)
			}
		}
	}

	// A succeeded delivery, and a skipped one, may be sent again too.
	for _, c := range []struct {
		d    herald.Delivery
		code *int
		err  *string
	}{{succeeded, ptr(204), nil}, {skipped, nil, ptr("address not allowed")}} {
		later := at(2 * time.Hour)
		d, err := s.RetryDelivery(ctx, env.ID, c.d.ID, later)
		if err != nil {
			t.Fatalf("RetryDelivery(%s): %v", c.d.URL, err)
		}
		want := c.d
		want.Status, want.Attempts, want.RoundStart, want.NextAttemptAt = herald.StatusPending, 1, 1, &later
		want.LastStatusCode, want.LastError = c.code, c.err
		checkDelivery(t, *d, want)
	}
}

// Only a finished delivery of the environment can be retried; refusals
// change nothing.
func testRetryRefused(t *testing.T, s herald.Store) {
	ctx := t.Context()
	a := newEnv(t, s, "a")
	b := newEnv(t, s, "b")
	pending := makeEvent(t, a.ID, spec{URLs: []string{urlA}, Due: &far})
	sending := makeEvent(t, a.ID, spec{URLs: []string{urlA}})
	held := makeEvent(t, a.ID, spec{URLs: []string{urlA}, Due: &far})
	held.Deliveries[0].Status, held.Deliveries[0].NextAttemptAt = herald.StatusHeld, nil
	failed := makeEvent(t, a.ID, spec{URLs: []string{urlA}})
	ingest(t, s, a.ID, pending, sending, held, failed)
	settle(t, s, map[string]string{sending.Deliveries[0].ID: herald.StatusSending, failed.Deliveries[0].ID: herald.StatusFailed})

	for _, c := range []struct {
		name string
		d    herald.Delivery
	}{
		{"pending", pending.Deliveries[0]},
		{"sending", sending.Deliveries[0]},
		{"held", held.Deliveries[0]},
	} {
		before, _, _ := getDelivery(t, s, a.ID, c.d.ID)
		if _, err := s.RetryDelivery(ctx, a.ID, c.d.ID, at(time.Hour)); !errors.Is(err, herald.ErrConflict) {
			t.Errorf("RetryDelivery(%s): err = %v, want herald.ErrConflict", c.name, err)
		}
		after, _, _ := getDelivery(t, s, a.ID, c.d.ID)
		checkDelivery(t, *after, *before)
		if after.Status != c.name {
			t.Errorf("%s delivery is %s after a refused retry", c.name, after.Status)
		}
	}
	_, err := s.RetryDelivery(ctx, b.ID, failed.Deliveries[0].ID, at(time.Hour))
	wantNotFound(t, "RetryDelivery(another environment's)", err)
	_, err = s.RetryDelivery(ctx, a.ID, newID(t), at(time.Hour))
	wantNotFound(t, "RetryDelivery(unknown)", err)
	_, err = s.RetryDelivery(ctx, a.ID, failed.Event.ID, at(time.Hour))
	wantNotFound(t, "RetryDelivery(an event id)", err)
	if st := statusOf(t, s, a.ID, failed.Deliveries[0].ID); st != herald.StatusFailed {
		t.Errorf("failed delivery is %s after refused retries", st)
	}

	// Retried once, it waits: a second retry is refused.
	if _, err := s.RetryDelivery(ctx, a.ID, failed.Deliveries[0].ID, at(time.Hour)); err != nil {
		t.Fatalf("RetryDelivery(failed): %v", err)
	}
	if _, err := s.RetryDelivery(ctx, a.ID, failed.Deliveries[0].ID, at(time.Hour)); !errors.Is(err, herald.ErrConflict) {
		t.Errorf("RetryDelivery twice: err = %v, want herald.ErrConflict", err)
	}
}

// Recover requeues the environment's failed deliveries of a window,
// oldest first, limit at a time, and nothing else.
func testRecoverDeliveries(t *testing.T, s herald.Store) {
	ctx := t.Context()
	a := newEnv(t, s, "a")
	b := newEnv(t, s, "b")
	since, until := at(time.Minute), at(10*time.Minute)
	targets := map[string]string{}
	add := func(env *herald.Environment, created time.Duration, status string) herald.Delivery {
		due := &t0
		if status == herald.StatusPending {
			due = &far
		}
		ne := makeEvent(t, env.ID, spec{URLs: []string{urlA}, Created: at(created), Due: due})
		ingest(t, s, env.ID, ne)
		if status != herald.StatusPending {
			targets[ne.Deliveries[0].ID] = status
		}
		return ne.Deliveries[0]
	}
	// In the window, created in this order: since is inclusive.
	var inWindow []herald.Delivery
	for _, created := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute, 5 * time.Minute, 10*time.Minute - time.Millisecond} {
		inWindow = append(inWindow, add(a, created, herald.StatusFailed))
	}
	// Left alone: failed outside the window (until is exclusive), not
	// failed, another environment's.
	untouched := []struct {
		env    *herald.Environment
		d      herald.Delivery
		status string
	}{
		{a, add(a, 0, herald.StatusFailed), herald.StatusFailed},
		{a, add(a, 10*time.Minute, herald.StatusFailed), herald.StatusFailed},
		{a, add(a, 4*time.Minute, herald.StatusSucceeded), herald.StatusSucceeded},
		{a, add(a, 6*time.Minute, herald.StatusSkipped), herald.StatusSkipped},
		{a, add(a, 7*time.Minute, herald.StatusPending), herald.StatusPending},
		{b, add(b, 3*time.Minute, herald.StatusFailed), herald.StatusFailed},
	}
	settle(t, s, targets)

	due := at(time.Hour)
	var got []int
	for range 6 {
		n, err := s.RecoverDeliveries(ctx, a.ID, since, until, due, 2)
		if err != nil {
			t.Fatalf("RecoverDeliveries: %v", err)
		}
		got = append(got, n)
		if len(got) == 1 {
			// The oldest two first.
			for i, d := range inWindow {
				want := herald.StatusFailed
				if i < 2 {
					want = herald.StatusPending
				}
				if st := statusOf(t, s, a.ID, d.ID); st != want {
					t.Errorf("after the first batch, delivery %d of the window is %s, want %s", i, st, want)
				}
			}
		}
		if n < 2 {
			break
		}
	}
	if !slices.Equal(got, []int{2, 2, 1}) {
		t.Errorf("batches of %v, want [2 2 1]", got)
	}
	if n, err := s.RecoverDeliveries(ctx, a.ID, since, until, due, 2); err != nil || n != 0 {
		t.Errorf("RecoverDeliveries once all are recovered = %d, %v; want 0", n, err)
	}
	for _, d := range inWindow {
		want := settled(d, herald.StatusFailed)
		want.Status, want.NextAttemptAt, want.RoundStart = herald.StatusPending, &due, 1
		got, _, attempts := getDelivery(t, s, a.ID, d.ID)
		checkDelivery(t, *got, want)
		if !sameMS(got.UpdatedAt, due) {
			t.Errorf("recovered delivery updated at %v, want %v", got.UpdatedAt, due)
		}
		checkAttemptNumbers(t, attempts, 1)
	}
	for _, u := range untouched {
		want := settled(u.d, u.status)
		if u.status == herald.StatusPending {
			want = u.d
		}
		got, _, _ := getDelivery(t, s, u.env.ID, u.d.ID)
		checkDelivery(t, *got, want)
	}

	// They are claimed in the new round, their next attempt the second.
	jobs := claim(t, s, due, 100)
	if !slices.Equal(sorted(jobIDs(jobs)), sorted(ids(inWindow))) {
		t.Fatalf("claimed %v, want the recovered %v", jobIDs(jobs), ids(inWindow))
	}
	for _, j := range jobs {
		if j.Attempts != 1 || j.RoundStart != 1 {
			t.Errorf("job %s: %d attempts made, round start %d; want 1 and 1", j.DeliveryID, j.Attempts, j.RoundStart)
		}
	}
	if n, err := s.RecoverDeliveries(ctx, a.ID, since, until, due, 0); err != nil || n != 0 {
		t.Errorf("RecoverDeliveries(limit 0) = %d, %v", n, err)
	}
}

// replayModel is what ReplaySources must return for one event.
type replayModel struct {
	ev    herald.Event
	fate  string
	sends []herald.ReplaySend
}

func matchReplay(m replayModel, f herald.EventFilter, after string) bool {
	return matchEvent(m.ev, herald.EventFilter{Type: f.Type, ConnectionID: f.ConnectionID,
		ProviderConfigKey: f.ProviderConfigKey, Since: f.Since, Until: f.Until}) &&
		(f.Status == "" || m.fate == f.Status) && m.ev.ID > after
}

func replaySources(t testing.TB, s herald.Store, envID string, f herald.EventFilter, after string, limit int) []herald.ReplaySource {
	t.Helper()
	srcs, err := s.ReplaySources(t.Context(), envID, f, after, limit)
	if err != nil {
		t.Fatalf("ReplaySources(%+v, %q, %d): %v", f, after, limit, err)
	}
	return srcs
}

func sourceIDs(srcs []herald.ReplaySource) []string {
	out := make([]string, len(srcs))
	for i, src := range srcs {
		out[i] = src.Event.ID
	}
	return out
}

func fmtSends(sends []herald.ReplaySend) string {
	var parts []string
	for _, s := range sends {
		body := "<nil>"
		if s.Body != nil {
			body = string(s.Body)
		}
		parts = append(parts, s.ConnectionID+":"+body)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func testReplaySources(t *testing.T, s herald.Store) {
	a := newEnv(t, s, "a")
	b := newEnv(t, s, "b")
	targets := map[string]string{}
	build := func(env *herald.Environment, sp spec, statuses ...string) herald.EventRecord {
		for range statuses {
			sp.URLs = append(sp.URLs, []string{urlA, urlB, urlC, urlA + "/2", urlB + "&2"}[len(sp.URLs)])
		}
		if sp.Due == nil {
			sp.Due = &t0
		}
		ne := makeEvent(t, env.ID, sp)
		for i, st := range statuses {
			if st == herald.StatusPending {
				ne.Deliveries[i].NextAttemptAt = &far
			} else {
				targets[ne.Deliveries[i].ID] = st
			}
		}
		return ne
	}
	succeeded := build(a, spec{Type: "auth", Conn: "conn-1", Created: at(time.Minute)}, herald.StatusSucceeded)
	skipped := build(a, spec{Type: "sync", Conn: "conn-2", Created: at(2 * time.Minute)})
	// A forward to several connections: the deliveries of a connection
	// send its body (one of them, oddly, the event's), each pair once.
	forward := build(a, spec{Type: "forward", Conn: "", PCK: "hubspot", Created: at(3 * time.Minute)},
		herald.StatusPending, herald.StatusPending, herald.StatusPending, herald.StatusPending, herald.StatusPending)
	forward.Event.ConnectionID = ""
	forward.Event.Headers = []byte(`{"x-hubspot-signature":"abc"}`)
	forward.Event.Inbound = []byte(`{"provider":"hubspot"}`)
	bodyA, bodyB := []byte(`{"connectionId":"conn-a","payload":1}`), []byte(`{"connectionId":"conn-b","payload":1}`)
	for i, p := range []struct {
		conn string
		body []byte
	}{{"conn-b", bodyB}, {"conn-a", bodyA}, {"conn-a", bodyA}, {"conn-c", nil}, {"conn-a", nil}} {
		forward.Deliveries[i].ConnectionID, forward.Deliveries[i].Body = p.conn, p.body
	}
	failed := build(a, spec{Type: "sync", Conn: "conn-1", Created: at(4 * time.Minute)}, herald.StatusFailed, herald.StatusSucceeded)
	allSkipped := build(a, spec{Type: "auth", Conn: "conn-2", PCK: "slack", Created: at(5 * time.Minute)}, herald.StatusSkipped)
	latest := build(a, spec{Type: "sync", Conn: "conn-1", Created: at(6 * time.Minute)}, herald.StatusSucceeded)
	ingest(t, s, a.ID, succeeded, skipped, forward, failed, allSkipped, latest)
	// Another environment, the same shapes.
	ingest(t, s, b.ID,
		build(b, spec{Type: "auth", Conn: "conn-1", Created: at(time.Minute)}, herald.StatusSucceeded),
		build(b, spec{Type: "sync", Conn: "conn-2", Created: at(2 * time.Minute)}),
		build(b, spec{Type: "sync", Conn: "conn-1", Created: at(4 * time.Minute)}, herald.StatusFailed))
	settle(t, s, targets)

	one := func(conn string) []herald.ReplaySend { return []herald.ReplaySend{{ConnectionID: conn}} }
	model := []replayModel{
		{succeeded.Event, herald.FateSucceeded, one("conn-1")},
		{skipped.Event, herald.FateSkipped, nil},
		{forward.Event, herald.FatePending, []herald.ReplaySend{
			{ConnectionID: "conn-a"}, {ConnectionID: "conn-a", Body: bodyA}, {ConnectionID: "conn-b", Body: bodyB}, {ConnectionID: "conn-c"}}},
		{failed.Event, herald.FateFailed, one("conn-1")},
		{allSkipped.Event, herald.FateSkipped, one("conn-2")},
		{latest.Event, herald.FateSucceeded, one("conn-1")},
	}
	slices.SortFunc(model, func(x, y replayModel) int { return strings.Compare(x.ev.ID, y.ev.ID) })
	want := func(f herald.EventFilter, after string, limit int) []replayModel {
		var out []replayModel
		for _, m := range model {
			if matchReplay(m, f, after) && len(out) < limit {
				out = append(out, m)
			}
		}
		return out
	}
	check := func(t *testing.T, got []herald.ReplaySource, want []replayModel) {
		t.Helper()
		wantIDs := make([]string, len(want))
		for i, m := range want {
			wantIDs[i] = m.ev.ID
		}
		if !slices.Equal(sourceIDs(got), wantIDs) {
			t.Fatalf("sources:\n\tgot  %v\n\twant %v", sourceIDs(got), wantIDs)
		}
		for i, m := range want {
			g := got[i]
			checkEvent(t, &g.Event, m.ev)
			if g.Event.Status != m.fate {
				t.Errorf("event %s: status %q, want %q", m.ev.ID, g.Event.Status, m.fate)
			}
			if len(g.Sends) != len(m.sends) || fmtSends(g.Sends) != fmtSends(m.sends) {
				t.Errorf("event %s: sends %s, want %s", m.ev.ID, fmtSends(g.Sends), fmtSends(m.sends))
				continue
			}
			for j := range m.sends {
				if !sameBytes(g.Sends[j].Body, m.sends[j].Body) {
					t.Errorf("event %s: send %d body %q, want %q", m.ev.ID, j, g.Sends[j].Body, m.sends[j].Body)
				}
			}
		}
	}

	for _, c := range []struct {
		name string
		f    herald.EventFilter
	}{
		{"all", herald.EventFilter{}},
		{"type", herald.EventFilter{Type: "sync"}},
		{"connection", herald.EventFilter{ConnectionID: "conn-2"}},
		{"provider config key", herald.EventFilter{ProviderConfigKey: "slack"}},
		{"pending", herald.EventFilter{Status: herald.FatePending}},
		{"failed", herald.EventFilter{Status: herald.FateFailed}},
		{"succeeded", herald.EventFilter{Status: herald.FateSucceeded}},
		{"skipped", herald.EventFilter{Status: herald.FateSkipped}},
		{"unknown fate", herald.EventFilter{Status: "weird"}},
		{"since and until", herald.EventFilter{Since: ptr(at(2 * time.Minute)), Until: ptr(at(5 * time.Minute))}},
		{"until is exclusive", herald.EventFilter{Until: ptr(at(4 * time.Minute))}},
		{"type and fate", herald.EventFilter{Type: "sync", Status: herald.FateSucceeded}},
		{"cursor and limit are ignored", herald.EventFilter{Cursor: model[0].ev.ID, Limit: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			check(t, replaySources(t, s, a.ID, c.f, "", 100), want(c.f, "", 100))
			n, err := s.CountReplay(t.Context(), a.ID, c.f)
			if err != nil || n != len(want(c.f, "", 100)) {
				t.Errorf("CountReplay = %d, %v; want %d", n, err, len(want(c.f, "", 100)))
			}
		})
	}
	if n := len(want(herald.EventFilter{Status: "weird"}, "", 100)); n != 0 {
		t.Fatalf("the model selects %d events of an unknown fate", n)
	}

	// Page by page, with `after`.
	for _, c := range []struct {
		name string
		f    herald.EventFilter
		page int
	}{
		{"page of 2", herald.EventFilter{}, 2},
		{"page of 1", herald.EventFilter{}, 1},
		{"succeeded, page of 1", herald.EventFilter{Status: herald.FateSucceeded}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []herald.ReplaySource
			after := ""
			for range len(model) + 2 {
				srcs := replaySources(t, s, a.ID, c.f, after, c.page)
				if len(srcs) > c.page {
					t.Fatalf("%d sources with limit %d", len(srcs), c.page)
				}
				got = append(got, srcs...)
				if len(srcs) < c.page {
					break
				}
				after = srcs[len(srcs)-1].Event.ID
			}
			check(t, got, want(c.f, "", 100))
		})
	}
	if srcs := replaySources(t, s, a.ID, herald.EventFilter{}, model[len(model)-1].ev.ID, 100); len(srcs) != 0 {
		t.Errorf("after the newest event: %v", sourceIDs(srcs))
	}
	if srcs := replaySources(t, s, newID(t), herald.EventFilter{}, "", 100); srcs == nil || len(srcs) != 0 {
		t.Errorf("an unknown environment has sources %#v, want an empty list", srcs)
	}
}

// AddDeliveries stores deliveries of the environment's existing events,
// claimable when due, all or nothing.
func testAddDeliveries(t *testing.T, s herald.Store) {
	ctx := t.Context()
	a := newEnv(t, s, "a")
	b := newEnv(t, s, "b")
	skipped := makeEvent(t, a.ID, spec{Type: "auth"})
	sent := makeEvent(t, a.ID, spec{URLs: []string{urlA}, Due: &far})
	inB := makeEvent(t, b.ID, spec{})
	ingest(t, s, a.ID, skipped, sent)
	ingest(t, s, b.ID, inB)

	created, due := at(30*time.Second), at(time.Minute)
	mk := func(ev herald.Event, conn, url string, body []byte) herald.Delivery {
		return herald.Delivery{ID: newID(t), EventID: ev.ID, EnvironmentID: ev.EnvironmentID, Type: ev.Type, ConnectionID: conn,
			ProviderConfigKey: ev.ProviderConfigKey, URL: url, Status: herald.StatusPending, CreatedAt: created, UpdatedAt: created,
			NextAttemptAt: &due, Body: body}
	}
	own := []byte(`{"connectionId":"conn-x","payload":2}`)
	added := []herald.Delivery{mk(skipped.Event, "conn-1", urlA, nil), mk(skipped.Event, "conn-x", urlB, own),
		mk(sent.Event, "conn-1", urlC, nil)}
	if err := s.AddDeliveries(ctx, a.ID, added); err != nil {
		t.Fatalf("AddDeliveries: %v", err)
	}
	ev, ds, err := s.GetEvent(ctx, a.ID, skipped.Event.ID)
	if err != nil {
		t.Fatalf("GetEvent: %v", err)
	}
	checkDeliveries(t, ds, added[:2])
	if ev.Status != herald.FatePending {
		t.Errorf("event with added deliveries is %q, want pending", ev.Status)
	}
	_, ds, _ = s.GetEvent(ctx, a.ID, sent.Event.ID)
	checkDeliveries(t, ds, append([]herald.Delivery{added[2]}, sent.Deliveries...))
	if _, body, _ := getDelivery(t, s, a.ID, added[1].ID); string(body) != string(own) {
		t.Errorf("added delivery's body %s, want %s", body, own)
	}

	if jobs := claim(t, s, due.Add(-time.Millisecond), 100); len(jobs) != 0 {
		t.Errorf("claimed before due: %v", jobIDs(jobs))
	}
	jobs := claim(t, s, due, 100)
	if !slices.Equal(sorted(jobIDs(jobs)), sorted(ids(added))) {
		t.Fatalf("claimed %v, want %v", jobIDs(jobs), ids(added))
	}
	bodies := map[string]string{added[0].ID: string(skipped.Event.Body), added[1].ID: string(own), added[2].ID: string(sent.Event.Body)}
	for _, j := range jobs {
		if string(j.Body) != bodies[j.DeliveryID] || j.Attempts != 0 || j.RoundStart != 0 || j.EnvironmentID != a.ID {
			t.Errorf("job %+v (body %s), want body %s", j, j.Body, bodies[j.DeliveryID])
		}
	}

	// Another environment's event, or an unknown one, refuses the lot.
	before := countDeliveries(t, s, a.ID)
	for _, c := range []struct {
		name  string
		envID string
		ds    []herald.Delivery
	}{
		{"with another environment's event", a.ID, []herald.Delivery{mk(skipped.Event, "conn-1", urlC, nil), mk(inB.Event, "conn-1", urlA, nil)}},
		{"of another environment's event", b.ID, []herald.Delivery{mk(skipped.Event, "conn-1", urlC, nil)}},
		{"with an unknown event", a.ID, []herald.Delivery{mk(sent.Event, "conn-1", urlB, nil),
			mk(herald.Event{ID: newID(t), EnvironmentID: a.ID, Type: "auth"}, "conn-1", urlA, nil)}},
	} {
		err := s.AddDeliveries(ctx, c.envID, c.ds)
		wantNotFound(t, "AddDeliveries "+c.name, err)
		for _, d := range c.ds {
			for _, env := range []string{a.ID, b.ID} {
				if _, _, _, err := s.GetDelivery(ctx, env, d.ID); !errors.Is(err, herald.ErrNotFound) {
					t.Errorf("AddDeliveries %s stored %s: GetDelivery err = %v", c.name, d.ID, err)
				}
			}
		}
	}
	if n := countDeliveries(t, s, a.ID); n != before {
		t.Errorf("%d deliveries after refused additions, want %d", n, before)
	}
	if n := countDeliveries(t, s, b.ID); n != 0 {
		t.Errorf("b has %d deliveries, want 0", n)
	}
	if err := s.AddDeliveries(ctx, a.ID, nil); err != nil {
		t.Errorf("AddDeliveries(none): %v", err)
	}
}

func testClaimOnce(t *testing.T, s herald.Store) {
	ctx := t.Context()
	a := newEnv(t, s, "a")
	b := newEnv(t, s, "b")
	once := func(envID, key string, now time.Time, want bool) {
		t.Helper()
		got, err := s.ClaimOnce(ctx, envID, key, time.Minute, now)
		if err != nil {
			t.Fatalf("ClaimOnce(%s at %v): %v", key, now.Sub(t0), err)
		}
		if got != want {
			t.Errorf("ClaimOnce(%s at %v) = %v, want %v", key, now.Sub(t0), got, want)
		}
	}
	once(a.ID, "replay:k", t0, true)
	once(a.ID, "replay:k", at(time.Second), false)
	once(a.ID, "replay:k", at(time.Minute-time.Millisecond), false)
	once(a.ID, "replay:other", at(time.Second), true)
	once(b.ID, "replay:k", at(time.Second), true)
	// A window after it was recorded, the key is recorded afresh.
	once(a.ID, "replay:k", at(time.Minute), true)
	once(a.ID, "replay:k", at(time.Minute+time.Second), false)
	once(a.ID, "replay:k", at(2*time.Minute+time.Second), true)

	// The idempotency keys of ingest live beside them, untouched.
	first := makeEvent(t, a.ID, spec{URLs: []string{urlA}})
	if replay, err := s.Ingest(ctx, idemReq(a.ID, "event:k", `{"first":true}`, t0, first)); err != nil || replay != nil {
		t.Fatalf("Ingest = %s, %v", replay, err)
	}
	once(a.ID, "replay:event:k", at(time.Second), true)
	again := makeEvent(t, a.ID, spec{URLs: []string{urlA}})
	if replay, err := s.Ingest(ctx, idemReq(a.ID, "event:k", `{"first":true}`, at(2*time.Second), again)); err != nil ||
		string(replay) != `{"first":true}` {
		t.Errorf("Ingest with the key again = %s, %v; want the first answer", replay, err)
	}
}

// An event's fate derives from its deliveries' statuses, on GetEvent and
// ListEvents, and ListEvents selects by it.
func testEventFates(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	other := newEnv(t, s, "other")
	targets := map[string]string{}
	type fixture struct {
		ne   herald.EventRecord
		fate string
	}
	var fixtures []fixture
	// add stores an event of env whose deliveries end in statuses.
	add := func(env *herald.Environment, typ, fate string, statuses ...string) {
		var urls []string
		for i := range statuses {
			urls = append(urls, fmt.Sprintf("https://%d.example.com/hooks", i))
		}
		ne := makeEvent(t, env.ID, spec{Type: typ, URLs: urls, Due: &t0, Created: at(time.Duration(len(fixtures)) * time.Second)})
		for i, st := range statuses {
			d := &ne.Deliveries[i]
			switch st {
			case herald.StatusPending:
				d.NextAttemptAt = &far
			case herald.StatusHeld:
				d.Status, d.NextAttemptAt = herald.StatusHeld, nil
			default:
				targets[d.ID] = st
			}
		}
		ingest(t, s, env.ID, ne)
		fixtures = append(fixtures, fixture{ne, fate})
	}
	add(env, "auth", herald.FateSkipped)
	add(env, "sync", herald.FateSkipped, herald.StatusSkipped, herald.StatusSkipped)
	add(env, "sync", herald.FatePending, herald.StatusPending, herald.StatusFailed)
	add(env, "auth", herald.FatePending, herald.StatusSending, herald.StatusSucceeded)
	add(env, "sync", herald.FatePending, herald.StatusHeld, herald.StatusFailed, herald.StatusSkipped)
	add(env, "sync", herald.FateFailed, herald.StatusFailed, herald.StatusSucceeded, herald.StatusSkipped)
	add(env, "auth", herald.FateFailed, herald.StatusFailed)
	add(env, "sync", herald.FateSucceeded, herald.StatusSucceeded, herald.StatusSkipped)
	add(env, "auth", herald.FateSucceeded, herald.StatusSucceeded, herald.StatusSucceeded)
	mine := len(fixtures)
	add(other, "sync", herald.FateFailed, herald.StatusFailed)
	add(other, "auth", herald.FatePending, herald.StatusPending)
	add(other, "sync", herald.FateSkipped)
	settle(t, s, targets)

	fate := map[string]string{}
	var model []herald.Event
	for _, fx := range fixtures[:mine] {
		fate[fx.ne.Event.ID] = fx.fate
		model = append(model, fx.ne.Event)
	}
	slices.SortFunc(model, func(x, y herald.Event) int { return strings.Compare(y.ID, x.ID) })
	for _, fx := range fixtures {
		ev, _, err := s.GetEvent(ctx, fx.ne.Event.EnvironmentID, fx.ne.Event.ID)
		if err != nil {
			t.Fatalf("GetEvent: %v", err)
		}
		if ev.Status != fx.fate {
			t.Errorf("GetEvent: event of %d deliveries is %q, want %q", len(fx.ne.Deliveries), ev.Status, fx.fate)
		}
	}
	for _, e := range listEvents(t, s, env.ID, herald.EventFilter{Limit: 200}) {
		if e.Status != fate[e.ID] {
			t.Errorf("ListEvents: event %s is %q, want %q", e.ID, e.Status, fate[e.ID])
		}
	}

	for _, c := range []struct {
		name string
		f    herald.EventFilter
	}{
		{"skipped", herald.EventFilter{Status: herald.FateSkipped}},
		{"pending", herald.EventFilter{Status: herald.FatePending}},
		{"failed", herald.EventFilter{Status: herald.FateFailed}},
		{"succeeded", herald.EventFilter{Status: herald.FateSucceeded}},
		{"unknown", herald.EventFilter{Status: "weird"}},
		{"pending and type", herald.EventFilter{Status: herald.FatePending, Type: "sync"}},
		{"failed, limit 1", herald.EventFilter{Status: herald.FateFailed, Limit: 1}},
		{"pending and cursor", herald.EventFilter{Status: herald.FatePending, Cursor: model[3].ID}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.f.Limit == 0 {
				c.f.Limit = 200
			}
			var want []herald.Event
			for _, e := range model {
				if (fate[e.ID] == c.f.Status) && matchEvent(e, c.f) && len(want) < c.f.Limit {
					want = append(want, e)
				}
			}
			got := listEvents(t, s, env.ID, c.f)
			if !slices.Equal(eventIDs(got), eventIDs(want)) {
				t.Fatalf("ListEvents(%s):\n\tgot  %v\n\twant %v", c.name, eventIDs(got), eventIDs(want))
			}
			for _, e := range got {
				if e.Status != c.f.Status {
					t.Errorf("event %s listed as %q", e.ID, e.Status)
				}
			}
		})
	}
}
