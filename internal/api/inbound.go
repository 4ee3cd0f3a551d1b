package api

import (
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/google/uuid"

	herald "github.com/heraldhq/herald"
	"github.com/heraldhq/herald/internal/forward"
)

// CodeUnknownEnvironment is the error code of the inbound route for an
// environment that does not exist (SPEC §2).
const CodeUnknownEnvironment = "unknown_environment"

// inboundWebhook is POST /webhook/{environmentId}/{providerConfigKey}, a
// provider's webhook (SPEC §9): public, verified by the provider's own
// signature, answered once it is stored with its forwards.
func (s *Server) inboundWebhook(w http.ResponseWriter, r *http.Request) error {
	envID := r.PathValue("environmentId")
	if _, err := uuid.Parse(envID); err != nil || len(envID) != 36 {
		return errf(http.StatusBadRequest, CodeInvalidURIParams, "environmentId: must be a UUID")
	}
	key, err := pathKey(r, "providerConfigKey")
	if err != nil {
		return err
	}
	env, err := s.store.EnvironmentByID(r.Context(), envID)
	if errors.Is(err, herald.ErrNotFound) {
		return errf(http.StatusNotFound, CodeUnknownEnvironment, "no environment with this id")
	}
	if err != nil {
		return err
	}
	in, err := s.store.Integration(r.Context(), env.ID, key)
	if errors.Is(err, herald.ErrNotFound) {
		return unknownIntegration()
	}
	if err != nil {
		return err
	}
	if ok, wait := s.cfg.Forward.Allow(in); !ok {
		return &apiError{status: http.StatusTooManyRequests, code: CodeTooManyRequests,
			msg: "too many webhooks for this integration; try again later", retryAfter: max(1, int(math.Ceil(wait.Seconds())))}
	}
	body, err := readBody(w, r, in.BodyLimit())
	if err != nil {
		return err
	}
	a, err := s.cfg.Forward.Receive(r.Context(), env, in, &forward.Request{Method: r.Method, URL: requestURL(r),
		Header: r.Header, Body: body})
	var refused *forward.RefusedError
	if errors.As(err, &refused) {
		return unauthorized(refused.Reason)
	}
	if err != nil {
		return err
	}
	if len(a.Body) > 0 {
		w.Header().Set("Content-Type", a.ContentType)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(a.Body)))
	w.WriteHeader(a.Status)
	w.Write(a.Body)
	return nil
}

// requestURL is the address the provider called, as it called it: behind
// a proxy, the scheme and host it forwarded.
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	host := r.Host
	if h := r.Header.Get("X-Forwarded-Host"); h != "" {
		host = h
	}
	return scheme + "://" + host + r.URL.RequestURI()
}
