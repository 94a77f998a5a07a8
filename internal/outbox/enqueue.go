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

var insertRows = Insert(1, "true")

// Insert renders the INSERT of outbox rows passed as the four arrays of
// Columns in parameters $first to $first+3, for a caller that writes them
// inside a larger statement (a CTE that changes state, say): the rows are
// inserted only where cond, an SQL condition, holds ("true": always). The
// rows are o(event_id, subject, payload, headers).
func Insert(first int, cond string) string {
	return fmt.Sprintf(`INSERT INTO wabus_outbox (event_id, subject, payload, headers)
SELECT o.event_id, o.subject, o.payload, o.headers
FROM unnest($%d::text[], $%d::text[], $%d::bytea[], $%d::bytea[]) AS o(event_id, subject, payload, headers)
WHERE %s`, first, first+1, first+2, first+3, cond)
}

// InsertKeyed is Insert for rows that each belong to a key: parameter
// $first holds one key per row (text[]), the four arrays of Columns follow
// in $first+1 to $first+4, and cond may refer to the row's o.key (to keep
// only the rows of keys a statement changed).
func InsertKeyed(first int, cond string) string {
	return fmt.Sprintf(`INSERT INTO wabus_outbox (event_id, subject, payload, headers)
SELECT o.event_id, o.subject, o.payload, o.headers
FROM unnest($%d::text[], $%d::text[], $%d::text[], $%d::bytea[], $%d::bytea[]) AS o(key, event_id, subject, payload, headers)
WHERE %s`, first, first+1, first+2, first+3, first+4, cond)
}

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

// Columns returns msgs as four arrays (ids, subjects, payloads, headers):
// the arguments of a statement rendered by Insert or InsertKeyed.
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
