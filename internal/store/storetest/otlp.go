package storetest

import (
	"errors"
	"maps"
	"testing"
	"time"

	herald "github.com/heraldhq/herald"
)

func otlpTests() []test {
	return []test{
		{"PutGetRemove", testOTLP},
		{"TraceParentToClaim", testTraceParentToClaim},
	}
}

// An environment's OTLP export is stored, replaced, kept apart from other
// environments', removed with an empty endpoint and with its environment.
func testOTLP(t *testing.T, s herald.Store) {
	ctx := t.Context()
	env, other := newEnv(t, s, "prod"), newEnv(t, s, "other")
	if _, err := s.OTLP(ctx, env.ID); !errors.Is(err, herald.ErrNotFound) {
		t.Fatalf("OTLP before any: err = %v, want ErrNotFound", err)
	}
	cfg := herald.OTLPConfig{EnvironmentID: env.ID, Endpoint: "https://otlp.example.com",
		Headers: map[string]string{"authorization": "Bearer s3cret"}, SpanNames: herald.SpanNamesNango, UpdatedAt: t0}
	if err := s.PutOTLP(ctx, cfg); err != nil {
		t.Fatalf("PutOTLP: %v", err)
	}
	got, err := s.OTLP(ctx, env.ID)
	if err != nil {
		t.Fatalf("OTLP: %v", err)
	}
	if got.EnvironmentID != env.ID || got.Endpoint != cfg.Endpoint || !maps.Equal(got.Headers, cfg.Headers) ||
		got.SpanNames != cfg.SpanNames || !sameMS(got.UpdatedAt, t0) {
		t.Fatalf("OTLP = %+v, want %+v", got, cfg)
	}
	if _, err := s.OTLP(ctx, other.ID); !errors.Is(err, herald.ErrNotFound) {
		t.Fatalf("OTLP of another environment: err = %v, want ErrNotFound", err)
	}
	cfg2 := herald.OTLPConfig{EnvironmentID: env.ID, Endpoint: "https://other.example.com/otlp",
		SpanNames: herald.SpanNamesHerald, UpdatedAt: at(time.Minute)}
	if err := s.PutOTLP(ctx, cfg2); err != nil {
		t.Fatalf("PutOTLP again: %v", err)
	}
	if got, err = s.OTLP(ctx, env.ID); err != nil || got.Endpoint != cfg2.Endpoint || len(got.Headers) != 0 ||
		got.SpanNames != herald.SpanNamesHerald {
		t.Fatalf("OTLP after replace = %+v, %v", got, err)
	}
	if err := s.PutOTLP(ctx, herald.OTLPConfig{EnvironmentID: env.ID}); err != nil {
		t.Fatalf("PutOTLP removing: %v", err)
	}
	if _, err := s.OTLP(ctx, env.ID); !errors.Is(err, herald.ErrNotFound) {
		t.Fatalf("OTLP after removal: err = %v, want ErrNotFound", err)
	}
	if err := s.PutOTLP(ctx, herald.OTLPConfig{EnvironmentID: "missing", Endpoint: "https://x.example.com",
		SpanNames: herald.SpanNamesHerald}); !errors.Is(err, herald.ErrEnvironmentDeleted) {
		t.Fatalf("PutOTLP of a missing environment: err = %v, want ErrEnvironmentDeleted", err)
	}
	if err := s.PutOTLP(ctx, cfg); err != nil {
		t.Fatalf("PutOTLP: %v", err)
	}
	if err := s.DeleteEnvironment(ctx, env.ID); err != nil {
		t.Fatalf("DeleteEnvironment: %v", err)
	}
	if _, err := s.OTLP(ctx, env.ID); !errors.Is(err, herald.ErrNotFound) {
		t.Fatalf("OTLP after the environment's deletion: err = %v, want ErrNotFound", err)
	}
}

// An event's trace parent is stored with it and handed to each claimed
// delivery's job; an event without one gives jobs none.
func testTraceParentToClaim(t *testing.T, s herald.Store) {
	env := newEnv(t, s, "prod")
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	traced := makeEvent(t, env.ID, spec{URLs: []string{urlA, urlB}})
	traced.Event.TraceParent = tp
	plain := makeEvent(t, env.ID, spec{URLs: []string{urlC}})
	ingest(t, s, env.ID, traced, plain)
	jobs := claim(t, s, t0, 100)
	if len(jobs) != 3 {
		t.Fatalf("claimed %d jobs, want 3", len(jobs))
	}
	for _, j := range jobs {
		want := ""
		if j.EventID == traced.Event.ID {
			want = tp
		}
		if j.TraceParent != want {
			t.Errorf("job of event %s: TraceParent = %q, want %q", j.EventID, j.TraceParent, want)
		}
		if j.EventType != "sync" || j.ConnectionID != "conn-1" {
			t.Errorf("job of event %s: EventType %q, ConnectionID %q, want sync, conn-1", j.EventID, j.EventType, j.ConnectionID)
		}
	}
}
