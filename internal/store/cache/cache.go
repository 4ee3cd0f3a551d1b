package cache

import (
	"context"
	"errors"
	"sync"
	"time"

	herald "github.com/heraldhq/herald"
)

// DefaultTTL bounds how long a change made by another process can go unseen.
const DefaultTTL = 2 * time.Second

// Store is a herald.Store whose environment, integration and endpoint
// reads are cached. Every other method is the wrapped store's own.
type Store struct {
	herald.Store
	ttl time.Duration
	now func() time.Time

	mu     sync.Mutex
	byID   map[string]entry
	byHash map[string]entry
	// integrations caches Integration by environment, then key; an
	// environment's entries go with it.
	integrations map[string]map[string]integrationEntry
	// endpoints caches EndpointByURL by environment, then URL, misses
	// included (nil): the dispatcher reads it before every attempt.
	endpoints map[string]map[string]endpointEntry
	// gen counts invalidations, so a load that raced with one is not cached.
	gen uint64
}

// Unwrap returns the store s wraps, for what looks for an ability of the
// store underneath (the WAL counter of internal/telemetry).
func (s *Store) Unwrap() herald.Store { return s.Store }

type entry struct {
	env    *herald.Environment
	loaded time.Time
}

type integrationEntry struct {
	in     *herald.Integration
	loaded time.Time
}

type endpointEntry struct {
	ep     *herald.Endpoint // nil: none
	loaded time.Time
}

