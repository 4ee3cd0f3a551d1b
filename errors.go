package herald

import "errors"

// ErrorCode classifies an Error. The HTTP layer maps each code to a status
// in one place; nothing else decides a status.
type ErrorCode string

// Error codes.
const (
	// ErrorInvalid: the input breaks a rule; Field names the input.
	ErrorInvalid ErrorCode = "invalid"
	// ErrorNotFound: no such thing, or it belongs to another environment.
	ErrorNotFound ErrorCode = "not_found"
	// ErrorConflict: a unique name or key is taken.
	ErrorConflict ErrorCode = "conflict"
	// ErrorUnauthorized: the credentials are missing or wrong.
	ErrorUnauthorized ErrorCode = "unauthorized"
	// ErrorUnavailable: the database cannot be reached or written for now;
	// nothing was stored and the same request may be retried.
	ErrorUnavailable ErrorCode = "unavailable"
	// ErrorIdempotencyKeyReused: an Idempotency-Key came again with a
	// different request; nothing was stored.
	ErrorIdempotencyKeyReused ErrorCode = "idempotency_key_reused"
)

// Error is herald's one error type with a code. Services return it for
// every failure a caller can act on; any other error is internal.
type Error struct {
	Code ErrorCode
	// Field is the input at fault, as a dotted path ("retry.max_retries"),
	// or "" when the error is not about one field.
	Field string
	// Message is for people: what is wrong, without the field name.
	Message string
}

// Error returns "<field>: <message>", or the message alone.
func (e *Error) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Is reports whether target is an *Error with the same code and no field
// of its own, so that errors.Is(err, ErrNotFound) matches every not-found
// error, whatever its message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Field == ""
}

// Invalid returns an ErrorInvalid error about field.
func Invalid(field, message string) *Error {
	return &Error{Code: ErrorInvalid, Field: field, Message: message}
}

// Sentinel errors, for errors.Is and for stores to return or wrap.
var (
	// ErrNotFound: the row does not exist, or belongs to another environment.
	ErrNotFound = &Error{Code: ErrorNotFound, Message: "not found"}
	// ErrConflict: a unique constraint (such as an environment name) was violated.
	ErrConflict = &Error{Code: ErrorConflict, Message: "conflict"}
	// ErrUnavailable wraps store errors caused by a database that cannot be
	// reached (down, restarting, closed). The API answers 503 for them.
	ErrUnavailable = &Error{Code: ErrorUnavailable, Message: "database unavailable"}
	// ErrEnvironmentDeleted: the environment was deleted while a request of
	// its own was on the way (another process deleted it): the caller's key
	// is no longer valid.
	ErrEnvironmentDeleted = &Error{Code: ErrorUnauthorized, Message: "invalid secret key: the environment was deleted"}
	// ErrIdempotencyKeyReused: the key was first used with another request.
	ErrIdempotencyKeyReused = &Error{Code: ErrorIdempotencyKeyReused,
		Message: "this Idempotency-Key was used with a different request in the last 24 hours"}
)

// ErrorCodeOf returns the code of the first *Error in err's chain, or "" for
// an internal error.
func ErrorCodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
