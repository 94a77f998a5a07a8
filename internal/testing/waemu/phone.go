package waemu

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"slices"
	"strings"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
)

// View is what a recipient's phone makes of a message a client sent: its
// kind, the attachment it downloaded and decrypted, and the problems a
// phone would have showing it (fields it needs that are missing or wrong).
type View struct {
	// Kind is text, image, audio, video, sticker, document, reaction,
	// edit, revoke, location, contact, poll, or "" for anything else.
	Kind string
	// Media is the decrypted attachment.
	Media []byte
	// Problems names each field a phone needs that is missing or wrong,
	// empty when the message shows as it should.
	Problems []string
}

// voiceNoteMimetype is the only mimetype phones play voice notes in.
const voiceNoteMimetype = "audio/ogg; codecs=opus"

// PhoneView plays the recipient's phone on r: it downloads and decrypts
// an attachment (DownloadMedia) and checks the fields a phone needs of
// each kind. A voice note has PTT, the Opus mimetype, seconds and a
// 64-point waveform of 0-100; an image a JPEG thumbnail and dimensions; a
// video seconds and dimensions (and a thumbnail that decodes, if any); a
// sticker WebP bytes, the WebP mimetype and dimensions; a document a file
// name. A reaction's, edit's or revoke's key names the chat r went to and
// says fromMe exactly when the target is a message this sender sent there;
// a reaction to someone else's message in a group names its participant.
// A poll has 2-12 options and a 32-byte message secret.
func (s *Server) PhoneView(r Received) View {
	var v View
	bad := func(format string, args ...any) { v.Problems = append(v.Problems, fmt.Sprintf(format, args...)) }
	m := r.Message
	switch {
	case m.GetConversation() != "" || m.GetExtendedTextMessage() != nil:
		v.Kind = "text"
	case m.GetAudioMessage() != nil:
		v.Kind = "audio"
		s.checkAudio(m.GetAudioMessage(), bad)
	case m.GetImageMessage() != nil:
		v.Kind = "image"
		i := m.GetImageMessage()
		checkThumbnail(i.GetJPEGThumbnail(), true, bad)
		checkSize(i.GetWidth(), i.GetHeight(), bad)
	case m.GetVideoMessage() != nil:
		v.Kind = "video"
		vid := m.GetVideoMessage()
		checkThumbnail(vid.GetJPEGThumbnail(), false, bad)
		checkSize(vid.GetWidth(), vid.GetHeight(), bad)
		if vid.GetSeconds() == 0 {
			bad("video has no seconds")
		}
	case m.GetStickerMessage() != nil:
		v.Kind = "sticker"
		st := m.GetStickerMessage()
		if st.GetMimetype() != "image/webp" {
			bad("sticker mimetype %q, want image/webp", st.GetMimetype())
		}
		checkSize(st.GetWidth(), st.GetHeight(), bad)
	case m.GetDocumentMessage() != nil || m.GetDocumentWithCaptionMessage() != nil:
		v.Kind = "document"
		if doc := documentOf(m); doc.GetFileName() == "" || doc.GetMimetype() == "" {
			bad("document has no file name or mimetype")
		}
	default:
		v.Kind = s.checkContent(r, bad)
	}
	if att := attachmentOf(m); att != nil {
		s.checkAttachment(&v, att, bad)
	}
	return v
}

// mediaFields is what every attachment message has.
type mediaFields interface {
	MediaMessage
	GetMimetype() string
	GetURL() string
}

func attachmentOf(m *waE2E.Message) mediaFields {
	for _, a := range []mediaFields{m.GetImageMessage(), m.GetAudioMessage(), m.GetVideoMessage(), m.GetStickerMessage(), documentOf(m)} {
		if !isNil(a) {
			return a
		}
	}
	return nil
}

func isNil(a mediaFields) bool {
	switch x := a.(type) {
	case *waE2E.ImageMessage:
		return x == nil
	case *waE2E.AudioMessage:
		return x == nil
	case *waE2E.VideoMessage:
		return x == nil
	case *waE2E.StickerMessage:
		return x == nil
	case *waE2E.DocumentMessage:
		return x == nil
	}
	return true
}

func documentOf(m *waE2E.Message) *waE2E.DocumentMessage {
	if d := m.GetDocumentMessage(); d != nil {
		return d
	}
	return m.GetDocumentWithCaptionMessage().GetMessage().GetDocumentMessage()
}

func (s *Server) checkAttachment(v *View, att mediaFields, bad func(string, ...any)) {
	if att.GetMimetype() == "" || att.GetURL() == "" || len(att.GetMediaKey()) != 32 {
		bad("%s has no mimetype, URL or 32-byte media key", v.Kind)
	}
	plain, err := s.DownloadMedia(att)
	if err != nil {
		bad("%s does not download: %v", v.Kind, err)
		return
	}
	v.Media = plain
	if v.Kind == "sticker" && (len(plain) < 12 || string(plain[:4]) != "RIFF" || string(plain[8:12]) != "WEBP") {
		bad("sticker is not a WebP file")
	}
}

