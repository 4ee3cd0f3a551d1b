package dispatch

import (
	"context"
	"sync"
	"time"

	herald "github.com/heraldhq/herald"
)

// envTTL bounds how long settings changed by another process can go
// unnoticed; changes made through this process invalidate at once.
const envTTL = 2 * time.Second

// envCache keeps environments (settings and signing keys) for attempts.
type envCache struct {
	store herald.Store
	mu    sync.Mutex
	m     map[string]envEntry
	// gen counts invalidations, so a load that raced with one is not cached.
	gen uint64
}

type envEntry struct {
	env    *herald.Environment
	loaded time.Time
}

func newEnvCache(s herald.Store) *envCache {
	return &envCache{store: s, m: make(map[string]envEntry)}
}

func (c *envCache) get(ctx context.Context, id string) (*herald.Environment, error) {
	c.mu.Lock()
	e, ok := c.m[id]
	gen := c.gen
	c.mu.Unlock()
	if ok && time.Since(e.loaded) < envTTL {
		return e.env, nil
	}
	env, err := c.store.EnvironmentByID(ctx, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen == gen {
		c.m[id] = envEntry{env: env, loaded: time.Now()}
	}
	c.mu.Unlock()
	return env, nil
}

func (c *envCache) invalidate(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.gen++
	c.mu.Unlock()
}
