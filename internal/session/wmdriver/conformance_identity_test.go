package wmdriver_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/job"
	"github.com/wabus/wabus/internal/session"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/waemu"
	"github.com/wabus/wabus/internal/vocab"
)

// failedEvents returns the failed events of tenant, by job id.
func failedEvents(t testing.TB, s *testenv.Stack, tenant string) map[string][]event.Failed {
	t.Helper()
	return testenv.EventsBy(t, s, tenant, vocab.EventFailed, func(d event.Failed) string { return d.JobID })
}

// WhatsApp's 463 fails the job at once as restricted (one attempt, a dead
// letter, no copy delivered), does not hold up the tenant's next job, and
// is reported as a session event with the current state and a reason
// starting "restricted", and counted.
func TestConformanceRestrictedSendFailsAtOnce(t *testing.T) {
	t.Parallel()
	s, emu, _, w, dev := pairedAcme(t)
	publishJob(t, s, "acme", map[string]any{"id": "hello", "to": "+51987654321", "text": "hola"})
	testenv.Eventually(t, 30*time.Second, "first job sent", func() bool { return len(sentEvents(t, s, "acme")["hello"]) == 1 })
	if err := emu.Restrict(dev, time.Hour); err != nil {
		t.Fatal(err)
	}

	publishJob(t, s, "acme", map[string]any{"id": "stranger", "to": "+51922222222", "text": "oferta"})
	publishJob(t, s, "acme", map[string]any{"id": "again", "to": "+51987654321", "text": "¿sigues ahí?"})
	testenv.Eventually(t, 30*time.Second, "the job after the refused one sent", func() bool { return len(sentEvents(t, s, "acme")["again"]) == 1 })
	testenv.Eventually(t, 30*time.Second, "failed event", func() bool { return len(failedEvents(t, s, "acme")["stranger"]) == 1 })
	f := failedEvents(t, s, "acme")["stranger"][0]
	if f.Code != event.CodeRestricted || f.Attempts != 1 || f.To != "+51922222222" || !strings.Contains(f.Error, "463") {
		t.Fatalf("failed event %+v, want restricted after one attempt", f)
	}
	letters := testenv.ReadStream(t, s.JS, s.Names.DLQStream(), s.Names.DLQ("acme"))
	if len(letters) != 1 || letters[0].Headers().Get("Wa-Error-Code") != event.CodeRestricted {
		t.Fatalf("%d dead letters, want the restricted job", len(letters))
	}
	for _, r := range emu.Received() {
		if r.ID == job.MessageID("acme", "stranger") {
			t.Fatal("the refused message reached the recipient")
		}
	}

	var restricted []event.Session
	testenv.Eventually(t, 30*time.Second, "restricted session event", func() bool {
		restricted = nil
		for _, e := range testenv.Events[event.Session](t, s, "acme", vocab.EventSession) {
			if strings.HasPrefix(e.Reason, event.ReasonRestricted) {
				restricted = append(restricted, e)
			}
		}
		return len(restricted) > 0
	})
	if e := restricted[0]; len(restricted) != 1 || e.State != vocab.StateConnected || e.JID != dev.String() || e.Worker != "w1" {
		t.Fatalf("restricted session events %+v, want one in state connected", restricted)
	}
	if n := metricValue(t, w.Registry, "wabus_session_restricted_total"); n != 1 {
		t.Fatalf("wabus_session_restricted_total = %v, want 1", n)
	}
}

