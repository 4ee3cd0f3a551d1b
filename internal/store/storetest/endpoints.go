package storetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
)

func endpointTests() []test {
	return []test{
		{"MadeForEveryURL", testEndpointsMade},
		{"List", testEndpointList},
		{"Update", testEndpointUpdate},
		{"DisableEnable", testEndpointDisableEnable},
		{"HoldAndRelease", testHoldAndRelease},
		{"HoldRefused", testHoldRefused},
		{"Circuit", testEndpointCircuit},
		{"DeferDeliveries", testDeferDeliveries},
		{"HeldKeepTheirBody", testHeldKeepBody},
		{"ConsecutiveFailures", testEndpointFailures},
		{"Stats", testEndpointStats},
		{"PruneStats", testPruneEndpointStats},
		{"EnvironmentDelete", testEndpointsEnvironmentDelete},
	}
}

const (
	urlD        = "https://d.example.com/hooks"
	urlOverride = "https://override.example.com/hooks"
)

func endpointByURL(t testing.TB, s herald.Store, envID, url string) *herald.Endpoint {
	t.Helper()
	e, err := s.EndpointByURL(t.Context(), envID, url)
	if err != nil {
		t.Fatalf("EndpointByURL(%s): %v", url, err)
	}
	return e
}

// allEndpoints walks envID's endpoints in pages of limit, checking that
// the pages follow one another in id order and that every id is a UUID
// (what the API accepts).
func allEndpoints(t testing.TB, s herald.Store, envID string, limit int) []herald.Endpoint {
	t.Helper()
	var out []herald.Endpoint
	cursor := ""
	for range 100 {
		page, err := s.ListEndpoints(t.Context(), envID, herald.Page{Limit: limit, Cursor: cursor})
		if err != nil {
			t.Fatalf("ListEndpoints(limit %d, after %q): %v", limit, cursor, err)
		}
		if len(page) > limit {
			t.Fatalf("ListEndpoints(limit %d) returned %d", limit, len(page))
		}
		for _, e := range page {
			if e.ID <= cursor {
				t.Fatalf("ListEndpoints after %q returned %s: not in id order", cursor, e.ID)
			}
			if _, err := uuid.Parse(e.ID); err != nil || len(e.ID) != 36 {
				t.Errorf("endpoint id %q is not a UUID", e.ID)
			}
			if e.EnvironmentID != envID {
				t.Errorf("ListEndpoints(%s) returned %s of %s", envID, e.URL, e.EnvironmentID)
			}
			cursor = e.ID
		}
		out = append(out, page...)
		if len(page) < limit {
			return out
		}
	}
	t.Fatalf("ListEndpoints never ends")
	return nil
}

// endpointURLs are the URLs of es, sorted.
func endpointURLs(es []herald.Endpoint) []string {
	var urls []string
	for _, e := range es {
		urls = append(urls, e.URL)
	}
	slices.Sort(urls)
	return urls
}

// checkEndpoint compares an endpoint with the one expected (its id too,
// when want has one; CreatedAt and UpdatedAt are left to the callers).
func checkEndpoint(t testing.TB, what string, got *herald.Endpoint, want herald.Endpoint) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: no endpoint", what)
		return
	}
	if (want.ID != "" && got.ID != want.ID) || got.EnvironmentID != want.EnvironmentID || got.URL != want.URL ||
		got.Disabled != want.Disabled || got.DisabledReason != want.DisabledReason ||
		fmtTime(got.DisabledAt) != fmtTime(want.DisabledAt) || got.ConsecutiveFailures != want.ConsecutiveFailures ||
		fmtTime(got.FailingSince) != fmtTime(want.FailingSince) || fmtPtr(got.RateLimitPerS) != fmtPtr(want.RateLimitPerS) ||
		fmtPtr(got.MaxConcurrency) != fmtPtr(want.MaxConcurrency) || !maps.Equal(got.Headers, want.Headers) ||
		(got.Headers == nil) != (want.Headers == nil) {
		t.Errorf("%s:\n\tgot  %s\n\twant %s", what, fmtEndpoint(got), fmtEndpoint(&want))
	}
}

func fmtEndpoint(e *herald.Endpoint) string {
	return fmt.Sprintf("{ID: %s, Env: %s, URL: %s, Disabled: %v %q at %s, Failures: %d since %s, Rate: %s, Concurrency: %s, Headers: %v}",
		e.ID, e.EnvironmentID, e.URL, e.Disabled, e.DisabledReason, fmtTime(e.DisabledAt), e.ConsecutiveFailures,
		fmtTime(e.FailingSince), fmtPtr(e.RateLimitPerS), fmtPtr(e.MaxConcurrency), e.Headers)
}

// leased ingests n events of envID with one delivery to url each, due at
// t0, and claims them, returning their jobs in the order the events were
// made. Nothing else may be due at t0.
func leased(t testing.TB, s herald.Store, envID, url string, n int) []herald.Job {
	t.Helper()
	events := make([]herald.EventRecord, n)
	for i := range events {
		events[i] = makeEvent(t, envID, spec{URLs: []string{url}})
	}
	ingest(t, s, envID, events...)
	jobs := claim(t, s, t0, n+1)
	if len(jobs) != n {
		t.Fatalf("claimed %d deliveries, want %d", len(jobs), n)
	}
	byID := map[string]herald.Job{}
	for _, j := range jobs {
		byID[j.DeliveryID] = j
	}
	out := make([]herald.Job, n)
	for i, e := range events {
		j, ok := byID[e.Deliveries[0].ID]
		if !ok {
			t.Fatalf("claimed %v, not the deliveries just made", jobIDs(jobs))
		}
		out[i] = j
	}
	return out
}

// outcome is j's result: an attempt that started at start, took durMS
// and tells health of its endpoint.
func outcome(j herald.Job, health string, start time.Time, durMS int64) herald.AttemptResult {
	r := herald.AttemptResult{DeliveryID: j.DeliveryID, LeaseGen: j.LeaseGen, EnvironmentID: j.EnvironmentID, URL: j.URL,
		Health: health, Attempt: herald.Attempt{Number: j.Attempts + 1, StartedAt: start, DurationMS: durMS}}
	switch health {
	case herald.HealthSuccess:
		r.Status, r.Attempt.StatusCode = herald.StatusSucceeded, ptr(200)
	case herald.HealthThrottled:
		r.Status, r.NextAttemptAt, r.Attempt.StatusCode = herald.StatusPending, &far, ptr(429)
	default:
		r.Status, r.Attempt.StatusCode = herald.StatusFailed, ptr(500)
	}
	return r
}

