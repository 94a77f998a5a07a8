// Package testenv gives each integration test real, private services: its
// own Postgres database on the shared server, its own nats-server (the pinned
// binary, on a free port with a temporary store, stoppable and restartable),
// a unique subject prefix, and for fault tests a private Postgres cluster
// that the test may stop and start. It is imported only from _test.go files.
//
// A service that is missing fails the test with a message saying how to
// provide it; tests never skip silently.
package testenv
