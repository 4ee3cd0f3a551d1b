package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

func dispatchTests() []test {
	return []test{
		{"ClaimDue", testClaimDue},
		{"ClaimLimitOldestFirst", testClaimLimitOldestFirst},
		{"ClaimRespectsNextAttemptAt", testClaimRespectsNextAttemptAt},
		{"ClaimExcludeURLs", testClaimExcludeURLs},
		{"ClaimConcurrent", testClaimConcurrent},
		{"LeaseExpiry", testLeaseExpiry},
		{"NextDue", testNextDue},
		{"RecordAttempts", testRecordAttempts},
		{"RecordAttemptsAfterDelete", testRecordAttemptsAfterDelete},
		{"AttemptLog", testAttemptLog},
		{"Release", testRelease},
		{"RenewLeases", testRenewLeases},
		{"StaleLeaseFenced", testStaleLeaseFenced},
	}
}

func statusOf(t testing.TB, s herald.Store, envID, id string) string {
	t.Helper()
	d, _, _ := getDelivery(t, s, envID, id)
	return d.Status
}

func testClaimDue(t *testing.T, s herald.Store) {
	env := newEnv(t, s, "prod")
	past, future := at(-time.Minute), at(time.Hour)
	due1 := makeEvent(t, env.ID, spec{URLs: []string{urlA, urlB}, Due: &past})
	due2 := makeEvent(t, env.ID, spec{Type: "auth", URLs: []string{urlC}})
	later := makeEvent(t, env.ID, spec{URLs: []string{urlA}, Due: &future})
	skipped := makeEvent(t, env.ID, spec{})
	ingest(t, s, env.ID, due1, due2, later, skipped)

	jobs := claim(t, s, t0, 100)
	want := deliveriesOf(due1, due2)
	if !slices.Equal(sorted(jobIDs(jobs)), sorted(ids(want))) {
		t.Fatalf("claimed %v, want %v", jobIDs(jobs), ids(want))
	}
	byID := map[string]herald.Job{}
	for _, j := range jobs {
		byID[j.DeliveryID] = j
	}
	for _, ne := range []herald.EventRecord{due1, due2} {
		for _, d := range ne.Deliveries {
			j := byID[d.ID]
			if j.EventID != ne.Event.ID || j.EnvironmentID != env.ID || j.URL != d.URL || j.Attempts != 0 ||
				string(j.Body) != string(ne.Event.Body) {
				t.Errorf("job %+v (body %s), want event %s url %s body %s", j, j.Body, ne.Event.ID, d.URL, ne.Event.Body)
			}
			if st := statusOf(t, s, env.ID, d.ID); st != herald.StatusSending {
				t.Errorf("claimed delivery %s is %q, want sending", d.ID, st)
			}
		}
	}
	if st := statusOf(t, s, env.ID, later.Deliveries[0].ID); st != herald.StatusPending {
		t.Errorf("delivery not yet due is %q, want pending", st)
	}
	if jobs := claim(t, s, t0, 100); len(jobs) != 0 {
		t.Errorf("second claim returned %v, want nothing: all were claimed", jobIDs(jobs))
	}
	if jobs := claim(t, s, at(30*time.Second), 100); len(jobs) != 0 {
		t.Errorf("claim within the lease returned %v, want nothing", jobIDs(jobs))
	}
	if n := len(list(t, s, env.ID, herald.DeliveryFilter{Status: herald.StatusSending, Limit: 100})); n != 3 {
		t.Errorf("%d deliveries sending, want 3", n)
	}
}

func testClaimLimitOldestFirst(t *testing.T, s herald.Store) {
	env := newEnv(t, s, "prod")
	// Ten deliveries, stored in an order unrelated to when they are due.
	order := []int{7, 2, 9, 0, 5, 3, 8, 1, 6, 4}
	byDue := make([]string, len(order))
	var events []herald.EventRecord
	for _, k := range order {
		due := at(-time.Duration(10-k) * time.Minute) // k = 0 is the oldest due
		ne := makeEvent(t, env.ID, spec{URLs: []string{urlA}, Due: &due})
		events = append(events, ne)
		byDue[k] = ne.Deliveries[0].ID
	}
	ingest(t, s, env.ID, events...)

	for _, c := range []struct {
		limit int
		want  []string
	}{
		{4, byDue[0:4]},
		{1, byDue[4:5]},
		{4, byDue[5:9]},
		{4, byDue[9:10]},
		{4, nil},
	} {
		jobs := claim(t, s, t0, c.limit)
		if len(jobs) > c.limit {
			t.Errorf("claim with limit %d returned %d jobs", c.limit, len(jobs))
		}
		if !slices.Equal(sorted(jobIDs(jobs)), sorted(c.want)) {
			t.Errorf("claim with limit %d = %v, want the oldest due %v", c.limit, jobIDs(jobs), c.want)
		}
	}
}

