package nango

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxBody is the body size a Verifier reads when MaxBody is 0:
// 8 MiB, the largest body herald sends (an event posted in a batch, or a
// provider's webhook forwarded under an integration's max_body_bytes).
const DefaultMaxBody = 8 << 20

// Scheme is a set of signature schemes, for [Verifier.Require].
type Scheme uint8

// The signature schemes herald sends (see docs/webhooks.md).
const (
	// SchemeHMAC is X-Nango-Hmac-Sha256: hex HMAC-SHA256 of the body. herald
	// and Nango always send it.
	SchemeHMAC Scheme = 1 << iota
	// SchemeLegacy is X-Nango-Signature: hex SHA-256 of key and body. herald
	// and Nango always send it; it is weaker than SchemeHMAC and only
	// decides when X-Nango-Hmac-Sha256 is absent.
	SchemeLegacy
	// SchemeStandard is the Standard Webhooks headers webhook-id,
	// webhook-timestamp and webhook-signature, sent by herald when the
	// environment has standard_webhooks on. The only scheme whose signature
	// covers a timestamp, hence the only one that refuses replays.
	SchemeStandard
)

// String names the headers of the schemes in s, e.g.
// "X-Nango-Hmac-Sha256+webhook-signature".
func (s Scheme) String() string {
	var names []string
	for _, x := range []struct {
		s    Scheme
		name string
	}{{SchemeHMAC, HeaderHMAC}, {SchemeLegacy, HeaderLegacySignature}, {SchemeStandard, HeaderStandardSignature}} {
		if s&x.s != 0 {
			names = append(names, x.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "+")
}

// Verifier checks the signatures of incoming webhooks and decodes them. Its
// zero value with Key set accepts what herald and Nango send. A Verifier
// must not be changed once in use; it is safe for concurrent use.
//
// Which signature is checked: the strongest one the request carries. The
// Standard Webhooks headers when webhook-signature is present (their
// signature covers webhook-timestamp, which must be within Tolerance, and
// during herald's 24 hours of rotation grace they carry the old key's
// entry too); else X-Nango-Hmac-Sha256; else the legacy X-Nango-Signature.
// A request with none of them is refused with ErrNoSignature. The schemes
// in Require must be present too, and are checked as well: with herald's
// standard_webhooks on, Require: SchemeStandard refuses a replayed request
// whose Standard Webhooks headers were stripped to fall back on the HMAC.
type Verifier struct {
	// Key is the environment's webhook_signing_key (GET /environment), as
	// herald prints it, or its "whsec_" form.
	Key string
	// PreviousKeys are also accepted, in every scheme. herald signs each
	// attempt with the key current when it starts: after a rotation, put
	// the new key in Key and the old one here for a while, so that an
	// attempt started before the rotation is not refused.
	PreviousKeys []string
	// Require lists schemes that must be present and match, besides the
	// one that decides. 0 requires none in particular. SchemeHMAC turns
	// the fallback to X-Nango-Signature off, as @nangohq/node's
	// verifyIncomingWebhookRequest has none.
	Require Scheme
	// Tolerance bounds how far webhook-timestamp may be from Now, either
	// way (DefaultTolerance, 5 minutes, when 0).
	Tolerance time.Duration
	// MaxBody is the longest body read; a longer one is refused with
	// ErrBodyTooLarge (413) before anything is verified. 0 means
	// DefaultMaxBody (8 MiB, the most herald sends); negative means no
	// limit. Lower it when your producer never sends that much.
	MaxBody int64
	// Now is the clock for webhook-timestamp; time.Now when nil.
	Now func() time.Time
	// ErrorHandler answers a request that the middleware refuses. When nil,
	// the answer is HTTPStatus(err) with a short plain-text reason. It is
	// also the place to log refusals.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// keys returns the keys to try, or ErrNoKey.
func (v *Verifier) keys() ([]string, error) {
	keys := make([]string, 0, 1+len(v.PreviousKeys))
	for _, k := range append([]string{v.Key}, v.PreviousKeys...) {
		if k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, ErrNoKey
	}
	return keys, nil
}

// VerifySignature checks the signatures in h over body, the raw request
// body exactly as received, as described at [Verifier], and returns the
// schemes it checked. For a caller that already holds the body (a
// framework other than net/http, a queue); [Verifier.Verify] reads it from
// an *http.Request.
//
// Errors match ErrNoSignature, ErrBadSignature, ErrTimestampOutOfTolerance
// or ErrNoKey.
func (v *Verifier) VerifySignature(h http.Header, body []byte) (Scheme, error) {
	keys, err := v.keys()
	if err != nil {
		return 0, err
	}
	var present Scheme
	if h.Get(HeaderHMAC) != "" {
		present |= SchemeHMAC
	}
	if h.Get(HeaderLegacySignature) != "" {
		present |= SchemeLegacy
	}
	if h.Get(HeaderStandardSignature) != "" {
		present |= SchemeStandard
	}
	if missing := v.Require &^ present; missing != 0 {
		return 0, fmt.Errorf("%w: %s required", ErrNoSignature, missing)
	}
	// The strongest signature present decides: the Standard Webhooks one
	// covers a timestamp, and during a rotation carries the old key's
	// entry too; the legacy hash only stands in for a missing HMAC.
	var check Scheme
	switch {
	case present&SchemeStandard != 0:
		check = SchemeStandard
	case present&SchemeHMAC != 0:
		check = SchemeHMAC
	case present&SchemeLegacy != 0:
		check = SchemeLegacy
	default:
		return 0, fmt.Errorf("%w: none of %s present", ErrNoSignature, SchemeHMAC|SchemeLegacy|SchemeStandard)
	}
	check |= v.Require
	// A key given in "whsec_" form signs the Nango headers with its decoded
	// bytes, which are the raw key's.
	if check&SchemeHMAC != 0 && !anyKey(keys, func(k string) bool {
		return verifyHex(h.Get(HeaderHMAC), hmacSHA256(standardKey(k), body))
	}) {
		return 0, fmt.Errorf("%w: %s", ErrBadSignature, HeaderHMAC)
	}
	if check&SchemeLegacy != 0 && !anyKey(keys, func(k string) bool {
		return verifyHex(h.Get(HeaderLegacySignature), legacyHash(string(standardKey(k)), body))
	}) {
		return 0, fmt.Errorf("%w: %s", ErrBadSignature, HeaderLegacySignature)
	}
	if check&SchemeStandard != 0 {
		if err := v.verifyStandard(keys, h, body); err != nil {
			return 0, err
		}
	}
	return check, nil
}

// anyKey reports whether ok holds for one of keys, trying them all so that
// the time taken does not depend on which one matched.
func anyKey(keys []string, ok func(key string) bool) bool {
	match := false
	for _, k := range keys {
		if ok(k) {
			match = true
		}
	}
	return match
}

// verifyHex compares a hex header (either case, as Node's Buffer.from(x,
// "hex") reads it) with want in constant time.
func verifyHex(header string, want []byte) bool {
	got, err := hex.DecodeString(strings.TrimSpace(header))
	return err == nil && hmac.Equal(got, want)
}

func (v *Verifier) verifyStandard(keys []string, h http.Header, body []byte) error {
	id := h.Get(HeaderStandardID)
	if id == "" {
		return fmt.Errorf("%w: %s missing", ErrBadSignature, HeaderStandardID)
	}
	ts, err := strconv.ParseInt(strings.TrimSpace(h.Get(HeaderStandardTimestamp)), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s missing or not an integer", ErrBadSignature, HeaderStandardTimestamp)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	err = VerifyStandard(keys, id, ts, body, h.Get(HeaderStandardSignature), now(), v.Tolerance)
	if errors.Is(err, ErrBadSignature) || errors.Is(err, ErrNoSignature) {
		return fmt.Errorf("%w: %s", err, HeaderStandardSignature)
	}
	return err
}

// Verify reads r's body (at most MaxBody bytes), checks its signatures with
// VerifySignature and decodes it with [Decode]. It returns the webhook and
// the raw body, and leaves r.Body readable again from the start. For
// receivers that do not use [Verifier.Middleware]; answer an error with
// [HTTPStatus].
//
// Errors match ErrBodyTooLarge, ErrNoSignature, ErrBadSignature,
// ErrTimestampOutOfTolerance, ErrInvalidBody or ErrNoKey, or are the error
// of reading the body.
func (v *Verifier) Verify(r *http.Request) (Webhook, []byte, error) {
	return v.verify(r, nil, r)
}

// verify is Verify; with w set, the body is read through
// http.MaxBytesReader, which makes the server close the connection after a
// body that is too large instead of reading the rest of it. The body, once
// read, is put back into restore.
func (v *Verifier) verify(r *http.Request, w http.ResponseWriter, restore *http.Request) (Webhook, []byte, error) {
	if _, err := v.keys(); err != nil {
		return nil, nil, err
	}
	body, err := v.readBody(r, w)
	if err != nil {
		return nil, nil, err
	}
	restore.Body = io.NopCloser(bytes.NewReader(body))
	restore.ContentLength = int64(len(body))
	if _, err := v.VerifySignature(r.Header, body); err != nil {
		return nil, body, err
	}
	wh, err := Decode(body)
	if err != nil {
		return nil, body, err
	}
	return wh, body, nil
}

func (v *Verifier) readBody(r *http.Request, w http.ResponseWriter) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return []byte{}, nil
	}
	limit := v.MaxBody
	if limit == 0 {
		limit = DefaultMaxBody
	}
	if limit < 0 {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, fmt.Errorf("nango: read body: %w", err)
		}
		return body, nil
	}
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes, over the limit of %d", ErrBodyTooLarge, r.ContentLength, limit)
	}
	var src io.Reader
	if w != nil {
		src = http.MaxBytesReader(w, r.Body, limit)
	} else {
		src = io.LimitReader(r.Body, limit+1)
	}
	body, err := io.ReadAll(src)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) || int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: over the limit of %d bytes", ErrBodyTooLarge, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("nango: read body: %w", err)
	}
	return body, nil
}

