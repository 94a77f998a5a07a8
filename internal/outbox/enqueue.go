package outbox

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wabus/wabus/internal/event"
)

// Execer is what Enqueue writes through: a pgx.Tx (or a pgx.Conn or pool
// inside an explicit transaction).
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Message is one message bound for a JetStream subject. ID becomes its
// Nats-Msg-Id, so publishing it twice within the stream's duplicate window
// stores it once.
type Message struct {
	ID      string
	Subject string
	Payload []byte
	// Header holds extra NATS headers (dead letters carry their error).
	Header map[string]string
}

// Event returns the message that publishes ev on subject, with the event id
// as message id. It returns an error when ev cannot be encoded.
func Event(subject string, ev event.Event) (Message, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return Message{}, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	return Message{ID: ev.ID, Subject: subject, Payload: b}, nil
}

const insertRows = `INSERT INTO wabus_outbox (event_id, subject, payload, headers)
SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[])`

// Enqueue writes msgs to the outbox in one statement inside the caller's
// transaction: they are published if and only if that transaction commits.
// It returns an error when the insert fails.
func Enqueue(ctx context.Context, tx Execer, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, insertRows, columns(msgs)...); err != nil {
		return fmt.Errorf("insert outbox rows: %w", err)
	}
	return nil
}

// columns returns msgs as the four array arguments of insertRows.
func columns(msgs []Message) []any {
	ids := make([]string, len(msgs))
	subjects := make([]string, len(msgs))
	payloads := make([][]byte, len(msgs))
	headers := make([][]byte, len(msgs))
	for i, m := range msgs {
		ids[i], subjects[i], payloads[i] = m.ID, m.Subject, m.Payload
		if len(m.Header) > 0 {
			headers[i], _ = json.Marshal(m.Header)
		}
	}
	return []any{ids, subjects, payloads, headers}
}

// Columns returns msgs as four arrays (ids, subjects, payloads, headers)
// for a caller that inserts outbox rows inside a larger statement, e.g.
// guarded by a lease fence: INSERT INTO wabus_outbox (event_id, subject,
// payload, headers) SELECT * FROM unnest($a::text[], $b::text[],
// $c::bytea[], $d::bytea[]).
func Columns(msgs ...Message) []any { return columns(msgs) }

// Wake tells the relays of every process that outbox rows were committed,
// for a writer that has no Relay of its own to notify (admin). Call it
// after the commit, never inside the transaction (a NOTIFY there
// serializes commits). It returns the NOTIFY's error.
func Wake(ctx context.Context, db Execer) error {
	if _, err := db.Exec(ctx, notifyRelays); err != nil {
		return fmt.Errorf("notify relays: %w", err)
	}
	return nil
}
