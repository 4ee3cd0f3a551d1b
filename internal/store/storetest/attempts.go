package storetest

import (
	"fmt"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

// testAttemptLog follows one delivery through three attempts, a deferral
// between them, and checks after each step that its attempt log is every
// attempt once, in order, as recorded: a store may keep the latest
// attempt on the delivery's row (one write for a first attempt that
// settles it), which must not show in what it returns.
func testAttemptLog(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	updateSettings(t, s, env, urlA, "")
	job := leased(t, s, env.ID, urlA, 1)[0]
	id := job.DeliveryID

	var want []herald.Attempt
	check := func(step string) {
		t.Helper()
		d, _, got := getDelivery(t, s, env.ID, id)
		if d.Attempts != len(want) {
			t.Errorf("%s: delivery has %d attempts, want %d", step, d.Attempts, len(want))
		}
		if fmtAttempts(got) != fmtAttempts(want) {
			t.Errorf("%s: attempt log\n%s\nwant\n%s", step, fmtAttempts(got), fmtAttempts(want))
		}
	}
	try := func(j herald.Job, start time.Time, code *int, errText, body *string, status string, next *time.Time) {
		t.Helper()
		a := herald.Attempt{Number: j.Attempts + 1, StartedAt: start, DurationMS: int64(10 * (j.Attempts + 1)),
			StatusCode: code, Error: errText, ResponseBody: body}
		record(t, s, herald.AttemptResult{DeliveryID: j.DeliveryID, LeaseGen: j.LeaseGen, EnvironmentID: j.EnvironmentID,
			URL: j.URL, Health: herald.HealthFailure, Status: status, NextAttemptAt: next, Attempt: a})
		want = append(want, a)
	}
	check("before any attempt")

	next := at(time.Second)
	try(job, t0, nil, ptr("connection refused"), nil, herald.StatusPending, &next)
	check("after the first attempt")

	// A deferral sets the delivery's last error, not its attempt's.
	job = claimOne(t, s, next, id)
	until := at(time.Minute)
	if err := s.DeferDeliveries(ctx, []herald.Lease{{DeliveryID: id, Gen: job.LeaseGen}}, until, "circuit open", next); err != nil {
		t.Fatalf("DeferDeliveries: %v", err)
	}
	check("after a deferral")

	job = claimOne(t, s, until, id)
	later := at(2 * time.Minute)
	try(job, until, ptr(500), nil, ptr("oops"), herald.StatusPending, &later)
	check("after the second attempt")

	job = claimOne(t, s, later, id)
	try(job, later, ptr(200), nil, ptr("ok"), herald.StatusSucceeded, nil)
	check("after the third attempt")
	if d, _, _ := getDelivery(t, s, env.ID, id); d.Status != herald.StatusSucceeded || d.LastStatusCode == nil || *d.LastStatusCode != 200 {
		t.Errorf("delivery %s, last status %s; want succeeded, 200", d.Status, fmtPtr(d.LastStatusCode))
	}
}

// claimOne claims what is due at now, which must be the delivery id.
func claimOne(t testing.TB, s herald.Store, now time.Time, id string) herald.Job {
	t.Helper()
	jobs := claim(t, s, now, 10)
	if len(jobs) != 1 || jobs[0].DeliveryID != id {
		t.Fatalf("claimed %v at %s, want %s", jobIDs(jobs), fmtTime(&now), id)
	}
	return jobs[0]
}

func fmtAttempts(as []herald.Attempt) string {
	out := ""
	for _, a := range as {
		out += fmt.Sprintf("#%d at %s for %d ms: status %s, error %s, body %s\n", a.Number, fmtTime(&a.StartedAt),
			a.DurationMS, fmtPtr(a.StatusCode), fmtPtr(a.Error), fmtPtr(a.ResponseBody))
	}
	return out
}
