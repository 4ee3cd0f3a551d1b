package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
)

func environmentTests() []test {
	return []test{
		{"CreateAndGet", testEnvCreateAndGet},
		{"ListOrder", testEnvListOrder},
		{"Conflicts", testEnvConflicts},
		{"DeleteCascades", testEnvDeleteCascades},
		{"DeleteUnknown", testEnvDeleteUnknown},
		{"UpdateSettings", testEnvUpdateSettings},
		{"RotateSigningKey", testEnvRotateSigningKey},
		{"AdminKeyHashes", testAdminKeyHashes},
	}
}

// checkEnv compares an environment read back with the one created. The
// plaintext secret key is never stored.
func checkEnv(t testing.TB, got *herald.Environment, want *herald.Environment) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || !bytes.Equal(got.SecretKeyHash, want.SecretKeyHash) ||
		got.SigningKey != want.SigningKey || got.PreviousSigningKey != want.PreviousSigningKey ||
		!sameMS(got.CreatedAt, want.CreatedAt) || got.HasURLOverrides != want.HasURLOverrides {
		t.Errorf("environment:\n\tgot  %+v\n\twant %+v", *got, *want)
	}
	if got.SecretKey != "" {
		t.Errorf("environment %s: the plaintext secret key came back from the store", got.ID)
	}
	if !reflect.DeepEqual(got.Settings, want.Settings) {
		t.Errorf("environment %s settings:\n\tgot  %s\n\twant %s", got.ID, fmtSettings(got.Settings), fmtSettings(want.Settings))
	}
}

func fmtSettings(s herald.Settings) string {
	return fmt.Sprintf("{primary:%s secondary:%s auth_creation:%v refresh_error:%v sync_error:%v sync_always:%v async:%v deletion:%v retry:%+v (schedule nil: %v) standard:%v timeout_ms:%d}",
		fmtPtr(s.PrimaryURL), fmtPtr(s.SecondaryURL), s.OnAuthCreation, s.OnAuthRefreshError, s.OnSyncError,
		s.OnSyncCompletionAlways, s.OnAsyncActionCompletion, s.OnConnectionDeletion, s.Retry, s.Retry.ScheduleMS == nil,
		s.StandardWebhooks, s.TimeoutMS)
}

func testEnvCreateAndGet(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	other := newEnv(t, s, "dev")

	byID, err := s.EnvironmentByID(ctx, env.ID)
	if err != nil {
		t.Fatalf("EnvironmentByID: %v", err)
	}
	checkEnv(t, byID, env)
	if keys := byID.SigningKeys(t0); !slices.Equal(keys, []string{env.SigningKey}) {
		t.Errorf("SigningKeys of a new environment = %q, want only the current key", keys)
	}

	byHash, err := s.EnvironmentByKeyHash(ctx, env.SecretKeyHash)
	if err != nil {
		t.Fatalf("EnvironmentByKeyHash: %v", err)
	}
	checkEnv(t, byHash, env)
	if byHash, err := s.EnvironmentByKeyHash(ctx, other.SecretKeyHash); err != nil || byHash.ID != other.ID {
		t.Errorf("EnvironmentByKeyHash(other) = %v, %v; want %s", byHash, err, other.ID)
	}

	_, err = s.EnvironmentByID(ctx, newID(t))
	wantNotFound(t, "EnvironmentByID(unknown)", err)
	unknown := sha256.Sum256([]byte("sk_unknown"))
	_, err = s.EnvironmentByKeyHash(ctx, unknown[:])
	wantNotFound(t, "EnvironmentByKeyHash(unknown)", err)
	_, err = s.EnvironmentByKeyHash(ctx, nil)
	wantNotFound(t, "EnvironmentByKeyHash(nil)", err)
}