// withURLs is s with the given primary and secondary URLs ("": none).
func withURLs(s herald.Settings, primary, secondary string) herald.Settings {
	s.PrimaryURL, s.SecondaryURL = nil, nil
	if primary != "" {
		s.PrimaryURL = &primary
	}
	if secondary != "" {
		s.SecondaryURL = &secondary
	}
	return s
}

func updateSettings(t testing.TB, s herald.Store, env *herald.Environment, primary, secondary string) {
	t.Helper()
	env.Settings = withURLs(env.Settings, primary, secondary)
	if err := s.UpdateSettings(t.Context(), env.ID, env.Settings); err != nil {
		t.Fatalf("UpdateSettings: %v", err)
	}
}

// Every URL an environment sends to has one endpoint: its settings' URLs
// (from creation on), its connections' overrides, and any URL an attempt
// went to. Nothing but the environment's deletion removes one.
func testEndpointsMade(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := makeEnv(t, "prod", t0)
	env.Settings = withURLs(env.Settings, urlA, urlB)
	if err := s.CreateEnvironment(ctx, env); err != nil {
		t.Fatalf("CreateEnvironment: %v", err)
	}
	other := newEnv(t, s, "other") // no URL: no endpoint
	if got := allEndpoints(t, s, other.ID, 10); len(got) != 0 {
		t.Fatalf("an environment without URLs has endpoints %v", endpointURLs(got))
	}
	ids := map[string]string{}
	for _, u := range []string{urlA, urlB} {
		e := endpointByURL(t, s, env.ID, u)
		checkEndpoint(t, "endpoint of a new environment's URL", e, herald.Endpoint{EnvironmentID: env.ID, URL: u})
		ids[u] = e.ID
	}
	const unknown = "https://unknown.example.com/hooks"
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{"settings with a new URL", func() { updateSettings(t, s, env, urlC, urlA) }, []string{urlA, urlB, urlC}},
		{"the same settings again", func() { updateSettings(t, s, env, urlC, urlA) }, []string{urlA, urlB, urlC}},
		{"settings without URLs", func() { updateSettings(t, s, env, "", "") }, []string{urlA, urlB, urlC}},
		{"an override", func() {
			putConnection(t, s, withOverride(makeConnection(env.ID, "github", "conn-1", "", ""), urlOverride))
		}, []string{urlA, urlB, urlC, urlOverride}},
		{"the override again, a second connection with it, one without, one with a known URL", func() {
			putConnection(t, s, withOverride(makeConnection(env.ID, "github", "conn-1", "", ""), urlOverride))
			putConnection(t, s, withOverride(makeConnection(env.ID, "github", "conn-2", "", ""), urlOverride))
			putConnection(t, s, makeConnection(env.ID, "github", "conn-3", "", ""))
			putConnection(t, s, withOverride(makeConnection(env.ID, "slack", "conn-1", "", ""), urlA))
		}, []string{urlA, urlB, urlC, urlOverride}},
		{"attempts to a URL without an endpoint", func() {
			jobs := leased(t, s, env.ID, unknown, 2)
			record(t, s, outcome(jobs[0], herald.HealthFailure, at(time.Second), 10))
			record(t, s, outcome(jobs[1], herald.HealthFailure, at(2*time.Second), 10))
		}, []string{urlA, urlB, urlC, urlOverride, unknown}},
		{"settings with a new URL twice", func() { updateSettings(t, s, env, urlD, urlD) },
			[]string{urlA, urlB, urlC, urlD, urlOverride, unknown}},
	}
	for _, st := range steps {
		st.do()
		all := allEndpoints(t, s, env.ID, 2)
		if got := endpointURLs(all); !slices.Equal(got, st.want) {
			t.Fatalf("after %s: endpoints %v, want %v", st.name, got, st.want)
		}
		for _, e := range all {
			if id, ok := ids[e.URL]; ok && id != e.ID {
				t.Errorf("after %s: %s's endpoint changed id from %s to %s", st.name, e.URL, id, e.ID)
			}
			ids[e.URL] = e.ID
		}
	}
	checkEndpoint(t, "endpoint made by attempts", endpointByURL(t, s, env.ID, unknown),
		herald.Endpoint{EnvironmentID: env.ID, URL: unknown, ConsecutiveFailures: 2, FailingSince: ptr(at(time.Second))})

	// The same URL in another environment is that environment's own.
	updateSettings(t, s, other, urlA, "")
	e := endpointByURL(t, s, other.ID, urlA)
	if e.ID == ids[urlA] {
		t.Errorf("two environments share the endpoint %s", e.ID)
	}
	if got := endpointURLs(allEndpoints(t, s, other.ID, 10)); !slices.Equal(got, []string{urlA}) {
		t.Errorf("other environment's endpoints %v, want [%s]", got, urlA)
	}
	if err := s.UpdateSettings(ctx, newID(t), withURLs(env.Settings, urlA, "")); !errors.Is(err, herald.ErrNotFound) {
		t.Errorf("UpdateSettings of an unknown environment: err = %v, want ErrNotFound", err)
	}
}

