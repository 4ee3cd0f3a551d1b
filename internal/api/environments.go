package api

import (
	"net/http"

	herald "github.com/heraldhq/herald"
)

type environmentJSON struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	SecretKey         string `json:"secret_key,omitempty"`
	WebhookSigningKey string `json:"webhook_signing_key,omitempty"`
	CreatedAt         string `json:"created_at"`
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
	}
	env, err := s.cfg.Environments.Create(r.Context(), name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, environmentJSON{ID: env.ID, Name: env.Name, SecretKey: env.SecretKey,
		WebhookSigningKey: env.SigningKey, CreatedAt: timestamp(env.CreatedAt)})
	return nil
}

func (s *Server) listEnvironments(w http.ResponseWriter, r *http.Request) error {
	envs, err := s.cfg.Environments.List(r.Context())
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
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := s.cfg.Environments.Delete(r.Context(), id); err != nil {
		return err
	}
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
	next, err := s.cfg.Environments.UpdateSettings(r.Context(), env, v)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, next)
	return nil
}

func (s *Server) rotateSigningKey(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	key, err := s.cfg.Environments.RotateSigningKey(r.Context(), env)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]string{"webhook_signing_key": key}})
	return nil
}
