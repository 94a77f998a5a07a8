package waemu_test

import (
	"context"
	"testing"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wabus/wabus/internal/testing/waemu"
)

// pnOf is what the client's LID map says lid's phone number is.
func pnOf(t *testing.T, cli *client, lid types.JID) types.JID {
	t.Helper()
	pn, err := cli.Store.LIDs.GetPNForLID(context.Background(), lid)
	if err != nil {
		t.Fatal(err)
	}
	return pn
}

// A contact's chat moves to LID addressing mid-conversation: its messages
// and receipts then come from its LID with sender_pn, which whatsmeow
// reads as the sender's other form and stores in its LID map.
func TestLIDMigrationOfAChat(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	cli := pairClient(t, srv, newContainer(t))
	dev := cli.ownJID(t)
	const phone = "+51987654321"
	pn := types.NewJID("51987654321", types.DefaultUserServer)
	lid, err := srv.LID(phone)
	if err != nil {
		t.Fatal(err)
	}

	before := newMessageID()
	if err := srv.SendText(dev, phone, before, "antes"); err != nil {
		t.Fatal(err)
	}
	if m := waitEvent[*events.Message](t, cli); m.Info.Sender.ToNonAD() != pn || m.Info.Chat != pn {
		t.Fatalf("message before the migration from %s in %s, want %s", m.Info.Sender, m.Info.Chat, pn)
	}
	if got := pnOf(t, cli, lid); !got.IsEmpty() {
		t.Fatalf("the client knows %s as %s before the migration", lid, got)
	}

	if err := srv.SetAddressing(phone, waemu.AddressLID); err != nil {
		t.Fatal(err)
	}
	after := newMessageID()
	if err := srv.SendText(dev, phone, after, "después"); err != nil {
		t.Fatal(err)
	}
	m := waitEvent[*events.Message](t, cli)
	if m.Info.ID != after || m.Message.GetConversation() != "después" || m.Info.Sender.ToNonAD() != lid ||
		m.Info.Chat != lid || m.Info.SenderAlt.ToNonAD() != pn {
		t.Fatalf("message %s %q from %s (alt %s) in %s, want from %s with sender_pn %s", m.Info.ID, m.Message.GetConversation(),
			m.Info.Sender, m.Info.SenderAlt, m.Info.Chat, lid, pn)
	}
	if got := pnOf(t, cli, lid); got != pn {
		t.Fatalf("LID map: %s is %s, want %s", lid, got, pn)
	}

	if err := srv.SendReceipt(dev, phone, "read", newMessageID()); err != nil {
		t.Fatal(err)
	}
	r := waitEvent[*events.Receipt](t, cli)
	if r.Sender.ToNonAD() != lid || r.Chat != lid || r.SenderAlt.ToNonAD() != pn || r.Type != types.ReceiptTypeRead {
		t.Fatalf("receipt from %s (alt %s) in %s, type %q; want a read from %s with sender_pn %s", r.Sender, r.SenderAlt, r.Chat, r.Type, lid, pn)
	}
}

// After the phone's LID migration sync, a contact addressed by LID alone
// is known to the client's LID map without any sender_pn.
func TestLIDMigrationSyncFromThePhone(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	cli := pairClient(t, srv, newContainer(t))
	dev := cli.ownJID(t)
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()
	const phone = "+51922222222"
	lid, err := srv.LID(phone)
	if err != nil {
		t.Fatal(err)
	}
	sync := newMessageID()
	if err := srv.SendLIDMigration(dev, sync, phone); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitAcked(ctx, sync); err != nil {
		t.Fatal(err)
	}
	if got, want := pnOf(t, cli, lid), types.NewJID("51922222222", types.DefaultUserServer); got != want {
		t.Fatalf("LID map after the sync: %s is %s, want %s", lid, got, want)
	}

	if err := srv.SetAddressing(phone, waemu.AddressLIDOnly); err != nil {
		t.Fatal(err)
	}
	id := newMessageID()
	if err := srv.SendText(dev, phone, id, "hola"); err != nil {
		t.Fatal(err)
	}
	m := waitEvent[*events.Message](t, cli)
	for m.Info.ID == sync { // the sync itself, from the phone
		m = waitEvent[*events.Message](t, cli)
	}
	if m.Info.ID != id || m.Info.Sender.ToNonAD() != lid || !m.Info.SenderAlt.IsEmpty() || m.Message.GetConversation() != "hola" {
		t.Fatalf("message %s %q from %s (alt %s), want %s from %s alone", m.Info.ID, m.Message.GetConversation(), m.Info.Sender, m.Info.SenderAlt, id, lid)
	}
}

// A message one client sends to a LID reaches the account's other clients
// with the recipient's phone number in peer_recipient_pn.
func TestOwnMessageToLIDCarriesPeerRecipientPN(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	const account = "+51900000077"
	sender := pairClientAs(t, srv, newContainer(t), account)
	other := pairClientAs(t, srv, newContainer(t), account)
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()
	pn := types.NewJID("51987654321", types.DefaultUserServer)
	lid, err := srv.LID("+51987654321")
	if err != nil {
		t.Fatal(err)
	}
	id, err := sendText(ctx, sender, pn, "hola")
	if err != nil {
		t.Fatal(err)
	}
	for {
		m := waitEvent[*events.Message](t, other)
		if m.Info.ID != id {
			continue
		}
		if !m.Info.IsFromMe || m.Info.Chat != lid || m.Info.RecipientAlt.ToNonAD() != pn || m.Message.GetConversation() != "hola" {
			t.Fatalf("copy from me=%v in %s (recipient alt %s) %q, want from me in %s with peer_recipient_pn %s",
				m.Info.IsFromMe, m.Info.Chat, m.Info.RecipientAlt, m.Message.GetConversation(), lid, pn)
		}
		return
	}
}
