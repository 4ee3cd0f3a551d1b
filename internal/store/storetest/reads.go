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

func readTests() []test {
	return []test{
		{"GetEvent", testGetEvent},
		{"ListDeliveriesFilters", testListDeliveriesFilters},
		{"ListDeliveriesPaging", testListDeliveriesPaging},
		{"GetDeliveryAttempts", testGetDeliveryAttempts},
		{"TenantIsolation", testTenantIsolation},
		{"ListEventsFilters", testListEventsFilters},
		{"ListEventsPaging", testListEventsPaging},
	}
}

func testGetEvent(t *testing.T, s herald.Store) {
	ctx := t.Context()
	a := newEnv(t, s, "a")
	b := newEnv(t, s, "b")
	withTwo := makeEvent(t, a.ID, spec{Type: "auth", Conn: "conn-9", PCK: "slack", URLs: []string{urlA, urlB}, Created: at(time.Second)})
	skipped := makeEvent(t, a.ID, spec{})
	inB := makeEvent(t, b.ID, spec{URLs: []string{urlA}})
	ingest(t, s, a.ID, withTwo, skipped)
	ingest(t, s, b.ID, inB)

	ev, ds, err := s.GetEvent(ctx, a.ID, withTwo.Event.ID)
	if err != nil {
		t.Fatalf("GetEvent: %v", err)
	}
	checkEvent(t, ev, withTwo.Event)
	checkDeliveries(t, ds, withTwo.Deliveries)

	ev, ds, err = s.GetEvent(ctx, a.ID, skipped.Event.ID)
	if err != nil {
		t.Fatalf("GetEvent(skipped): %v", err)
	}
	checkEvent(t, ev, skipped.Event)
	if len(ds) != 0 {
		t.Errorf("skipped event has %d deliveries", len(ds))
	}

	_, _, err = s.GetEvent(ctx, a.ID, inB.Event.ID)
	wantNotFound(t, "GetEvent(a, b's event)", err)
	_, _, err = s.GetEvent(ctx, b.ID, withTwo.Event.ID)
	wantNotFound(t, "GetEvent(b, a's event)", err)
	_, _, err = s.GetEvent(ctx, a.ID, newID(t))
	wantNotFound(t, "GetEvent(unknown)", err)
	_, _, err = s.GetEvent(ctx, newID(t), withTwo.Event.ID)
	wantNotFound(t, "GetEvent(unknown environment)", err)
	// A delivery id is not an event id.
	_, _, err = s.GetEvent(ctx, a.ID, withTwo.Deliveries[0].ID)
	wantNotFound(t, "GetEvent(delivery id)", err)
}

// logFixture is an environment whose deliveries cover every filter value and
// every status; model holds what the store must return.
type logFixture struct {
	env   *herald.Environment
	model []herald.Delivery
}

