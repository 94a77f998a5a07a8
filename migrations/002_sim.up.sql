-- The simulator's server-side state (WA_DRIVER=sim). Like WhatsApp's own
-- servers it outlives any worker: the live connection of each tenant, and
-- inbound messages not yet acknowledged by a worker.
CREATE TABLE wabus_sim_conn (
    tenant       text PRIMARY KEY,
    worker       text NOT NULL,
    conn_id      text NOT NULL,
    connected_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE wabus_sim_inbound (
    tenant     text NOT NULL,
    id         text NOT NULL,
    sender     text NOT NULL,
    text       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant, id)
);
CREATE INDEX wabus_sim_inbound_order ON wabus_sim_inbound (tenant, created_at);
