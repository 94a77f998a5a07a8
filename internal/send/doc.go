// Package send is the send side of a worker: for every tenant whose session
// is connected here it takes the tenant's jobs from the job table
// (internal/queue) in stream order, applies the tenant's rate limit, sends
// each under a WhatsApp message id derived from tenant and job id, and
// records the outcome in the job's row together with its event (and, for
// failures, the dead letter) in one statement fenced by the lease epoch.
//
// A Pipeline also runs what feeds the table: the worker's share of the
// ingest partitions (internal/ingest) and the queue's janitor (expiry and
// retention). Owners are woken by the bell ingest rings after each commit
// (core NATS), and a periodic check of the tenants held here makes up for
// a bell that was lost; nothing polls on the hot path.
//
// A job is never sent twice: a job id already in the table is not queued
// again (ingest re-emits its outcome instead), and a job that was being
// sent when its owner died is sent again by the next owner under the same
// WhatsApp message id, so the recipient sees one message.
package send
