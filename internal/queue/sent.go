package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SentMessage is a message a tenant sent through the gateway, as the job
// table remembers it (for WA_JOB_RETENTION).
type SentMessage struct {
	JobID string
	// To is the job's recipient as given; ToJID the JID WhatsApp
	// delivered to.
	To, ToJID string
	// Kind is the job's content kind.
	Kind   string
	SentAt time.Time
}

// sentMessage finds a tenant's sent job by its WhatsApp message id
// (wabus_job_message).
const sentMessage = `SELECT job_id, recipient, to_jid, kind, COALESCE(sent_at, updated_at) FROM wabus_job
WHERE tenant = $1 AND message_id = $2 AND status = 'sent' LIMIT 1`

// SentMessage returns the job of tenant that was sent as the WhatsApp
// message messageID. It returns ErrNotFound when the tenant sent no such
// message (or its row is past the retention), and the query's error when
// Postgres fails.
func (s *Store) SentMessage(ctx context.Context, tenant, messageID string) (SentMessage, error) {
	var m SentMessage
	err := s.pool.QueryRow(ctx, sentMessage, tenant, messageID).Scan(&m.JobID, &m.To, &m.ToJID, &m.Kind, &m.SentAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return SentMessage{}, ErrNotFound
	case err != nil:
		return SentMessage{}, fmt.Errorf("find sent message: %w", err)
	}
	return m, nil
}