// Other refusals: 479 fails at once with send_failed after one attempt;
// 429 is retried under the same message id and delivered once.
func TestConformanceSendErrorAcks(t *testing.T) {
	t.Parallel()
	s, emu, _, _, dev := pairedAcme(t)
	if err := emu.RejectSends(dev, 479, 1); err != nil {
		t.Fatal(err)
	}
	if err := emu.RejectSends(dev, 429, 1); err != nil {
		t.Fatal(err)
	}
	publishJob(t, s, "acme", map[string]any{"id": "refused", "to": "+51987654321", "text": "uno"})
	publishJob(t, s, "acme", map[string]any{"id": "throttled", "to": "+51987654321", "text": "dos"})
	testenv.Eventually(t, 60*time.Second, "throttled job sent", func() bool { return len(sentEvents(t, s, "acme")["throttled"]) == 1 })
	fs := failedEvents(t, s, "acme")["refused"]
	if len(fs) != 1 || fs[0].Code != event.CodeSendFailed || fs[0].Attempts != 1 || !strings.Contains(fs[0].Error, "479") {
		t.Fatalf("failed events of the refused job %+v, want send_failed after one attempt", fs)
	}
	attempts := testenv.QueryInt(t, s.Pool, `SELECT attempts FROM wabus_job WHERE tenant = 'acme' AND job_id = 'throttled'`)
	if attempts != 2 {
		t.Fatalf("throttled job took %d attempts, want 2", attempts)
	}
	var got []waemu.Received
	for _, r := range emu.Received() {
		if r.ID == job.MessageID("acme", "throttled") || r.ID == job.MessageID("acme", "refused") {
			got = append(got, r)
		}
	}
	if len(got) != 1 || got[0].ID != job.MessageID("acme", "throttled") || got[0].Duplicate {
		t.Fatalf("recipient got %+v, want the throttled message once", got)
	}
}

// Contacts WhatsApp addresses by LID are reported by phone number with the
// LID beside, in messages and receipts, whether the number comes with the
// message (sender_pn) or from the device store's LID map (the phone's LID
// migration sync); a send reports the LID it was delivered to.
func TestConformanceLIDIdentities(t *testing.T) {
	t.Parallel()
	s, emu, _, _, dev := pairedAcme(t)
	const alice, bob = "+51987654321", "+51922222222"
	aliceLID, _ := emu.LID(alice)
	bobLID, _ := emu.LID(bob)
	alicePN, bobPN := "51987654321@s.whatsapp.net", "51922222222@s.whatsapp.net"

	if err := emu.SetAddressing(alice, waemu.AddressLID); err != nil {
		t.Fatal(err)
	}
	if err := emu.SendText(dev, alice, "ALICE1", "hola"); err != nil {
		t.Fatal(err)
	}
	sync := "3EB0LIDSYNC0001"
	if err := emu.SendLIDMigration(dev, sync, bob); err != nil {
		t.Fatal(err)
	}
	waitOn(t, "lid migration sync acknowledged", func(ctx context.Context) error { return emu.WaitAcked(ctx, sync) })
	if err := emu.SetAddressing(bob, waemu.AddressLIDOnly); err != nil {
		t.Fatal(err)
	}
	if err := emu.SendText(dev, bob, "BOB1", "buenas"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "message events", func() bool {
		m := messageEvents(t, s, "acme")
		return len(m["ALICE1"]) == 1 && len(m["BOB1"]) == 1
	})
	byID := messageEvents(t, s, "acme")
	for id, want := range map[string][2]string{"ALICE1": {alicePN, aliceLID.String()}, "BOB1": {bobPN, bobLID.String()}} {
		m := byID[id][0]
		if m.Sender != want[0] || m.Chat != want[0] || m.SenderLID != want[1] || m.ChatLID != want[1] {
			t.Errorf("message %s from %s (%s) in %s (%s), want %s with LID %s", id, m.Sender, m.SenderLID, m.Chat, m.ChatLID, want[0], want[1])
		}
	}
	if _, ok := byID[sync]; ok {
		t.Error("the phone's LID migration sync was reported as a message")
	}

	publishJob(t, s, "acme", map[string]any{"id": "to-alice", "to": alice, "text": "gracias"})
	testenv.Eventually(t, 30*time.Second, "sent", func() bool { return len(sentEvents(t, s, "acme")["to-alice"]) == 1 })
	if e := sentEvents(t, s, "acme")["to-alice"][0]; e.To != alice || e.ToJID != aliceLID.String() {
		t.Fatalf("sent event to %q, to_jid %q; want to_jid %s", e.To, e.ToJID, aliceLID)
	}
	msgID := job.MessageID("acme", "to-alice")
	if err := emu.SendReceipt(dev, alice, "read", msgID); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "receipt event", func() bool { return len(receiptEvents(t, s, "acme")) == 1 })
	r := receiptEvents(t, s, "acme")[0]
	if r.Sender != alicePN || r.Chat != alicePN || r.SenderLID != aliceLID.String() || r.ChatLID != aliceLID.String() ||
		r.Type != "read" || len(r.MessageIDs) != 1 || r.MessageIDs[0] != msgID {
		t.Fatalf("receipt %+v, want a read from %s with LID %s", r, alicePN, aliceLID)
	}
}