func (s *Server) checkAudio(a *waE2E.AudioMessage, bad func(string, ...any)) {
	if !a.GetPTT() {
		return
	}
	if a.GetMimetype() != voiceNoteMimetype {
		bad("voice note mimetype %q, want %q", a.GetMimetype(), voiceNoteMimetype)
	}
	if a.GetSeconds() == 0 {
		bad("voice note has no seconds")
	}
	if len(a.GetWaveform()) != 64 || slices.ContainsFunc(a.GetWaveform(), func(b byte) bool { return b > 100 }) {
		bad("voice note waveform %v, want 64 points of 0-100", a.GetWaveform())
	}
}

func checkThumbnail(thumb []byte, required bool, bad func(string, ...any)) {
	if len(thumb) == 0 {
		if required {
			bad("no JPEG thumbnail")
		}
		return
	}
	if _, err := jpeg.Decode(bytes.NewReader(thumb)); err != nil {
		bad("thumbnail is not a JPEG: %v", err)
	}
}

func checkSize(w, h uint32, bad func(string, ...any)) {
	if w == 0 || h == 0 {
		bad("no width and height")
	}
}

// checkContent checks a message of no attachment kind and returns its kind.
func (s *Server) checkContent(r Received, bad func(string, ...any)) string {
	m := r.Message
	switch {
	case m.GetReactionMessage() != nil:
		s.checkKey(r, m.GetReactionMessage().GetKey(), false, bad)
		if m.GetReactionMessage().GetSenderTimestampMS() == 0 {
			bad("reaction has no sender timestamp")
		}
		return "reaction"
	case m.GetEditedMessage().GetMessage().GetProtocolMessage().GetType() == waE2E.ProtocolMessage_MESSAGE_EDIT:
		p := m.GetEditedMessage().GetMessage().GetProtocolMessage()
		s.checkKey(r, p.GetKey(), true, bad)
		if p.GetEditedMessage().GetConversation() == "" {
			bad("edit has no new text")
		}
		return "edit"
	case m.GetProtocolMessage() != nil && m.GetProtocolMessage().GetType() == waE2E.ProtocolMessage_REVOKE:
		s.checkKey(r, m.GetProtocolMessage().GetKey(), true, bad)
		return "revoke"
	case m.GetLocationMessage() != nil:
		if m.GetLocationMessage().DegreesLatitude == nil || m.GetLocationMessage().DegreesLongitude == nil {
			bad("location has no coordinates")
		}
		return "location"
	case m.GetContactMessage() != nil:
		card := strings.ToUpper(m.GetContactMessage().GetVcard())
		if !strings.HasPrefix(card, "BEGIN:VCARD") || !strings.Contains(card, "END:VCARD") || m.GetContactMessage().GetDisplayName() == "" {
			bad("contact has no vCard or display name")
		}
		return "contact"
	case m.GetPollCreationMessage() != nil:
		if n := len(m.GetPollCreationMessage().GetOptions()); n < 2 || n > 12 {
			bad("poll has %d options", n)
		}
		if len(m.GetMessageContextInfo().GetMessageSecret()) != 32 {
			bad("poll has no 32-byte message secret (votes could not be encrypted)")
		}
		return "poll"
	}
	return ""
}

// checkKey checks that key names a message of the chat r went to, fromMe
// exactly when the sender sent it there (ownOnly: it must have).
func (s *Server) checkKey(r Received, key *waCommon.MessageKey, ownOnly bool, bad func(string, ...any)) {
	chat, err := types.ParseJID(key.GetRemoteJID())
	if err != nil || (chat.ToNonAD() != r.To && chat.ToNonAD() != r.ToJID) {
		bad("key names chat %q, not %s", key.GetRemoteJID(), r.To)
	}
	s.mu.Lock()
	sent := slices.ContainsFunc(s.received, func(x Received) bool {
		return x.ID == key.GetID() && x.From.User == r.From.User && x.To == r.To
	})
	s.mu.Unlock()
	switch {
	case key.GetFromMe() != sent:
		bad("key says fromMe %v for %s, which the sender %s", key.GetFromMe(), key.GetID(), map[bool]string{true: "sent", false: "did not send"}[sent])
	case ownOnly && !sent:
		bad("key names %s, not one of the sender's messages", key.GetID())
	case !sent && r.To.Server == types.GroupServer && key.GetParticipant() == "":
		bad("key in a group names no participant")
	}
}
