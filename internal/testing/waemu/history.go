package waemu

import (
	"bytes"
	"cmp"
	"compress/zlib"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/proto/waWeb"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// History sync (whatsmeow's handleHistorySyncNotification is the client's
// side): after pairing, the phone uploads the account's chat history as an
// encrypted, zlib-compressed HistorySync protobuf to the media servers and
// tells the new companion where it is in a protocol message
// (HistorySyncNotification) sent from the phone itself. Besides messages,
// the blob carries what the companion needs to send: each chat's tctoken
// (privacy token), the phone-number-to-LID map and the NCT salt.

// HistorySync describes a history blob the emulated phone sends.
type HistorySync struct {
	// Bytes is the size of the blob before compression (the serialized
	// HistorySync protobuf), at least. The bulk is text messages made of
	// random words from a fixed vocabulary, which zlib compresses about as
	// well as real chat text (roughly 3:1). Defaults to 64 KiB.
	Bytes int
	// Chats is how many 1:1 conversations the blob holds, each with a new
	// contact of its own that has a tctoken and a phone-number-to-LID
	// mapping in the blob. Defaults to 10.
	Chats int
}

// HistoryContact is one chat of a history blob: the contact's phone JID,
// its LID, and the tctoken the blob carries for it.
type HistoryContact struct {
	PN, LID types.JID
	TCToken []byte
}

// HistoryBlob is a history sync blob uploaded to the emulator's media
// store, ready to be announced to a companion with SendHistorySync.
type HistoryBlob struct {
	// Uncompressed and Compressed are the blob's sizes in bytes before and
	// after zlib (the upload is Compressed plus encryption overhead).
	Uncompressed, Compressed int
	// Contacts are the blob's chats.
	Contacts []HistoryContact
	// NCTSalt is the salt the blob carries.
	NCTSalt []byte
	// DirectPath is where the encrypted blob is stored.
	DirectPath string

	notif *waE2E.HistorySyncNotification
}

func (h HistorySync) withDefaults() HistorySync {
	h.Bytes = cmp.Or(max(h.Bytes, 0), 64<<10)
	h.Chats = cmp.Or(max(h.Chats, 0), 10)
	return h
}

// NewHistorySync builds a history blob as h describes, with new contacts,
// and uploads it encrypted; nothing is sent yet. Building streams through
// zlib, so the emulator holds only the compressed blob (twice, briefly,
// while encrypting it).
func (s *Server) NewHistorySync(h HistorySync) (*HistoryBlob, error) {
	h = h.withDefaults()
	b := &HistoryBlob{NCTSalt: randomBytes(32)}
	s.mu.Lock()
	for range h.Chats {
		u := s.addUserLocked(randomDigits("1556", 11))
		b.Contacts = append(b.Contacts, HistoryContact{PN: u.jid(), LID: u.lid, TCToken: randomBytes(24)})
	}
	s.mu.Unlock()
	compressed, n, err := writeHistory(h, b)
	if err != nil {
		return nil, err
	}
	b.Uncompressed, b.Compressed = n, len(compressed)
	up, err := s.UploadMedia(compressed, whatsmeow.MediaHistory)
	if err != nil {
		return nil, err
	}
	b.DirectPath = up.DirectPath
	b.notif = &waE2E.HistorySyncNotification{
		FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength), MediaKey: up.MediaKey,
		FileEncSHA256: up.FileEncSHA256, DirectPath: proto.String(up.DirectPath),
		SyncType:   waE2E.HistorySyncType_INITIAL_BOOTSTRAP.Enum(),
		ChunkOrder: proto.Uint32(1), Progress: proto.Uint32(100),
	}
	return b, nil
}

