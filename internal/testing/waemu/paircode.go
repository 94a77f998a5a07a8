package waemu

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
)

// Phone-code pairing (whatsmeow's pair-code.go is the companion's side):
// the client registers a wrapped ephemeral key for a phone number, the
// user types the 8-character code into the phone, and the phone and the
// client derive the ADV secret that authenticates pair-success.

const linkCodeIterations = 2 << 16

// linkCode is a companion's pending phone-code pairing.
type linkCode struct {
	phone      string
	ref        string
	wrappedEph []byte // salt(32) | iv(16) | AES-CTR(companion ephemeral pub)
	finish     chan *waBinary.Node
}

// handleLinkCode answers the companion's link_code_companion_reg IQs:
// companion_hello registers the pairing, companion_finish carries the key
// bundle to the phone waiting in EnterPairingCode.
func (c *conn) handleLinkCode(req *waBinary.Node) {
	reg := req.GetChildByTag("link_code_companion_reg")
	stage, _ := reg.Attrs["stage"].(string)
	switch stage {
	case "companion_hello":
		if d := c.s.cfg.LinkCodeDelay; d > 0 {
			c.s.goTracked(func() {
				t := time.NewTimer(d)
				defer t.Stop()
				select {
				case <-t.C:
					c.linkHello(req, reg)
				case <-c.closed:
				}
			})
			return
		}
		c.linkHello(req, reg)
	case "companion_finish":
		c.s.mu.Lock()
		lc := c.link
		c.s.mu.Unlock()
		if lc == nil {
			c.iqError(req, 404, "item-not-found")
			return
		}
		c.result(req)
		select {
		case lc.finish <- &reg:
		default:
		}
	default:
		c.iqError(req, 400, "bad-request")
	}
}

func (c *conn) linkHello(req *waBinary.Node, reg waBinary.Node) {
	jid, okJID := reg.Attrs["jid"].(types.JID)
	wrapped, _ := reg.GetChildByTag("link_code_pairing_wrapped_companion_ephemeral_pub").Content.([]byte)
	if !okJID || len(wrapped) != 80 || c.payload.GetDevicePairingData() == nil {
		c.iqError(req, 400, "bad-request")
		return
	}
	phone, err := normalizePhone(jid.User)
	if err != nil {
		c.iqError(req, 400, "bad-request")
		return
	}
	lc := &linkCode{phone: phone, ref: newRef(), wrappedEph: wrapped, finish: make(chan *waBinary.Node, 1)}
	c.s.mu.Lock()
	c.link = lc
	c.s.linking[phone] = c
	c.s.linkCodes[phone]++
	c.s.notifyLocked()
	c.s.mu.Unlock()
	c.result(req, waBinary.Node{Tag: "link_code_companion_reg", Content: []waBinary.Node{
		{Tag: "link_code_pairing_ref", Content: []byte(lc.ref)},
	}})
}

// LinkCodes reports how many phone-code pairings clients have registered
// for phone (each is a code shown to the user and, on WhatsApp, a push
// notification to the phone). It returns 0 for a malformed number.
func (s *Server) LinkCodes(phone string) int {
	p, err := normalizePhone(phone)
	if err != nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.linkCodes[p]
}

// EnterPairingCode plays the user typing the code a client got from
// PairPhone into the phone of account phone: the phone completes the key
// exchange and pairs the client as a new companion device, whose JID it
// returns. A wrong code fails the key exchange.
//
// It returns ErrBadPhone, ErrNotPairing (no client is pairing with that
// number), ErrPairRejected, or an error wrapping context.DeadlineExceeded
// after Config.PairTimeout.
func (s *Server) EnterPairingCode(phone, code string) (types.JID, error) {
	p, err := normalizePhone(phone)
	if err != nil {
		return types.EmptyJID, err
	}
	s.mu.Lock()
	c := s.linking[p]
	var lc *linkCode
	if c != nil {
		lc = c.link
	}
	s.mu.Unlock()
	if lc == nil {
		return types.EmptyJID, ErrNotPairing
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.PairTimeout)
	defer cancel()
	return c.pairByCode(ctx, lc, strings.ReplaceAll(code, "-", ""))
}

