package environments

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
)

// RotationGrace is how long the previous signing key still signs Standard
// Webhooks headers after a rotation, so receivers can roll keys without a
// gap.
const RotationGrace = 24 * time.Hour

var namePattern = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// Config wires a Service.
type Config struct {
	// Store keeps the environments. Pass the cached store, so that reads
	// after a write through this service see the write.
	Store herald.Store
	// CheckURL decides whether a webhook URL may be used: where it
	// resolves to, beyond the syntax that herald.ApplySettingsPatch checks.
	// nil: syntax only.
	CheckURL func(ctx context.Context, url string) error
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Service is the environments' one owner. It is safe for concurrent use.
type Service struct {
	store    herald.Store
	checkURL func(ctx context.Context, url string) error
	now      func() time.Time
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{store: cfg.Store, checkURL: cfg.CheckURL, now: cfg.Now}
}

// Create makes an environment named name with fresh keys (UUIDv4, as Nango
// generates them) and default settings. The returned environment holds its
// secret key in plain text; only its hash is stored.
func (s *Service) Create(ctx context.Context, name string) (*herald.Environment, error) {
	if !namePattern.MatchString(name) {
		return nil, herald.Invalid("name", "must match [a-z0-9_-]{1,64}")
	}
	env, err := newEnvironment(name, s.now())
	if err != nil {
		return nil, err
	}
	if err := s.store.CreateEnvironment(ctx, env); err != nil {
		if errors.Is(err, herald.ErrConflict) {
			return nil, &herald.Error{Code: herald.ErrorConflict, Message: "an environment named " + name + " already exists"}
		}
		return nil, fmt.Errorf("create environment: %w", err)
	}
	return env, nil
}

func newEnvironment(name string, now time.Time) (*herald.Environment, error) {
	var keys [3]string
	for i := range keys {
		u, err := uuid.NewRandom()
		if err != nil {
			return nil, fmt.Errorf("new environment: %w", err)
		}
		keys[i] = u.String()
	}
	sum := sha256.Sum256([]byte(keys[1]))
	return &herald.Environment{
		ID: keys[0], Name: name, SecretKey: keys[1], SecretKeyHash: sum[:], SigningKey: keys[2],
		Settings: herald.DefaultSettings(), CreatedAt: now.UTC().Truncate(time.Millisecond),
	}, nil
}

// List returns every environment, without keys.
func (s *Service) List(ctx context.Context) ([]herald.Environment, error) {
	return s.store.ListEnvironments(ctx)
}

// Delete removes an environment and everything it owns.
func (s *Service) Delete(ctx context.Context, id string) error {
	if err := s.store.DeleteEnvironment(ctx, id); err != nil {
		if errors.Is(err, herald.ErrNotFound) {
			return &herald.Error{Code: herald.ErrorNotFound, Message: "no environment with this id"}
		}
		return fmt.Errorf("delete environment: %w", err)
	}
	return nil
}

// Authenticate returns the environment whose secret key is key. Keys are
// looked up by their SHA-256 and compared in constant time; the secret
// itself is never stored.
func (s *Service) Authenticate(ctx context.Context, key string) (*herald.Environment, error) {
	sum := sha256.Sum256([]byte(key))
	env, err := s.store.EnvironmentByKeyHash(ctx, sum[:])
	if errors.Is(err, herald.ErrNotFound) || (err == nil && subtle.ConstantTimeCompare(sum[:], env.SecretKeyHash) != 1) {
		return nil, &herald.Error{Code: herald.ErrorUnauthorized, Message: "invalid secret key"}
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	return env, nil
}

// UpdateSettings applies a PATCH of env's webhook settings, already parsed
// as generic JSON, and returns the whole new settings. A URL that changes is
// checked with CheckURL (alert_url as well as the webhook URLs). Nothing is
// written unless every field is valid.
func (s *Service) UpdateSettings(ctx context.Context, env *herald.Environment, patch any) (herald.Settings, error) {
	next, err := herald.ApplySettingsPatch(env.Settings, patch)
	if err != nil {
		return herald.Settings{}, err
	}
	obj := patch.(map[string]any) // ApplySettingsPatch accepted it, so it is an object
	for _, f := range []struct {
		name string
		url  *string
	}{{"primary_url", next.PrimaryURL}, {"secondary_url", next.SecondaryURL}, {"alert_url", next.AlertURL}} {
		if _, changed := obj[f.name]; !changed || f.url == nil || s.checkURL == nil {
			continue
		}
		if err := s.checkURL(ctx, *f.url); err != nil {
			return herald.Settings{}, herald.Invalid(f.name, err.Error())
		}
	}
	if err := s.store.UpdateSettings(ctx, env.ID, next); err != nil {
		return herald.Settings{}, fmt.Errorf("update settings: %w", err)
	}
	return next, nil
}

// RotateSigningKey gives env a new signing key, which signs every attempt
// made after it returns; the previous key keeps signing Standard Webhooks
// headers for RotationGrace.
func (s *Service) RotateSigningKey(ctx context.Context, env *herald.Environment) (string, error) {
	key, err := uuid.NewRandom()
	if err != nil {
		return "", fmt.Errorf("rotate signing key: %w", err)
	}
	if err := s.store.RotateSigningKey(ctx, env.ID, key.String(), s.now().Add(RotationGrace)); err != nil {
		return "", fmt.Errorf("rotate signing key: %w", err)
	}
	return key.String(), nil
}