func newLogFixture(t *testing.T, s herald.Store, name string) *logFixture {
	t.Helper()
	f := &logFixture{env: newEnv(t, s, name)}
	types := []string{"auth", "sync", "async_action"}
	conns := []string{"conn-1", "conn-2"}
	pcks := []string{"github", "slack"}
	var events []herald.EventRecord
	later := at(100 * time.Hour)
	for i := range 18 {
		urls := []string{urlA}
		if i%4 == 0 {
			urls = []string{urlA, urlB}
		}
		events = append(events, makeEvent(t, f.env.ID, spec{Type: types[i%3], Conn: conns[i%2], PCK: pcks[(i/2)%2],
			URLs: urls, Created: at(time.Duration(i) * time.Minute), Due: &later}))
	}
	// Every third delivery is made due now and driven to a state.
	past := at(-time.Hour)
	targets := map[string]string{}
	states := []string{herald.StatusSucceeded, herald.StatusFailed, herald.StatusPending, herald.StatusSending, herald.StatusSkipped}
	n := 0
	for i := range events {
		for j := range events[i].Deliveries {
			if n%3 == 0 {
				events[i].Deliveries[j].NextAttemptAt = &past
				targets[events[i].Deliveries[j].ID] = states[(n/3)%len(states)]
			}
			n++
		}
	}
	// Two requests, so the log spans more than one transaction.
	ingest(t, s, f.env.ID, events[:7]...)
	ingest(t, s, f.env.ID, events[7:]...)

	jobs := claim(t, s, t0, 1000)
	if len(jobs) != len(targets) {
		t.Fatalf("claimed %d deliveries, want %d", len(jobs), len(targets))
	}
	retry := at(50 * time.Hour)
	var results []herald.AttemptResult
	for _, j := range jobs {
		r := herald.AttemptResult{DeliveryID: j.DeliveryID, Status: targets[j.DeliveryID],
			Attempt: herald.Attempt{Number: 1, StartedAt: t0, DurationMS: 42}}
		switch r.Status {
		case herald.StatusSending:
			continue
		case herald.StatusSucceeded:
			r.Attempt.StatusCode = ptr(204)
		case herald.StatusFailed:
			r.Attempt.StatusCode = ptr(410)
			r.Attempt.ResponseBody = ptr("gone")
		case herald.StatusPending:
			r.Attempt.Error = ptr("dial tcp: connection refused")
			r.NextAttemptAt = &retry
		case herald.StatusSkipped:
			r.Attempt.Error = ptr("address not allowed")
		}
		results = append(results, r)
	}
	record(t, s, results...)

	for _, d := range deliveriesOf(events...) {
		if st, ok := targets[d.ID]; ok {
			d.Status = st
			if st != herald.StatusSending {
				d.Attempts = 1
			}
			for _, r := range results {
				if r.DeliveryID == d.ID {
					d.LastStatusCode, d.LastError = r.Attempt.StatusCode, r.Attempt.Error
				}
			}
			d.NextAttemptAt = nil
			if st == herald.StatusPending {
				d.NextAttemptAt = &retry
			}
		}
		f.model = append(f.model, d)
	}
	f.model = newestFirst(f.model)
	return f
}

// match is the filter applied to the model: Since is inclusive, Until
// exclusive (the cases below keep clear of the boundaries anyway).
func match(d herald.Delivery, f herald.DeliveryFilter) bool {
	return (f.Status == "" || d.Status == f.Status) &&
		(f.Type == "" || d.Type == f.Type) &&
		(f.ConnectionID == "" || d.ConnectionID == f.ConnectionID) &&
		(f.ProviderConfigKey == "" || d.ProviderConfigKey == f.ProviderConfigKey) &&
		(f.Since == nil || !d.CreatedAt.Before(*f.Since)) &&
		(f.Until == nil || d.CreatedAt.Before(*f.Until)) &&
		(f.Cursor == "" || d.ID < f.Cursor)
}

func (lf *logFixture) want(f herald.DeliveryFilter) []herald.Delivery {
	var out []herald.Delivery
	for _, d := range lf.model {
		if match(d, f) && len(out) < f.Limit {
			out = append(out, d)
		}
	}
	return out
}

