package herald

import (
	"strings"
	"unicode/utf8"
)

// CheckText is herald's one rule for text that a store keeps as text or
// that a caller filters on (identifiers, keys, query values): it must be
// valid UTF-8 and hold no NUL byte. It is applied before any store sees
// the input, so that every store refuses the same inputs in the same way
// (PostgreSQL refuses NUL and ill-formed UTF-8 in text; SQLite would keep
// them).
//
// A JSON string with a lone surrogate escape ("\udead") is parsed by
// canonjson into WTF-8, which is not valid UTF-8, so it is refused here
// too; "\u0000" becomes a NUL byte.
//
// The error is an ErrorInvalid *Error naming field.
func CheckText(field, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return &Error{Code: ErrorInvalid, Field: field, Message: "must not contain a NUL character (\\u0000)"}
	}
	if !utf8.ValidString(s) {
		return &Error{Code: ErrorInvalid, Field: field,
			Message: "must be valid UTF-8 text (no lone surrogate such as \\udead, no invalid bytes)"}
	}
	return nil
}