func testClaimRespectsNextAttemptAt(t *testing.T, s herald.Store) {
	env := newEnv(t, s, "prod")
	due := at(10 * time.Second)
	ne := makeEvent(t, env.ID, spec{URLs: []string{urlA}, Due: &due})
	ingest(t, s, env.ID, ne)
	id := ne.Deliveries[0].ID

	for _, now := range []time.Time{at(-time.Hour), t0, due.Add(-time.Millisecond)} {
		if jobs := claim(t, s, now, 10); len(jobs) != 0 {
			t.Errorf("claim at %v took %v, due only at %v", now, jobIDs(jobs), due)
		}
	}
	if st := statusOf(t, s, env.ID, id); st != herald.StatusPending {
		t.Errorf("status %q, want pending", st)
	}
	jobs := claim(t, s, due.Add(time.Millisecond), 10)
	if len(jobs) != 1 || jobs[0].DeliveryID != id {
		t.Fatalf("claim after due = %v, want %s", jobIDs(jobs), id)
	}
}

func testClaimExcludeURLs(t *testing.T, s herald.Store) {
	env := newEnv(t, s, "prod")
	var events []herald.EventRecord
	for range 2 {
		events = append(events, makeEvent(t, env.ID, spec{URLs: []string{urlA, urlB, urlC}}))
	}
	ingest(t, s, env.ID, events...)
	byURL := map[string][]string{}
	for _, d := range deliveriesOf(events...) {
		byURL[d.URL] = append(byURL[d.URL], d.ID)
	}

	steps := []struct {
		exclude []string
		want    []string
	}{
		{[]string{urlA, urlB, urlC}, nil},
		{[]string{urlA, urlC}, byURL[urlB]},
		{[]string{urlA, "https://unrelated.example.com/"}, byURL[urlC]},
		{[]string{urlA}, nil},
		{nil, byURL[urlA]},
	}
	for i, st := range steps {
		jobs := claim(t, s, t0, 100, st.exclude...)
		if !slices.Equal(sorted(jobIDs(jobs)), sorted(st.want)) {
			t.Errorf("step %d, excluding %q: claimed %v, want %v", i, st.exclude, jobIDs(jobs), st.want)
		}
		for _, j := range jobs {
			if slices.Contains(st.exclude, j.URL) {
				t.Errorf("step %d: claimed %s for excluded URL %s", i, j.DeliveryID, j.URL)
			}
		}
	}
}

