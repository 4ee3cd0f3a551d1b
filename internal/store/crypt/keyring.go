package crypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// KeySize is the size of an encryption key in bytes (AES-256).
const KeySize = 32

// prefix starts every encrypted value; what follows is the key id, a colon
// and the base64 (standard, padded) of nonce || ciphertext || tag.
const prefix = "enc:v1:"

// idLen is the length of a key id: 8 hex digits.
const idLen = 8

// Errors that reading an encrypted value can wrap.
var (
	// ErrUnknownKey: the value was encrypted with a key that is not in the
	// keyring (it was removed from HERALD_ENCRYPTION_KEY too early, or
	// none is set).
	ErrUnknownKey = errors.New("encrypted with a key that is not in the keyring")
	// ErrCorrupt: the value does not decrypt with the key it names: it was
	// altered, copied from another environment, or is malformed.
	ErrCorrupt = errors.New("ciphertext does not decrypt (altered, copied from another environment, or malformed)")
)

// Keyring is the list of encryption keys, newest first. The zero value
// holds no key. Printing a Keyring shows the key ids only. Keyrings are
// comparable (so is a configuration holding one): two are equal when both
// are empty or both come from the same ParseKeys call.
type Keyring struct {
	r *ring
}

type ring struct {
	keys []key
}

// list returns the keys, newest first.
func (k Keyring) list() []key {
	if k.r == nil {
		return nil
	}
	return k.r.keys
}

type key struct {
	id   string // first 8 hex digits of SHA-256(key)
	aead cipher.AEAD
}

// ParseKeys reads HERALD_ENCRYPTION_KEY: base64 32-byte keys (standard
// base64, or URL-safe base64 without padding), comma-separated, newest
// first. Spaces around a key are ignored. An error names the position of
// the bad key, never its content.
func ParseKeys(s string) (Keyring, error) {
	if strings.TrimSpace(s) == "" {
		return Keyring{}, errors.New("no key: want base64 32-byte keys, comma-separated, newest first")
	}
	items := strings.Split(s, ",")
	var keys []key
	var raws [][]byte
	defer func() {
		for _, r := range raws {
			clear(r)
		}
	}()
	for i, item := range items {
		pos := fmt.Sprintf("key %d of %d", i+1, len(items))
		item = strings.TrimSpace(item)
		if item == "" {
			return Keyring{}, fmt.Errorf("%s is empty", pos)
		}
		raw, ok := decodeKey(item)
		if !ok {
			return Keyring{}, fmt.Errorf("%s is not base64 (standard, or URL-safe without padding)", pos)
		}
		raws = append(raws, raw)
		if len(raw) != KeySize {
			return Keyring{}, fmt.Errorf("%s decodes to %d bytes, want %d", pos, len(raw), KeySize)
		}
		for j, r := range raws[:i] {
			if subtle.ConstantTimeCompare(r, raw) == 1 {
				return Keyring{}, fmt.Errorf("%s repeats key %d", pos, j+1)
			}
		}
		nk, err := newKey(raw)
		if err != nil {
			return Keyring{}, fmt.Errorf("%s: %w", pos, err)
		}
		keys = append(keys, nk)
	}
	return Keyring{r: &ring{keys: keys}}, nil
}

func decodeKey(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

func newKey(raw []byte) (key, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return key{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return key{}, err
	}
	return key{id: keyID(raw), aead: aead}, nil
}

// keyID is the short fingerprint that names a key in stored values.
func keyID(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:idLen/2])
}

// Len is the number of keys.
func (k Keyring) Len() int { return len(k.list()) }

// IDs returns the key ids, newest first: the first 8 hex digits of each
// key's SHA-256, as stored values name them.
func (k Keyring) IDs() []string {
	ids := make([]string, len(k.list()))
	for i, key := range k.list() {
		ids[i] = key.id
	}
	return ids
}

// String lists the key ids.
func (k Keyring) String() string {
	return "crypt.Keyring[" + strings.Join(k.IDs(), " ") + "]"
}

// Format prints the key ids whatever the verb, so that no formatting of a
// Keyring (or of a struct holding one) can show key material.
func (k Keyring) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// seal encrypts plaintext with the newest key, bound to aad. The keyring
// must not be empty.
func (k Keyring) seal(plaintext, aad string) (string, error) {
	if len(k.list()) == 0 {
		return "", errors.New("crypt: no encryption key")
	}
	key := k.list()[0]
	buf := make([]byte, key.aead.NonceSize(), key.aead.NonceSize()+len(plaintext)+key.aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("crypt: nonce: %w", err)
	}
	buf = key.aead.Seal(buf, buf, []byte(plaintext), []byte(aad))
	return prefix + key.id + ":" + base64.StdEncoding.EncodeToString(buf), nil
}

// open returns the plaintext of a stored value bound to aad. A value
// without the enc: prefix is plaintext written before encryption was on and
// is returned as it is.
func (k Keyring) open(stored, aad string) (string, error) {
	if !strings.HasPrefix(stored, "enc:") {
		return stored, nil
	}
	rest, ok := strings.CutPrefix(stored, prefix)
	if !ok {
		return "", fmt.Errorf("%w: unknown format version", ErrCorrupt)
	}
	id, b64, ok := strings.Cut(rest, ":")
	if !ok || !isKeyID(id) {
		return "", fmt.Errorf("%w: no key id", ErrCorrupt)
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("%w: not base64", ErrCorrupt)
	}
	found := false
	for _, key := range k.list() {
		if key.id != id {
			continue
		}
		found = true // ids are 32 bits: another key may share one; try each
		ns := key.aead.NonceSize()
		if len(data) < ns+key.aead.Overhead() {
			return "", fmt.Errorf("%w: too short", ErrCorrupt)
		}
		if pt, err := key.aead.Open(nil, data[:ns], data[ns:], []byte(aad)); err == nil {
			return string(pt), nil
		}
	}
	if !found {
		have := "the keyring is empty"
		if len(k.list()) > 0 {
			have = "the keyring has " + strings.Join(k.IDs(), ", ")
		}
		return "", fmt.Errorf("%w: key %s, %s", ErrUnknownKey, id, have)
	}
	return "", fmt.Errorf("%w: fails authentication under key %s", ErrCorrupt, id)
}

func isKeyID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
