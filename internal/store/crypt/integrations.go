package crypt

import (
	"context"
	"fmt"

	herald "github.com/heraldhq/herald"
)

// PutIntegration stores in with its client and webhook secrets encrypted,
// each bound to its environment, integration and field; in itself is left
// as it is.
func (s *Store) PutIntegration(ctx context.Context, in *herald.Integration) (bool, error) {
	if s.keys.Len() == 0 {
		return s.Store.PutIntegration(ctx, in)
	}
	enc := *in
	var err error
	if enc.ClientSecret, err = s.sealSecret(in, "client_secret", in.ClientSecret); err != nil {
		return false, err
	}
	if enc.WebhookSecret, err = s.sealSecret(in, "webhook_secret", in.WebhookSecret); err != nil {
		return false, err
	}
	created, err := s.Store.PutIntegration(ctx, &enc)
	in.CreatedAt, in.UpdatedAt = enc.CreatedAt, enc.UpdatedAt
	return created, err
}

// Integration loads one integration, its secrets decrypted.
func (s *Store) Integration(ctx context.Context, envID, key string) (*herald.Integration, error) {
	in, err := s.Store.Integration(ctx, envID, key)
	if err != nil {
		return nil, err
	}
	return s.openIntegration(in)
}

// ListIntegrations lists integrations, their secrets decrypted.
func (s *Store) ListIntegrations(ctx context.Context, envID string, page herald.Page) ([]herald.Integration, error) {
	ins, err := s.Store.ListIntegrations(ctx, envID, page)
	if err != nil {
		return nil, err
	}
	for i := range ins {
		in, err := s.openIntegration(&ins[i])
		if err != nil {
			return nil, err
		}
		ins[i] = *in
	}
	return ins, nil
}

func secretAAD(in *herald.Integration, field string) string {
	return in.EnvironmentID + "\x00integration\x00" + in.ProviderConfigKey + "\x00" + field
}

func (s *Store) sealSecret(in *herald.Integration, field, plaintext string) (string, error) {
	if plaintext == "" {
		return "", nil
	}
	enc, err := s.keys.seal(plaintext, secretAAD(in, field))
	if err != nil {
		return "", fmt.Errorf("integration %s: %w", in.ProviderConfigKey, err)
	}
	return enc, nil
}

// openIntegration returns a copy of in with its secrets in plaintext. With
// no keyring, secrets are stored and read as given.
func (s *Store) openIntegration(in *herald.Integration) (*herald.Integration, error) {
	out := *in
	if s.keys.Len() == 0 {
		return &out, nil
	}
	var err error
	if out.ClientSecret, err = s.keys.open(in.ClientSecret, secretAAD(in, "client_secret")); err != nil {
		return nil, fmt.Errorf("crypt: integration %s: client secret: %w", in.ProviderConfigKey, err)
	}
	if out.WebhookSecret, err = s.keys.open(in.WebhookSecret, secretAAD(in, "webhook_secret")); err != nil {
		return nil, fmt.Errorf("crypt: integration %s: webhook secret: %w", in.ProviderConfigKey, err)
	}
	return &out, nil
}
