-- The simulator's server-side state for identities and restrictions
-- (WA_DRIVER=sim): what an inbound message says of its sender, the
-- contacts each tenant wrote to or heard from (and whether WhatsApp
-- addresses their chat by LID), and until when WhatsApp refuses a tenant's
-- messages to new contacts (error 463).
ALTER TABLE wabus_sim_inbound
    ADD COLUMN push_name text NOT NULL DEFAULT '',
    ADD COLUMN lid       boolean NOT NULL DEFAULT false;

CREATE TABLE wabus_sim_contact (
    tenant text NOT NULL,
    phone  text NOT NULL,
    lid    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant, phone)
);

CREATE TABLE wabus_sim_restriction (
    tenant text PRIMARY KEY,
    until  timestamptz NOT NULL
);
