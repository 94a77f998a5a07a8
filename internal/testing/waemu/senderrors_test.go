package waemu_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/wabus/wabus/internal/testing/waemu"
)

// sendText sends text to to and returns its id with SendMessage's error.
func sendText(ctx context.Context, cli *client, to types.JID, text string) (string, error) {
	id := newMessageID()
	_, err := cli.SendMessage(ctx, to, &waE2E.Message{Conversation: proto.String(text)}, whatsmeow.SendRequestExtra{ID: id})
	return id, err
}

func wantServerError(t *testing.T, err error, code string) {
	t.Helper()
	if !errors.Is(err, whatsmeow.ErrServerReturnedError) || err.Error() != "server returned error "+code {
		t.Fatalf("send error = %v, want server returned error %s", err, code)
	}
}

// A rejected message gets an error ack with the code and reaches no one;
// the next message goes through.
func TestRejectSendsAnswersErrorAcks(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	cli := pairClient(t, srv, newContainer(t))
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()
	to := types.NewJID("51987654321", types.DefaultUserServer)
	if err := srv.RejectSends(cli.ownJID(t), 429, 1); err != nil {
		t.Fatal(err)
	}
	if err := srv.RejectSends(cli.ownJID(t), 479, 1); err != nil {
		t.Fatal(err)
	}
	_, err := sendText(ctx, cli, to, "one")
	wantServerError(t, err, "429")
	_, err = sendText(ctx, cli, to, "two")
	wantServerError(t, err, "479")
	id, err := sendText(ctx, cli, to, "three")
	if err != nil {
		t.Fatalf("third send: %v", err)
	}
	if _, err := srv.WaitReceived(ctx, id); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Received()); n != 1 {
		t.Fatalf("%d messages reached the recipient, want only the third", n)
	}
	if err := srv.RejectSends(types.NewJID("51900000000", types.DefaultUserServer), 429, 1); !errors.Is(err, waemu.ErrUnknownDevice) {
		t.Fatalf("RejectSends of an unknown account = %v, want ErrUnknownDevice", err)
	}
}

// While restricted, messages to new contacts get 463; contacts the account
// wrote to before, that wrote to it, or whose trusted-contact token the
// message carries still get them, and lifting the restriction ends it.
func TestRestrictRefusesNewContacts(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	cli := pairClient(t, srv, newContainer(t))
	dev := cli.ownJID(t)
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()
	known := types.NewJID("51987654321", types.DefaultUserServer)
	if _, err := sendText(ctx, cli, known, "before"); err != nil {
		t.Fatal(err)
	}
	wrote := newMessageID()
	if err := srv.SendText(dev, "+51911111111", wrote, "hola"); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitAcked(ctx, wrote); err != nil {
		t.Fatal(err)
	}
	if err := srv.Restrict(dev, time.Hour); err != nil {
		t.Fatal(err)
	}

	_, err := sendText(ctx, cli, types.NewJID("51922222222", types.DefaultUserServer), "new contact")
	wantServerError(t, err, "463")
	for _, to := range []types.JID{known, types.NewJID("51911111111", types.DefaultUserServer)} {
		if _, err := sendText(ctx, cli, to, "known contact"); err != nil {
			t.Fatalf("send to %s while restricted: %v", to, err)
		}
	}

	// a token from the contact lets the message through: whatsmeow sends it
	token, err := srv.IssuePrivacyToken(dev, "+51933333333")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitNotificationAcked(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, err := sendText(ctx, cli, types.NewJID("51933333333", types.DefaultUserServer), "trusted"); err != nil {
		t.Fatalf("send with a tctoken while restricted: %v", err)
	}

	if err := srv.Restrict(dev, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := sendText(ctx, cli, types.NewJID("51944444444", types.DefaultUserServer), "lifted"); err != nil {
		t.Fatalf("send after the restriction was lifted: %v", err)
	}
}
