package queue_test

import (
	"context"
	"errors"
	"testing"

	"github.com/wabus/wabus/internal/queue"
	"github.com/wabus/wabus/internal/testing/testenv"
)

// SentMessage finds only the tenant's own sent jobs by message id.
func TestSentMessageFindsOnlyTheTenantsSentJobs(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	ctx := context.Background()
	_, err := s.Pool.Exec(ctx, `INSERT INTO wabus_job (tenant, job_id, seq, status, recipient, kind, message_id, to_jid,
		created_at, expires_at, sent_at) VALUES
		('acme', 'j1', 1, 'sent', '+51987654321', 'text', '3EB0AAA', '51987654321@s.whatsapp.net', now(), now(), '2026-03-01T12:00:00Z'),
		('acme', 'j2', 2, 'failed', '+51987654321', 'text', '3EB0BBB', '', now(), now(), NULL),
		('other', 'j3', 3, 'sent', '+51987654321', 'image', '3EB0CCC', '', now(), now(), now())`)
	if err != nil {
		t.Fatal(err)
	}
	store := queue.New(s.Pool, nil, s.Names)
	m, err := store.SentMessage(ctx, "acme", "3EB0AAA")
	if err != nil || m.JobID != "j1" || m.To != "+51987654321" || m.ToJID != "51987654321@s.whatsapp.net" || m.Kind != "text" ||
		m.SentAt.UTC().Format("2006-01-02T15:04:05Z") != "2026-03-01T12:00:00Z" {
		t.Fatalf("SentMessage(acme, 3EB0AAA) = %+v, %v", m, err)
	}
	for _, id := range []string{"3EB0BBB", "3EB0CCC", "3EB0DDD"} {
		if _, err := store.SentMessage(ctx, "acme", id); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("SentMessage(acme, %s) = %v, want ErrNotFound", id, err)
		}
	}
}