func testEnvListOrder(t *testing.T, s herald.Store) {
	ctx := t.Context()
	envs, err := s.ListEnvironments(ctx)
	if err != nil || len(envs) != 0 {
		t.Fatalf("ListEnvironments on an empty store = %v, %v; want none", envs, err)
	}
	// Created out of order: the list is oldest first.
	var want []*herald.Environment
	for _, c := range []struct {
		name    string
		created time.Duration
	}{{"staging", 2 * time.Hour}, {"dev", 0}, {"prod", time.Hour}} {
		env := makeEnv(t, c.name, at(c.created))
		if err := s.CreateEnvironment(ctx, env); err != nil {
			t.Fatalf("CreateEnvironment: %v", err)
		}
		want = append(want, env)
	}
	want = []*herald.Environment{want[1], want[2], want[0]}
	envs, err = s.ListEnvironments(ctx)
	if err != nil {
		t.Fatalf("ListEnvironments: %v", err)
	}
	if len(envs) != len(want) {
		t.Fatalf("ListEnvironments returned %d environments, want %d", len(envs), len(want))
	}
	for i := range want {
		checkEnv(t, &envs[i], want[i])
	}
}

func testEnvConflicts(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")

	dup := makeEnv(t, "prod", at(time.Minute))
	if err := s.CreateEnvironment(ctx, dup); !errors.Is(err, herald.ErrConflict) {
		t.Errorf("CreateEnvironment with a taken name: err = %v, want herald.ErrConflict", err)
	}
	// Another environment with the same secret key hash would make
	// EnvironmentByKeyHash ambiguous, and the same id is the same row.
	sameHash := makeEnv(t, "other", t0)
	sameHash.SecretKeyHash = env.SecretKeyHash
	if err := s.CreateEnvironment(ctx, sameHash); err == nil {
		t.Errorf("CreateEnvironment with a taken secret key hash succeeded")
	}
	sameID := makeEnv(t, "third", t0)
	sameID.ID = env.ID
	if err := s.CreateEnvironment(ctx, sameID); err == nil {
		t.Errorf("CreateEnvironment with a taken id succeeded")
	}

	envs, err := s.ListEnvironments(ctx)
	if err != nil {
		t.Fatalf("ListEnvironments: %v", err)
	}
	if len(envs) != 1 {
		t.Fatalf("after refused creations there are %d environments, want 1", len(envs))
	}
	checkEnv(t, &envs[0], env)
	// The name is free again once the environment is gone.
	if err := s.DeleteEnvironment(ctx, env.ID); err != nil {
		t.Fatalf("DeleteEnvironment: %v", err)
	}
	if err := s.CreateEnvironment(ctx, dup); err != nil {
		t.Errorf("CreateEnvironment with the name of a deleted environment: %v", err)
	}
}

// populate gives env events in every delivery state and an idempotency
// key; it returns the events.
func populate(t *testing.T, s herald.Store, env *herald.Environment, key string) []herald.EventRecord {
	t.Helper()
	past := at(-time.Hour)
	events := []herald.EventRecord{
		makeEvent(t, env.ID, spec{URLs: []string{urlA, urlB}, Due: &past}),
		makeEvent(t, env.ID, spec{URLs: []string{urlA}, Due: &past}),
		makeEvent(t, env.ID, spec{URLs: []string{urlC}, Created: at(time.Second)}),
		makeEvent(t, env.ID, spec{}),
	}
	replay, err := s.Ingest(t.Context(), herald.IngestRequest{EnvironmentID: env.ID, IdempotencyKey: key,
		Response: []byte(`{"env":"` + env.Name + `"}`), Events: events, Now: t0})
	if err != nil || replay != nil {
		t.Fatalf("Ingest = %q, %v", replay, err)
	}
	return events
}

