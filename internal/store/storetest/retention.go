package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

func retentionTests() []test {
	return []test{{"PruneBodiesAndDeliveries", testPrune}, {"PruneIdempotencyKeys", testPruneIdempotencyKeys}}
}

// Old finished deliveries go with their attempts and their events, in
// batches of at most the limit; pending and sending ones and recent ones
// stay. Bodies go sooner, only from events whose deliveries are all
// finished, and a pruned event is no longer sent again.
func testPrune(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	recent := at(48 * time.Hour)
	done := makeEvent(t, env.ID, spec{URLs: []string{urlA, urlB}})
	done.Deliveries[0].Body = []byte(`{"own":"body"}`)
	pending := makeEvent(t, env.ID, spec{URLs: []string{urlA}, Due: &far})
	sending := makeEvent(t, env.ID, spec{URLs: []string{urlC}})
	skipped := makeEvent(t, env.ID, spec{})
	young := makeEvent(t, env.ID, spec{URLs: []string{urlA}, Created: recent})
	ingest(t, s, env.ID, done, pending, sending, skipped, young)
	settle(t, s, map[string]string{
		done.Deliveries[0].ID:    herald.StatusSucceeded,
		done.Deliveries[1].ID:    herald.StatusFailed,
		sending.Deliveries[0].ID: herald.StatusSending,
	})
	// The sending delivery's holder is alive: its lease outlasts the test.
	if err := s.RenewLeases(ctx, firstLeases(sending.Deliveries[0].ID), far); err != nil {
		t.Fatalf("RenewLeases: %v", err)
	}
	if jobs := claim(t, s, recent, 10); len(jobs) != 1 || jobs[0].DeliveryID != young.Deliveries[0].ID {
		t.Fatalf("claimed %v, want the young delivery", jobIDs(jobs))
	}
	record(t, s, herald.AttemptResult{DeliveryID: young.Deliveries[0].ID, Status: herald.StatusSucceeded,
		Attempt: herald.Attempt{Number: 1, StartedAt: recent, DurationMS: 5, StatusCode: ptr(204)}})
	cutoff := at(time.Hour)

	// Bodies: the finished event and the skipped one, in batches.
	n, err := s.PruneBodies(ctx, cutoff, 1)
	if err != nil || n != 1 {
		t.Fatalf("PruneBodies(limit 1) = %d, %v; want 1", n, err)
	}
	n, err = s.PruneBodies(ctx, cutoff, 10)
	if err != nil || n != 1 {
		t.Fatalf("PruneBodies(limit 10) = %d, %v; want 1 more", n, err)
	}
	if n, err = s.PruneBodies(ctx, cutoff, 10); err != nil || n != 0 {
		t.Fatalf("PruneBodies again = %d, %v; want 0", n, err)
	}
	for _, c := range []struct {
		ev   herald.EventRecord
		want string
	}{
		{done, "null"}, {skipped, "null"},
		{pending, string(pending.Event.Body)}, {sending, string(sending.Event.Body)}, {young, string(young.Event.Body)},
	} {
		e, _, err := s.GetEvent(ctx, env.ID, c.ev.Event.ID)
		if err != nil {
			t.Fatalf("GetEvent(%s): %v", c.ev.Event.ID, err)
		}
		if string(e.Body) != c.want {
			t.Errorf("event %s body = %s, want %s", e.ID, e.Body, c.want)
		}
	}
	if _, body, _ := getDelivery(t, s, env.ID, done.Deliveries[0].ID); string(body) == `{"own":"body"}` {
		t.Errorf("delivery with its own body still has it after PruneBodies")
	}
	srcs := replaySources(t, s, env.ID, herald.EventFilter{}, "", 100)
	if got := sourceIDs(srcs); slices.Contains(got, done.Event.ID) || slices.Contains(got, skipped.Event.ID) ||
		!slices.Contains(got, young.Event.ID) {
		t.Errorf("replay sources %v: want the young event and none of the pruned ones", got)
	}
	if _, err := s.RetryDelivery(ctx, env.ID, done.Deliveries[1].ID, recent); !errors.Is(err, herald.ErrConflict) {
		t.Errorf("RetryDelivery of a pruned event's delivery: err = %v, want ErrConflict", err)
	}
	if n, err := s.RecoverDeliveries(ctx, env.ID, t0.Add(-time.Hour), recent, recent, 10); err != nil || n != 0 {
		t.Errorf("RecoverDeliveries over a pruned event = %d, %v; want 0", n, err)
	}

	// Deliveries: the two finished old ones, one batch of one at a time.
	n, err = s.PruneDeliveries(ctx, cutoff, 1)
	if err != nil || n != 1 {
		t.Fatalf("PruneDeliveries(limit 1) = %d, %v; want 1", n, err)
	}
	n, err = s.PruneDeliveries(ctx, cutoff, 10)
	if err != nil || n != 1 {
		t.Fatalf("PruneDeliveries(limit 10) = %d, %v; want 1 more", n, err)
	}
	if n, err = s.PruneDeliveries(ctx, cutoff, 10); err != nil || n != 0 {
		t.Fatalf("PruneDeliveries again = %d, %v; want 0", n, err)
	}
	for _, ev := range []herald.EventRecord{done, skipped} {
		_, _, err := s.GetEvent(ctx, env.ID, ev.Event.ID)
		wantNotFound(t, "pruned event", err)
	}
	for _, d := range done.Deliveries {
		_, _, _, err := s.GetDelivery(ctx, env.ID, d.ID)
		wantNotFound(t, "pruned delivery", err)
	}
	for _, c := range []struct {
		d    herald.Delivery
		want string
	}{
		{pending.Deliveries[0], herald.StatusPending},
		{sending.Deliveries[0], herald.StatusSending},
		{young.Deliveries[0], herald.StatusSucceeded},
	} {
		d, _, attempts := getDelivery(t, s, env.ID, c.d.ID)
		if d.Status != c.want {
			t.Errorf("kept delivery %s is %s, want %s", d.ID, d.Status, c.want)
		}
		if c.want == herald.StatusSucceeded && len(attempts) != 1 {
			t.Errorf("kept delivery %s has %d attempts, want 1", d.ID, len(attempts))
		}
	}

	// A new delivery reusing a pruned delivery's slot in the queue would
	// show here: ingest still works and is claimed as usual.
	later := makeEvent(t, env.ID, spec{URLs: []string{urlB}, Created: recent})
	ingest(t, s, env.ID, later)
	if got := countDeliveries(t, s, env.ID); got != 4 {
		t.Errorf("%d deliveries left, want 4 (pending, sending, young, later)", got)
	}
}