// Lists page by id; an environment sees its own endpoints only.
func testEndpointList(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env, other := newEnv(t, s, "prod"), newEnv(t, s, "other")
	var want []string
	for i := range 5 {
		u := fmt.Sprintf("https://e%d.example.com/hooks", i)
		putConnection(t, s, withOverride(makeConnection(env.ID, "github", fmt.Sprintf("conn-%d", i), "", ""), u))
		want = append(want, u)
	}
	updateSettings(t, s, other, urlA, urlB)

	var first []herald.Endpoint
	for _, limit := range []int{1, 2, 5, 10} {
		got := allEndpoints(t, s, env.ID, limit)
		if urls := endpointURLs(got); !slices.Equal(urls, want) {
			t.Fatalf("listed by %d: %v, want %v", limit, urls, want)
		}
		if first == nil {
			first = got
		} else if fmt.Sprint(got) != fmt.Sprint(first) {
			t.Errorf("listed by %d: %v, by 1: %v", limit, got, first)
		}
	}
	if page, err := s.ListEndpoints(ctx, env.ID, herald.Page{Limit: 10, Cursor: first[len(first)-1].ID}); err != nil || len(page) != 0 {
		t.Errorf("page after the last = %v, %v; want none", page, err)
	}
	for _, e := range first {
		got, err := s.Endpoint(ctx, env.ID, e.ID)
		if err != nil {
			t.Fatalf("Endpoint(%s): %v", e.ID, err)
		}
		checkEndpoint(t, "Endpoint", got, e)
	}

	// Another environment's endpoint is not found, by id or URL, and
	// cannot be changed.
	theirs := endpointByURL(t, s, other.ID, urlA)
	_, err := s.Endpoint(ctx, env.ID, theirs.ID)
	wantNotFound(t, "Endpoint(another environment's)", err)
	_, err = s.EndpointByURL(ctx, env.ID, urlA)
	wantNotFound(t, "EndpointByURL(another environment's URL)", err)
	_, err = s.UpdateEndpoint(ctx, env.ID, theirs.ID, herald.EndpointPatch{SetRateLimit: true, RateLimitPerS: ptr(1)}, t0)
	wantNotFound(t, "UpdateEndpoint(another environment's)", err)
	_, err = s.DisableEndpoint(ctx, env.ID, theirs.ID, herald.DisabledManually, t0)
	wantNotFound(t, "DisableEndpoint(another environment's)", err)
	_, _, err = s.EnableEndpoint(ctx, env.ID, theirs.ID, t0)
	wantNotFound(t, "EnableEndpoint(another environment's)", err)
	checkEndpoint(t, "another environment's endpoint after refused changes", endpointByURL(t, s, other.ID, urlA), *theirs)
	_, err = s.Endpoint(ctx, env.ID, newID(t))
	wantNotFound(t, "Endpoint(unknown)", err)
	_, err = s.EndpointByURL(ctx, env.ID, "https://nowhere.example.com/")
	wantNotFound(t, "EndpointByURL(unknown)", err)
	if got := endpointURLs(allEndpoints(t, s, other.ID, 1)); !slices.Equal(got, []string{urlA, urlB}) {
		t.Errorf("other environment lists %v, want [%s %s]", got, urlA, urlB)
	}
}

// A patch replaces the fields it sets, and only those; a set field with
// no value removes the limit or the headers.
func testEndpointUpdate(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	updateSettings(t, s, env, urlA, urlB)
	e := endpointByURL(t, s, env.ID, urlA)
	neighbour := endpointByURL(t, s, env.ID, urlB)
	want := *e
	steps := []struct {
		name  string
		patch herald.EndpointPatch
		apply func(e *herald.Endpoint)
	}{
		{"rate limit", herald.EndpointPatch{SetRateLimit: true, RateLimitPerS: ptr(50)},
			func(e *herald.Endpoint) { e.RateLimitPerS = ptr(50) }},
		{"concurrency", herald.EndpointPatch{SetConcurrency: true, MaxConcurrency: ptr(4)},
			func(e *herald.Endpoint) { e.MaxConcurrency = ptr(4) }},
		{"headers", herald.EndpointPatch{SetHeaders: true, Headers: map[string]string{"x-api-key": "k1", "x-team": "core"}},
			func(e *herald.Endpoint) { e.Headers = map[string]string{"x-api-key": "k1", "x-team": "core"} }},
		{"values without their flags", herald.EndpointPatch{RateLimitPerS: ptr(1), MaxConcurrency: ptr(1),
			Headers: map[string]string{"x-other": "v"}}, func(e *herald.Endpoint) {}},
		{"all at once", herald.EndpointPatch{SetRateLimit: true, RateLimitPerS: ptr(7), SetConcurrency: true, MaxConcurrency: ptr(2),
			SetHeaders: true, Headers: map[string]string{"x-api-key": "k2"}},
			func(e *herald.Endpoint) {
				e.RateLimitPerS, e.MaxConcurrency, e.Headers = ptr(7), ptr(2), map[string]string{"x-api-key": "k2"}
			}},
		{"remove the rate limit", herald.EndpointPatch{SetRateLimit: true},
			func(e *herald.Endpoint) { e.RateLimitPerS = nil }},
		{"remove the concurrency", herald.EndpointPatch{SetConcurrency: true},
			func(e *herald.Endpoint) { e.MaxConcurrency = nil }},
		{"remove the headers", herald.EndpointPatch{SetHeaders: true},
			func(e *herald.Endpoint) { e.Headers = nil }},
		{"headers again", herald.EndpointPatch{SetHeaders: true, Headers: map[string]string{"x-api-key": "k3"}},
			func(e *herald.Endpoint) { e.Headers = map[string]string{"x-api-key": "k3"} }},
		{"empty headers are none", herald.EndpointPatch{SetHeaders: true, Headers: map[string]string{}},
			func(e *herald.Endpoint) { e.Headers = nil }},
	}
	for i, st := range steps {
		now := at(time.Duration(i+1) * time.Minute)
		st.apply(&want)
		got, err := s.UpdateEndpoint(ctx, env.ID, e.ID, st.patch, now)
		if err != nil {
			t.Fatalf("UpdateEndpoint(%s): %v", st.name, err)
		}
		checkEndpoint(t, "UpdateEndpoint("+st.name+")", got, want)
		if !sameMS(got.UpdatedAt, now) || !sameMS(got.CreatedAt, e.CreatedAt) {
			t.Errorf("UpdateEndpoint(%s): created %v, updated %v; want %v, %v", st.name, got.CreatedAt, got.UpdatedAt, e.CreatedAt, now)
		}
		reread, err := s.Endpoint(ctx, env.ID, e.ID)
		if err != nil {
			t.Fatalf("Endpoint: %v", err)
		}
		checkEndpoint(t, "Endpoint after "+st.name, reread, want)
	}
	checkEndpoint(t, "the other endpoint", endpointByURL(t, s, env.ID, urlB), *neighbour)
	_, err := s.UpdateEndpoint(ctx, env.ID, newID(t), herald.EndpointPatch{SetRateLimit: true, RateLimitPerS: ptr(1)}, t0)
	wantNotFound(t, "UpdateEndpoint(unknown)", err)
}

