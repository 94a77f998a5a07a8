-- The job table: every send job, from the moment an ingest consumer copies
-- it out of the send stream until its outcome is older than the retention
-- (WA_JOB_RETENTION). It is both the per-tenant queue and the ledger, and
-- replaces wabus_send. Only internal/queue writes it.
CREATE TABLE wabus_job (
    tenant     text NOT NULL,
    job_id     text NOT NULL,
    -- the job's sequence in the send stream: a tenant's jobs are sent in
    -- this order (0 for ledger rows carried over from wabus_send)
    seq        bigint NOT NULL,
    status     text NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    -- the job as published; dropped once the job is done
    payload    bytea,
    recipient  text NOT NULL DEFAULT '',
    kind       text NOT NULL DEFAULT '',
    attempts   integer NOT NULL DEFAULT 0,
    code       text NOT NULL DEFAULT '',
    last_error text NOT NULL DEFAULT '',
    message_id text NOT NULL DEFAULT '',
    -- the JID WhatsApp delivered a sent job to (a LID once WhatsApp
    -- addresses the contact by it)
    to_jid     text NOT NULL DEFAULT '',
    -- publish time (the stream's timestamp)
    created_at timestamptz NOT NULL,
    -- past it a queued job fails with code expired
    expires_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- WhatsApp's timestamp of a sent job
    sent_at    timestamptz,
    PRIMARY KEY (tenant, job_id)
);

-- A tenant's next job: only live rows are in it, so finding the next one
-- does not depend on how many jobs the table holds.
CREATE INDEX wabus_job_next ON wabus_job (tenant, seq) WHERE status IN ('queued', 'sending');
-- A tenant's finished jobs newest first (with wabus_job_next, for GET
-- /v1/sessions/{tenant}/jobs). It covers only finished rows, so that no
-- plan of the claim can walk it.
CREATE INDEX wabus_job_history ON wabus_job (tenant, seq) WHERE status IN ('sent', 'failed');
-- Queued jobs by deadline, for the expiry sweep.
CREATE INDEX wabus_job_expiry ON wabus_job (expires_at) WHERE status = 'queued';
-- Finished jobs by age, for the retention sweep.
CREATE INDEX wabus_job_done ON wabus_job (updated_at) WHERE status IN ('sent', 'failed');

-- The ledger so far becomes finished rows, so a job already sent is still
-- never sent again.
INSERT INTO wabus_job (tenant, job_id, seq, status, recipient, attempts, code, last_error, message_id,
                       created_at, expires_at, updated_at, sent_at)
SELECT tenant, job_id, 0, CASE WHEN status = 'sent' THEN 'sent' ELSE 'failed' END, recipient, attempts,
       CASE WHEN status = 'sent' THEN '' WHEN code = '' THEN 'send_failed' ELSE code END,
       last_error, message_id, created_at, created_at, updated_at, sent_at
FROM wabus_send;
DROP TABLE wabus_send;

-- Ingest partitions: who copies which partition of the send stream into
-- wabus_job. Fenced like tenant leases, with epochs from the same sequence.
CREATE TABLE wabus_ingest_lease (
    part       integer PRIMARY KEY CHECK (part >= 0),
    owner      text NOT NULL,
    epoch      bigint NOT NULL DEFAULT nextval('wabus_lease_epoch'),
    expires_at timestamptz NOT NULL
);

-- A paused tenant stays connected but sends nothing; its jobs wait.
ALTER TABLE wabus_tenant ADD COLUMN paused boolean NOT NULL DEFAULT false;