// Idempotency keys recorded before the cutoff go, oldest first, in
// batches of at most the limit, a producer's and a bulk call's alike; a
// younger key still answers its repeat.
func testPruneIdempotencyKeys(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	oldest := makeEvent(t, env.ID, spec{URLs: []string{urlA}})
	young := makeEvent(t, env.ID, spec{URLs: []string{urlA}})
	if _, err := s.Ingest(ctx, idemReq(env.ID, "old", `"old"`, at(-3*time.Hour), oldest)); err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	if ok, err := s.ClaimOnce(ctx, env.ID, "replay:abc", time.Minute, at(-2*time.Hour)); err != nil || !ok {
		t.Fatalf("ClaimOnce = %v, %v", ok, err)
	}
	if _, err := s.Ingest(ctx, idemReq(env.ID, "young", `"young"`, t0, young)); err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	cutoff := at(-time.Hour)
	for i, want := range []int{1, 1, 0} {
		if n, err := s.PruneIdempotencyKeys(ctx, cutoff, 1); err != nil || n != want {
			t.Fatalf("PruneIdempotencyKeys #%d (limit 1) = %d, %v; want %d", i+1, n, err, want)
		}
	}
	// The old key is forgotten: its repeat is stored anew...
	again := makeEvent(t, env.ID, spec{URLs: []string{urlA}})
	if replay, err := s.Ingest(ctx, idemReq(env.ID, "old", `"again"`, at(-30*time.Minute), again)); err != nil || replay != nil {
		t.Fatalf("Ingest with a pruned key = %q, %v; want it stored", replay, err)
	}
	// ...the young one still answers.
	repeat := makeEvent(t, env.ID, spec{URLs: []string{urlA}})
	if replay, err := s.Ingest(ctx, idemReq(env.ID, "young", `"young"`, at(time.Minute), repeat)); err != nil || string(replay) != `"young"` {
		t.Fatalf("Ingest with a kept key = %q, %v; want %q", replay, err, `"young"`)
	}
	checkAbsent(t, s, repeat)
}
