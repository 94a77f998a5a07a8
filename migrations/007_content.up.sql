-- v2 contents. An edit or a revoke names its target by WhatsApp message id,
-- and the job table is what knows which ids a tenant sent: this index finds
-- a tenant's sent job by its message id.
CREATE INDEX wabus_job_message ON wabus_job (tenant, message_id) WHERE message_id <> '';

-- The simulator's inbound messages may carry a content object of a send
-- job (reaction, location, poll...) instead of text: kind and object.
ALTER TABLE wabus_sim_inbound
    ADD COLUMN kind    text NOT NULL DEFAULT 'text',
    ADD COLUMN content jsonb;
