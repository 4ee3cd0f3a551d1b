// Package envcache keeps environments (settings, signing keys, key hashes)
// in memory for a short time, so that neither the API's authentication nor
// the dispatcher's attempts read the database for every request.
//
// Changes made through this process invalidate their entry at once, which
// is what makes "the new key signs every attempt made after the rotation
// returns" hold. Changes made by another process sharing the database are
// seen within the TTL.
package envcache

import (
	"context"
	"sync"
	"time"

	herald "github.com/heraldhq/herald"
)

// DefaultTTL bounds how long a change made by another process can go unseen.
const DefaultTTL = 2 * time.Second

// Cache is a read-through cache of environments by id and by key hash.
// The zero value is not usable; create one with New.
type Cache struct {
	store herald.Store
	ttl   time.Duration

	mu     sync.Mutex
	byID   map[string]entry
	byHash map[string]entry
	// gen counts invalidations, so a load that raced with one is not cached.
	gen uint64
}

type entry struct {
	env    *herald.Environment
	loaded time.Time
}

// New returns a cache over store; ttl <= 0 means DefaultTTL.
func New(store herald.Store, ttl time.Duration) *Cache {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Cache{store: store, ttl: ttl, byID: make(map[string]entry), byHash: make(map[string]entry)}
}

// ByID returns the environment with id. The result is shared: do not modify it.
func (c *Cache) ByID(ctx context.Context, id string) (*herald.Environment, error) {
	return c.get(ctx, c.byID, id, func() (*herald.Environment, error) { return c.store.EnvironmentByID(ctx, id) })
}

// ByKeyHash returns the environment whose secret key hashes to hash.
func (c *Cache) ByKeyHash(ctx context.Context, hash []byte) (*herald.Environment, error) {
	return c.get(ctx, c.byHash, string(hash), func() (*herald.Environment, error) { return c.store.EnvironmentByKeyHash(ctx, hash) })
}

func (c *Cache) get(ctx context.Context, m map[string]entry, key string, load func() (*herald.Environment, error)) (*herald.Environment, error) {
	c.mu.Lock()
	e, ok := m[key]
	gen := c.gen
	c.mu.Unlock()
	if ok && time.Since(e.loaded) < c.ttl {
		return e.env, nil
	}
	env, err := load()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen == gen {
		e := entry{env: env, loaded: time.Now()}
		c.byID[env.ID] = e
		c.byHash[string(env.SecretKeyHash)] = e
	}
	c.mu.Unlock()
	return env, nil
}

// Invalidate drops an environment after it changed or was deleted.
func (c *Cache) Invalidate(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byID[id]; ok {
		delete(c.byHash, string(e.env.SecretKeyHash))
	}
	delete(c.byID, id)
	c.gen++
}