// testClaimConcurrent has 8 claimers race for 2,000 due deliveries: each
// must be handed out exactly once.
func testClaimConcurrent(t *testing.T, s herald.Store) {
	env := newEnv(t, s, "prod")
	const total, claimers = 2000, 8
	bodies := map[string]string{}
	var events []herald.EventRecord
	for i := range total / 2 {
		due := at(-time.Duration(i%50) * time.Second)
		ne := makeEvent(t, env.ID, spec{URLs: []string{urlA, urlB}, Due: &due})
		for _, d := range ne.Deliveries {
			bodies[d.ID] = string(ne.Event.Body)
		}
		events = append(events, ne)
		if len(events) == 100 {
			ingest(t, s, env.ID, events...)
			events = nil
		}
	}

	got := make([][]herald.Job, claimers)
	errs := make([]error, claimers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for c := range claimers {
		wg.Go(func() {
			<-start
			for range total {
				jobs, err := s.ClaimDue(t.Context(), herald.ClaimRequest{Now: t0, Limit: 37, LeaseUntil: at(time.Minute)})
				if err != nil {
					errs[c] = err
					return
				}
				if len(jobs) == 0 {
					return
				}
				if len(jobs) > 37 {
					errs[c] = fmt.Errorf("claim returned %d jobs, limit 37", len(jobs))
					return
				}
				got[c] = append(got[c], jobs...)
			}
			errs[c] = fmt.Errorf("claims do not run dry")
		})
	}
	close(start)
	wg.Wait()

	seen := map[string]int{}
	for c := range claimers {
		if errs[c] != nil {
			t.Errorf("claimer %d: %v", c, errs[c])
		}
		for _, j := range got[c] {
			seen[j.DeliveryID]++
			if string(j.Body) != bodies[j.DeliveryID] {
				t.Errorf("job %s has body %q, want %q", j.DeliveryID, j.Body, bodies[j.DeliveryID])
			}
		}
	}
	dups := 0
	for id, n := range seen {
		if n != 1 {
			dups++
			if dups <= 5 {
				t.Errorf("delivery %s claimed %d times", id, n)
			}
		}
	}
	if len(seen) != total {
		t.Errorf("%d distinct deliveries claimed, want %d", len(seen), total)
	}
	if dups > 0 {
		t.Errorf("%d deliveries claimed more than once", dups)
	}
	if n := len(list(t, s, env.ID, herald.DeliveryFilter{Status: herald.StatusPending, Limit: 10})); n != 0 {
		t.Errorf("%d deliveries still pending", n)
	}
}

func testNextDue(t *testing.T, s herald.Store) {
	ctx := t.Context()
	check := func(step string, want *time.Time) {
		t.Helper()
		next, ok, err := s.NextDue(ctx)
		if err != nil {
			t.Fatalf("%s: NextDue: %v", step, err)
		}
		if want == nil {
			if ok {
				t.Errorf("%s: NextDue = %v, want nothing pending", step, next)
			}
			return
		}
		if !ok || !sameMS(next, *want) {
			t.Errorf("%s: NextDue = %v, %v; want %v", step, next, ok, *want)
		}
	}
	check("empty store", nil)
	env := newEnv(t, s, "prod")
	d5, d3 := at(5*time.Minute), at(3*time.Minute)
	ingest(t, s, env.ID, makeEvent(t, env.ID, spec{}))
	check("only a skipped event", nil)
	e5 := makeEvent(t, env.ID, spec{URLs: []string{urlA}, Due: &d5})
	e3 := makeEvent(t, env.ID, spec{URLs: []string{urlA}, Due: &d3})
	ingest(t, s, env.ID, e5, e3)
	check("two pending", &d3)

	jobs := claim(t, s, at(4*time.Minute), 10)
	if len(jobs) != 1 || jobs[0].DeliveryID != e3.Deliveries[0].ID {
		t.Fatalf("claimed %v, want %s", jobIDs(jobs), e3.Deliveries[0].ID)
	}
	check("one sending, one pending", &d5)

	retry := at(time.Minute)
	record(t, s, herald.AttemptResult{DeliveryID: jobs[0].DeliveryID, Status: herald.StatusPending, NextAttemptAt: &retry,
		Attempt: herald.Attempt{Number: 1, StartedAt: at(4 * time.Minute), DurationMS: 3, StatusCode: ptr(502)}})
	check("retry scheduled earlier", &retry)

	jobs = claim(t, s, at(time.Hour), 10)
	if len(jobs) != 2 {
		t.Fatalf("claimed %d, want 2", len(jobs))
	}
	check("all sending", nil)
	record(t, s,
		herald.AttemptResult{DeliveryID: jobs[0].DeliveryID, Status: herald.StatusSucceeded,
			Attempt: herald.Attempt{Number: jobs[0].Attempts + 1, StartedAt: at(time.Hour), DurationMS: 3, StatusCode: ptr(200)}},
		herald.AttemptResult{DeliveryID: jobs[1].DeliveryID, Status: herald.StatusFailed,
			Attempt: herald.Attempt{Number: jobs[1].Attempts + 1, StartedAt: at(time.Hour), DurationMS: 3, StatusCode: ptr(400)}})
	check("all done", nil)
}

func testRecordAttempts(t *testing.T, s herald.Store) {
	env := newEnv(t, s, "prod")
	past := at(-time.Second)
	events := []herald.EventRecord{
		makeEvent(t, env.ID, spec{URLs: []string{urlA}, Due: &past}),
		makeEvent(t, env.ID, spec{URLs: []string{urlA}, Due: &past}),
		makeEvent(t, env.ID, spec{URLs: []string{urlA}, Due: &past}),
		makeEvent(t, env.ID, spec{URLs: []string{urlA}, Due: &past}),
	}
	ingest(t, s, env.ID, events...)
	jobs := claim(t, s, t0, 10)
	if len(jobs) != 4 {
		t.Fatalf("claimed %d, want 4", len(jobs))
	}
	ds := deliveriesOf(events...)
	retryAt := at(time.Minute)
	started := at(time.Second)
	cases := []struct {
		name   string
		result herald.AttemptResult
		want   func(d herald.Delivery) herald.Delivery
	}{
		{"succeeded", herald.AttemptResult{DeliveryID: ds[0].ID, Status: herald.StatusSucceeded,
			Attempt: herald.Attempt{Number: 1, StartedAt: started, DurationMS: 87, StatusCode: ptr(200), ResponseBody: ptr("ok")}},
			func(d herald.Delivery) herald.Delivery {
				d.Status, d.Attempts, d.NextAttemptAt, d.LastStatusCode = herald.StatusSucceeded, 1, nil, ptr(200)
				return d
			}},
		{"pending retry", herald.AttemptResult{DeliveryID: ds[1].ID, Status: herald.StatusPending, NextAttemptAt: &retryAt,
			Attempt: herald.Attempt{Number: 1, StartedAt: started, DurationMS: 12, StatusCode: ptr(503), ResponseBody: ptr("busy")}},
			func(d herald.Delivery) herald.Delivery {
				d.Status, d.Attempts, d.NextAttemptAt, d.LastStatusCode = herald.StatusPending, 1, &retryAt, ptr(503)
				return d
			}},
		{"failed", herald.AttemptResult{DeliveryID: ds[2].ID, Status: herald.StatusFailed,
			Attempt: herald.Attempt{Number: 1, StartedAt: started, DurationMS: 20_000, Error: ptr("dial tcp 203.0.113.9:443: i/o timeout")}},
			func(d herald.Delivery) herald.Delivery {
				d.Status, d.Attempts, d.NextAttemptAt, d.LastError = herald.StatusFailed, 1, nil, ptr("dial tcp 203.0.113.9:443: i/o timeout")
				return d
			}},
		{"skipped", herald.AttemptResult{DeliveryID: ds[3].ID, Status: herald.StatusSkipped,
			Attempt: herald.Attempt{Number: 1, StartedAt: started, DurationMS: 1, Error: ptr("blocked address 10.0.0.1")}},
			func(d herald.Delivery) herald.Delivery {
				d.Status, d.Attempts, d.NextAttemptAt, d.LastError = herald.StatusSkipped, 1, nil, ptr("blocked address 10.0.0.1")
				return d
			}},
	}
	// All outcomes in one batch, the way the dispatcher writes them.
	var results []herald.AttemptResult
	for _, c := range cases {
		results = append(results, c.result)
	}
	record(t, s, results...)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, _, attempts := getDelivery(t, s, env.ID, ds[i].ID)
			checkDelivery(t, *got, c.want(ds[i]))
			if len(attempts) != 1 || attempts[0].Number != 1 || !sameMS(attempts[0].StartedAt, started) ||
				attempts[0].DurationMS != c.result.Attempt.DurationMS ||
				fmtPtr(attempts[0].StatusCode) != fmtPtr(c.result.Attempt.StatusCode) ||
				fmtPtr(attempts[0].Error) != fmtPtr(c.result.Attempt.Error) ||
				fmtPtr(attempts[0].ResponseBody) != fmtPtr(c.result.Attempt.ResponseBody) {
				var got []string
				for _, a := range attempts {
					got = append(got, fmtAttempt(a))
				}
				t.Errorf("attempts %v, want [%s]", got, fmtAttempt(c.result.Attempt))
			}
		})
	}

	// Only the pending one comes back, and only once its time has come.
	if jobs := claim(t, s, retryAt.Add(-time.Millisecond), 10); len(jobs) != 0 {
		t.Errorf("claimed %v before the retry was due", jobIDs(jobs))
	}
	jobs = claim(t, s, retryAt.Add(time.Millisecond), 10)
	if len(jobs) != 1 || jobs[0].DeliveryID != ds[1].ID || jobs[0].Attempts != 1 {
		t.Fatalf("claim after the retry time = %+v, want %s with 1 attempt made", jobs, ds[1].ID)
	}
	// Its second attempt fails for good.
	record(t, s, herald.AttemptResult{DeliveryID: ds[1].ID, LeaseGen: jobs[0].LeaseGen, Status: herald.StatusFailed,
		Attempt: herald.Attempt{Number: 2, StartedAt: retryAt, DurationMS: 5, StatusCode: ptr(500)}})
	got, _, attempts := getDelivery(t, s, env.ID, ds[1].ID)
	want := ds[1]
	want.Status, want.Attempts, want.NextAttemptAt, want.LastStatusCode = herald.StatusFailed, 2, nil, ptr(500)
	checkDelivery(t, *got, want)
	if len(attempts) != 2 || attempts[0].Number != 1 || attempts[1].Number != 2 {
		t.Errorf("attempt numbers %v, want [1 2]", attempts)
	}
	if jobs := claim(t, s, at(1000*time.Hour), 10); len(jobs) != 0 {
		t.Errorf("finished deliveries were claimed again: %v", jobIDs(jobs))
	}
	// An empty batch is fine.
	record(t, s)
}

