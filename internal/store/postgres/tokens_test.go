package postgres_test

import (
	"context"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/pgtest"
	"github.com/heraldhq/herald/internal/store/postgres"
)

// An endpoint's token bucket, shared by two stores (two processes) on one
// database: it starts full, never gives more than it holds, refills at
// its rate, and says how long to wait when empty. Takers racing from both
// stores never get more than the burst plus the rate over the time spent.
func TestTakeTokens(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	stores := [2]*postgres.Store{openOn(t, dsn), openOn(t, dsn)}
	url := "https://hooks.example.com/a"
	sum := sha256.Sum256([]byte(uuid.NewString()))
	env := &herald.Environment{ID: uuid.NewString(), Name: "t", SecretKeyHash: sum[:], SigningKey: uuid.NewString(),
		Settings: herald.DefaultSettings(), CreatedAt: time.Now()}
	env.Settings.PrimaryURL = &url
	if err := stores[0].CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	ep, err := stores[0].EndpointByURL(ctx, env.ID, url)
	if err != nil {
		t.Fatal(err)
	}

	const rate, burst = 50, 5
	if got, _, err := stores[0].TakeTokens(ctx, ep.ID, rate, burst, 3); err != nil || got != 3 {
		t.Fatalf("a new bucket: took %d, %v; want 3", got, err)
	}
	if got, _, err := stores[1].TakeTokens(ctx, ep.ID, rate, burst, 5); err != nil || got < 2 || got > 3 {
		t.Fatalf("the rest from the other process: took %d, %v; want 2 (3 if a refill came between)", got, err)
	}
	got, wait, err := stores[0].TakeTokens(ctx, ep.ID, rate, burst, 1)
	for err == nil && got > 0 { // drain what refilled meanwhile
		got, wait, err = stores[0].TakeTokens(ctx, ep.ID, rate, burst, 1)
	}
	if err != nil || wait <= 0 || wait > time.Second/rate+time.Millisecond {
		t.Fatalf("an empty bucket: wait %s, %v; want up to %s", wait, err, time.Second/rate)
	}
	if _, _, err := stores[0].TakeTokens(ctx, ep.ID, 0, burst, 1); err == nil {
		t.Errorf("a zero rate was taken")
	}

	// Racing takers on both stores for a bounded number of rounds.
	var taken atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 40 {
				n, wait, err := stores[i%2].TakeTokens(ctx, ep.ID, rate, burst, 2)
				if err != nil {
					t.Error(err)
					return
				}
				taken.Add(int64(n))
				if n == 0 {
					time.Sleep(wait)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if most := int64(burst + rate*elapsed.Seconds() + 1); taken.Load() > most {
		t.Errorf("%d tokens taken in %s; the bucket allows at most %d", taken.Load(), elapsed, most)
	}
	if taken.Load() == 0 {
		t.Errorf("no token taken in %s", elapsed)
	}
}
