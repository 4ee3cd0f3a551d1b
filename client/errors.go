package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Error codes herald answers with (docs/errors.md), the Code of an *Error.
const (
	CodeInvalidBody           = "invalid_body"
	CodeInvalidURIParams      = "invalid_uri_params"
	CodeInvalidQueryParams    = "invalid_query_params"
	CodeUnauthorized          = "unauthorized"
	CodeNotFound              = "not_found"
	CodeUnknownEnvironment    = "unknown_environment"
	CodeUnknownProviderConfig = "unknown_provider_config"
	CodeConflict              = "conflict"
	CodePayloadTooLarge       = "payload_too_large"
	CodeMethodNotAllowed      = "method_not_allowed"
	CodeIdempotencyKeyReused  = "idempotency_key_reused"
	CodeTooManyRequests       = "too_many_requests"
	CodeServerError           = "server_error"
	CodeUnavailable           = "unavailable"
)

// Error is an answer of herald other than a 2xx: its HTTP status, and the
// code and message of its error body
// {"error":{"code":"…","message":"…"}}. An answer without that body (a
// proxy's page, say) has an empty Code and, as Message, the status text
// and the start of the body.
type Error struct {
	// StatusCode is the HTTP status, such as 404.
	StatusCode int
	// Code is herald's snake_case error code, such as "not_found"; the
	// Code* constants name them.
	Code string
	// Message is herald's human text; it names the field at fault.
	Message string
	// RetryAfter is the wait the answer's Retry-After asked for (429 and
	// 503); 0 when it had none.
	RetryAfter time.Duration
}

// Error returns "herald: <status> <code>: <message>".
func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("herald: %d: %s", e.StatusCode, e.Message)
	}
	return fmt.Sprintf("herald: %d %s: %s", e.StatusCode, e.Code, e.Message)
}

// newError reads the error body b of an answer with status.
func newError(status int, header http.Header, b []byte) *Error {
	e := &Error{StatusCode: status, RetryAfter: parseRetryAfter(header.Get("Retry-After"), time.Now())}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &body) == nil && body.Error.Code != "" {
		e.Code, e.Message = body.Error.Code, body.Error.Message
		return e
	}
	e.Message = http.StatusText(status)
	if text := strings.TrimSpace(string(b)); text != "" {
		if len(text) > 200 {
			text = text[:200]
			for !utf8.ValidString(text) {
				text = text[:len(text)-1]
			}
			text += "…"
		}
		e.Message += ": " + text
	}
	return e
}

// parseRetryAfter reads a Retry-After value, delay-seconds or an HTTP
// date, as a wait from now; 0 when it is absent, malformed or past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, 1<<31)) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	return max(0, t.Sub(now))
}
