package crypt

import (
	"context"
	"fmt"
	"maps"

	herald "github.com/heraldhq/herald"
)

// PutOTLP stores cfg with its header values (an OTLP collector's API
// keys) encrypted, each bound to its environment and header name; cfg
// itself is left as it is.
func (s *Store) PutOTLP(ctx context.Context, cfg herald.OTLPConfig) error {
	if s.keys.Len() == 0 || len(cfg.Headers) == 0 {
		return s.Store.PutOTLP(ctx, cfg)
	}
	enc := cfg
	enc.Headers = make(map[string]string, len(cfg.Headers))
	for name, value := range cfg.Headers {
		sealed, err := s.keys.seal(value, otlpAAD(cfg.EnvironmentID, name))
		if err != nil {
			return fmt.Errorf("otlp header %s: %w", name, err)
		}
		enc.Headers[name] = sealed
	}
	return s.Store.PutOTLP(ctx, enc)
}

// OTLP loads an environment's OTLP export, its header values decrypted.
// Values stored before encryption was on are read as they are.
func (s *Store) OTLP(ctx context.Context, envID string) (*herald.OTLPConfig, error) {
	cfg, err := s.Store.OTLP(ctx, envID)
	if err != nil {
		return nil, err
	}
	out := *cfg
	out.Headers = maps.Clone(cfg.Headers)
	for name, value := range cfg.Headers {
		if out.Headers[name], err = s.keys.open(value, otlpAAD(envID, name)); err != nil {
			return nil, fmt.Errorf("crypt: otlp header %s: %w", name, err)
		}
	}
	return &out, nil
}

func otlpAAD(envID, header string) string {
	return envID + "\x00otlp\x00" + header
}
