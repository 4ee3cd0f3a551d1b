// Package environments owns the tenants: it creates environments with fresh
// keys, authenticates their secret keys, changes their webhook settings and
// rotates their signing keys. It is the only writer of environments; the
// HTTP layer and the serve command call it, and nothing else decides what a
// valid name, key or setting is.
package environments
