package waemu_test

import (
	"strings"
	"testing"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/wabus/wabus/internal/testing/waemu"
)

// PhoneView finds what a phone would miss: it is what the content tests
// rely on, so it must not pass a message that lacks what it checks.
func TestPhoneViewNamesWhatIsMissing(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	chat := types.NewJID("51987654321", types.DefaultUserServer)
	from := types.NewADJID("51900000001", 0, 7)
	tests := []struct {
		name string
		msg  *waE2E.Message
		want []string
	}{
		{"voice note", &waE2E.Message{AudioMessage: &waE2E.AudioMessage{PTT: proto.Bool(true), Mimetype: proto.String("audio/ogg")}},
			[]string{"voice note mimetype", "no seconds", "waveform", "does not download"}},
		{"image", &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Mimetype: proto.String("image/jpeg"), JPEGThumbnail: []byte("png?")}},
			[]string{"not a JPEG", "no width and height", "does not download"}},
		{"video", &waE2E.Message{VideoMessage: &waE2E.VideoMessage{Mimetype: proto.String("video/mp4")}},
			[]string{"no seconds", "no width and height"}},
		{"sticker", &waE2E.Message{StickerMessage: &waE2E.StickerMessage{Mimetype: proto.String("image/png")}},
			[]string{"want image/webp", "no width and height"}},
		{"reaction", &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("👍"),
			Key: &waCommon.MessageKey{ID: proto.String("3EB0NEVERSENT"), FromMe: proto.Bool(true), RemoteJID: proto.String("51911122233@s.whatsapp.net")}}},
			[]string{"key names chat", "fromMe true", "sender timestamp"}},
		{"revoke", &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum(),
			Key: &waCommon.MessageKey{ID: proto.String("3EB0NEVERSENT"), FromMe: proto.Bool(false), RemoteJID: proto.String(chat.String())}}},
			[]string{"not one of the sender's messages"}},
		{"poll", &waE2E.Message{PollCreationMessage: &waE2E.PollCreationMessage{Name: proto.String("q"),
			Options: []*waE2E.PollCreationMessage_Option{{OptionName: proto.String("a")}}}},
			[]string{"1 options", "message secret"}},
		{"contact", &waE2E.Message{ContactMessage: &waE2E.ContactMessage{Vcard: proto.String("FN:Ana")}}, []string{"no vCard"}},
	}
	for _, tt := range tests {
		v := srv.PhoneView(waemu.Received{ID: "3EB0X", From: from, To: chat, ToJID: chat, Message: tt.msg})
		all := strings.Join(v.Problems, "; ")
		for _, w := range tt.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: problems %q, want one about %q", tt.name, all, w)
			}
		}
	}
}
