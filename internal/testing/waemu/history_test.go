package waemu_test

import (
	"bytes"
	"context"
	"testing"

	"go.mau.fi/whatsmeow/types/events"

	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/waemu"
)

// TestHistorySyncReachesWhatsmeow sends a history blob to a plain
// whatsmeow client, which downloads, decompresses and parses it and stores
// the tctokens, LID mappings and NCT salt it carries, then deletes it.
func TestHistorySyncReachesWhatsmeow(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	container := newContainer(t)
	cli := pairClient(t, srv, container)
	blob, err := srv.NewHistorySync(waemu.HistorySync{Bytes: 256 << 10, Chats: 4})
	if err != nil {
		t.Fatal(err)
	}
	if blob.Uncompressed < 256<<10 || blob.Compressed >= blob.Uncompressed {
		t.Fatalf("blob of %d bytes, %d compressed; want at least 256 KiB that compresses", blob.Uncompressed, blob.Compressed)
	}
	if _, err := srv.SendHistorySync(cli.ownJID(t), blob); err != nil {
		t.Fatal(err)
	}
	hs := waitEvent[*events.HistorySync](t, cli)
	if got := len(hs.Data.GetConversations()); got != 4 {
		t.Fatalf("history sync with %d conversations, want 4", got)
	}
	if got := len(hs.Data.GetPhoneNumberToLidMappings()); got != 4 {
		t.Fatalf("history sync with %d LID mappings, want 4", got)
	}
	ctx := context.Background()
	testenv.Eventually(t, eventWait, "history stored", func() bool {
		salt, err := cli.Store.NCTSalt.GetNCTSalt(ctx)
		if err != nil || !bytes.Equal(salt, blob.NCTSalt) {
			return false
		}
		for _, c := range blob.Contacts {
			lid, err := cli.Store.LIDs.GetLIDForPN(ctx, c.PN)
			if err != nil || lid != c.LID {
				return false
			}
			tok, err := cli.Store.PrivacyTokens.GetPrivacyToken(ctx, c.LID)
			if err != nil || tok == nil || !bytes.Equal(tok.Token, c.TCToken) {
				return false
			}
		}
		return srv.HistoryDeleted(blob)
	})
}
