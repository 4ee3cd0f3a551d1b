package envcache_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/envcache"
	"github.com/heraldhq/herald/store/sqlite"
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
	c := envcache.New(st, time.Hour)
	for range 5 {
		if _, err := c.ByKeyHash(ctx, env.SecretKeyHash); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ByID(ctx, env.ID); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.reads.Load(); n != 1 {
		t.Fatalf("%d database reads for 10 lookups, want 1 (by key hash fills by id too)", n)
	}
	// A rotation through this process is seen at once after Invalidate.
	if err := st.RotateSigningKey(ctx, env.ID, "k2", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	c.Invalidate(env.ID)
	got, err := c.ByID(ctx, env.ID)
	if err != nil || got.SigningKey != "k2" {
		t.Fatalf("after invalidate: %v, %v; want signing key k2", got, err)
	}
	if got, err := c.ByKeyHash(ctx, env.SecretKeyHash); err != nil || got.SigningKey != "k2" {
		t.Fatalf("by key hash after invalidate: %v, %v", got, err)
	}
}

func TestCacheTTL(t *testing.T) {
	ctx := context.Background()
	st, env := setup(t)
	c := envcache.New(st, time.Millisecond)
	c.ByID(ctx, env.ID)
	time.Sleep(5 * time.Millisecond)
	c.ByID(ctx, env.ID)
	if n := st.reads.Load(); n != 2 {
		t.Fatalf("%d reads, want 2: an expired entry is read again", n)
	}
}

func TestCacheMissIsNotCached(t *testing.T) {
	ctx := context.Background()
	st, _ := setup(t)
	c := envcache.New(st, time.Hour)
	for range 2 {
		if _, err := c.ByID(ctx, uuid.NewString()); !errors.Is(err, herald.ErrNotFound) {
			t.Fatalf("unknown id: %v, want ErrNotFound", err)
		}
	}
	if n := st.reads.Load(); n != 2 {
		t.Fatalf("%d reads, want 2: misses are not cached", n)
	}
}