// testRecordAttemptsAfterDelete: the environment of a claimed delivery is
// deleted while the attempt is in flight. Recording its outcome must not
// fail the other results of the batch.
func testRecordAttemptsAfterDelete(t *testing.T, s herald.Store) {
	a := newEnv(t, s, "a")
	b := newEnv(t, s, "b")
	evA := makeEvent(t, a.ID, spec{URLs: []string{urlA, urlB}})
	evB := makeEvent(t, b.ID, spec{URLs: []string{urlA}})
	ingest(t, s, a.ID, evA)
	ingest(t, s, b.ID, evB)
	jobs := claim(t, s, t0, 10)
	if len(jobs) != 3 {
		t.Fatalf("claimed %d, want 3", len(jobs))
	}
	if err := s.DeleteEnvironment(t.Context(), a.ID); err != nil {
		t.Fatalf("DeleteEnvironment: %v", err)
	}
	var results []herald.AttemptResult
	for _, j := range jobs {
		results = append(results, herald.AttemptResult{DeliveryID: j.DeliveryID, LeaseGen: j.LeaseGen, Status: herald.StatusSucceeded,
			Attempt: herald.Attempt{Number: 1, StartedAt: t0, DurationMS: 9, StatusCode: ptr(200)}})
	}
	// A result for a delivery that never existed is ignored too.
	results = append(results, herald.AttemptResult{DeliveryID: newID(t), Status: herald.StatusFailed,
		Attempt: herald.Attempt{Number: 1, StartedAt: t0, DurationMS: 9, Error: ptr("x")}})
	if err := s.RecordAttempts(t.Context(), results); err != nil {
		t.Fatalf("RecordAttempts with a deleted environment's deliveries: %v", err)
	}
	got, _, attempts := getDelivery(t, s, b.ID, evB.Deliveries[0].ID)
	if got.Status != herald.StatusSucceeded || got.Attempts != 1 || len(attempts) != 1 {
		t.Errorf("b's delivery: status %q, %d attempts, %d attempt rows; want succeeded, 1, 1", got.Status, got.Attempts, len(attempts))
	}
	for _, d := range evA.Deliveries {
		_, _, _, err := s.GetDelivery(t.Context(), a.ID, d.ID)
		wantNotFound(t, "GetDelivery(deleted environment)", err)
	}
	if next, ok, err := s.NextDue(t.Context()); err != nil || ok {
		t.Errorf("NextDue = %v, %v, %v; want nothing pending", next, ok, err)
	}
}

