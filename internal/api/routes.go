package api

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/heraldhq/herald/docs"
)

// routeMux registers the server's routes on its mux, and records their
// patterns for Routes.
type routeMux struct{ s *Server }

// HandleFunc registers h for pattern, as http.ServeMux.HandleFunc does.
func (m routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.s.handle(pattern, http.HandlerFunc(h))
}

// handle registers h for pattern on the mux and records the pattern.
func (s *Server) handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.routes = append(s.routes, pattern)
}

// Routes returns the patterns of every route registered so far, by New
// and by Mount, in the order they were registered, as http.ServeMux
// patterns ("GET /events/{id}", or "/ui/" for a subtree that takes any
// method). docs/openapi.yaml describes each; the tests compare the two.
// It must not be called concurrently with Mount.
func (s *Server) Routes() []string { return slices.Clone(s.routes) }

// openAPI is GET /openapi.yaml: docs/openapi.yaml, embedded in the binary.
// It takes no key.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/yaml")
	h.Set("Content-Length", strconv.Itoa(len(docs.OpenAPI)))
	w.WriteHeader(http.StatusOK)
	w.Write(docs.OpenAPI)
}
