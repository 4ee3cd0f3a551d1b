// Package docs holds herald's user documentation (the Markdown files of
// this folder, README.md first) and its OpenAPI 3.1 description,
// openapi.yaml, which herald serves at GET /openapi.yaml.
package docs

import _ "embed"

// OpenAPI is openapi.yaml: the OpenAPI 3.1.0 description of every route
// herald serves, with request and response schemas and examples. The
// tests of internal/api check it against the routes the server registers
// and against real answers. Treat it as read-only.
//
//go:embed openapi.yaml
var OpenAPI []byte