// Disabling keeps the first reason and time; enabling clears them and the
// failures, whatever the endpoint's state.
func testEndpointDisableEnable(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	updateSettings(t, s, env, urlA, "")
	jobs := leased(t, s, env.ID, urlA, 2)
	record(t, s, outcome(jobs[0], herald.HealthFailure, at(time.Second), 10),
		outcome(jobs[1], herald.HealthFailure, at(2*time.Second), 10))
	e := endpointByURL(t, s, env.ID, urlA)
	want := herald.Endpoint{ID: e.ID, EnvironmentID: env.ID, URL: urlA, ConsecutiveFailures: 2, FailingSince: ptr(at(time.Second))}
	checkEndpoint(t, "failing endpoint", e, want)

	t1, t2, t3, t4 := at(time.Minute), at(2*time.Minute), at(3*time.Minute), at(4*time.Minute)
	got, err := s.DisableEndpoint(ctx, env.ID, e.ID, herald.DisabledManually, t1)
	if err != nil {
		t.Fatalf("DisableEndpoint: %v", err)
	}
	want.Disabled, want.DisabledReason, want.DisabledAt = true, herald.DisabledManually, &t1
	checkEndpoint(t, "disabled", got, want)
	if !sameMS(got.UpdatedAt, t1) {
		t.Errorf("disabled: UpdatedAt %v, want %v", got.UpdatedAt, t1)
	}
	got, err = s.DisableEndpoint(ctx, env.ID, e.ID, "another reason", t2)
	if err != nil {
		t.Fatalf("DisableEndpoint again: %v", err)
	}
	checkEndpoint(t, "disabled twice", got, want)
	checkEndpoint(t, "EndpointByURL of the disabled", endpointByURL(t, s, env.ID, urlA), want)

	got, n, err := s.EnableEndpoint(ctx, env.ID, e.ID, t3)
	if err != nil || n != 0 {
		t.Fatalf("EnableEndpoint = %d, %v; want 0 released", n, err)
	}
	want = herald.Endpoint{ID: e.ID, EnvironmentID: env.ID, URL: urlA}
	checkEndpoint(t, "enabled", got, want)
	if !sameMS(got.UpdatedAt, t3) {
		t.Errorf("enabled: UpdatedAt %v, want %v", got.UpdatedAt, t3)
	}
	checkEndpoint(t, "Endpoint of the enabled", must(s.Endpoint(ctx, env.ID, e.ID))(t), want)

	// Enabled, then disabled again: a new reason and time.
	got, err = s.DisableEndpoint(ctx, env.ID, e.ID, "another reason", t4)
	if err != nil {
		t.Fatalf("DisableEndpoint after enabling: %v", err)
	}
	want.Disabled, want.DisabledReason, want.DisabledAt = true, "another reason", &t4
	checkEndpoint(t, "disabled again", got, want)

	_, err = s.DisableEndpoint(ctx, env.ID, newID(t), herald.DisabledManually, t4)
	wantNotFound(t, "DisableEndpoint(unknown)", err)
	_, _, err = s.EnableEndpoint(ctx, env.ID, newID(t), t4)
	wantNotFound(t, "EnableEndpoint(unknown)", err)
}

// must returns v, or fails the test with err.
func must[T any](v T, err error) func(t testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%v", err)
		}
		return v
	}
}

// A disabled endpoint's claimed deliveries are held; enabling it makes
// them pending again, due at once, and they are claimed oldest first
// whatever order they were stored in. Other endpoints' deliveries, and
// another environment's with the same URL, are left alone.
func testHoldAndRelease(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env, other := newEnv(t, s, "prod"), newEnv(t, s, "other")
	updateSettings(t, s, env, urlA, urlB)
	updateSettings(t, s, other, urlA, "")
	a, theirs := endpointByURL(t, s, env.ID, urlA), endpointByURL(t, s, other.ID, urlA)
	for _, e := range []*herald.Endpoint{a, theirs} {
		if _, err := s.DisableEndpoint(ctx, e.EnvironmentID, e.ID, herald.DisabledManually, t0); err != nil {
			t.Fatalf("DisableEndpoint: %v", err)
		}
	}
	// Created a second apart, stored in another order.
	held := make([]herald.EventRecord, 5)
	for i := range held {
		held[i] = makeEvent(t, env.ID, spec{URLs: []string{urlA}, Created: at(time.Duration(i) * time.Second)})
	}
	for _, i := range []int{3, 0, 4, 1, 2} {
		ingest(t, s, env.ID, held[i])
	}
	toB := makeEvent(t, env.ID, spec{URLs: []string{urlB}})
	ingest(t, s, env.ID, toB)
	theirsHeld := makeEvent(t, other.ID, spec{URLs: []string{urlA}})
	ingest(t, s, other.ID, theirsHeld)

	claimedAt := at(10 * time.Second)
	jobs := claim(t, s, claimedAt, 100)
	if len(jobs) != 7 {
		t.Fatalf("claimed %d, want 7", len(jobs))
	}
	for _, j := range jobs {
		ok, err := s.HoldDelivery(ctx, herald.Lease{DeliveryID: j.DeliveryID, Gen: j.LeaseGen}, j.EnvironmentID, j.URL, claimedAt)
		if err != nil {
			t.Fatalf("HoldDelivery: %v", err)
		}
		if want := j.URL == urlA; ok != want {
			t.Errorf("HoldDelivery of a delivery to %s = %v, want %v", j.URL, ok, want)
		}
		if j.URL == urlB {
			record(t, s, outcome(j, herald.HealthSuccess, claimedAt, 5))
		} else if ok, err := s.HoldDelivery(ctx, herald.Lease{DeliveryID: j.DeliveryID, Gen: j.LeaseGen}, j.EnvironmentID, j.URL,
			claimedAt); err != nil || ok {
			t.Errorf("HoldDelivery of a held delivery = %v, %v; want false", ok, err)
		}
	}
	for _, ne := range append(slices.Clone(held), theirsHeld) {
		d, _, _ := getDelivery(t, s, ne.Event.EnvironmentID, ne.Deliveries[0].ID)
		if d.Status != herald.StatusHeld || d.NextAttemptAt != nil {
			t.Errorf("held delivery: status %s, next attempt %s; want held, none", d.Status, fmtTime(d.NextAttemptAt))
		}
	}
	if got, want := ids(list(t, s, env.ID, herald.DeliveryFilter{Status: herald.StatusHeld, Limit: 10})),
		ids(newestFirst(deliveriesOf(held...))); !slices.Equal(got, want) {
		t.Errorf("held deliveries listed %v, want %v", got, want)
	}
	if e, _, err := s.GetEvent(ctx, env.ID, held[0].Event.ID); err != nil || e.Status != herald.FatePending {
		t.Errorf("event of a held delivery: %v, %v; want pending", e, err)
	}
	// Held deliveries are not due: nothing is claimed, even much later.
	if jobs := claim(t, s, at(time.Hour), 100); len(jobs) != 0 {
		t.Fatalf("claimed %v while held", jobIDs(jobs))
	}
	if next, ok, err := s.NextDue(ctx); err != nil || ok {
		t.Errorf("NextDue = %v, %v, %v; want nothing due", next, ok, err)
	}

	enabledAt := at(2 * time.Hour)
	e, n, err := s.EnableEndpoint(ctx, env.ID, a.ID, enabledAt)
	if err != nil || n != len(held) {
		t.Fatalf("EnableEndpoint = %d, %v; want %d released", n, err, len(held))
	}
	checkEndpoint(t, "enabled", e, herald.Endpoint{ID: a.ID, EnvironmentID: env.ID, URL: urlA})
	for _, ne := range held {
		d, _, _ := getDelivery(t, s, env.ID, ne.Deliveries[0].ID)
		if d.Status != herald.StatusPending || d.NextAttemptAt == nil || d.NextAttemptAt.UnixMilli() < enabledAt.UnixMilli() ||
			d.NextAttemptAt.After(enabledAt.Add(time.Second)) {
			t.Errorf("released delivery: status %s, next attempt %s; want pending, due at %s", d.Status, fmtTime(d.NextAttemptAt),
				fmtTime(&enabledAt))
		}
	}
	if st := statusOf(t, s, other.ID, theirsHeld.Deliveries[0].ID); st != herald.StatusHeld {
		t.Errorf("another environment's held delivery is %s after enabling this one's endpoint", st)
	}
	// Oldest first, one claim at a time.
	var order []string
	for range held {
		jobs := claim(t, s, enabledAt.Add(time.Second), 1)
		if len(jobs) != 1 {
			t.Fatalf("claimed %d released deliveries, want 1", len(jobs))
		}
		order = append(order, jobs[0].DeliveryID)
	}
	if want := ids(deliveriesOf(held...)); !slices.Equal(order, want) {
		t.Errorf("released deliveries claimed in order %v, want %v (creation order)", order, want)
	}
	if _, n, err := s.EnableEndpoint(ctx, env.ID, a.ID, enabledAt); err != nil || n != 0 {
		t.Errorf("EnableEndpoint again = %d, %v; want 0 released", n, err)
	}
}

