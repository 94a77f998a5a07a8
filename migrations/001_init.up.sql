-- Tenants and their session state: one row per WhatsApp account.
CREATE TABLE wabus_tenant (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- send rate override in messages a minute (NULL: the worker's default)
    send_rate   double precision CHECK (send_rate >= 0),
    send_burst  integer CHECK (send_burst >= 1),
    -- the whatsmeow device row (whatsmeow_device.jid) while paired
    device_jid  text,
    state       text NOT NULL DEFAULT 'unpaired' CHECK (state IN
                ('unpaired', 'pairing', 'connecting', 'connected', 'disconnected', 'banned', 'logged_out')),
    jid         text NOT NULL DEFAULT '',
    worker      text NOT NULL DEFAULT '',
    since       timestamptz NOT NULL DEFAULT now(),
    last_error  text NOT NULL DEFAULT '',
    reconnects  bigint NOT NULL DEFAULT 0,
    ban_expires timestamptz
);

-- Epochs only ever grow, across all tenants, so a fenced write can never be
-- confused by a lease that was deleted and created again.
CREATE SEQUENCE wabus_lease_epoch;

-- Ownership: exactly one live worker owns a tenant. A write that matters
-- carries the epoch it was granted and only succeeds while that epoch holds.
CREATE TABLE wabus_lease (
    tenant     text PRIMARY KEY REFERENCES wabus_tenant (id) ON DELETE CASCADE,
    owner      text NOT NULL,
    epoch      bigint NOT NULL DEFAULT nextval('wabus_lease_epoch'),
    expires_at timestamptz NOT NULL
);
CREATE INDEX wabus_lease_owner ON wabus_lease (owner);

-- Live workers, for a fair share of tenants and for routing control requests.
CREATE TABLE wabus_worker (
    id          text PRIMARY KEY,
    ctl_subject text NOT NULL,
    seen_at     timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

-- The send ledger: one row per job that reached a terminal outcome or an attempt.
CREATE TABLE wabus_send (
    tenant     text NOT NULL,
    job_id     text NOT NULL,
    message_id text NOT NULL DEFAULT '',
    status     text NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
    attempts   integer NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    event_id   text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, job_id)
);

-- The outbox: events waiting to be published to JetStream. Rows are written
-- in the transaction of the change they report and deleted once NATS acked them.
CREATE TABLE wabus_outbox (
    seq        bigserial PRIMARY KEY,
    event_id   text NOT NULL,
    subject    text NOT NULL,
    payload    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Wake the relays as soon as a transaction that wrote events commits.
CREATE FUNCTION wabus_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wabus_outbox', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER wabus_outbox_notify AFTER INSERT ON wabus_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION wabus_outbox_notify();