func testListDeliveriesFilters(t *testing.T, s herald.Store) {
	lf := newLogFixture(t, s, "prod")
	newLogFixture(t, s, "other") // same shapes, another tenant
	since, until := ptr(at(5*time.Minute+30*time.Second)), ptr(at(11*time.Minute+30*time.Second))
	cases := []struct {
		name string
		f    herald.DeliveryFilter
	}{
		{"all", herald.DeliveryFilter{}},
		{"status pending", herald.DeliveryFilter{Status: herald.StatusPending}},
		{"status sending", herald.DeliveryFilter{Status: herald.StatusSending}},
		{"status succeeded", herald.DeliveryFilter{Status: herald.StatusSucceeded}},
		{"status failed", herald.DeliveryFilter{Status: herald.StatusFailed}},
		{"status skipped", herald.DeliveryFilter{Status: herald.StatusSkipped}},
		{"type", herald.DeliveryFilter{Type: "sync"}},
		{"connection", herald.DeliveryFilter{ConnectionID: "conn-2"}},
		{"provider config key", herald.DeliveryFilter{ProviderConfigKey: "slack"}},
		{"since", herald.DeliveryFilter{Since: since}},
		{"until", herald.DeliveryFilter{Until: until}},
		{"since and until", herald.DeliveryFilter{Since: since, Until: until}},
		{"empty window", herald.DeliveryFilter{Since: until, Until: since}},
		{"everything at once", herald.DeliveryFilter{Type: "auth", ConnectionID: "conn-1", ProviderConfigKey: "github",
			Status: herald.StatusPending, Since: ptr(at(-time.Hour))}},
		{"limit", herald.DeliveryFilter{Limit: 3}},
		{"limit 1", herald.DeliveryFilter{Limit: 1}},
		{"cursor", herald.DeliveryFilter{Cursor: lf.model[4].ID}},
		{"cursor and type", herald.DeliveryFilter{Cursor: lf.model[4].ID, Type: "auth", Limit: 2}},
		{"cursor at the oldest", herald.DeliveryFilter{Cursor: lf.model[len(lf.model)-1].ID}},
		{"no match", herald.DeliveryFilter{Type: "nope"}},
		{"unknown status", herald.DeliveryFilter{Status: "weird"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.f.Limit == 0 {
				c.f.Limit = 200
			}
			want := lf.want(c.f)
			got := list(t, s, lf.env.ID, c.f)
			if !slices.Equal(ids(got), ids(want)) {
				t.Fatalf("ListDeliveries(%s):\n\tgot  %v\n\twant %v", c.name, ids(got), ids(want))
			}
			for i := range want {
				checkDelivery(t, got[i], want[i])
			}
		})
	}
	if len(lf.want(herald.DeliveryFilter{Status: herald.StatusPending, Limit: 200})) == 0 ||
		len(lf.want(herald.DeliveryFilter{Status: herald.StatusSending, Limit: 200})) == 0 {
		t.Fatal("fixture does not cover every status")
	}
}

// testListDeliveriesPaging walks the log page by page with the cursor, while
// new deliveries keep arriving: every delivery that existed when paging
// started shows up exactly once, in order.
func testListDeliveriesPaging(t *testing.T, s herald.Store) {
	a := newEnv(t, s, "a")
	b := newEnv(t, s, "b")
	var model []herald.Delivery
	for i := range 40 {
		urls := []string{urlA}
		if i%3 == 0 {
			urls = append(urls, urlB)
		}
		typ := []string{"auth", "sync"}[i%2]
		created := at(time.Duration(i) * time.Second)
		ea := makeEvent(t, a.ID, spec{Type: typ, URLs: urls, Created: created})
		eb := makeEvent(t, b.ID, spec{Type: typ, URLs: urls, Created: created})
		ingest(t, s, a.ID, ea)
		ingest(t, s, b.ID, eb)
		model = append(model, ea.Deliveries...)
	}
	model = newestFirst(model)

	for _, c := range []struct {
		name     string
		f        herald.DeliveryFilter
		pageSize int
	}{
		{"page of 10", herald.DeliveryFilter{}, 10},
		{"page of 7", herald.DeliveryFilter{}, 7},
		{"page of 1", herald.DeliveryFilter{}, 1},
		{"type, page of 6", herald.DeliveryFilter{Type: "sync"}, 6},
		{"connection, one page", herald.DeliveryFilter{ConnectionID: "conn-1"}, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			var want []string
			for _, d := range model {
				if match(d, herald.DeliveryFilter{Type: c.f.Type, ConnectionID: c.f.ConnectionID}) {
					want = append(want, d.ID)
				}
			}
			var got []string
			f := c.f
			f.Limit = c.pageSize
			for page := 0; ; page++ {
				if page > len(model)+1 {
					t.Fatal("paging does not end")
				}
				ds := list(t, s, a.ID, f)
				if len(ds) > c.pageSize {
					t.Fatalf("page of %d deliveries with limit %d", len(ds), c.pageSize)
				}
				got = append(got, ids(ds)...)
				if page == 0 {
					// Newer deliveries arrive between pages; they belong
					// before the first page and must not show up later.
					newer := makeEvent(t, a.ID, spec{Type: "sync", URLs: []string{urlA, urlC}, Created: at(time.Hour)})
					ingest(t, s, a.ID, newer)
					model = newestFirst(append(model, newer.Deliveries...)) // for the next cases
				}
				if len(ds) < c.pageSize {
					break
				}
				f.Cursor = ds[len(ds)-1].ID
			}
			if !slices.Equal(got, want) {
				t.Errorf("pages:\n\tgot  %v\n\twant %v", got, want)
			}
		})
	}
}