func (c *conn) pairByCode(ctx context.Context, lc *linkCode, code string) (types.JID, error) {
	companionEph, err := unwrapKey(code, lc.wrappedEph)
	if err != nil {
		return types.EmptyJID, err
	}
	c.s.mu.Lock()
	account := c.s.addUserLocked(lc.phone).phoneDev.identity
	c.s.mu.Unlock()
	phoneEph := keys.NewKeyPair()
	wrapped, err := wrapKey(code, phoneEph.Pub[:])
	if err != nil {
		return types.EmptyJID, err
	}
	c.sendOrClose(waBinary.Node{
		Tag:   "notification",
		Attrs: waBinary.Attrs{"from": types.ServerJID, "type": "link_code_companion_reg", "id": c.s.nextID(), "t": now()},
		Content: []waBinary.Node{{Tag: "link_code_companion_reg", Content: []waBinary.Node{
			{Tag: "link_code_pairing_ref", Content: []byte(lc.ref)},
			{Tag: "link_code_pairing_wrapped_primary_ephemeral_pub", Content: wrapped},
			{Tag: "primary_identity_pub", Content: account.Pub[:]},
		}}},
	})
	var finish *waBinary.Node
	select {
	case finish = <-lc.finish:
	case <-c.closed:
		return types.EmptyJID, fmt.Errorf("await companion_finish: %w", ErrNotPairing)
	case <-ctx.Done():
		return types.EmptyJID, fmt.Errorf("await companion_finish: %w", ctx.Err())
	}
	identity, advSecret, err := openKeyBundle(finish, phoneEph, account, companionEph)
	if err != nil {
		return types.EmptyJID, err
	}
	if string(identity[:]) != string(c.payload.GetDevicePairingData().GetEIdent()) {
		return types.EmptyJID, fmt.Errorf("%w: identity in key bundle differs from registration", ErrPairRejected)
	}
	return c.pair(ctx, identity, lc.phone, advSecret)
}

// openKeyBundle decrypts the companion's key bundle (its identity, the
// phone's identity and random bytes) and derives the ADV secret.
func openKeyBundle(finish *waBinary.Node, phoneEph, account *keys.KeyPair, companionEph []byte) ([32]byte, []byte, error) {
	var identity [32]byte
	wrapped, _ := finish.GetChildByTag("link_code_pairing_wrapped_key_bundle").Content.([]byte)
	if len(wrapped) < 32+12+16 {
		return identity, nil, fmt.Errorf("%w: malformed key bundle", ErrPairRejected)
	}
	ephShared, err := dh(phoneEph.Priv, companionEph)
	if err != nil {
		return identity, nil, err
	}
	key, err := hkdf.Key(sha256.New, ephShared, wrapped[:32], "link_code_pairing_key_bundle_encryption_key", 32)
	if err != nil {
		return identity, nil, fmt.Errorf("derive key bundle key: %w", err)
	}
	gcm, err := newGCM(key)
	if err != nil {
		return identity, nil, err
	}
	bundle, err := gcm.Open(nil, wrapped[32:44], wrapped[44:], nil)
	if err != nil || len(bundle) != 96 {
		return identity, nil, fmt.Errorf("%w: key bundle does not open (wrong code?)", ErrPairRejected)
	}
	copy(identity[:], bundle[:32])
	identShared, err := dh(account.Priv, identity[:])
	if err != nil {
		return identity, nil, err
	}
	adv, err := hkdf.Key(sha256.New, concat(ephShared, identShared, bundle[64:]), nil, "adv_secret", 32)
	if err != nil {
		return identity, nil, fmt.Errorf("derive adv secret: %w", err)
	}
	return identity, adv, nil
}

// unwrapKey decrypts salt|iv|AES-CTR(pub) with a key derived from code.
func unwrapKey(code string, wrapped []byte) ([]byte, error) {
	if len(wrapped) != 80 {
		return nil, fmt.Errorf("unwrap key: %d bytes", len(wrapped))
	}
	stream, err := codeStream(code, wrapped[:32], wrapped[32:48])
	if err != nil {
		return nil, err
	}
	pub := make([]byte, 32)
	stream.XORKeyStream(pub, wrapped[48:80])
	return pub, nil
}

// wrapKey is unwrapKey's inverse, with fresh salt and iv.
func wrapKey(code string, pub []byte) ([]byte, error) {
	out := make([]byte, 80)
	_, _ = rand.Read(out[:48])
	stream, err := codeStream(code, out[:32], out[32:48])
	if err != nil {
		return nil, err
	}
	stream.XORKeyStream(out[48:], pub)
	return out, nil
}

func codeStream(code string, salt, iv []byte) (cipher.Stream, error) {
	key, err := pbkdf2.Key(sha256.New, code, salt, linkCodeIterations, 32)
	if err != nil {
		return nil, fmt.Errorf("derive link code key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("link code cipher: %w", err)
	}
	return cipher.NewCTR(block, iv), nil
}
