package api

import (
	"net/http"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/environments"
)

// otlpView is what GET and PATCH /environment/otlp answer: the headers'
// names only, never their values.
func otlpView(cfg *herald.OTLPConfig) map[string]any {
	if cfg == nil {
		return map[string]any{"endpoint": nil, "headers": []string{}, "span_names": herald.SpanNamesHerald}
	}
	return map[string]any{"endpoint": cfg.Endpoint, "headers": environments.OTLPHeaderNames(cfg),
		"span_names": cfg.SpanNames, "updated_at": timestamp(cfg.UpdatedAt)}
}

func (s *Server) getOTLP(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	cfg, err := s.cfg.Environments.OTLP(r.Context(), env)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, otlpView(cfg))
	return nil
}

func (s *Server) patchOTLP(w http.ResponseWriter, r *http.Request, env *herald.Environment) error {
	v, err := readJSON(w, r, maxAdminBody)
	if err != nil {
		return err
	}
	cfg, err := s.cfg.Environments.UpdateOTLP(r.Context(), env, v)
	if err != nil {
		return err
	}
	s.cfg.Tracing.Forget(env.ID)
	writeJSON(w, http.StatusOK, otlpView(cfg))
	return nil
}