func testEnvDeleteCascades(t *testing.T, s herald.Store) {
	ctx := t.Context()
	a := newEnv(t, s, "a")
	b := newEnv(t, s, "b")
	evA := populate(t, s, a, "same-key")
	evB := populate(t, s, b, "same-key")

	// Move some of A's and B's deliveries through the states.
	jobs := claim(t, s, t0, 100)
	if len(jobs) != 6 {
		t.Fatalf("claimed %d deliveries, want 6", len(jobs))
	}
	var results []herald.AttemptResult
	for i, j := range jobs {
		r := herald.AttemptResult{DeliveryID: j.DeliveryID, LeaseGen: j.LeaseGen,
			Attempt: herald.Attempt{Number: 1, StartedAt: t0, DurationMS: 5, StatusCode: ptr(200)}, Status: herald.StatusSucceeded}
		if i%3 == 1 {
			r = herald.AttemptResult{DeliveryID: j.DeliveryID, LeaseGen: j.LeaseGen,
				Attempt: herald.Attempt{Number: 1, StartedAt: t0, DurationMS: 5, Error: ptr("refused")},
				Status:  herald.StatusPending, NextAttemptAt: ptr(at(time.Hour))}
		}
		if i%3 == 2 {
			continue // left sending
		}
		results = append(results, r)
	}
	record(t, s, results...)

	if err := s.DeleteEnvironment(ctx, a.ID); err != nil {
		t.Fatalf("DeleteEnvironment: %v", err)
	}

	_, err := s.EnvironmentByID(ctx, a.ID)
	wantNotFound(t, "EnvironmentByID(deleted)", err)
	_, err = s.EnvironmentByKeyHash(ctx, a.SecretKeyHash)
	wantNotFound(t, "EnvironmentByKeyHash(deleted)", err)
	envs, err := s.ListEnvironments(ctx)
	if err != nil || len(envs) != 1 || envs[0].ID != b.ID {
		t.Errorf("ListEnvironments after delete = %v, %v; want only b", envs, err)
	}
	for _, e := range evA {
		_, _, err := s.GetEvent(ctx, a.ID, e.Event.ID)
		wantNotFound(t, "GetEvent(deleted environment)", err)
		for _, d := range e.Deliveries {
			_, _, _, err := s.GetDelivery(ctx, a.ID, d.ID)
			wantNotFound(t, "GetDelivery(deleted environment)", err)
		}
	}
	if ds := list(t, s, a.ID, herald.DeliveryFilter{Limit: 100}); len(ds) != 0 {
		t.Errorf("ListDeliveries of a deleted environment returned %d deliveries", len(ds))
	}

	// B is untouched.
	if ds := list(t, s, b.ID, herald.DeliveryFilter{Limit: 100}); len(ds) != len(deliveriesOf(evB...)) {
		t.Errorf("b has %d deliveries after a was deleted, want %d", len(ds), len(deliveriesOf(evB...)))
	}
	for _, e := range evB {
		if _, ds, err := s.GetEvent(ctx, b.ID, e.Event.ID); err != nil || len(ds) != len(e.Deliveries) {
			t.Errorf("GetEvent(b) = %d deliveries, %v; want %d", len(ds), err, len(e.Deliveries))
		}
	}
	replay, err := s.Ingest(ctx, herald.IngestRequest{EnvironmentID: b.ID, IdempotencyKey: "same-key", Response: []byte("new"), Now: t0})
	if err != nil || string(replay) != `{"env":"b"}` {
		t.Errorf("b's idempotency key after a was deleted: replay %q, %v", replay, err)
	}

	// A's deliveries are gone from the queue: only B's pending ones, and
	// B's sending ones once their leases have run out, are claimed.
	bPending := map[string]bool{}
	for _, st := range []string{herald.StatusPending, herald.StatusSending} {
		for _, d := range list(t, s, b.ID, herald.DeliveryFilter{Status: st, Limit: 100}) {
			bPending[d.ID] = true
		}
	}
	next, ok, err := s.NextDue(ctx)
	if err != nil || !ok || !sameMS(next, at(time.Second)) {
		t.Errorf("NextDue = %v, %v, %v; want b's %v", next, ok, err, at(time.Second))
	}
	for _, j := range claim(t, s, at(48*time.Hour), 100) {
		if j.EnvironmentID != b.ID || !bPending[j.DeliveryID] {
			t.Errorf("claimed %s of environment %s after a was deleted", j.DeliveryID, j.EnvironmentID)
		}
		delete(bPending, j.DeliveryID)
	}
	if len(bPending) != 0 {
		t.Errorf("b's pending deliveries %v were not claimed", bPending)
	}

	// An environment re-created with the same id starts empty: no events, no
	// remembered idempotency key.
	again := makeEnv(t, "a", at(time.Minute))
	again.ID = a.ID
	if err := s.CreateEnvironment(ctx, again); err != nil {
		t.Fatalf("CreateEnvironment(same id again): %v", err)
	}
	if ds := list(t, s, a.ID, herald.DeliveryFilter{Limit: 100}); len(ds) != 0 {
		t.Errorf("re-created environment sees %d old deliveries", len(ds))
	}
	_, _, err = s.GetEvent(ctx, a.ID, evA[0].Event.ID)
	wantNotFound(t, "GetEvent(old event of re-created environment)", err)
	replay, err = s.Ingest(ctx, herald.IngestRequest{EnvironmentID: a.ID, IdempotencyKey: "same-key", Response: []byte("fresh"),
		Events: []herald.EventRecord{makeEvent(t, a.ID, spec{})}, Now: t0})
	if err != nil || replay != nil {
		t.Errorf("idempotency key of a deleted environment replayed %q, %v", replay, err)
	}
}