// A delivery is held only under its current lease and only while its
// endpoint is disabled; otherwise nothing changes.
func testHoldRefused(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	updateSettings(t, s, env, urlA, urlB)
	a := endpointByURL(t, s, env.ID, urlA)
	jobs := leased(t, s, env.ID, urlA, 1)
	toB := leased(t, s, env.ID, urlB, 1)[0]
	j := jobs[0]
	hold := func(what string, lease herald.Lease, envID, url string, want bool) {
		t.Helper()
		ok, err := s.HoldDelivery(ctx, lease, envID, url, at(time.Minute))
		if err != nil || ok != want {
			t.Errorf("HoldDelivery(%s) = %v, %v; want %v", what, ok, err, want)
		}
	}
	lease := herald.Lease{DeliveryID: j.DeliveryID, Gen: j.LeaseGen}
	hold("enabled endpoint", lease, env.ID, urlA, false)
	// Disabled, then enabled before the dispatcher asks.
	if _, err := s.DisableEndpoint(ctx, env.ID, a.ID, herald.DisabledManually, t0); err != nil {
		t.Fatalf("DisableEndpoint: %v", err)
	}
	if _, _, err := s.EnableEndpoint(ctx, env.ID, a.ID, t0); err != nil {
		t.Fatalf("EnableEndpoint: %v", err)
	}
	hold("endpoint enabled again", lease, env.ID, urlA, false)
	if _, err := s.DisableEndpoint(ctx, env.ID, a.ID, herald.DisabledManually, t0); err != nil {
		t.Fatalf("DisableEndpoint: %v", err)
	}
	hold("a stale lease", herald.Lease{DeliveryID: j.DeliveryID, Gen: j.LeaseGen - 1}, env.ID, urlA, false)
	hold("a lease not yet given", herald.Lease{DeliveryID: j.DeliveryID, Gen: j.LeaseGen + 1}, env.ID, urlA, false)
	hold("an unknown delivery", herald.Lease{DeliveryID: newID(t), Gen: 1}, env.ID, urlA, false)
	hold("an enabled endpoint's delivery", herald.Lease{DeliveryID: toB.DeliveryID, Gen: toB.LeaseGen}, env.ID, urlB, false)
	hold("a URL without an endpoint", lease, env.ID, "https://nowhere.example.com/", false)
	if st := statusOf(t, s, env.ID, j.DeliveryID); st != herald.StatusSending {
		t.Fatalf("delivery is %s after refused holds, want sending", st)
	}
	// The lease ran out and another claim took the delivery: only the new
	// lease holds it.
	reclaimed := claim(t, s, at(time.Hour), 10)
	var again herald.Job
	for _, r := range reclaimed {
		if r.DeliveryID == j.DeliveryID {
			again = r
		}
	}
	if again.DeliveryID == "" || again.LeaseGen == j.LeaseGen {
		t.Fatalf("reclaimed %+v, want %s under a new lease", reclaimed, j.DeliveryID)
	}
	hold("the old lease", lease, env.ID, urlA, false)
	hold("the new lease", herald.Lease{DeliveryID: j.DeliveryID, Gen: again.LeaseGen}, env.ID, urlA, true)
	if st := statusOf(t, s, env.ID, j.DeliveryID); st != herald.StatusHeld {
		t.Errorf("delivery is %s after HoldDelivery, want held", st)
	}
}

// A held delivery is not finished: retention keeps it, and its event's
// body, until it is sent.
func testHeldKeepBody(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	updateSettings(t, s, env, urlA, "")
	a := endpointByURL(t, s, env.ID, urlA)
	if _, err := s.DisableEndpoint(ctx, env.ID, a.ID, herald.DisabledManually, t0); err != nil {
		t.Fatalf("DisableEndpoint: %v", err)
	}
	ne := makeEvent(t, env.ID, spec{URLs: []string{urlA}})
	ingest(t, s, env.ID, ne)
	j := claim(t, s, t0, 10)
	if len(j) != 1 {
		t.Fatalf("claimed %d, want 1", len(j))
	}
	if ok, err := s.HoldDelivery(ctx, herald.Lease{DeliveryID: j[0].DeliveryID, Gen: j[0].LeaseGen}, env.ID, urlA, t0); err != nil || !ok {
		t.Fatalf("HoldDelivery = %v, %v", ok, err)
	}
	if n, err := s.PruneBodies(ctx, far, 10); err != nil || n != 0 {
		t.Errorf("PruneBodies with a held delivery = %d, %v; want 0", n, err)
	}
	if n, err := s.PruneDeliveries(ctx, far, 10); err != nil || n != 0 {
		t.Errorf("PruneDeliveries with a held delivery = %d, %v; want 0", n, err)
	}
	if e, _, err := s.GetEvent(ctx, env.ID, ne.Event.ID); err != nil || string(e.Body) != string(ne.Event.Body) {
		t.Fatalf("GetEvent after pruning: %v; want its body kept", err)
	}
	if _, n, err := s.EnableEndpoint(ctx, env.ID, a.ID, at(time.Minute)); err != nil || n != 1 {
		t.Fatalf("EnableEndpoint = %d, %v; want 1", n, err)
	}
	jobs := claim(t, s, at(2*time.Minute), 10)
	if len(jobs) != 1 || string(jobs[0].Body) != string(ne.Event.Body) {
		t.Fatalf("claimed %v after enabling, want the delivery with its body", jobIDs(jobs))
	}
}