// SendHistorySync announces blob to the companion dev, as its account's
// phone does after pairing: a HistorySyncNotification protocol message
// from the phone (device 0), encrypted like any message and resent until
// the companion acknowledges it. It returns the message id, or
// ErrUnknownDevice.
func (s *Server) SendHistorySync(dev types.JID, blob *HistoryBlob) (string, error) {
	s.mu.Lock()
	_, paired := s.companions[dev]
	u := s.users[dev.User]
	s.mu.Unlock()
	if !paired || u == nil || blob == nil || blob.notif == nil {
		return "", fmt.Errorf("send history sync to %s: %w", dev, ErrUnknownDevice)
	}
	plain, err := proto.Marshal(&waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type:                    waE2E.ProtocolMessage_HISTORY_SYNC_NOTIFICATION.Enum(),
		HistorySyncNotification: blob.notif,
	}})
	if err != nil {
		return "", fmt.Errorf("marshal history sync notification: %w", err)
	}
	encType, ct, err := s.encryptTo(u.phoneDev, dev, pad(plain))
	if err != nil {
		return "", err
	}
	id := "3EB0" + strings.ToUpper(hex.EncodeToString(randomBytes(8)))
	s.enqueue(dev, "message", id, waBinary.Node{
		Tag: "message",
		Attrs: waBinary.Attrs{
			"from": u.phoneDev.jid, "id": id, "t": now(), "type": "text", "category": "peer",
		},
		Content: []waBinary.Node{{Tag: "enc", Attrs: waBinary.Attrs{"v": "2", "type": encType}, Content: ct}},
	})
	s.mu.Lock()
	s.histories[dev] = append(s.histories[dev], blob)
	s.mu.Unlock()
	return id, nil
}

// Histories lists the history blobs sent to the companion dev.
func (s *Server) Histories(dev types.JID) []*HistoryBlob {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*HistoryBlob(nil), s.histories[dev]...)
}

// HistoryDeleted reports whether a client deleted blob from the media
// servers (whatsmeow does once it has processed a history sync).
func (s *Server) HistoryDeleted(blob *HistoryBlob) bool {
	path, _, _ := strings.Cut(blob.DirectPath, "?")
	s.mu.Lock()
	defer s.mu.Unlock()
	_, stored := s.media[path]
	return !stored
}

// historyAfterPair sends Config.HistoryAfterPair to a newly paired device.
func (s *Server) historyAfterPair(dev types.JID) {
	if s.cfg.HistoryAfterPair == nil {
		return
	}
	h := *s.cfg.HistoryAfterPair
	s.goTracked(func() {
		blob, err := s.NewHistorySync(h)
		if err == nil {
			_, err = s.SendHistorySync(dev, blob)
		}
		if err != nil {
			s.logf("history sync for %s: %v", dev, err)
		}
	})
}

// writeHistory serializes the HistorySync of b's contacts into zlib as it
// goes, padding each conversation with messages until the whole is at
// least h.Bytes long. It returns the compressed blob and the uncompressed
// size. Fields come in field-number order, as proto.Marshal writes them:
// the conversations (with their tctokens) before the LID mappings.
func writeHistory(h HistorySync, b *HistoryBlob) ([]byte, int, error) {
	var buf bytes.Buffer
	w := &historyWriter{z: zlib.NewWriter(&buf), words: newWordSource()}
	w.varint(1, uint64(waHistorySync.HistorySync_INITIAL_BOOTSTRAP))
	perChat := h.Bytes / len(b.Contacts)
	for i, c := range b.Contacts {
		target := perChat
		if i == len(b.Contacts)-1 {
			target = max(h.Bytes-w.n-64, 0) // the rest, less what follows
		}
		w.conversation(c, target)
	}
	w.varint(5, 1)
	w.varint(6, 100)
	for _, c := range b.Contacts {
		w.message(15, &waHistorySync.PhoneNumberToLIDMapping{PnJID: proto.String(c.PN.String()), LidJID: proto.String(c.LID.String())})
	}
	w.bytes(19, b.NCTSalt)
	if w.err == nil {
		w.err = w.z.Close()
	}
	if w.err != nil {
		return nil, 0, fmt.Errorf("write history sync blob: %w", w.err)
	}
	return buf.Bytes(), w.n, nil
}

