package send

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wabus/wabus/internal/outbox"
)

// entry is what the ledger knows of a job.
type entry struct {
	status    string // sent or failed
	messageID string
	eventID   string
	recipient string
	code      string
	lastError string
	attempts  int
	sentAt    time.Time
}

// record is one outcome to commit: a ledger row (when job is set) and the
// outbox messages that report it, fenced by the tenant's lease.
type record struct {
	tenant string
	epoch  int64
	job    string // "" for a dead letter without a usable job id
	entry  entry
	msgs   []outbox.Message
}

// errFenced: the lease moved on; nothing was recorded.
var errFenced = errors.New("lease lost: outcome not recorded")

const writeOutcome = `WITH s AS (
	INSERT INTO wabus_send AS w (tenant, job_id, message_id, status, attempts, last_error, code, event_id, recipient, sent_at)
	SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10
	WHERE EXISTS (SELECT 1 FROM wabus_lease WHERE tenant = $1 AND owner = $11 AND epoch = $12)
	ON CONFLICT (tenant, job_id) DO UPDATE SET message_id = excluded.message_id, status = excluded.status,
		attempts = excluded.attempts, last_error = excluded.last_error, code = excluded.code,
		event_id = excluded.event_id, recipient = excluded.recipient, sent_at = excluded.sent_at, updated_at = now()
	RETURNING 1)
INSERT INTO wabus_outbox (event_id, subject, payload, headers)
SELECT o.* FROM unnest($13::text[], $14::text[], $15::bytea[], $16::bytea[]) AS o, s`

const writeLetter = `INSERT INTO wabus_outbox (event_id, subject, payload, headers)
SELECT o.* FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[]) AS o
WHERE EXISTS (SELECT 1 FROM wabus_lease WHERE tenant = $5 AND owner = $6 AND epoch = $7)`

// ledger records outcomes through the worker's shared outbox writer, so
// that outcomes of many tenants commit together.
type ledger struct {
	w      *outbox.Writer
	worker string
}

// commit records r and returns once it is durable (nil), fenced
// (errFenced: the lease moved on, nothing was written) or failed.
func (l *ledger) commit(ctx context.Context, r *record) error {
	cols := outbox.Columns(r.msgs...)
	var rows int64
	var err error
	if r.job == "" {
		rows, err = l.w.Do(ctx, writeLetter, cols[0], cols[1], cols[2], cols[3], r.tenant, l.worker, r.epoch)
	} else {
		e := r.entry
		var sentAt *time.Time
		if !e.sentAt.IsZero() {
			sentAt = &e.sentAt
		}
		rows, err = l.w.Do(ctx, writeOutcome, r.tenant, r.job, e.messageID, e.status, e.attempts, e.lastError, e.code,
			e.eventID, e.recipient, sentAt, l.worker, r.epoch, cols[0], cols[1], cols[2], cols[3])
	}
	switch {
	case err != nil:
		return fmt.Errorf("commit ledger: %w", err)
	case rows == 0:
		return errFenced
	}
	return nil
}