// Consecutive failures count across batches in the order attempts
// started; a success resets them; throttled attempts, results without a
// word on health and stale results count nowhere.
func testEndpointFailures(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	jobs := leased(t, s, env.ID, urlA, 16)
	sec := func(n int) time.Time { return at(time.Duration(n) * time.Second) }
	stale := outcome(jobs[5], herald.HealthFailure, sec(6), 10)
	stale.LeaseGen++
	noWord := outcome(jobs[4], herald.HealthFailure, sec(5), 10)
	noWord.Health = ""
	noURL := outcome(jobs[12], herald.HealthFailure, sec(5), 10)
	noURL.URL = ""
	steps := []struct {
		name    string
		results []herald.AttemptResult
		fails   int
		since   *time.Time
	}{
		{"two failures", []herald.AttemptResult{outcome(jobs[0], herald.HealthFailure, sec(1), 10),
			outcome(jobs[1], herald.HealthFailure, sec(2), 10)}, 2, ptr(sec(1))},
		{"one more, in another batch", []herald.AttemptResult{outcome(jobs[2], herald.HealthFailure, sec(3), 10)}, 3, ptr(sec(1))},
		{"throttled, no word, no URL, stale", []herald.AttemptResult{outcome(jobs[3], herald.HealthThrottled, sec(4), 10),
			noWord, noURL, stale}, 3, ptr(sec(1))},
		{"a success between failures, out of order", []herald.AttemptResult{
			outcome(jobs[6], herald.HealthFailure, sec(9), 10), outcome(jobs[7], herald.HealthSuccess, sec(7), 10),
			outcome(jobs[8], herald.HealthFailure, sec(8), 10), outcome(jobs[5], herald.HealthFailure, sec(6), 10)}, 2, ptr(sec(8))},
		{"a success", []herald.AttemptResult{outcome(jobs[9], herald.HealthSuccess, sec(10), 10)}, 0, nil},
		{"a failure after a success", []herald.AttemptResult{outcome(jobs[10], herald.HealthSuccess, sec(11), 10),
			outcome(jobs[11], herald.HealthFailure, sec(12), 10)}, 1, ptr(sec(12))},
		{"two successes around a failure, the later one first", []herald.AttemptResult{
			outcome(jobs[13], herald.HealthSuccess, sec(15), 10), outcome(jobs[14], herald.HealthFailure, sec(14), 10),
			outcome(jobs[15], herald.HealthSuccess, sec(13), 10)}, 0, nil},
	}
	for _, st := range steps {
		record(t, s, st.results...)
		checkEndpoint(t, "after "+st.name, endpointByURL(t, s, env.ID, urlA),
			herald.Endpoint{EnvironmentID: env.ID, URL: urlA, ConsecutiveFailures: st.fails, FailingSince: st.since})
	}
	// Counted: 2 + 1 + 0 + 4 + 1 + 2 + 3 attempts, 5 of them successes.
	stats, err := s.EndpointStats(ctx, env.ID, []string{urlA}, at(-time.Hour))
	if err != nil {
		t.Fatalf("EndpointStats: %v", err)
	}
	if got := stats[urlA]; got.Attempts != 13 || got.Successes != 5 || got.Durations[herald.DurationBucket(10)] != 13 {
		t.Errorf("EndpointStats = %+v, want 13 attempts of 10 ms, 5 successes", got)
	}
}

