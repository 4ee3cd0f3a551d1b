package storetest

import (
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

func statsTests() []test {
	return []test{
		{"QueueStats", testQueueStats},
	}
}

func queueStats(t testing.TB, s herald.Store) herald.QueueStats {
	t.Helper()
	st, err := s.QueueStats(t.Context())
	if err != nil {
		t.Fatalf("QueueStats: %v", err)
	}
	return st
}

// testQueueStats follows the queue through claims and outcomes, across two
// environments. The oldest pending delivery is the one created first, not
// the one due first nor the one stored first.
func testQueueStats(t *testing.T, s herald.Store) {
	check := func(what string, pending, sending int64, oldest *time.Time) {
		t.Helper()
		st := queueStats(t, s)
		if st.Pending != pending || st.Sending != sending || fmtTime(st.OldestPendingAt) != fmtTime(oldest) {
			t.Errorf("%s: QueueStats = {Pending: %d, Sending: %d, OldestPendingAt: %s}, want {%d, %d, %s}",
				what, st.Pending, st.Sending, fmtTime(st.OldestPendingAt), pending, sending, fmtTime(oldest))
		}
	}
	check("empty", 0, 0, nil)

	a, b := newEnv(t, s, "a"), newEnv(t, s, "b")
	created, dueLater := at(0), at(time.Hour)
	// Stored first, created a minute later, due at once.
	newer := makeEvent(t, a.ID, spec{URLs: []string{urlA, urlB}, Created: at(time.Minute)})
	skipped := makeEvent(t, a.ID, spec{Created: at(-time.Hour)}) // no delivery: not in the queue
	ingest(t, s, a.ID, newer, skipped)
	// Stored second, created first, due in an hour.
	older := makeEvent(t, b.ID, spec{URLs: []string{urlC}, Created: created, Due: &dueLater})
	ingest(t, s, b.ID, older)
	check("three pending", 3, 0, &created)

	jobs := claim(t, s, at(2*time.Minute), 100)
	if len(jobs) != 2 {
		t.Fatalf("claimed %d, want the 2 due deliveries", len(jobs))
	}
	check("two claimed", 1, 2, &created)

	retry := at(90 * time.Minute)
	record(t, s,
		herald.AttemptResult{DeliveryID: jobs[0].DeliveryID, LeaseGen: jobs[0].LeaseGen, Status: herald.StatusSucceeded,
			Attempt: herald.Attempt{Number: 1, StartedAt: at(2 * time.Minute), DurationMS: 3, StatusCode: ptr(200)}},
		herald.AttemptResult{DeliveryID: jobs[1].DeliveryID, LeaseGen: jobs[1].LeaseGen, Status: herald.StatusPending,
			NextAttemptAt: &retry, Attempt: herald.Attempt{Number: 1, StartedAt: at(2 * time.Minute), DurationMS: 3, StatusCode: ptr(503)}})
	check("one succeeded, one to retry", 2, 0, &created)

	jobs = claim(t, s, at(2*time.Hour), 100)
	if len(jobs) != 2 {
		t.Fatalf("claimed %d, want the 2 pending deliveries", len(jobs))
	}
	check("all claimed", 0, 2, nil)

	var results []herald.AttemptResult
	for _, j := range jobs {
		results = append(results, herald.AttemptResult{DeliveryID: j.DeliveryID, LeaseGen: j.LeaseGen, Status: herald.StatusFailed,
			Attempt: herald.Attempt{Number: j.Attempts + 1, StartedAt: at(2 * time.Hour), DurationMS: 3, StatusCode: ptr(500)}})
	}
	record(t, s, results...)
	check("all final", 0, 0, nil)
}