// Options tune a Store; the zero value is the default.
type Options struct {
	// TTL is how long an entry is used without a read; <= 0: DefaultTTL.
	TTL time.Duration
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// New returns store with its environment reads cached.
func New(store herald.Store, opts Options) *Store {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Store{Store: store, ttl: opts.TTL, now: opts.Now, byID: make(map[string]entry), byHash: make(map[string]entry),
		integrations: make(map[string]map[string]integrationEntry), endpoints: make(map[string]map[string]endpointEntry)}
	if changes := store.EnvironmentChanges(); changes != nil {
		// Changes made through other processes: drop them at once. The
		// loop ends when the store closes the channel.
		go func() {
			for id := range changes {
				if id == "" {
					c.flush()
				} else {
					c.invalidate(id)
				}
			}
		}()
	}
	return c
}

// EnvironmentChanges returns nil: the cache consumes the wrapped store's
// changes itself, and callers above it see current environments.
func (c *Store) EnvironmentChanges() <-chan string { return nil }

// EnvironmentByID returns the environment with id. The result is shared:
// do not modify it.
func (c *Store) EnvironmentByID(ctx context.Context, id string) (*herald.Environment, error) {
	return c.get(c.byID, id, func() (*herald.Environment, error) { return c.Store.EnvironmentByID(ctx, id) })
}

// EnvironmentByKeyHash returns the environment whose secret key hashes to
// hash. The result is shared: do not modify it.
func (c *Store) EnvironmentByKeyHash(ctx context.Context, hash []byte) (*herald.Environment, error) {
	return c.get(c.byHash, string(hash), func() (*herald.Environment, error) { return c.Store.EnvironmentByKeyHash(ctx, hash) })
}

// UpdateSettings writes through and drops the cached entry.
func (c *Store) UpdateSettings(ctx context.Context, id string, s herald.Settings) error {
	defer c.invalidate(id)
	return c.Store.UpdateSettings(ctx, id, s)
}

// RotateSigningKey writes through and drops the cached entry.
func (c *Store) RotateSigningKey(ctx context.Context, id, newKey string, previousExpires time.Time) error {
	defer c.invalidate(id)
	return c.Store.RotateSigningKey(ctx, id, newKey, previousExpires)
}

// DeleteEnvironment writes through and drops the cached entry.
func (c *Store) DeleteEnvironment(ctx context.Context, id string) error {
	defer c.invalidate(id)
	return c.Store.DeleteEnvironment(ctx, id)
}

// Integration returns one integration; the result is shared: do not
// modify it. Inbound webhooks read it on every request.
func (c *Store) Integration(ctx context.Context, envID, key string) (*herald.Integration, error) {
	c.mu.Lock()
	e, ok := c.integrations[envID][key]
	gen := c.gen
	c.mu.Unlock()
	if ok && c.now().Sub(e.loaded) < c.ttl {
		return e.in, nil
	}
	in, err := c.Store.Integration(ctx, envID, key)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen == gen {
		m := c.integrations[envID]
		if m == nil {
			m = make(map[string]integrationEntry)
			c.integrations[envID] = m
		}
		m[key] = integrationEntry{in: in, loaded: c.now()}
	}
	c.mu.Unlock()
	return in, nil
}

// PutIntegration writes through and drops the environment's entries.
func (c *Store) PutIntegration(ctx context.Context, in *herald.Integration) (bool, error) {
	defer c.invalidate(in.EnvironmentID)
	return c.Store.PutIntegration(ctx, in)
}

// DeleteIntegration writes through and drops the environment's entries.
func (c *Store) DeleteIntegration(ctx context.Context, envID, key string) error {
	defer c.invalidate(envID)
	return c.Store.DeleteIntegration(ctx, envID, key)
}

// PutConnection writes through and drops the environment, whose
// HasURLOverrides may change.
func (c *Store) PutConnection(ctx context.Context, conn *herald.Connection) (bool, error) {
	defer c.invalidate(conn.EnvironmentID)
	return c.Store.PutConnection(ctx, conn)
}

// DeleteConnection writes through and drops the environment, whose
// HasURLOverrides may change.
func (c *Store) DeleteConnection(ctx context.Context, envID, key, connectionID string) error {
	defer c.invalidate(envID)
	return c.Store.DeleteConnection(ctx, envID, key, connectionID)
}

// EndpointByURL returns envID's endpoint for url, or ErrNotFound; the
// result is shared: do not modify it. Changes made through another
// process show within the TTL.
func (c *Store) EndpointByURL(ctx context.Context, envID, url string) (*herald.Endpoint, error) {
	c.mu.Lock()
	e, ok := c.endpoints[envID][url]
	gen := c.gen
	c.mu.Unlock()
	if ok && c.now().Sub(e.loaded) < c.ttl {
		if e.ep == nil {
			return nil, herald.ErrNotFound
		}
		return e.ep, nil
	}
	ep, err := c.Store.EndpointByURL(ctx, envID, url)
	if err != nil && !errors.Is(err, herald.ErrNotFound) {
		return nil, err
	}
	c.mu.Lock()
	if c.gen == gen {
		m := c.endpoints[envID]
		if m == nil {
			m = make(map[string]endpointEntry)
			c.endpoints[envID] = m
		}
		m[url] = endpointEntry{ep: ep, loaded: c.now()}
	}
	c.mu.Unlock()
	return ep, err
}

// UpdateEndpoint writes through and drops the environment's entries.
func (c *Store) UpdateEndpoint(ctx context.Context, envID, id string, p herald.EndpointPatch, now time.Time) (*herald.Endpoint, error) {
	defer c.invalidate(envID)
	return c.Store.UpdateEndpoint(ctx, envID, id, p, now)
}

// DisableEndpoint writes through and drops the environment's entries.
func (c *Store) DisableEndpoint(ctx context.Context, envID, id, reason string, now time.Time) (*herald.Endpoint, error) {
	defer c.invalidate(envID)
	return c.Store.DisableEndpoint(ctx, envID, id, reason, now)
}

// EnableEndpoint writes through and drops the environment's entries.
func (c *Store) EnableEndpoint(ctx context.Context, envID, id string, now time.Time) (*herald.Endpoint, int, error) {
	defer c.invalidate(envID)
	return c.Store.EnableEndpoint(ctx, envID, id, now)
}

// SetCircuit writes through and drops the environment's entries: the
// dispatcher's next look at the endpoint sees its circuit as written.
func (c *Store) SetCircuit(ctx context.Context, envID, id string, until *time.Time, now time.Time) error {
	defer c.invalidate(envID)
	return c.Store.SetCircuit(ctx, envID, id, until, now)
}

func (c *Store) get(m map[string]entry, key string, load func() (*herald.Environment, error)) (*herald.Environment, error) {
	c.mu.Lock()
	e, ok := m[key]
	gen := c.gen
	c.mu.Unlock()
	if ok && c.now().Sub(e.loaded) < c.ttl {
		return e.env, nil
	}
	env, err := load()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen == gen {
		e := entry{env: env, loaded: c.now()}
		c.byID[env.ID] = e
		c.byHash[string(env.SecretKeyHash)] = e
	}
	c.mu.Unlock()
	return env, nil
}

// flush drops every entry, when changes may have been missed.
func (c *Store) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.byID)
	clear(c.byHash)
	clear(c.integrations)
	clear(c.endpoints)
	c.gen++
}

// invalidate drops an environment after it changed or was deleted. It runs
// after the write returned, so a read that starts later loads the new row;
// gen keeps a load that raced with the write from caching the old one.
func (c *Store) invalidate(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byID[id]; ok {
		delete(c.byHash, string(e.env.SecretKeyHash))
	}
	delete(c.byID, id)
	delete(c.integrations, id)
	delete(c.endpoints, id)
	c.gen++
}
