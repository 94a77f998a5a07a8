package wmdriver_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/job"
	"github.com/wabus/wabus/internal/session"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/waemu"
)

// A recipient that cannot decrypt a message asks the sender to encrypt it
// again (a retry receipt). The tenant has moved to another worker, with a
// new whatsmeow client, since it sent the message: the message must still
// be found, encrypted again for the recipient's new session, and decrypt
// to the same message under the same id.
func TestConformanceRetryReceiptIsAnsweredAfterTheTenantMoved(t *testing.T) {
	t.Parallel()
	s, emu, _, w1, dev := pairedAcme(t)

	const text = "Tu reserva ha sido confirmada"
	publishJob(t, s, "acme", map[string]any{"id": "order-8812-confirmation", "to": "+51987654321", "text": text})
	msgID := job.MessageID("acme", "order-8812-confirmation")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := emu.WaitReceived(ctx, msgID); err != nil {
		t.Fatalf("message %s: %v", msgID, err)
	}

	w1.Stop()
	startEmuWorker(t, s, emu, "w2", session.Config{})
	testenv.Eventually(t, 30*time.Second, "tenant connected on w2", func() bool { return emu.Logins(dev) == 2 && emu.Connected(dev) })

	if err := emu.RequestRetry(msgID); err != nil {
		t.Fatal(err)
	}
	copies := func() []waemu.Received {
		return slices.DeleteFunc(emu.Received(), func(r waemu.Received) bool { return r.ID != msgID })
	}
	testenv.Eventually(t, 30*time.Second, "the recipient decrypts the message again", func() bool { return len(copies()) == 2 })
	again := copies()[1]
	if !again.Duplicate || again.From != dev || again.Message.GetConversation() != text || again.To.String() != "51987654321@s.whatsapp.net" {
		t.Fatalf("second copy %+v (text %q), want %q again from %s", again, again.Message.GetConversation(), text, dev)
	}
	if n := len(emu.Received()); n != 2 {
		t.Fatalf("recipients got %d messages, want the one message twice", n)
	}
}
