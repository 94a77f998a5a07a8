package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session/wa"
)

// ContactLID is the LID the simulator gives the contact with phone number
// phone (digits, "+" optional): stable, 15 digits, "@lid".
func ContactLID(phone string) string {
	d, _ := digits(phone)
	return "1" + hashDigits("lid:"+d, 14) + "@lid"
}

// maxRestrict bounds a restrict request: 30 days.
const maxRestrict = 30 * 24 * 60 * 60

// restrictRequest is the body of <p>.sim.<t>.restrict.
type restrictRequest struct {
	Seconds *int `json:"seconds"`
}

const upsertRestriction = `INSERT INTO wabus_sim_restriction (tenant, until) VALUES ($1, now() + make_interval(secs => $2))
ON CONFLICT (tenant) DO UPDATE SET until = excluded.until`

const deleteRestriction = `DELETE FROM wabus_sim_restriction WHERE tenant = $1`

// restrict makes simulated WhatsApp refuse, for the given seconds, the
// tenant's messages to numbers it never wrote to nor heard from: body
// {"seconds": n}, 0 <= n <= 30 days (0 lifts it). The restriction is the
// simulated server's state, in Postgres: it holds whichever worker sends.
func (d *Driver) restrict(ctx context.Context, tenant string, body []byte) error {
	var req restrictRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Seconds == nil || *req.Seconds < 0 || *req.Seconds > maxRestrict {
		return &ctlError{"invalid_request", fmt.Sprintf(`body must be {"seconds": n} with 0 <= n <= %d`, maxRestrict)}
	}
	var err error
	if *req.Seconds == 0 {
		_, err = d.pool.Exec(ctx, deleteRestriction, tenant)
	} else {
		_, err = d.pool.Exec(ctx, upsertRestriction, tenant, float64(*req.Seconds))
	}
	if err != nil {
		return fmt.Errorf("sim: record restriction: %w", err)
	}
	return nil
}

// selectContact reads whether the tenant is restricted now, and whether it
// knows phone (and its chat is LID-addressed).
const selectContact = `SELECT
	EXISTS (SELECT 1 FROM wabus_sim_restriction WHERE tenant = $1 AND until > now()),
	(SELECT lid FROM wabus_sim_contact WHERE tenant = $1 AND phone = $2)`

// recordContact remembers a contact the tenant wrote to or heard from; a
// contact that wrote from a LID-addressed chat stays LID-addressed.
const recordContact = `INSERT INTO wabus_sim_contact (tenant, phone, lid) VALUES ($1, $2, $3)
ON CONFLICT (tenant, phone) DO UPDATE SET lid = wabus_sim_contact.lid OR excluded.lid
WHERE excluded.lid AND NOT wabus_sim_contact.lid`

// contact is what the simulated server knows of a recipient.
type contact struct {
	known, lid bool
}

// lookupContact returns whether the tenant is restricted and what it knows
// of phone.
func (d *Driver) lookupContact(ctx context.Context, tenant, phone string) (restricted bool, c contact, err error) {
	var lid *bool
	if err := d.pool.QueryRow(ctx, selectContact, tenant, phone).Scan(&restricted, &lid); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, contact{}, fmt.Errorf("sim: read contact: %w", err)
	}
	if lid != nil {
		c = contact{known: true, lid: *lid}
	}
	return restricted, c, nil
}

// recordContact remembers phone as a contact of the tenant.
func (d *Driver) recordContact(ctx context.Context, tenant, phone string, lid bool) error {
	if _, err := d.pool.Exec(ctx, recordContact, tenant, phone, lid); err != nil {
		return fmt.Errorf("sim: record contact: %w", err)
	}
	return nil
}

// errRestricted is the simulated 463.
var errRestricted = errors.New("sim: whatsapp refused a message to a new contact (error 463)")

// checkRecipient decides whether the message to phone goes: a restricted
// tenant's message to a new contact is refused with code restricted, after
// reporting wa.Restricted. It returns what the server knows of phone.
func (c *conn) checkRecipient(ctx context.Context, phone string) (contact, error) {
	restricted, known, err := c.d.lookupContact(ctx, c.tenant, phone)
	if err != nil {
		return contact{}, err
	}
	if restricted && !known.known {
		c.h.Handle(wa.Restricted{Reason: "whatsapp refused a message to a new contact (error 463, sim)"})
		return contact{}, &wa.SendError{Code: event.CodeRestricted, Err: errRestricted}
	}
	return known, nil
}

// identities fills the LIDs of an event about phone's chat when WhatsApp
// addresses it by LID.
func identities(phone string, lid bool) (senderLID, chatLID string) {
	if !lid {
		return "", ""
	}
	l := ContactLID(phone)
	return l, l
}
