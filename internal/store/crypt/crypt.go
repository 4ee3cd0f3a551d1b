package crypt

import (
	"context"
	"errors"
	"fmt"
	"time"

	herald "github.com/heraldhq/herald"
)

// Store is a herald.Store that encrypts environments' signing keys on
// their way in and decrypts them on their way out. Every other method is
// the wrapped store's own.
type Store struct {
	herald.Store
	keys Keyring
}

// Unwrap returns the store s wraps, for what looks for an ability of the
// store underneath (the WAL counter of internal/telemetry).
func (s *Store) Unwrap() herald.Store { return s.Store }

// New returns store with its secrets encrypted under keys, newest first.
//
// With an empty keyring nothing is encrypted: writes store plaintext, as
// the wrapped store alone would, but a read that meets an encrypted value
// fails with ErrUnknownKey instead of handing the ciphertext out as a
// signing key. Wrapping is therefore safe whether or not keys are set.
func New(store herald.Store, keys Keyring) *Store {
	return &Store{Store: store, keys: keys}
}

// CreateEnvironment stores env with its signing keys encrypted; env itself
// is left as it is (its keys stay plaintext for the caller).
func (s *Store) CreateEnvironment(ctx context.Context, env *herald.Environment) error {
	if s.keys.Len() == 0 {
		return s.Store.CreateEnvironment(ctx, env)
	}
	enc := *env
	var err error
	if enc.SigningKey, err = s.seal(env.SigningKey, env.ID); err != nil {
		return err
	}
	if enc.PreviousSigningKey, err = s.seal(env.PreviousSigningKey, env.ID); err != nil {
		return err
	}
	return s.Store.CreateEnvironment(ctx, &enc)
}

// RotateSigningKey stores newKey encrypted. The wrapped store moves the
// current value, as stored, to the previous key: it stays decryptable as
// long as the key that encrypted it is in the keyring.
func (s *Store) RotateSigningKey(ctx context.Context, id, newKey string, previousExpires time.Time) error {
	if s.keys.Len() == 0 {
		return s.Store.RotateSigningKey(ctx, id, newKey, previousExpires)
	}
	enc, err := s.seal(newKey, id)
	if err != nil {
		return err
	}
	return s.Store.RotateSigningKey(ctx, id, enc, previousExpires)
}

// EnvironmentByID loads one environment, its keys decrypted.
func (s *Store) EnvironmentByID(ctx context.Context, id string) (*herald.Environment, error) {
	env, err := s.Store.EnvironmentByID(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.decrypt(env)
}

// EnvironmentByKeyHash finds an environment by its secret key's hash, its
// keys decrypted.
func (s *Store) EnvironmentByKeyHash(ctx context.Context, hash []byte) (*herald.Environment, error) {
	env, err := s.Store.EnvironmentByKeyHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	return s.decrypt(env)
}

// ListEnvironments returns every environment, keys decrypted. One that
// does not decrypt fails the whole list.
func (s *Store) ListEnvironments(ctx context.Context) ([]herald.Environment, error) {
	envs, err := s.Store.ListEnvironments(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]herald.Environment, len(envs))
	for i := range envs {
		e, err := s.decrypt(&envs[i])
		if err != nil {
			return nil, err
		}
		out[i] = *e
	}
	return out, nil
}

func (s *Store) seal(plaintext, envID string) (string, error) {
	if plaintext == "" { // no key (a previous key that is none)
		return "", nil
	}
	enc, err := s.keys.seal(plaintext, envID)
	if err != nil {
		return "", fmt.Errorf("environment %s: %w", envID, err)
	}
	return enc, nil
}

// decrypt returns a copy of env with its keys in plaintext (a copy: the
// wrapped store may share what it returns).
func (s *Store) decrypt(env *herald.Environment) (*herald.Environment, error) {
	out := *env
	var err error
	if out.SigningKey, err = s.keys.open(env.SigningKey, env.ID); err != nil {
		return nil, fmt.Errorf("crypt: environment %s: signing key: %w", env.ID, err)
	}
	out.PreviousSigningKey, err = s.keys.open(env.PreviousSigningKey, env.ID)
	if errors.Is(err, ErrUnknownKey) && !time.Now().Before(env.PreviousKeyExpiresAt) {
		// An expired previous key signs and verifies nothing any more
		// (Environment.SigningKeys): once the key that encrypted it has
		// left the keyring, it reads as none rather than failing the
		// environment. Altered values still fail.
		out.PreviousSigningKey, err = "", nil
	}
	if err != nil {
		return nil, fmt.Errorf("crypt: environment %s: previous signing key: %w", env.ID, err)
	}
	return &out, nil
}
