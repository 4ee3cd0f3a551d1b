// Package alert sends herald's own operations events to an environment's
// alert_url (docs/settings.md, Operations events): endpoint.disabled and
// endpoint.enabled, each as a webhook signed with the environment's
// signing key, exactly as deliveries are signed, and sent through the
// same SSRF-guarded egress client.
//
// Sending is best effort: an event is held in memory only, tried up to
// three times, and lost if every attempt fails or the process stops
// before it is sent. It is a notice, never a record; GET /endpoints stays
// the source of truth.
package alert