func testGetDeliveryAttempts(t *testing.T, s herald.Store) {
	ctx := t.Context()
	a := newEnv(t, s, "a")
	b := newEnv(t, s, "b")
	ne := makeEvent(t, a.ID, spec{URLs: []string{urlA, urlB}})
	ingest(t, s, a.ID, ne)
	d := ne.Deliveries[0]

	// A new delivery has its body and no attempts.
	got, body, attempts := getDelivery(t, s, a.ID, d.ID)
	checkDelivery(t, *got, d)
	if string(body) != string(ne.Event.Body) {
		t.Errorf("body = %s, want %s", body, ne.Event.Body)
	}
	if len(attempts) != 0 {
		t.Errorf("new delivery has %d attempts", len(attempts))
	}

	// Three attempts: a 500 with a body, a network error, a 200.
	log := []herald.Attempt{
		{Number: 1, StartedAt: at(time.Second), DurationMS: 1500, StatusCode: ptr(500), Error: nil, ResponseBody: ptr(`{"error":"boom"}`)},
		{Number: 2, StartedAt: at(3 * time.Second), DurationMS: 20_000, Error: ptr("context deadline exceeded")},
		{Number: 3, StartedAt: at(30 * time.Second), DurationMS: 0, StatusCode: ptr(200), ResponseBody: ptr("")},
	}
	next := []*time.Time{ptr(at(2 * time.Second)), ptr(at(25 * time.Second)), nil}
	status := []string{herald.StatusPending, herald.StatusPending, herald.StatusSucceeded}
	now := t0
	for i, attempt := range log {
		jobs := claim(t, s, now, 1, urlB)
		if len(jobs) != 1 || jobs[0].DeliveryID != d.ID || jobs[0].Attempts != i {
			t.Fatalf("attempt %d: claimed %+v, want %s with %d attempts made", i+1, jobs, d.ID, i)
		}
		record(t, s, herald.AttemptResult{DeliveryID: d.ID, LeaseGen: jobs[0].LeaseGen, Attempt: attempt, Status: status[i], NextAttemptAt: next[i]})
		if next[i] != nil {
			now = *next[i]
		}
	}

	got, body, attempts = getDelivery(t, s, a.ID, d.ID)
	want := d
	want.Status, want.Attempts, want.NextAttemptAt, want.LastStatusCode, want.LastError = herald.StatusSucceeded, 3, nil, ptr(200), nil
	checkDelivery(t, *got, want)
	if string(body) != string(ne.Event.Body) {
		t.Errorf("body = %s, want %s", body, ne.Event.Body)
	}
	if len(attempts) != len(log) {
		t.Fatalf("%d attempts, want %d", len(attempts), len(log))
	}
	for i, w := range log {
		g := attempts[i]
		if g.Number != w.Number || !sameMS(g.StartedAt, w.StartedAt) || g.DurationMS != w.DurationMS ||
			fmtPtr(g.StatusCode) != fmtPtr(w.StatusCode) || fmtPtr(g.Error) != fmtPtr(w.Error) ||
			fmtPtr(g.ResponseBody) != fmtPtr(w.ResponseBody) || (g.ResponseBody == nil) != (w.ResponseBody == nil) {
			t.Errorf("attempt %d:\n\tgot  %s\n\twant %s", i+1, fmtAttempt(g), fmtAttempt(w))
		}
	}

	// The sibling delivery is untouched.
	got, _, attempts = getDelivery(t, s, a.ID, ne.Deliveries[1].ID)
	checkDelivery(t, *got, ne.Deliveries[1])
	if len(attempts) != 0 {
		t.Errorf("sibling delivery has %d attempts", len(attempts))
	}

	_, _, _, err := s.GetDelivery(ctx, b.ID, d.ID)
	wantNotFound(t, "GetDelivery(other environment)", err)
	_, _, _, err = s.GetDelivery(ctx, a.ID, newID(t))
	wantNotFound(t, "GetDelivery(unknown)", err)
	_, _, _, err = s.GetDelivery(ctx, a.ID, ne.Event.ID)
	wantNotFound(t, "GetDelivery(event id)", err)
}