// historyWriter writes protobuf fields into a zlib stream, counting the
// uncompressed bytes; the first error sticks.
type historyWriter struct {
	z     *zlib.Writer
	n     int
	err   error
	words *wordSource
	scr   []byte
}

func (w *historyWriter) write(p []byte) {
	if w.err != nil {
		return
	}
	var n int
	n, w.err = w.z.Write(p)
	w.n += n
}

func (w *historyWriter) varint(num protowire.Number, v uint64) {
	w.scr = protowire.AppendVarint(protowire.AppendTag(w.scr[:0], num, protowire.VarintType), v)
	w.write(w.scr)
}

func (w *historyWriter) bytes(num protowire.Number, p []byte) {
	w.scr = protowire.AppendBytes(protowire.AppendTag(w.scr[:0], num, protowire.BytesType), p)
	w.write(w.scr)
}

func (w *historyWriter) message(num protowire.Number, m proto.Message) {
	raw, err := proto.Marshal(m)
	if err != nil && w.err == nil {
		w.err = err
	}
	w.bytes(num, raw)
}

// conversation writes one chat with c: its id, text messages until the
// conversation is at least target bytes long, and its tctoken.
func (w *historyWriter) conversation(c HistoryContact, target int) {
	conv, err := proto.Marshal(&waHistorySync.Conversation{ID: proto.String(c.PN.String())})
	if err != nil {
		w.err = cmp.Or(w.err, err)
		return
	}
	ts := uint64(time.Now().Unix())
	for i := uint64(0); len(conv) < target; i++ {
		msg := &waHistorySync.HistorySyncMsg{MsgOrderID: proto.Uint64(i + 1), Message: &waWeb.WebMessageInfo{
			Key: &waCommon.MessageKey{
				RemoteJID: proto.String(c.PN.String()), FromMe: proto.Bool(i%2 == 0),
				ID: proto.String("3EB0" + strings.ToUpper(hex.EncodeToString(w.words.id()))),
			},
			Message:          &waE2E.Message{Conversation: proto.String(w.words.text())},
			MessageTimestamp: proto.Uint64(ts - i*97),
		}}
		conv = protowire.AppendTag(conv, 2, protowire.BytesType)
		conv = protowire.AppendVarint(conv, uint64(proto.Size(msg)))
		if conv, err = (proto.MarshalOptions{}).MarshalAppend(conv, msg); err != nil {
			w.err = cmp.Or(w.err, err)
			return
		}
	}
	// the rest of the conversation, merged into it: partial, as its id came first
	conv, err = (proto.MarshalOptions{AllowPartial: true}).MarshalAppend(conv, &waHistorySync.Conversation{
		TcToken: c.TCToken, TcTokenTimestamp: proto.Uint64(ts), TcTokenSenderTimestamp: proto.Uint64(ts),
	})
	if err != nil {
		w.err = cmp.Or(w.err, err)
		return
	}
	w.bytes(2, conv)
}

// wordSource makes message texts of random words from a fixed vocabulary.
type wordSource struct {
	rng   *mrand.Rand
	vocab []string
}

func newWordSource() *wordSource {
	seed := randomBytes(16)
	rng := mrand.New(mrand.NewPCG(binary.LittleEndian.Uint64(seed), binary.LittleEndian.Uint64(seed[8:])))
	vocab := make([]string, 2048)
	for i := range vocab {
		word := make([]byte, 2+rng.IntN(8))
		for j := range word {
			word[j] = byte('a' + rng.IntN(26))
		}
		vocab[i] = string(word)
	}
	return &wordSource{rng: rng, vocab: vocab}
}

func (s *wordSource) text() string {
	var b strings.Builder
	for n := 3 + s.rng.IntN(60); n > 0; n-- {
		b.WriteString(s.vocab[s.rng.IntN(len(s.vocab))])
		b.WriteByte(' ')
	}
	return b.String()
}

func (s *wordSource) id() []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, s.rng.Uint64())
	return b
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
