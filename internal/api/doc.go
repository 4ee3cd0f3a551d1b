// Package api is herald's HTTP layer (docs/README.md): routes, the
// authentication middleware, request limits, and the error envelope, with
// the one mapping from herald.Error codes to HTTP statuses. It owns no
// domain rule: environments go to internal/environments, events to
// internal/intake, and reads to herald.Store.
//
// It holds the one root mux of the process. Other parts mount on it with
// Server.Mount (the web console at /ui/, /metrics), so every route shares
// the JSON 404/405 envelope and the panic guard.
package api