// A reply names the quoted message's author: this account for its own
// message, the contact for the contact's, in the LID form WhatsApp
// addresses the chat by; after the tenant moved to another worker, its own
// message is still known (whatsmeow's retry buffer).
func TestConformanceReplyNamesTheQuotedAuthor(t *testing.T) {
	t.Parallel()
	s, emu, _, w1, dev := pairedAcme(t)
	const alice = "+51987654321"
	aliceLID, _ := emu.LID(alice)
	ownLID, _ := emu.LID("+" + dev.User)

	publishJob(t, s, "acme", map[string]any{"id": "offer", "to": alice, "text": "¿mesa para dos?"})
	testenv.Eventually(t, 30*time.Second, "offer sent", func() bool { return len(sentEvents(t, s, "acme")["offer"]) == 1 })
	if err := emu.SendText(dev, alice, "ALICEYES", "sí, a las 8"); err != nil {
		t.Fatal(err)
	}
	waitOn(t, "contact's message acknowledged", func(ctx context.Context) error { return emu.WaitAcked(ctx, "ALICEYES") })

	offer := job.MessageID("acme", "offer")
	publishJob(t, s, "acme", map[string]any{"id": "reminder", "to": alice, "text": "recordatorio", "reply_to": offer})
	publishJob(t, s, "acme", map[string]any{"id": "confirm", "to": alice, "text": "confirmado", "reply_to": "ALICEYES"})
	for id, want := range map[string][2]string{"reminder": {offer, ownLID.String()}, "confirm": {"ALICEYES", aliceLID.String()}} {
		var got waemu.Received
		waitOn(t, id+" received", func(ctx context.Context) (err error) {
			got, err = emu.WaitReceived(ctx, job.MessageID("acme", id))
			return err
		})
		checkQuote(t, got, id, want[0], want[1])
	}

	w1.Stop()
	startEmuWorker(t, s, emu, "w2", session.Config{})
	publishJob(t, s, "acme", map[string]any{"id": "reminder-2", "to": alice, "text": "¿vienen?", "reply_to": offer})
	var got waemu.Received
	waitOn(t, "reply after the move received", func(ctx context.Context) (err error) {
		got, err = emu.WaitReceived(ctx, job.MessageID("acme", "reminder-2"))
		return err
	})
	checkQuote(t, got, "reminder-2", offer, ownLID.String())
}

func checkQuote(t *testing.T, got waemu.Received, job, stanza, participant string) {
	t.Helper()
	ci := got.Message.GetExtendedTextMessage().GetContextInfo()
	if ci.GetStanzaID() != stanza || ci.GetParticipant() != participant {
		t.Errorf("%s quotes %q by %q, want %q by %q", job, ci.GetStanzaID(), ci.GetParticipant(), stanza, participant)
	}
}

// waitOn waits on the emulator for up to a minute.
func waitOn(t testing.TB, what string, fn func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := fn(ctx); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