// Middleware returns a handler that verifies and decodes each request as
// [Verifier.Verify] does before it calls next. next finds the webhook with
// [WebhookFrom] and the raw body with [RawBodyFrom], and can also read
// r.Body again. A request that fails is answered by ErrorHandler (by
// default: HTTPStatus(err), i.e. 400, 401 or 413, with a short plain-text
// reason) and next is not called.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The body goes back into a copy of r: a handler does not modify the
		// request it is given.
		r2 := new(http.Request)
		*r2 = *r
		wh, body, err := v.verify(r, w, r2)
		if err != nil {
			if v.ErrorHandler != nil {
				v.ErrorHandler(w, r, err)
				return
			}
			http.Error(w, strings.TrimPrefix(err.Error(), "nango: "), HTTPStatus(err))
			return
		}
		ctx := context.WithValue(r.Context(), receivedKey{}, &received{webhook: wh, body: body})
		next.ServeHTTP(w, r2.WithContext(ctx))
	})
}

type receivedKey struct{}

type received struct {
	webhook Webhook
	body    []byte
}

// WebhookFrom returns the webhook that [Verifier.Middleware] verified and
// decoded for the request whose context is ctx.
func WebhookFrom(ctx context.Context) (Webhook, bool) {
	rc, ok := ctx.Value(receivedKey{}).(*received)
	if !ok {
		return nil, false
	}
	return rc.webhook, true
}

// RawBodyFrom returns the body exactly as received and verified by
// [Verifier.Middleware], for the request whose context is ctx. It must not
// be modified.
func RawBodyFrom(ctx context.Context) ([]byte, bool) {
	rc, ok := ctx.Value(receivedKey{}).(*received)
	if !ok {
		return nil, false
	}
	return rc.body, true
}
