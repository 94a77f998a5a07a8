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

// Message is one event bound for a subject of the events stream.
type Message struct {
	Subject string
	Event   event.Event
}

const insertEvents = `INSERT INTO wabus_outbox (event_id, subject, payload)
SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])`

// Enqueue writes msgs to the outbox in one statement inside the caller's
// transaction: they are published if and only if that transaction commits.
// It returns an error when an event cannot be encoded or the insert fails.
func Enqueue(ctx context.Context, tx Execer, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	ids := make([]string, len(msgs))
	subjects := make([]string, len(msgs))
	payloads := make([][]byte, len(msgs))
	for i, m := range msgs {
		b, err := json.Marshal(m.Event)
		if err != nil {
			return fmt.Errorf("encode event %s: %w", m.Event.ID, err)
		}
		ids[i], subjects[i], payloads[i] = m.Event.ID, m.Subject, b
	}
	if _, err := tx.Exec(ctx, insertEvents, ids, subjects, payloads); err != nil {
		return fmt.Errorf("insert outbox rows: %w", err)
	}
	return nil
}
