// Package registry owns integrations and connections (SPEC §8): it checks
// the bodies of their PUT routes and is their only writer. Secrets are
// write-only: they are kept, never returned.
package registry
