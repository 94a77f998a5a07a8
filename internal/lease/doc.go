// Package lease spreads tenants over the live workers and keeps exactly one
// owner per tenant.
//
// Ownership is a row in wabus_lease (owner, epoch, expires_at), read and
// written with Postgres's clock only. A Keeper heartbeats its worker row,
// renews the leases it holds every TTL/5, acquires orphaned tenants (no lease,
// or an expired one) up to its fair share of the paired tenants, and
// releases what it holds beyond that share so a new worker gets its part.
// Every acquisition draws a new epoch from a global sequence; a write that
// matters is fenced by (owner, epoch) and fails once a newer epoch exists.
// A Keeper that cannot renew stops its sessions before its leases can have
// expired, measured on its own monotonic clock.
package lease