// Stats sum whole minutes from since's on, per URL; throttled attempts are
// not counted.
func testEndpointStats(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env, other := newEnv(t, s, "prod"), newEnv(t, s, "other")
	jobsA := leased(t, s, env.ID, urlA, 7)
	jobsB := leased(t, s, env.ID, urlB, 1)
	jobsO := leased(t, s, other.ID, urlA, 1)
	m := t0.Truncate(time.Minute) // the start of t0's minute
	in := func(minute int, d time.Duration) time.Time { return m.Add(time.Duration(minute)*time.Minute + d) }
	// Minute -2: urlA a success of 3 ms and a failure of 100 ms.
	record(t, s, outcome(jobsA[0], herald.HealthSuccess, in(-2, 5*time.Second), 3),
		outcome(jobsA[1], herald.HealthFailure, in(-2, 59999*time.Millisecond), 100))
	// Minute -1: urlA three successes of 10 ms (in two batches), urlB a
	// failure of 2 s.
	record(t, s, outcome(jobsA[2], herald.HealthSuccess, in(-1, 0), 10),
		outcome(jobsB[0], herald.HealthFailure, in(-1, 10*time.Second), 2000),
		outcome(jobsA[3], herald.HealthSuccess, in(-1, 30*time.Second), 10))
	record(t, s, outcome(jobsA[4], herald.HealthSuccess, in(0, -time.Millisecond), 10))
	// Minute 0: urlA a success under 1 ms and a throttled attempt; the
	// other environment's urlA a success of 7 ms.
	record(t, s, outcome(jobsA[5], herald.HealthSuccess, in(0, 0), 0),
		outcome(jobsA[6], herald.HealthThrottled, in(0, time.Second), 50),
		outcome(jobsO[0], herald.HealthSuccess, in(0, 2*time.Second), 7))

	hist := func(buckets map[int64]int64) [herald.DurationBuckets]int64 {
		var h [herald.DurationBuckets]int64
		for ms, n := range buckets {
			h[herald.DurationBucket(ms)] += n
		}
		return h
	}
	type want struct {
		stats  herald.EndpointStats
		rate   float64
		median int
	}
	cases := []struct {
		name  string
		env   string
		urls  []string
		since time.Time
		want  map[string]want
	}{
		{"the last two minutes, from within the first", env.ID, []string{urlA, urlB, urlC}, in(-1, 30*time.Second), map[string]want{
			// Buckets [0, 1) ms: 1, [8, 16): 3; the median is in the
			// second, a third of the way: 8 + 8/3.
			urlA: {herald.EndpointStats{Attempts: 4, Successes: 4, Durations: hist(map[int64]int64{0: 1, 10: 3})}, 1, 11},
			urlB: {herald.EndpointStats{Attempts: 1, Successes: 0, Durations: hist(map[int64]int64{2000: 1})}, 0, 1536},
		}},
		{"three minutes", env.ID, []string{urlA}, in(-2, 0), map[string]want{
			urlA: {herald.EndpointStats{Attempts: 6, Successes: 5, Durations: hist(map[int64]int64{0: 1, 3: 1, 10: 3, 100: 1})}, 5.0 / 6, 11},
		}},
		{"one URL", env.ID, []string{urlB}, in(-10, 0), map[string]want{
			urlB: {herald.EndpointStats{Attempts: 1, Durations: hist(map[int64]int64{2000: 1})}, 0, 1536},
		}},
		{"the next minute", env.ID, []string{urlA, urlB}, in(1, 0), map[string]want{}},
		{"no URL", env.ID, nil, in(-10, 0), map[string]want{}},
		{"another environment", other.ID, []string{urlA, urlB}, in(-10, 0), map[string]want{
			// [4, 8) ms, halfway.
			urlA: {herald.EndpointStats{Attempts: 1, Successes: 1, Durations: hist(map[int64]int64{7: 1})}, 1, 6},
		}},
	}
	for _, c := range cases {
		got, err := s.EndpointStats(ctx, c.env, c.urls, c.since)
		if err != nil {
			t.Fatalf("EndpointStats(%s): %v", c.name, err)
		}
		if len(got) != len(c.want) {
			t.Errorf("EndpointStats(%s) = %v, want %d URLs", c.name, got, len(c.want))
		}
		for u, w := range c.want {
			g, ok := got[u]
			if !ok || g != w.stats {
				t.Errorf("EndpointStats(%s)[%s] = %+v, want %+v", c.name, u, g, w.stats)
				continue
			}
			if r := g.SuccessRate(); r == nil || *r != w.rate {
				t.Errorf("EndpointStats(%s)[%s] success rate %s, want %v", c.name, u, fmtPtr(r), w.rate)
			}
			if m := g.MedianMS(); m == nil || *m != w.median {
				t.Errorf("EndpointStats(%s)[%s] median %s ms, want %d", c.name, u, fmtPtr(m), w.median)
			}
		}
	}
}

// Per-minute figures of minutes that began before the cutoff go, oldest
// first, in batches of at most the limit.
func testPruneEndpointStats(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	jobsA := leased(t, s, env.ID, urlA, 4)
	jobsB := leased(t, s, env.ID, urlB, 1)
	m := t0.Truncate(time.Minute)
	in := func(minute int, d time.Duration) time.Time { return m.Add(time.Duration(minute)*time.Minute + d) }
	// Rows: urlA in minutes -3, -2, -1 and 0; urlB in minute -2.
	record(t, s, outcome(jobsA[0], herald.HealthSuccess, in(-3, 0), 5),
		outcome(jobsA[1], herald.HealthSuccess, in(-2, 59*time.Second), 5),
		outcome(jobsB[0], herald.HealthSuccess, in(-2, time.Second), 5),
		outcome(jobsA[2], herald.HealthSuccess, in(-1, time.Second), 5),
		outcome(jobsA[3], herald.HealthFailure, in(0, time.Second), 5))
	attempts := func() (a, b int64) {
		t.Helper()
		st, err := s.EndpointStats(ctx, env.ID, []string{urlA, urlB}, in(-10, 0))
		if err != nil {
			t.Fatalf("EndpointStats: %v", err)
		}
		return st[urlA].Attempts, st[urlB].Attempts
	}
	steps := []struct {
		name       string
		before     time.Time
		limit      int
		n          int
		urlA, urlB int64
	}{
		{"no limit", in(-1, 0), 0, 0, 4, 1},
		{"the oldest", in(-1, 0), 1, 1, 3, 1},
		{"the rest before minute -1", in(-1, 0), 10, 2, 2, 0},
		{"nothing left before minute -1", in(-1, 0), 10, 0, 2, 0},
		{"minute -1, begun before the cutoff", in(-1, 30*time.Second), 10, 1, 1, 0},
	}
	for _, st := range steps {
		n, err := s.PruneEndpointStats(ctx, st.before, st.limit)
		if err != nil || n != st.n {
			t.Fatalf("PruneEndpointStats(%s) = %d, %v; want %d", st.name, n, err, st.n)
		}
		if a, b := attempts(); a != st.urlA || b != st.urlB {
			t.Errorf("after PruneEndpointStats(%s): %d attempts of urlA and %d of urlB, want %d and %d", st.name, a, b, st.urlA, st.urlB)
		}
	}
}

// An environment's deletion takes its endpoints and their figures; an
// outcome written after it is dropped without making one again.
func testEndpointsEnvironmentDelete(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env, other := newEnv(t, s, "prod"), newEnv(t, s, "other")
	updateSettings(t, s, env, urlA, "")
	updateSettings(t, s, other, urlA, "")
	mine := leased(t, s, env.ID, urlB, 2)
	theirs := leased(t, s, other.ID, urlA, 1)
	record(t, s, outcome(mine[0], herald.HealthFailure, t0, 5), outcome(theirs[0], herald.HealthFailure, t0, 5))
	a := endpointByURL(t, s, env.ID, urlA)
	if err := s.DeleteEnvironment(ctx, env.ID); err != nil {
		t.Fatalf("DeleteEnvironment: %v", err)
	}
	record(t, s, outcome(mine[1], herald.HealthFailure, at(time.Second), 5))
	_, err := s.Endpoint(ctx, env.ID, a.ID)
	wantNotFound(t, "Endpoint of a deleted environment", err)
	for _, u := range []string{urlA, urlB} {
		_, err = s.EndpointByURL(ctx, env.ID, u)
		wantNotFound(t, "EndpointByURL of a deleted environment", err)
	}
	if got, err := s.ListEndpoints(ctx, env.ID, herald.Page{Limit: 10}); err != nil || len(got) != 0 {
		t.Errorf("ListEndpoints of a deleted environment = %v, %v", got, err)
	}
	if got, err := s.EndpointStats(ctx, env.ID, []string{urlA, urlB}, at(-time.Hour)); err != nil || len(got) != 0 {
		t.Errorf("EndpointStats of a deleted environment = %v, %v", got, err)
	}
	// The other environment's endpoint of the same URL stays, with its
	// failure and figures.
	checkEndpoint(t, "the other environment's", endpointByURL(t, s, other.ID, urlA),
		herald.Endpoint{EnvironmentID: other.ID, URL: urlA, ConsecutiveFailures: 1, FailingSince: &t0})
	if got, err := s.EndpointStats(ctx, other.ID, []string{urlA}, at(-time.Hour)); err != nil || got[urlA].Attempts != 1 {
		t.Errorf("EndpointStats of the other environment = %v, %v; want 1 attempt", got, err)
	}
}

