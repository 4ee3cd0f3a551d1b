package nango

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Headers that carry Nango's signatures.
const (
	// HeaderHMAC carries SignHMAC of the body.
	HeaderHMAC = "X-Nango-Hmac-Sha256"
	// HeaderLegacySignature carries SignLegacy of the body. Prefer
	// HeaderHMAC: a plain hash of key and body is weaker than an HMAC.
	HeaderLegacySignature = "X-Nango-Signature"
)

// Standard Webhooks headers (https://www.standardwebhooks.com).
const (
	HeaderStandardID        = "webhook-id"
	HeaderStandardTimestamp = "webhook-timestamp"
	HeaderStandardSignature = "webhook-signature"
)

// DefaultTolerance is the Standard Webhooks timestamp tolerance used when
// VerifyStandard is given none.
const DefaultTolerance = 5 * time.Minute

// SignHMAC returns the X-Nango-Hmac-Sha256 value for body: lowercase hex of
// HMAC-SHA256 keyed with the environment's webhook signing key.
func SignHMAC(key string, body []byte) string {
	return hex.EncodeToString(hmacSHA256([]byte(key), body))
}

// SignLegacy returns the X-Nango-Signature value for body: lowercase hex of
// SHA-256 over the signing key followed by the body.
func SignLegacy(key string, body []byte) string {
	return hex.EncodeToString(legacyHash(key, body))
}

// VerifyHMAC reports whether header is the X-Nango-Hmac-Sha256 signature of
// body under key. body must be the raw request body, exactly as received.
// The comparison takes constant time; a header that is not hex is false.
func VerifyHMAC(key string, body []byte, header string) bool {
	got, err := hex.DecodeString(strings.TrimSpace(header))
	if err != nil {
		return false
	}
	return hmac.Equal(got, hmacSHA256([]byte(key), body))
}

// VerifyLegacy reports whether header is the X-Nango-Signature of body under
// key, in constant time; a header that is not hex is false.
func VerifyLegacy(key string, body []byte, header string) bool {
	got, err := hex.DecodeString(strings.TrimSpace(header))
	if err != nil {
		return false
	}
	return hmac.Equal(got, legacyHash(key, body))
}

// StandardSecret returns the signing key in the Standard Webhooks secret
// form: "whsec_" followed by the standard base64 of the key's UTF-8 bytes.
// Standard Webhooks libraries take this form.
func StandardSecret(key string) string {
	return "whsec_" + base64.StdEncoding.EncodeToString([]byte(key))
}

// SignStandard returns a webhook-signature entry, "v1,<base64>", where the
// base64 is of HMAC-SHA256 keyed with the key's UTF-8 bytes over
// id + "." + timestamp + "." + body. key may also be given in its
// StandardSecret form.
func SignStandard(key, id string, timestamp int64, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(standardMAC(standardKey(key), id, timestamp, body))
}

// VerifyStandard checks Standard Webhooks headers: header is the
// webhook-signature value, id and timestamp come from webhook-id and
// webhook-timestamp. header may hold several space-separated entries (one
// per key during a rotation); it passes when any "v1," entry matches any of
// keys (given raw or in StandardSecret form). Entries of other versions are
// ignored. The timestamp must be within tolerance of now, either way
// (DefaultTolerance when tolerance <= 0). Comparisons take constant time.
//
// It returns nil, ErrTimestampTooOld, ErrTimestampTooNew (both match
// ErrTimestampOutOfTolerance with errors.Is), ErrNoSignature or
// ErrBadSignature (also named ErrSignatureMismatch).
func VerifyStandard(keys []string, id string, timestamp int64, body []byte, header string, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	age := now.Sub(time.Unix(timestamp, 0))
	if age > tolerance {
		return ErrTimestampTooOld
	}
	if age < -tolerance {
		return ErrTimestampTooNew
	}
	var sigs [][]byte
	for _, entry := range strings.Fields(header) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			continue
		}
		sigs = append(sigs, b)
	}
	if len(sigs) == 0 {
		return ErrNoSignature
	}
	match := false
	for _, k := range keys {
		want := standardMAC(standardKey(k), id, timestamp, body)
		for _, got := range sigs {
			if hmac.Equal(got, want) {
				match = true
			}
		}
	}
	if !match {
		return ErrBadSignature
	}
	return nil
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

func legacyHash(key string, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte(key))
	h.Write(body)
	return h.Sum(nil)
}

// standardKey returns the HMAC key bytes: the decoded secret for a key in
// "whsec_" form, else the key's UTF-8 bytes.
func standardKey(key string) []byte {
	if rest, ok := strings.CutPrefix(key, "whsec_"); ok {
		if b, err := base64.StdEncoding.DecodeString(rest); err == nil {
			return b
		}
	}
	return []byte(key)
}

func standardMAC(key []byte, id string, timestamp int64, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, timestamp, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}