func fmtAttempt(a herald.Attempt) string {
	return fmt.Sprintf("{#%d started %s %dms code %s error %s body %s}", a.Number, a.StartedAt.Format(time.RFC3339Nano),
		a.DurationMS, fmtPtr(a.StatusCode), fmtPtr(a.Error), fmtPtr(a.ResponseBody))
}

// testTenantIsolation reads environment A's rows through every read with
// environment B's id.
func testTenantIsolation(t *testing.T, s herald.Store) {
	ctx := t.Context()
	a := newLogFixture(t, s, "a")
	b := newEnv(t, s, "b")
	mine := makeEvent(t, b.ID, spec{URLs: []string{urlA}, Created: at(time.Hour)})
	ingest(t, s, b.ID, mine)

	for _, d := range a.model {
		if _, _, _, err := s.GetDelivery(ctx, b.ID, d.ID); !errors.Is(err, herald.ErrNotFound) {
			t.Errorf("b reads a's delivery %s: err = %v", d.ID, err)
		}
		if _, _, err := s.GetEvent(ctx, b.ID, d.EventID); !errors.Is(err, herald.ErrNotFound) {
			t.Errorf("b reads a's event %s: err = %v", d.EventID, err)
		}
	}
	for _, f := range []herald.DeliveryFilter{
		{},
		{Status: herald.StatusPending},
		{Status: herald.StatusSucceeded},
		{Type: "auth", ConnectionID: "conn-1", ProviderConfigKey: "github"},
		{Since: ptr(at(-time.Hour)), Until: ptr(at(time.Hour - time.Second))},
		{Cursor: a.model[0].ID},
		{Cursor: "zzzzzzzz"},
	} {
		f.Limit = 200
		for _, d := range list(t, s, b.ID, f) {
			if d.EnvironmentID != b.ID || d.ID != mine.Deliveries[0].ID {
				t.Errorf("ListDeliveries(b, %+v) returned %s of environment %s", f, d.ID, d.EnvironmentID)
			}
		}
	}
	// And the other way round.
	if ds := list(t, s, a.env.ID, herald.DeliveryFilter{Limit: 200}); len(ds) != len(a.model) {
		t.Errorf("a lists %d deliveries, want %d", len(ds), len(a.model))
	}
	if _, _, err := s.GetEvent(ctx, a.env.ID, mine.Event.ID); !errors.Is(err, herald.ErrNotFound) {
		t.Errorf("a reads b's event: err = %v", err)
	}
	if ds := list(t, s, newID(t), herald.DeliveryFilter{Limit: 200}); len(ds) != 0 {
		t.Errorf("an unknown environment lists %d deliveries", len(ds))
	}
}