func testRelease(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	past := at(-time.Minute)
	events := []herald.EventRecord{
		makeEvent(t, env.ID, spec{URLs: []string{urlA, urlB}, Due: &past}),
		makeEvent(t, env.ID, spec{URLs: []string{urlA, urlB}, Due: &past}),
	}
	ingest(t, s, env.ID, events...)
	ds := deliveriesOf(events...)
	jobs := claim(t, s, t0, 10)
	if len(jobs) != 4 {
		t.Fatalf("claimed %d, want 4", len(jobs))
	}
	// ds[3] has finished; ds[0] and ds[1] are given back; ds[2] stays with us.
	record(t, s, herald.AttemptResult{DeliveryID: ds[3].ID, Status: herald.StatusSucceeded,
		Attempt: herald.Attempt{Number: 1, StartedAt: t0, DurationMS: 4, StatusCode: ptr(200)}})
	releasedAt := at(5 * time.Second)
	if err := s.Release(ctx, firstLeases(ds[0].ID, ds[1].ID, ds[3].ID, newID(t)), releasedAt); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := s.Release(ctx, nil, releasedAt); err != nil {
		t.Fatalf("Release(nil): %v", err)
	}
	for _, d := range ds[:2] {
		got, _, attempts := getDelivery(t, s, env.ID, d.ID)
		want := d
		want.NextAttemptAt = &releasedAt
		checkDelivery(t, *got, want)
		if len(attempts) != 0 {
			t.Errorf("released delivery %s has %d attempts", d.ID, len(attempts))
		}
	}
	if st := statusOf(t, s, env.ID, ds[2].ID); st != herald.StatusSending {
		t.Errorf("delivery not released is %q, want sending", st)
	}
	if st := statusOf(t, s, env.ID, ds[3].ID); st != herald.StatusSucceeded {
		t.Errorf("releasing a finished delivery made it %q, want it to stay succeeded", st)
	}
	jobs = claim(t, s, releasedAt.Add(time.Millisecond), 10)
	if !slices.Equal(sorted(jobIDs(jobs)), sorted([]string{ds[0].ID, ds[1].ID})) {
		t.Errorf("claimed %v after release, want %v", jobIDs(jobs), []string{ds[0].ID, ds[1].ID})
	}
	for _, j := range jobs {
		if j.Attempts != 0 || len(j.Body) == 0 {
			t.Errorf("released job %+v: want 0 attempts and its body", j)
		}
	}
}

