// Package ingest copies send jobs out of the send stream into the job table
// (internal/queue), with a fixed number of consumers whatever the number of
// tenants.
//
// The send stream stores a job published on <p>.send.<tenant> under
// <p>.send.<partition>.<tenant> (a subject transform hashing the tenant id
// into bus.SendPartitions partitions), and each partition has one durable
// consumer, ingest-<partition>. The partitions are leased in Postgres
// (wabus_ingest_lease) like tenants are: each live worker holds its fair
// share, renews it, takes over what a dead worker left once its lease
// expired, and fences every commit by the epoch it holds, so exactly one
// worker reads a partition at a time. A worker that takes a partition over
// makes its consumer anew when the old reader left jobs unacknowledged
// (the stream is a work queue, so the new consumer starts at the oldest of
// them): a partition is always read in stream order, and since a tenant's
// jobs are all in one partition, each tenant's order holds across a
// handover.
//
// A batch is validated (what needs no session: malformed JSON, a subject
// without a valid tenant id, a field out of range, a deadline already
// past), inserted in one transaction fenced by the partition lease together
// with the failed events and dead letters of the jobs that failed at once,
// and acknowledged only after the commit. Then the owners of the tenants
// that got jobs are rung on <p>.bell (core NATS, outside the transaction).
//
// Upgrading from the per-tenant consumers of v1: their consumers are
// deleted at start-up, and jobs stored before the stream had its transform
// are taken first by the holder of partition 0 (consumer ingest-v1); the
// other partitions wait until none is left, so a tenant's old jobs are
// queued before its new ones.
package ingest
