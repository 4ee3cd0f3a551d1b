// Package canonjson parses JSON exactly the way JavaScript's JSON.parse does
// and writes it exactly the way Nango's stringifyStable does (the "stable"
// mode of fast-safe-stringify 2.1.1 running on Node 20), byte for byte.
//
// Webhook receivers verify an HMAC computed over the exact bytes of the body,
// so a service that re-emits Nango-compatible webhooks must reproduce Nango's
// serializer to the byte. Go's encoding/json cannot be used for that because
// it differs from JSON.stringify in several observable ways:
//
//   - it escapes '<', '>', '&', U+2028 and U+2029, which JSON.stringify
//     writes raw;
//   - it sorts object keys by UTF-8 bytes, whereas stringifyStable sorts them
//     by UTF-16 code units and then V8 moves array-index keys ("0", "10", ...)
//     to the front in numeric order;
//   - it formats numbers differently from JavaScript's Number#toString
//     (exponent thresholds, "1e+21" vs "1e21", -0, ...);
//   - it replaces lone surrogate escapes with U+FFFD, which JSON.parse keeps
//     and JSON.stringify writes back as "\udXXX";
//   - it replaces every invalid UTF-8 byte with U+FFFD, whereas TextDecoder
//     replaces each maximal ill-formed subsequence with one U+FFFD;
//   - it keeps "__proto__" keys, which stringifyStable drops.
//
// # Value model
//
// Parse produces plain Go values: nil (JSON null), bool, float64, string,
// []any and map[string]any. Numbers are float64 exactly as JavaScript rounds
// them; literals too large for a float64 become ±Inf (as in JavaScript) and
// are written as null.
//
// Strings are JavaScript strings, i.e. sequences of UTF-16 code units. They
// are held in Go strings as UTF-8, except that a lone surrogate (legal in
// JSON.parse, e.g. "\ud800") is held as WTF-8: the three-byte generalized
// UTF-8 encoding of the surrogate code point (ED A0 80 for U+D800). Invalid
// UTF-8 in the input text is decoded as U+FFFD the way TextDecoder does
// (one replacement character per maximal ill-formed subpart); it is never an
// error.
//
// When writing a Go string, well-formed UTF-8 is written as is, a WTF-8 lone
// surrogate is written as a lowercase "\udXXX" escape, a WTF-8 high surrogate
// immediately followed by a WTF-8 low surrogate is treated as the pair it
// denotes in JavaScript, and any other ill-formed byte sequence is written as
// U+FFFD (again per maximal subpart).
package canonjson
