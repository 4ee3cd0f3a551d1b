package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	herald "github.com/heraldhq/herald"
)

// Error codes (docs/errors.md).
const (
	CodeInvalidBody        = "invalid_body"
	CodeInvalidURIParams   = "invalid_uri_params"
	CodeInvalidQueryParams = "invalid_query_params"
	CodeUnauthorized       = "unauthorized"
	CodeNotFound           = "not_found"
	CodeConflict           = "conflict"
	CodePayloadTooLarge    = "payload_too_large"
	CodeTooManyRequests    = "too_many_requests"
	CodeServerError        = "server_error"
	CodeMethodNotAllowed   = "method_not_allowed"
	CodeUnavailable        = "unavailable"
)

// statusOf maps the domain's error codes to HTTP statuses: the one place
// where a herald.Error becomes a status. ErrorInvalid is invalid_body, the
// input a service sees; the API itself says invalid_uri_params or
// invalid_query_params for the inputs it reads.
var statusOf = map[herald.ErrorCode]int{
	herald.ErrorInvalid:      http.StatusBadRequest,
	herald.ErrorNotFound:     http.StatusNotFound,
	herald.ErrorConflict:     http.StatusConflict,
	herald.ErrorUnauthorized: http.StatusUnauthorized,
	herald.ErrorUnavailable:  http.StatusServiceUnavailable,
	// 422: the request is well formed but contradicts the key's first use.
	herald.ErrorIdempotencyKeyReused: http.StatusUnprocessableEntity,
}

// apiError is an error with its HTTP status and code.
type apiError struct {
	status     int
	code       string
	msg        string
	retryAfter int // seconds, for 429/503
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func errf(status int, code, msg string) *apiError {
	return &apiError{status: status, code: code, msg: msg}
}

func badBody(msg string) *apiError { return errf(http.StatusBadRequest, CodeInvalidBody, msg) }

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeJSON writes v without HTML escaping, so that an embedded webhook
// body (json.RawMessage) comes out byte for byte as it was sent and signed.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		writeRaw(w, http.StatusInternalServerError, []byte(`{"error":{"code":"server_error","message":"could not encode the response"}}`))
		return
	}
	writeRaw(w, status, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// writeError writes err as the error envelope (docs/errors.md). Errors that are not
// *apiError are logged and answered as 500 without their text.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var he *herald.Error
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &he) && he.Code == herald.ErrorUnavailable:
		s.log.Warn("database unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = &apiError{status: http.StatusServiceUnavailable, code: CodeUnavailable,
			msg: "the database is unavailable; nothing was stored, try again", retryAfter: 1}
	case errors.As(err, &he) && statusOf[he.Code] != 0:
		ae = errf(statusOf[he.Code], string(he.Code), he.Error())
		if he.Code == herald.ErrorInvalid {
			ae.code = CodeInvalidBody
		}
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = errf(http.StatusInternalServerError, CodeServerError, "internal error")
	}
	if ae.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	}
	var body errorBody
	body.Error.Code, body.Error.Message = ae.code, ae.msg
	writeJSON(w, ae.status, body)
}

// jsonErrorWriter turns the mux's plain-text 404 and 405 into the envelope.
type jsonErrorWriter struct {
	http.ResponseWriter
	replaced bool
}

func (w *jsonErrorWriter) WriteHeader(code int) {
	if code == http.StatusNotFound || code == http.StatusMethodNotAllowed {
		w.replaced = true
		var body errorBody
		body.Error.Code, body.Error.Message = CodeNotFound, "no such route"
		if code == http.StatusMethodNotAllowed {
			body.Error.Code, body.Error.Message = CodeMethodNotAllowed, "method not allowed on this route"
		}
		h := w.Header()
		h.Del("X-Content-Type-Options")
		b, _ := json.Marshal(body)
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(b)))
		w.ResponseWriter.WriteHeader(code)
		w.ResponseWriter.Write(b)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *jsonErrorWriter) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}
