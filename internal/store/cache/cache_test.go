package cache_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/store/cache"
	"github.com/heraldhq/herald/internal/store/sqlite"
)

// countingStore counts the environment reads that reach the database.
type countingStore struct {
	herald.Store
	reads atomic.Int64
}

func (s *countingStore) EnvironmentByID(ctx context.Context, id string) (*herald.Environment, error) {
	s.reads.Add(1)
	return s.Store.EnvironmentByID(ctx, id)
}

func (s *countingStore) EnvironmentByKeyHash(ctx context.Context, h []byte) (*herald.Environment, error) {
	s.reads.Add(1)
	return s.Store.EnvironmentByKeyHash(ctx, h)
}

func setup(t *testing.T) (*countingStore, *herald.Environment) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir()+"/c.db", sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sum := sha256.Sum256([]byte("secret"))
	env := &herald.Environment{ID: uuid.NewString(), Name: "c", SecretKeyHash: sum[:], SigningKey: "k1",
		Settings: herald.DefaultSettings(), CreatedAt: time.Now()}
	if err := st.CreateEnvironment(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	return &countingStore{Store: st}, env
}

func TestCacheHitsAndInvalidation(t *testing.T) {
	ctx := context.Background()
	st, env := setup(t)
	c := cache.New(st, cache.Options{TTL: time.Hour})
	for range 5 {
		if _, err := c.EnvironmentByKeyHash(ctx, env.SecretKeyHash); err != nil {
			t.Fatal(err)
		}
		if _, err := c.EnvironmentByID(ctx, env.ID); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.reads.Load(); n != 1 {
		t.Fatalf("%d database reads for 10 lookups, want 1 (by key hash fills by id too)", n)
	}
	// A write through the decorator is seen by the next read, with no
	// invalidation for the caller to remember.
	if err := c.RotateSigningKey(ctx, env.ID, "k2", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := c.EnvironmentByID(ctx, env.ID)
	if err != nil || got.SigningKey != "k2" {
		t.Fatalf("after rotation: %v, %v; want signing key k2", got, err)
	}
	if got, err := c.EnvironmentByKeyHash(ctx, env.SecretKeyHash); err != nil || got.SigningKey != "k2" {
		t.Fatalf("by key hash after rotation: %v, %v", got, err)
	}
	s := got.Settings
	s.StrictValidation = true
	if err := c.UpdateSettings(ctx, env.ID, s); err != nil {
		t.Fatal(err)
	}
	if got, err := c.EnvironmentByKeyHash(ctx, env.SecretKeyHash); err != nil || !got.Settings.StrictValidation {
		t.Fatalf("after UpdateSettings: %v, %v", got, err)
	}
	if err := c.DeleteEnvironment(ctx, env.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnvironmentByID(ctx, env.ID); !errors.Is(err, herald.ErrNotFound) {
		t.Fatalf("after DeleteEnvironment: %v, want ErrNotFound", err)
	}
	if _, err := c.EnvironmentByKeyHash(ctx, env.SecretKeyHash); !errors.Is(err, herald.ErrNotFound) {
		t.Fatalf("by key hash after DeleteEnvironment: %v, want ErrNotFound", err)
	}
}

func TestCacheTTL(t *testing.T) {
	ctx := context.Background()
	st, env := setup(t)
	now := time.Unix(1_800_000_000, 0)
	c := cache.New(st, cache.Options{TTL: time.Second, Now: func() time.Time { return now }})
	c.EnvironmentByID(ctx, env.ID)
	now = now.Add(999 * time.Millisecond)
	c.EnvironmentByID(ctx, env.ID)
	now = now.Add(time.Millisecond)
	c.EnvironmentByID(ctx, env.ID)
	if n := st.reads.Load(); n != 2 {
		t.Fatalf("%d reads, want 2: an expired entry is read again", n)
	}
}

func TestCacheMissIsNotCached(t *testing.T) {
	ctx := context.Background()
	st, _ := setup(t)
	c := cache.New(st, cache.Options{TTL: time.Hour})
	for range 2 {
		if _, err := c.EnvironmentByID(ctx, uuid.NewString()); !errors.Is(err, herald.ErrNotFound) {
			t.Fatalf("unknown id: %v, want ErrNotFound", err)
		}
	}
	if n := st.reads.Load(); n != 2 {
		t.Fatalf("%d reads, want 2: misses are not cached", n)
	}
}

// endpointReads counts the endpoint reads that reach the database.
type endpointReads struct {
	herald.Store
	reads atomic.Int64
}

func (s *endpointReads) EndpointByURL(ctx context.Context, envID, url string) (*herald.Endpoint, error) {
	s.reads.Add(1)
	return s.Store.EndpointByURL(ctx, envID, url)
}

// Endpoints by URL are cached, misses too (the dispatcher asks before
// every attempt); the cache's own endpoint writes drop them at once.
func TestCacheEndpoints(t *testing.T) {
	ctx := context.Background()
	st, env := setup(t)
	url := "https://hooks.example.com/a"
	settings := env.Settings
	settings.PrimaryURL = &url
	if err := st.UpdateSettings(ctx, env.ID, settings); err != nil {
		t.Fatal(err)
	}
	counting := &endpointReads{Store: st}
	c := cache.New(counting, cache.Options{TTL: time.Hour})
	var ep *herald.Endpoint
	for range 5 {
		var err error
		if ep, err = c.EndpointByURL(ctx, env.ID, url); err != nil {
			t.Fatal(err)
		}
		if _, err := c.EndpointByURL(ctx, env.ID, "https://elsewhere.example.com/"); !errors.Is(err, herald.ErrNotFound) {
			t.Fatalf("unknown URL: %v, want ErrNotFound", err)
		}
	}
	if n := counting.reads.Load(); n != 2 {
		t.Fatalf("%d reads reached the store, want 2 (one per URL)", n)
	}
	if ep.Disabled {
		t.Fatal("a new endpoint is disabled")
	}
	if _, err := c.DisableEndpoint(ctx, env.ID, ep.ID, herald.DisabledManually, time.Now()); err != nil {
		t.Fatal(err)
	}
	got, err := c.EndpointByURL(ctx, env.ID, url)
	if err != nil || !got.Disabled {
		t.Fatalf("after DisableEndpoint through the cache: %+v, %v; want it disabled at once", got, err)
	}
	if _, _, err := c.EnableEndpoint(ctx, env.ID, ep.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, err := c.EndpointByURL(ctx, env.ID, url); err != nil || got.Disabled {
		t.Fatalf("after EnableEndpoint: %+v, %v; want it enabled", got, err)
	}
	limit := 3
	if _, err := c.UpdateEndpoint(ctx, env.ID, ep.ID, herald.EndpointPatch{SetConcurrency: true, MaxConcurrency: &limit}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, err := c.EndpointByURL(ctx, env.ID, url); err != nil || got.MaxConcurrency == nil || *got.MaxConcurrency != 3 {
		t.Fatalf("after UpdateEndpoint: %+v, %v; want max concurrency 3", got, err)
	}
}