// newEventLog gives a new environment events that cover every filter
// value, some skipped, some forwarded (headers and inbound log), some with
// unknown fields; it returns the environment and the events newest first.
func newEventLog(t *testing.T, s herald.Store, name string) (*herald.Environment, []herald.Event) {
	t.Helper()
	env := newEnv(t, s, name)
	types := []string{"auth", "sync", "forward"}
	conns := []string{"conn-1", "conn-2"}
	pcks := []string{"github", "slack"}
	var events []herald.EventRecord
	for i := range 18 {
		var urls []string
		if i%3 != 0 {
			urls = []string{urlA}
		}
		ne := makeEvent(t, env.ID, spec{Type: types[i%3], Conn: conns[i%2], PCK: pcks[(i/2)%2], URLs: urls,
			Created: at(time.Duration(i) * time.Minute)})
		if ne.Event.Type == "forward" {
			ne.Event.Headers = []byte(fmt.Sprintf(`{"x-request":"%d"}`, i))
			ne.Event.Inbound = []byte(fmt.Sprintf(`{"n":%d}`, i))
		}
		if i%5 == 2 {
			ne.Event.UnknownFields = []string{"extra", "nested.field"}
		}
		events = append(events, ne)
	}
	// Two requests, so the log spans more than one transaction.
	ingest(t, s, env.ID, events[:7]...)
	ingest(t, s, env.ID, events[7:]...)
	var model []herald.Event
	for _, ne := range events {
		model = append(model, ne.Event)
	}
	slices.SortFunc(model, func(a, b herald.Event) int { return strings.Compare(b.ID, a.ID) })
	return env, model
}

func matchEvent(e herald.Event, f herald.EventFilter) bool {
	return (f.Type == "" || e.Type == f.Type) &&
		(f.ConnectionID == "" || e.ConnectionID == f.ConnectionID) &&
		(f.ProviderConfigKey == "" || e.ProviderConfigKey == f.ProviderConfigKey) &&
		(f.Since == nil || !e.CreatedAt.Before(*f.Since)) &&
		(f.Until == nil || e.CreatedAt.Before(*f.Until)) &&
		(f.Cursor == "" || e.ID < f.Cursor)
}

func wantEvents(model []herald.Event, f herald.EventFilter) []herald.Event {
	var out []herald.Event
	for _, e := range model {
		if matchEvent(e, f) && len(out) < f.Limit {
			out = append(out, e)
		}
	}
	return out
}