func testRenewLeases(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	ne := makeEvent(t, env.ID, spec{URLs: []string{urlA, urlB}})
	ingest(t, s, env.ID, ne)
	jobs, err := s.ClaimDue(ctx, herald.ClaimRequest{Now: t0, Limit: 10, LeaseUntil: at(30 * time.Second)})
	if err != nil || len(jobs) != 2 {
		t.Fatalf("ClaimDue = %d jobs, %v; want 2", len(jobs), err)
	}
	if err := s.RenewLeases(ctx, jobLeases(jobs), at(10*time.Minute)); err != nil {
		t.Fatalf("RenewLeases: %v", err)
	}
	if err := s.RenewLeases(ctx, nil, at(10*time.Minute)); err != nil {
		t.Fatalf("RenewLeases(nil): %v", err)
	}
	if err := s.RenewLeases(ctx, firstLeases(newID(t)), at(10*time.Minute)); err != nil {
		t.Fatalf("RenewLeases(unknown): %v", err)
	}
	for _, d := range ne.Deliveries {
		if st := statusOf(t, s, env.ID, d.ID); st != herald.StatusSending {
			t.Errorf("renewed delivery is %q, want sending", st)
		}
	}
	// Past the first lease but within the renewed one: nobody else gets them.
	if jobs := claim(t, s, at(5*time.Minute), 10); len(jobs) != 0 {
		t.Errorf("renewed deliveries were claimed again: %v", jobIDs(jobs))
	}
	// Renewing a finished delivery does not bring it back.
	record(t, s, herald.AttemptResult{DeliveryID: jobs[0].DeliveryID, Status: herald.StatusSucceeded,
		Attempt: herald.Attempt{Number: 1, StartedAt: t0, DurationMS: 4, StatusCode: ptr(200)}})
	if err := s.RenewLeases(ctx, jobLeases(jobs), at(20*time.Minute)); err != nil {
		t.Fatalf("RenewLeases: %v", err)
	}
	if st := statusOf(t, s, env.ID, jobs[0].DeliveryID); st != herald.StatusSucceeded {
		t.Errorf("renewing a finished delivery made it %q", st)
	}
	if st := statusOf(t, s, env.ID, jobs[1].DeliveryID); st != herald.StatusSending {
		t.Errorf("renewed delivery is %q, want sending", st)
	}
}

