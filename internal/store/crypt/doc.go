// Package crypt is a decorator of herald.Store that keeps secrets encrypted
// at rest: environments' signing keys (current and previous), integrations'
// client and webhook secrets and the header values of environments' OTLP
// exports are written sealed with AES-256-GCM, each bound to where it
// belongs, and opened again on every read, so that neither a copy of the
// database nor a backup discloses them.
//
// The keys come from HERALD_ENCRYPTION_KEY (ParseKeys): base64 32-byte keys,
// comma-separated, newest first. Writes use the newest key; reads pick the
// key named in the stored value, so older keys keep decrypting what they
// wrote. A stored value is
//
//	enc:v1:<key id>:<base64 of nonce || ciphertext || tag>
//
// where the key id is the first 8 hex digits of the SHA-256 of the key and
// the environment id is the additional data: a value copied into another
// environment's row does not decrypt. A value without the enc: prefix was
// written before encryption was turned on and is read as it is.
//
// Build one per process, over the store and under internal/store/cache, so
// that the cache holds decrypted environments and decrypts once per TTL.
// Methods that do not touch secrets are the wrapped store's own.
package crypt
