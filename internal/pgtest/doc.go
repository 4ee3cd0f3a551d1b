// Package pgtest gives tests their own PostgreSQL schema on the test
// server (127.0.0.1:5432, database test, or HERALD_TEST_POSTGRES_URL), so
// that runs never collide.
//
// When HERALD_TEST_POSTGRES=required (as in CI) a server that cannot be
// reached fails the test; otherwise the test is skipped with the reason.
package pgtest
