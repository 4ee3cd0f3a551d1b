package forwardtest

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net/http"
)

// HMACSHA256 returns HMAC-SHA256(key, parts…).
func HMACSHA256(key string, parts ...string) []byte { return sum(sha256.New, key, parts) }

// HMACSHA1 returns HMAC-SHA1(key, parts…).
func HMACSHA1(key string, parts ...string) []byte { return sum(sha1.New, key, parts) }

func sum(h func() hash.Hash, key string, parts []string) []byte {
	m := hmac.New(h, []byte(key))
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// Hex is lower-case hex.
func Hex(b []byte) string { return hex.EncodeToString(b) }

// Base64 is standard base64.
func Base64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// JSONHeader returns a header with Content-Type: application/json and the
// given pairs (name, value, name, value, …).
func JSONHeader(pairs ...string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Set(pairs[i], pairs[i+1])
	}
	return h
}
