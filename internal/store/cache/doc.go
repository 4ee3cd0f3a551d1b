// Package cache is a decorator of herald.Store that keeps environments
// (settings, signing keys, key hashes) in memory for a short time, so that
// neither authentication nor the dispatcher's attempts read the database for
// every request.
//
// Writes that change an environment go through the decorator, which drops
// the entry itself once the write returns: that is what makes "the new key
// signs every attempt made after the rotation returns" hold in this process,
// without any caller having to remember an invalidation. Changes made by
// another process sharing the database arrive through the store's
// EnvironmentChanges (PostgreSQL LISTEN/NOTIFY) and drop the entry as soon
// as they are heard; the TTL is only a safety net.
//
// Build one per process, over the store, and hand the result to every part
// that reads environments.
package cache