func testEnvDeleteUnknown(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	wantNotFound(t, "DeleteEnvironment(unknown)", s.DeleteEnvironment(ctx, newID(t)))
	wantNotFound(t, "DeleteEnvironment(\"\")", s.DeleteEnvironment(ctx, ""))
	if err := s.DeleteEnvironment(ctx, env.ID); err != nil {
		t.Fatalf("DeleteEnvironment: %v", err)
	}
	wantNotFound(t, "DeleteEnvironment(twice)", s.DeleteEnvironment(ctx, env.ID))
}

func testEnvUpdateSettings(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	other := newEnv(t, s, "dev")

	// Applied in order to the same environment, so each case also proves
	// that the previous one's fields are replaced (URLs cleared, policy form
	// switched).
	cases := []struct {
		name string
		s    herald.Settings
	}{
		{"exponential policy, both URLs, every toggle flipped", herald.Settings{
			PrimaryURL:              ptr("https://primary.example.com/hooks"),
			SecondaryURL:            ptr("https://secondary.example.com/h?a=1&b=%C3%A9"),
			OnAuthCreation:          false,
			OnAuthRefreshError:      false,
			OnSyncError:             false,
			OnSyncCompletionAlways:  false,
			OnAsyncActionCompletion: false,
			OnConnectionDeletion:    true,
			Retry:                   herald.RetryPolicy{MaxRetries: 7, InitialDelayMS: 250, Multiplier: 1.5, MaxDelayMS: 60_000, Jitter: 0.25},
			StandardWebhooks:        true,
			TimeoutMS:               45_000,
		}},
		{"schedule policy, primary URL only", herald.Settings{
			PrimaryURL:     ptr("http://primary.example.com:8080/"),
			OnAuthCreation: true,
			OnSyncError:    true,
			Retry:          herald.RetryPolicy{ScheduleMS: []int64{5_000, 300_000, 1_800_000}},
			TimeoutMS:      1_000,
		}},
		{"empty schedule (no retries)", herald.Settings{
			SecondaryURL: ptr("https://secondary.example.com/only"),
			Retry:        herald.RetryPolicy{ScheduleMS: []int64{}},
			TimeoutMS:    60_000,
		}},
		{"exponential policy with zero retries", herald.Settings{
			Retry:     herald.RetryPolicy{MaxRetries: 0, InitialDelayMS: 0, Multiplier: 1, MaxDelayMS: 0},
			TimeoutMS: 20_000,
		}},
		{"defaults again", herald.DefaultSettings()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := s.UpdateSettings(ctx, env.ID, c.s); err != nil {
				t.Fatalf("UpdateSettings: %v", err)
			}
			got, err := s.EnvironmentByID(ctx, env.ID)
			if err != nil {
				t.Fatalf("EnvironmentByID: %v", err)
			}
			want := *env
			want.Settings = c.s
			checkEnv(t, got, &want)
			if got.Settings.Timeout() != c.s.Timeout() || !slices.Equal(got.Settings.URLs(), c.s.URLs()) ||
				got.Settings.Retry.Retries() != c.s.Retry.Retries() {
				t.Errorf("derived settings differ: timeout %v/%v urls %q/%q retries %d/%d", got.Settings.Timeout(), c.s.Timeout(),
					got.Settings.URLs(), c.s.URLs(), got.Settings.Retry.Retries(), c.s.Retry.Retries())
			}
			byHash, err := s.EnvironmentByKeyHash(ctx, env.SecretKeyHash)
			if err != nil {
				t.Fatalf("EnvironmentByKeyHash: %v", err)
			}
			checkEnv(t, byHash, &want)
			envs, err := s.ListEnvironments(ctx)
			if err != nil {
				t.Fatalf("ListEnvironments: %v", err)
			}
			for _, e := range envs {
				if e.ID == env.ID {
					checkEnv(t, &e, &want)
				}
			}
		})
	}

	// The other environment kept its defaults.
	got, err := s.EnvironmentByID(ctx, other.ID)
	if err != nil {
		t.Fatalf("EnvironmentByID: %v", err)
	}
	checkEnv(t, got, other)
	wantNotFound(t, "UpdateSettings(unknown)", s.UpdateSettings(ctx, newID(t), herald.DefaultSettings()))
}