// testLeaseExpiry: a claimer that dies leaves its deliveries sending; once
// their lease has ended, ClaimDue makes them pending again and hands them
// out, with the attempts already made.
func testLeaseExpiry(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	past := at(-time.Minute)
	events := []herald.EventRecord{
		makeEvent(t, env.ID, spec{URLs: []string{urlA, urlB}, Due: &past}),
		makeEvent(t, env.ID, spec{URLs: []string{urlA, urlB}, Due: &past}),
	}
	// One more stored already claimed by a lane, with its own lease.
	reserved := makeEvent(t, env.ID, spec{URLs: []string{urlC}})
	reservedLease := at(3 * time.Minute)
	reserved.Deliveries[0].Status, reserved.Deliveries[0].LeaseUntil = herald.StatusSending, &reservedLease
	ingest(t, s, env.ID, append(events, reserved)...)
	ds := deliveriesOf(events...)

	lease := at(time.Minute)
	jobs, err := s.ClaimDue(ctx, herald.ClaimRequest{Now: t0, Limit: 10, LeaseUntil: lease})
	if err != nil || len(jobs) != 4 {
		t.Fatalf("ClaimDue = %d jobs, %v; want 4", len(jobs), err)
	}
	// ds[0] finishes, ds[1] gets a retry far away, ds[2] has its lease
	// renewed; ds[3] is abandoned.
	record(t, s,
		herald.AttemptResult{DeliveryID: ds[0].ID, Status: herald.StatusSucceeded,
			Attempt: herald.Attempt{Number: 1, StartedAt: t0, DurationMS: 5, StatusCode: ptr(200)}},
		herald.AttemptResult{DeliveryID: ds[1].ID, Status: herald.StatusPending, NextAttemptAt: ptr(at(time.Hour)),
			Attempt: herald.Attempt{Number: 1, StartedAt: t0, DurationMS: 5, StatusCode: ptr(500)}})
	if err := s.RenewLeases(ctx, firstLeases(ds[2].ID), at(10*time.Minute)); err != nil {
		t.Fatalf("RenewLeases: %v", err)
	}

	if jobs := claim(t, s, lease.Add(-time.Millisecond), 10); len(jobs) != 0 {
		t.Errorf("claimed %v before any lease ended", jobIDs(jobs))
	}
	jobs = claim(t, s, lease.Add(time.Millisecond), 10)
	if len(jobs) != 1 || jobs[0].DeliveryID != ds[3].ID || jobs[0].Attempts != 0 || string(jobs[0].Body) != string(events[1].Event.Body) {
		t.Fatalf("after the lease ended claimed %+v, want only the abandoned %s with its body", jobs, ds[3].ID)
	}
	for id, want := range map[string]string{ds[0].ID: herald.StatusSucceeded, ds[1].ID: herald.StatusPending,
		ds[2].ID: herald.StatusSending, reserved.Deliveries[0].ID: herald.StatusSending} {
		if st := statusOf(t, s, env.ID, id); st != want {
			t.Errorf("delivery %s is %q, want %q", id, st, want)
		}
	}

	record(t, s, herald.AttemptResult{DeliveryID: ds[3].ID, LeaseGen: jobs[0].LeaseGen, Status: herald.StatusSucceeded,
		Attempt: herald.Attempt{Number: 1, StartedAt: lease, DurationMS: 5, StatusCode: ptr(200)}})

	// A delivery stored claimed expires like a claimed one; with a limit
	// of 1, the expired ones beyond the limit are pending again anyway.
	jobs = claim(t, s, at(11*time.Minute), 1)
	if len(jobs) != 1 {
		t.Fatalf("claimed %v, want 1", jobIDs(jobs))
	}
	expired := []string{ds[2].ID, reserved.Deliveries[0].ID}
	if !slices.Contains(expired, jobs[0].DeliveryID) {
		t.Errorf("claimed %s, want one of the expired %v", jobs[0].DeliveryID, expired)
	}
	other := expired[0]
	if other == jobs[0].DeliveryID {
		other = expired[1]
	}
	if st := statusOf(t, s, env.ID, other); st != herald.StatusPending {
		t.Errorf("expired delivery beyond the limit is %q, want pending", st)
	}
	if next, ok, err := s.NextDue(ctx); err != nil || !ok || next.After(at(11*time.Minute)) {
		t.Errorf("NextDue = %v, %v, %v; want the expired delivery due by now", next, ok, err)
	}
	if st := statusOf(t, s, env.ID, ds[0].ID); st != herald.StatusSucceeded {
		t.Errorf("finished delivery became %q", st)
	}
}

