package nango

import (
	"errors"
	"net/http"
)

// Errors of verification and decoding. Test for them with errors.Is: the
// Verifier wraps them with the detail of what failed (which header, which
// scheme), and ErrTimestampTooOld and ErrTimestampTooNew both match
// ErrTimestampOutOfTolerance. [HTTPStatus] maps each to the status the
// middleware answers.
var (
	// ErrNoSignature means the request carries no signature that could be
	// checked: none of the accepted headers, or not one the Verifier
	// requires. From VerifyStandard: the webhook-signature header holds no
	// well-formed "v1," entry. It is usually a sender that is not herald
	// or Nango, or an environment without standard_webhooks where a
	// Verifier requires SchemeStandard.
	ErrNoSignature = errors.New("nango: no webhook signature")

	// ErrBadSignature means a signature is present but does not match the
	// body under any of the keys: a wrong or outdated signing key, or a body
	// changed on the way (a proxy that re-encodes JSON, a framework that
	// parsed and re-serialized it). A malformed signature header (not hex,
	// no webhook-id, a webhook-timestamp that is not an integer) is
	// reported as this error too.
	ErrBadSignature = errors.New("nango: webhook signature does not match")

	// ErrSignatureMismatch is ErrBadSignature under its earlier name; the
	// two are the same value.
	ErrSignatureMismatch = ErrBadSignature

	// ErrTimestampOutOfTolerance means webhook-timestamp is further from
	// the receiver's clock than the tolerance allows, either way: a
	// replayed request, or a clock that is off.
	ErrTimestampOutOfTolerance = errors.New("nango: webhook timestamp outside tolerance")

	// ErrTimestampTooOld means webhook-timestamp is further in the past
	// than the tolerance: possibly a replay. It matches
	// ErrTimestampOutOfTolerance.
	ErrTimestampTooOld error = &kindError{"nango: webhook timestamp too old", ErrTimestampOutOfTolerance}

	// ErrTimestampTooNew means webhook-timestamp is further in the future
	// than the tolerance. It matches ErrTimestampOutOfTolerance.
	ErrTimestampTooNew error = &kindError{"nango: webhook timestamp too far in the future", ErrTimestampOutOfTolerance}

	// ErrBodyTooLarge means the request body is longer than the Verifier's
	// MaxBody. Nothing was verified.
	ErrBodyTooLarge = errors.New("nango: request body too large")

	// ErrInvalidBody means a verified body is not a webhook at all: not
	// JSON, not a JSON object, or without a string "type". [Decode] wraps
	// it around the *canonjson.SyntaxError of a body that is not JSON.
	ErrInvalidBody = errors.New("nango: invalid webhook body")

	// ErrNoKey means the Verifier was given no signing key: a
	// configuration error on the receiving side, never the sender's.
	ErrNoKey = errors.New("nango: no webhook signing key configured")
)

// kindError is a sentinel that also matches a broader one with errors.Is.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// HTTPStatus returns the status a receiver should answer for an error of
// [Verifier.Verify] or [Decode], as the middleware does: 413 for
// ErrBodyTooLarge; 401 for ErrNoSignature, ErrBadSignature and
// ErrTimestampOutOfTolerance; 500 for ErrNoKey; 400 for anything else
// (ErrInvalidBody, a body that could not be read); 200 for nil.
//
// Any non-2xx answer makes herald (and Nango) retry the webhook under the
// environment's retry policy, and herald logs the first 4 KiB of the
// answer with the attempt.
func HTTPStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrNoSignature), errors.Is(err, ErrBadSignature), errors.Is(err, ErrTimestampOutOfTolerance):
		return http.StatusUnauthorized
	case errors.Is(err, ErrNoKey):
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}