func testEnvRotateSigningKey(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env := newEnv(t, s, "prod")
	other := newEnv(t, s, "dev")
	first := env.SigningKey
	second, third := uuid.NewString(), uuid.NewString()
	expires := at(time.Hour)

	if err := s.RotateSigningKey(ctx, env.ID, second, expires); err != nil {
		t.Fatalf("RotateSigningKey: %v", err)
	}
	got, err := s.EnvironmentByID(ctx, env.ID)
	if err != nil {
		t.Fatalf("EnvironmentByID: %v", err)
	}
	if got.SigningKey != second || got.PreviousSigningKey != first || !sameMS(got.PreviousKeyExpiresAt, expires) {
		t.Errorf("after rotation: key %q previous %q expires %v; want %q, %q, %v", got.SigningKey, got.PreviousSigningKey,
			got.PreviousKeyExpiresAt, second, first, expires)
	}
	for _, c := range []struct {
		now  time.Time
		want []string
	}{
		{t0, []string{second, first}},
		{expires.Add(-time.Millisecond), []string{second, first}},
		{expires.Add(time.Millisecond), []string{second}},
		{at(24 * time.Hour), []string{second}},
	} {
		if keys := got.SigningKeys(c.now); !slices.Equal(keys, c.want) {
			t.Errorf("SigningKeys(%v) = %q, want %q", c.now, keys, c.want)
		}
	}
	// Rotation leaves everything else alone.
	want := *env
	want.SigningKey, want.PreviousSigningKey = second, first
	checkEnv(t, got, &want)
	if byHash, err := s.EnvironmentByKeyHash(ctx, env.SecretKeyHash); err != nil || byHash.SigningKey != second || byHash.PreviousSigningKey != first {
		t.Errorf("EnvironmentByKeyHash after rotation = %+v, %v", byHash, err)
	}

	// A second rotation keeps only the key it replaces.
	expires2 := at(2 * time.Hour)
	if err := s.RotateSigningKey(ctx, env.ID, third, expires2); err != nil {
		t.Fatalf("RotateSigningKey: %v", err)
	}
	got, err = s.EnvironmentByID(ctx, env.ID)
	if err != nil {
		t.Fatalf("EnvironmentByID: %v", err)
	}
	if keys := got.SigningKeys(at(90 * time.Minute)); !slices.Equal(keys, []string{third, second}) {
		t.Errorf("SigningKeys after two rotations = %q, want %q", keys, []string{third, second})
	}

	if o, err := s.EnvironmentByID(ctx, other.ID); err != nil || o.SigningKey != other.SigningKey || o.PreviousSigningKey != "" {
		t.Errorf("rotation changed another environment: %+v, %v", o, err)
	}
	wantNotFound(t, "RotateSigningKey(unknown)", s.RotateSigningKey(ctx, newID(t), uuid.NewString(), expires))
}

func testAdminKeyHashes(t *testing.T, s herald.Store) {
	ctx := t.Context()
	hashes, err := s.AdminKeyHashes(ctx)
	if err != nil || len(hashes) != 0 {
		t.Fatalf("AdminKeyHashes on an empty store = %x, %v; want none", hashes, err)
	}
	h1 := sha256.Sum256([]byte("admin-1"))
	h2 := sha256.Sum256([]byte("admin-2"))
	for _, h := range [][]byte{h1[:], h2[:], h1[:], h2[:], h1[:]} {
		if err := s.AddAdminKeyHash(ctx, h); err != nil {
			t.Fatalf("AddAdminKeyHash: %v", err)
		}
	}
	hashes, err = s.AdminKeyHashes(ctx)
	if err != nil {
		t.Fatalf("AdminKeyHashes: %v", err)
	}
	slices.SortFunc(hashes, bytes.Compare)
	want := [][]byte{h1[:], h2[:]}
	slices.SortFunc(want, bytes.Compare)
	if !reflect.DeepEqual(hashes, want) {
		t.Errorf("AdminKeyHashes = %x, want %x (each once)", hashes, want)
	}
}
