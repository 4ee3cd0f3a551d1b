package api

import (
	"crypto/sha256"
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/google/uuid"
	herald "github.com/heraldhq/herald"
)

// RotationGrace is how long the previous signing key still signs Standard
// Webhooks headers after a rotation.
const RotationGrace = 24 * time.Hour

var envName = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

type environmentJSON struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	SecretKey         string `json:"secret_key,omitempty"`
	WebhookSigningKey string `json:"webhook_signing_key,omitempty"`
	CreatedAt         string `json:"created_at"`
}

// NewEnvironment makes an environment with fresh keys (UUIDv4, as Nango
// generates them) and default settings.
func NewEnvironment(name string) (*herald.Environment, error) {
	id, err := uuid.NewRandom()
	if err != nil {
		return nil, err
	}
	secret, err := uuid.NewRandom()
	if err != nil {
		return nil, err
	}
	signing, err := uuid.NewRandom()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(secret.String()))
	return &herald.Environment{
		ID: id.String(), Name: name, SecretKey: secret.String(), SecretKeyHash: sum[:],
		SigningKey: signing.String(), Settings: herald.DefaultSettings(), CreatedAt: time.Now().UTC().Truncate(time.Millisecond),
	}, nil
}

func (s *Server) createEnvironment(w http.ResponseWriter, r *http.Request) error {
	v, err := readJSON(w, r, maxAdminBody)
	if err != nil {
		return err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return badBody("body must be a JSON object")
	}
	for k := range obj {
		if k != "name" {
			return badBody(k + ": unknown field")
		}
	}
	raw, present := obj["name"]
	name, isString := raw.(string)
	switch {
	case !present:
		return badBody("name: required")
	case !isString:
		return badBody("name: must be a string")
	case !envName.MatchString(name):
		return badBody("name: must match [a-z0-9_-]{1,64}")
	}
	env, err := NewEnvironment(name)
	if err != nil {
		return err
	}
	if err := s.store.CreateEnvironment(r.Context(), env); err != nil {
		if errors.Is(err, herald.ErrConflict) {
			return errf(http.StatusConflict, CodeConflict, "an environment named "+name+" already exists")
		}
		return err
	}
	writeJSON(w, http.StatusCreated, environmentJSON{ID: env.ID, Name: env.Name, SecretKey: env.SecretKey,
		WebhookSigningKey: env.SigningKey, CreatedAt: timestamp(env.CreatedAt)})
	return nil
}

func (s *Server) listEnvironments(w http.ResponseWriter, r *http.Request) error {
	envs, err := s.store.ListEnvironments(r.Context())
	if err != nil {
		return err
	}
	data := make([]environmentJSON, 0, len(envs))
	for _, e := range envs {
		data = append(data, environmentJSON{ID: e.ID, Name: e.Name, CreatedAt: timestamp(e.CreatedAt)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
	return nil
}

func (s *Server) deleteEnvironment(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := uuid.Parse(id); err != nil {
		return errf(http.StatusBadRequest, CodeInvalidURIParams, "id: must be a UUID")
	}
	if err := s.store.DeleteEnvironment(r.Context(), id); err != nil {
		if errors.Is(err, herald.ErrNotFound) {
			return errf(http.StatusNotFound, CodeNotFound, "no environment with this id")
		}
		return err
	}
	s.cfg.Environments.Invalidate(id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getEnvironment(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	writeJSON(w, http.StatusOK, map[string]any{
		"id": env.ID, "name": env.Name, "webhook_settings": env.Settings, "webhook_signing_key": env.SigningKey,
	})
	return nil
}

func (s *Server) patchWebhookSettings(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	v, err := readJSON(w, r, maxAdminBody)
	if err != nil {
		return err
	}
	next, err := herald.ApplySettingsPatch(env.Settings, v)
	if err != nil {
		return badBody(err.Error())
	}
	obj := v.(map[string]any) // ApplySettingsPatch accepted it, so it is an object
	for field, u := range map[string]*string{"primary_url": next.PrimaryURL, "secondary_url": next.SecondaryURL} {
		if _, changed := obj[field]; !changed || u == nil || s.cfg.CheckURL == nil {
			continue
		}
		if err := s.cfg.CheckURL(r.Context(), *u); err != nil {
			return badBody(field + ": " + err.Error())
		}
	}
	if err := s.store.UpdateSettings(r.Context(), env.ID, next); err != nil {
		return err
	}
	s.cfg.Environments.Invalidate(env.ID)
	writeJSON(w, http.StatusOK, next)
	return nil
}

func (s *Server) rotateSigningKey(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	key, err := uuid.NewRandom()
	if err != nil {
		return err
	}
	if err := s.store.RotateSigningKey(r.Context(), env.ID, key.String(), time.Now().Add(RotationGrace)); err != nil {
		return err
	}
	s.cfg.Environments.Invalidate(env.ID)
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]string{"webhook_signing_key": key.String()}})
	return nil
}