func eventIDs(es []herald.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func listEvents(t testing.TB, s herald.Store, envID string, f herald.EventFilter) []herald.Event {
	t.Helper()
	es, err := s.ListEvents(t.Context(), envID, f)
	if err != nil {
		t.Fatalf("ListEvents(%+v): %v", f, err)
	}
	return es
}

func testListEventsFilters(t *testing.T, s herald.Store) {
	env, model := newEventLog(t, s, "prod")
	newEventLog(t, s, "other") // same shapes, another tenant
	since, until := ptr(at(5*time.Minute+30*time.Second)), ptr(at(11*time.Minute+30*time.Second))
	cases := []struct {
		name string
		f    herald.EventFilter
	}{
		{"all", herald.EventFilter{}},
		{"type", herald.EventFilter{Type: "forward"}},
		{"connection", herald.EventFilter{ConnectionID: "conn-2"}},
		{"provider config key", herald.EventFilter{ProviderConfigKey: "slack"}},
		{"since", herald.EventFilter{Since: since}},
		{"until", herald.EventFilter{Until: until}},
		{"since and until", herald.EventFilter{Since: since, Until: until}},
		{"since is inclusive", herald.EventFilter{Since: ptr(at(6 * time.Minute))}},
		{"until is exclusive", herald.EventFilter{Until: ptr(at(6 * time.Minute))}},
		{"empty window", herald.EventFilter{Since: until, Until: since}},
		{"everything at once", herald.EventFilter{Type: "sync", ConnectionID: "conn-2", ProviderConfigKey: "github",
			Since: ptr(at(-time.Hour)), Until: ptr(at(time.Hour))}},
		{"limit", herald.EventFilter{Limit: 3}},
		{"limit 1", herald.EventFilter{Limit: 1}},
		{"cursor", herald.EventFilter{Cursor: model[4].ID}},
		{"cursor and type", herald.EventFilter{Cursor: model[4].ID, Type: "auth", Limit: 2}},
		{"cursor at the oldest", herald.EventFilter{Cursor: model[len(model)-1].ID}},
		{"no match", herald.EventFilter{Type: "nope"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.f.Limit == 0 {
				c.f.Limit = 200
			}
			want := wantEvents(model, c.f)
			got := listEvents(t, s, env.ID, c.f)
			if !slices.Equal(eventIDs(got), eventIDs(want)) {
				t.Fatalf("ListEvents(%s):\n\tgot  %v\n\twant %v", c.name, eventIDs(got), eventIDs(want))
			}
			for i := range want {
				// Lists leave the bodies out.
				if got[i].Body != nil {
					t.Errorf("event %s listed with its body", got[i].ID)
				}
				w := want[i]
				w.Body = nil
				checkEvent(t, &got[i], w)
			}
		})
	}
	if len(wantEvents(model, herald.EventFilter{Type: "forward", Limit: 200})) == 0 {
		t.Fatal("fixture has no forwarded events")
	}
	if got := listEvents(t, s, newID(t), herald.EventFilter{Limit: 200}); got == nil || len(got) != 0 {
		t.Errorf("unknown environment lists %#v, want an empty list", got)
	}
}

// testListEventsPaging walks the log page by page with the cursor while new
// events keep arriving: every event that existed when paging started shows
// up exactly once, in order, and no other environment's.
func testListEventsPaging(t *testing.T, s herald.Store) {
	a := newEnv(t, s, "a")
	b := newEnv(t, s, "b")
	var model []herald.Event
	for i := range 25 {
		typ := []string{"auth", "sync"}[i%2]
		created := at(time.Duration(i) * time.Second)
		ea := makeEvent(t, a.ID, spec{Type: typ, URLs: []string{urlA}, Created: created})
		eb := makeEvent(t, b.ID, spec{Type: typ, URLs: []string{urlA}, Created: created})
		ingest(t, s, a.ID, ea)
		ingest(t, s, b.ID, eb)
		model = append(model, ea.Event)
	}
	slices.SortFunc(model, func(x, y herald.Event) int { return strings.Compare(y.ID, x.ID) })
	for _, c := range []struct {
		name     string
		f        herald.EventFilter
		pageSize int
	}{
		{"page of 10", herald.EventFilter{}, 10},
		{"page of 2", herald.EventFilter{}, 2},
		{"page of 1", herald.EventFilter{}, 1},
		{"type, page of 4", herald.EventFilter{Type: "sync"}, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := eventIDs(wantEvents(model, herald.EventFilter{Type: c.f.Type, Limit: len(model)}))
			var got []string
			f := c.f
			f.Limit = c.pageSize
			for page := 0; ; page++ {
				if page > len(model)+1 {
					t.Fatal("paging does not end")
				}
				es := listEvents(t, s, a.ID, f)
				if len(es) > c.pageSize {
					t.Fatalf("page of %d events with limit %d", len(es), c.pageSize)
				}
				got = append(got, eventIDs(es)...)
				if page == 0 {
					// Newer events arrive between pages; they belong before
					// the first page and must not show up later.
					newer := makeEvent(t, a.ID, spec{Type: "sync", URLs: []string{urlA}, Created: at(time.Hour)})
					ingest(t, s, a.ID, newer)
					model = append([]herald.Event{newer.Event}, model...) // for the next cases
				}
				if len(es) < c.pageSize {
					break
				}
				f.Cursor = es[len(es)-1].ID
			}
			if !slices.Equal(got, want) {
				t.Errorf("pages:\n\tgot  %v\n\twant %v", got, want)
			}
		})
	}
}
