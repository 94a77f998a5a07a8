// Package admin is the admin HTTP server (cmd/admin): the routes of
// CONTRACT's "Admin HTTP" section.
//
// Every route but /healthz, /readyz and /metrics needs the bearer token.
// Errors are JSON {"error", "code"} everywhere, unknown routes and wrong
// methods included (the old API's routes add "success": false). A tenant id
// in the path is checked with bus.ValidTenant before it reaches a subject
// or SQL (400 invalid_tenant); request bodies are limited (413 too_large).
//
// Sessions are read through package tenant (tenant.Statuses): a session
// whose state says a worker is busy with it (pairing, connecting, connected)
// while its lease is missing or expired shows "disconnected". pending_jobs
// is the number of jobs waiting in the send stream for the tenant; it is
// null when NATS cannot be asked.
//
// What a session does is asked of the worker that owns the tenant through
// the control protocol (package ctl): pairing, phone pairing, logout and
// reconnect. The pairing stream subscribes to the tenant's pairing subject
// before it asks for pairing, so no code is missed, and turns the pairing
// events into Server-Sent Events.
//
// Send jobs are validated with package job and published to the send stream
// with the job id as Nats-Msg-Id. Inline media too large for one NATS
// message is moved into the media bucket and the job refers to it by
// object. The old API's send routes also wait for the job's sent or failed
// event, like the synchronous Node API did.
package admin
