package waemu

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/hkdfutil"
	"google.golang.org/protobuf/proto"
)

// ErrNotAPoll is returned by VotePoll for a received message that is no
// poll with a message secret.
var ErrNotAPoll = errors.New("received message is not a poll with a message secret")

// VotePoll plays the contact fromPhone voting on a poll a client sent it
// (poll, as Received shows it): the vote, the SHA-256 of each chosen
// option's name, is encrypted with a key derived from the poll's message
// secret, as WhatsApp's clients do, and sent to the client device to as
// the message voteID. It returns ErrNotAPoll, or SendMessage's errors.
func (s *Server) VotePoll(to types.JID, fromPhone, voteID string, poll Received, options ...string) error {
	secret := poll.Message.GetMessageContextInfo().GetMessageSecret()
	if poll.Message.GetPollCreationMessage() == nil || len(secret) != 32 {
		return ErrNotAPoll
	}
	voter, err := normalizePhone(fromPhone)
	if err != nil {
		return err
	}
	voterJID := types.NewJID(voter, types.DefaultUserServer)
	creator := poll.From.ToNonAD()
	hashes := make([][]byte, len(options))
	for i, o := range options {
		sum := sha256.Sum256([]byte(o))
		hashes[i] = sum[:]
	}
	plain, err := proto.Marshal(&waE2E.PollVoteMessage{SelectedOptions: hashes})
	if err != nil {
		return fmt.Errorf("marshal vote: %w", err)
	}
	ct, iv, err := encryptVote(secret, poll.ID, creator, voterJID, plain)
	if err != nil {
		return err
	}
	msg := &waE2E.Message{PollUpdateMessage: &waE2E.PollUpdateMessage{
		PollCreationMessageKey: &waCommon.MessageKey{RemoteJID: proto.String(creator.String()), FromMe: proto.Bool(false), ID: proto.String(poll.ID)},
		Vote:                   &waE2E.PollEncValue{EncPayload: ct, EncIV: iv},
		SenderTimestampMS:      proto.Int64(time.Now().UnixMilli()),
	}}
	return s.SendMessage(to, fromPhone, voteID, msg)
}

// encryptVote encrypts a vote with AES-GCM under HKDF(secret, poll id,
// creator, voter, "Poll Vote"), the poll id and voter as associated data.
func encryptVote(secret []byte, pollID string, creator, voter types.JID, plain []byte) (ct, iv []byte, err error) {
	info := pollID + creator.String() + voter.String() + "Poll Vote"
	key := hkdfutil.SHA256(secret, nil, []byte(info), 32)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, fmt.Errorf("vote cipher: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, fmt.Errorf("vote cipher: %w", err)
	}
	iv = make([]byte, 12)
	_, _ = rand.Read(iv)
	aad := fmt.Appendf(nil, "%s\x00%s", pollID, voter.String())
	return gcm.Seal(nil, iv, plain, aad), iv, nil
}