// An endpoint's circuit is stored as set: open until a time, closed
// (nil); setting it as it is writes nothing, and enabling the endpoint
// closes it.
func testEndpointCircuit(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	updateSettings(t, s, env, urlA, urlB)
	a := endpointByURL(t, s, env.ID, urlA)
	if a.CircuitOpenUntil != nil {
		t.Fatalf("a new endpoint's circuit is open until %s", fmtTime(a.CircuitOpenUntil))
	}
	until := at(time.Minute)
	if err := s.SetCircuit(ctx, env.ID, a.ID, &until, t0); err != nil {
		t.Fatalf("SetCircuit(open): %v", err)
	}
	got := endpointByURL(t, s, env.ID, urlA)
	if fmtTime(got.CircuitOpenUntil) != fmtTime(&until) || fmtTime(&got.UpdatedAt) != fmtTime(&t0) {
		t.Errorf("opened: until %s, updated %s; want %s, %s", fmtTime(got.CircuitOpenUntil), got.UpdatedAt, fmtTime(&until), t0)
	}
	if err := s.SetCircuit(ctx, env.ID, a.ID, &until, at(time.Second)); err != nil {
		t.Fatalf("SetCircuit(open again): %v", err)
	}
	if got := endpointByURL(t, s, env.ID, urlA); fmtTime(&got.UpdatedAt) != fmtTime(&t0) {
		t.Errorf("opening an open circuit at the same time wrote it (updated %s)", got.UpdatedAt)
	}
	if b := endpointByURL(t, s, env.ID, urlB); b.CircuitOpenUntil != nil {
		t.Errorf("another endpoint's circuit opened")
	}
	other := newEnv(t, s, "other")
	if err := s.SetCircuit(ctx, other.ID, a.ID, nil, t0); err != nil {
		t.Errorf("SetCircuit of another environment: %v", err)
	}
	if got := endpointByURL(t, s, env.ID, urlA); got.CircuitOpenUntil == nil {
		t.Errorf("another environment closed the circuit")
	}
	if err := s.SetCircuit(ctx, env.ID, a.ID, nil, at(2*time.Second)); err != nil {
		t.Fatalf("SetCircuit(closed): %v", err)
	}
	if got := endpointByURL(t, s, env.ID, urlA); got.CircuitOpenUntil != nil {
		t.Errorf("closed circuit still open until %s", fmtTime(got.CircuitOpenUntil))
	}
	if err := s.SetCircuit(ctx, env.ID, a.ID, &until, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DisableEndpoint(ctx, env.ID, a.ID, herald.DisabledManually, t0); err != nil {
		t.Fatal(err)
	}
	e, _, err := s.EnableEndpoint(ctx, env.ID, a.ID, at(time.Second))
	if err != nil || e.CircuitOpenUntil != nil {
		t.Errorf("EnableEndpoint = %v, %v; want its circuit closed", e, err)
	}
}

// Deferred deliveries go back to pending, due at the given time, with the
// reason as their last error and their attempts untouched; only under
// their current lease.
func testDeferDeliveries(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	updateSettings(t, s, env, urlA, "")
	jobs := leased(t, s, env.ID, urlA, 3)
	// The first has had an attempt: it keeps it.
	first := outcome(jobs[0], herald.HealthFailure, t0, 5)
	next := at(time.Second)
	first.Status, first.NextAttemptAt = herald.StatusPending, &next
	record(t, s, first)
	again := claim(t, s, at(2*time.Second), 10)
	if len(again) != 1 || again[0].DeliveryID != jobs[0].DeliveryID {
		t.Fatalf("claimed %v, want the retried delivery", jobIDs(again))
	}
	until := at(time.Hour)
	leases := []herald.Lease{
		{DeliveryID: again[0].DeliveryID, Gen: again[0].LeaseGen},
		{DeliveryID: jobs[1].DeliveryID, Gen: jobs[1].LeaseGen},
		{DeliveryID: jobs[2].DeliveryID, Gen: jobs[2].LeaseGen - 1}, // stale: untouched
	}
	if err := s.DeferDeliveries(ctx, leases, until, "circuit open", at(3*time.Second)); err != nil {
		t.Fatalf("DeferDeliveries: %v", err)
	}
	for i, want := range []struct {
		status   string
		attempts int
		deferred bool
	}{{herald.StatusPending, 1, true}, {herald.StatusPending, 0, true}, {herald.StatusSending, 0, false}} {
		d, _, _ := getDelivery(t, s, env.ID, jobs[i].DeliveryID)
		if d.Status != want.status || d.Attempts != want.attempts {
			t.Errorf("delivery %d: %s with %d attempts; want %s with %d", i, d.Status, d.Attempts, want.status, want.attempts)
		}
		if !want.deferred {
			continue
		}
		if fmtTime(d.NextAttemptAt) != fmtTime(&until) || d.LastError == nil || *d.LastError != "circuit open" {
			t.Errorf("deferred delivery %d: next %s, last error %v; want %s, circuit open", i, fmtTime(d.NextAttemptAt), d.LastError, fmtTime(&until))
		}
	}
	// The stale lease's delivery (still sending, its lease run out) may be
	// claimed again; the deferred ones not before their time.
	for _, j := range claim(t, s, at(time.Hour-time.Millisecond), 10) {
		if j.DeliveryID != jobs[2].DeliveryID {
			t.Errorf("deferred delivery %s claimed before its time", j.DeliveryID)
		}
	}
	if jobs := claim(t, s, until, 10); len(jobs) != 2 {
		t.Errorf("claimed %d deferred deliveries at their time, want 2", len(jobs))
	}
}