// testStaleLeaseFenced: a holder whose lease ran out while another process
// claimed the delivery again (a new generation) can no longer write its
// outcome, renew or release: only the new holder's writes count
// (hardening #8).
func testStaleLeaseFenced(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	ne := makeEvent(t, env.ID, spec{URLs: []string{urlA}})
	ingest(t, s, env.ID, ne)
	id := ne.Deliveries[0].ID
	old, err := s.ClaimDue(ctx, herald.ClaimRequest{Now: t0, Limit: 10, LeaseUntil: at(time.Minute)})
	if err != nil || len(old) != 1 {
		t.Fatalf("first claim = %d jobs, %v", len(old), err)
	}
	// The first holder stalls past its lease; another claims the delivery.
	cur, err := s.ClaimDue(ctx, herald.ClaimRequest{Now: at(2 * time.Minute), Limit: 10, LeaseUntil: at(3 * time.Minute)})
	if err != nil || len(cur) != 1 || cur[0].DeliveryID != id {
		t.Fatalf("second claim = %+v, %v; want the expired delivery", cur, err)
	}
	if cur[0].LeaseGen <= old[0].LeaseGen {
		t.Fatalf("second claim has lease generation %d, want more than the first's %d", cur[0].LeaseGen, old[0].LeaseGen)
	}
	// The stale holder's writes are ignored.
	if err := s.RecordAttempts(ctx, []herald.AttemptResult{{DeliveryID: id, LeaseGen: old[0].LeaseGen, Status: herald.StatusFailed,
		Attempt: herald.Attempt{Number: 1, StartedAt: at(2 * time.Minute), DurationMS: 5, StatusCode: ptr(500)}}}); err != nil {
		t.Fatalf("stale RecordAttempts: %v", err)
	}
	if err := s.RenewLeases(ctx, jobLeases(old), at(time.Hour)); err != nil {
		t.Fatalf("stale RenewLeases: %v", err)
	}
	if err := s.Release(ctx, jobLeases(old), at(2*time.Minute)); err != nil {
		t.Fatalf("stale Release: %v", err)
	}
	got, _, attempts := getDelivery(t, s, env.ID, id)
	if got.Status != herald.StatusSending || len(attempts) != 0 || got.Attempts != 0 {
		t.Fatalf("after the stale holder's writes: %s with %d attempts (%+v); want still sending, no attempt", got.Status, len(attempts), attempts)
	}
	// Its lease is the new holder's: past it the delivery is claimable, not
	// before (the stale renewal did not extend it).
	if jobs := claim(t, s, at(3*time.Minute).Add(-time.Millisecond), 10); len(jobs) != 0 {
		t.Fatalf("claimed %v within the new holder's lease", jobIDs(jobs))
	}
	// The current holder's outcome is written.
	record(t, s, herald.AttemptResult{DeliveryID: id, LeaseGen: cur[0].LeaseGen, Status: herald.StatusSucceeded,
		Attempt: herald.Attempt{Number: 1, StartedAt: at(2 * time.Minute), DurationMS: 7, StatusCode: ptr(200)}})
	got, _, attempts = getDelivery(t, s, env.ID, id)
	if got.Status != herald.StatusSucceeded || len(attempts) != 1 || attempts[0].StatusCode == nil || *attempts[0].StatusCode != 200 {
		t.Fatalf("after the current holder's outcome: %s, attempts %+v; want succeeded with its 200", got.Status, attempts)
	}
}
