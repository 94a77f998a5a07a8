// Package send is the send pipeline: for every tenant whose session is
// connected on this worker it consumes wa.send.<tenant> through a durable
// per-tenant pull consumer (one job in flight, so per-tenant order holds),
// validates the job, applies the tenant's rate limit before fetching the
// next one, sends it under a WhatsApp message id derived from tenant and job
// id, and records the outcome in the send ledger together with its event
// (and, for failures, the dead letter) in one transaction fenced by the
// lease epoch. Only then is the job acknowledged.
//
// A job is never sent twice: a redelivered job whose ledger row says sent is
// acknowledged and its sent event re-emitted with the same event id; a job
// re-sent after a crash between send and ledger carries the same WhatsApp
// message id, so the recipient sees one message.
package send
