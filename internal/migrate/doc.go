// Package migrate reads a store's embedded schema migrations: files named
// NNNN_description.sql, applied in version order. Each store applies them
// with its own SQL dialect and locking.
package migrate
