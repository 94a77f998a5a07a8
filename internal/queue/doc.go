// Package queue owns the job table (wabus_job): the per-tenant send queue
// and the send ledger in one, one row per job from queued through sending
// to sent or failed, ordered per tenant by the job's sequence in the send
// stream. Nothing else writes the table; every statement on it is here.
//
//   - Ingest (internal/ingest) copies jobs out of the send stream with
//     Insert, inside a transaction fenced by its partition lease: a job id
//     the table has already is not queued again (the table is the
//     idempotency window, WA_JOB_RETENTION long).
//   - A tenant's owner takes its next jobs with Claim (through the partial
//     index of live rows, so the time does not grow with the number of
//     tenants or jobs), sends them and records each outcome with Finish: the
//     row and its outbox event (and dead letter) in one statement fenced by
//     the tenant's lease.
//   - Admin cancels queued jobs (Cancel, CancelTenant), lists them (List)
//     and counts what waits (Pending).
//   - The Janitor fails queued jobs past their deadline (expired) and deletes
//     finished rows older than the retention, in small batches.
//
// Statements that search the table are planned for their arguments on
// every run (pgx.QueryExecModeExec) or, for the claim, which runs far more
// often, kept off sequential scans (the writer's Query): a prepared
// statement's generic plan made while the table was small scans all of it
// once it has grown. The owner's outcome is an upsert for the same reason:
// an INSERT finds its conflict through the primary key whatever the plan.
//
// Every outcome that ends a job reports it through the outbox in the same
// transaction: a sent or failed event whose id is derived from tenant and
// job id (so reporting it twice publishes the same id), and for a failure
// a dead letter with the job's original bytes.
package queue
