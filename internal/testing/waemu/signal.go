package waemu

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"

	"go.mau.fi/libsignal/ecc"
	groupRecord "go.mau.fi/libsignal/groups/state/record"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/keys/prekey"
	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/session"
	"go.mau.fi/libsignal/state/record"
	"go.mau.fi/libsignal/util/optional"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
)

// emuDevice is a device the server plays itself (a contact's phone, or the
// primary phone of a paired account): a Signal identity, prekeys and
// sessions, kept in memory.
type emuDevice struct {
	jid types.JID

	mu       sync.Mutex
	identity *keys.KeyPair
	regID    uint32
	signed   *keys.PreKey
	prekeys  map[uint32]*keys.PreKey // published, private halves
	fresh    []uint32                // published but not yet handed out
	nextKey  uint32
	sessions map[string][]byte
	trusted  map[string][32]byte
	sender   map[string][]byte
}

const emuPreKeyBatch = 20

var serializer = store.SignalProtobufSerializer

func newEmuDevice(jid types.JID, identityKey *keys.KeyPair) *emuDevice {
	d := &emuDevice{
		jid:      jid,
		identity: identityKey,
		regID:    randomRegID(),
		signed:   identityKey.CreateSignedPreKey(1),
		prekeys:  make(map[uint32]*keys.PreKey),
		nextKey:  1,
		sessions: make(map[string][]byte),
		trusted:  make(map[string][32]byte),
		sender:   make(map[string][]byte),
	}
	d.refill()
	return d
}

func randomRegID() uint32 {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return uint32(binary.BigEndian.Uint16(b[:])%16380) + 1
}

func (d *emuDevice) refill() {
	for range emuPreKeyBatch {
		k := keys.NewPreKey(d.nextKey)
		d.prekeys[k.KeyID] = k
		d.fresh = append(d.fresh, k.KeyID)
		d.nextKey++
	}
}

// takeBundle hands out the device's keys with one fresh one-time prekey,
// as the server does for a prekey fetch.
func (d *emuDevice) takeBundle() bundleKeys {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.fresh) == 0 {
		d.refill()
	}
	id := d.fresh[0]
	d.fresh = d.fresh[1:]
	k := d.prekeys[id]
	return bundleKeys{
		regID:    d.regID,
		identity: *d.identity.Pub,
		signed:   signedKey{id: d.signed.KeyID, pub: *d.signed.Pub, sig: *d.signed.Signature},
		prekey:   &preKeyPub{id: k.KeyID, pub: *k.Pub},
	}
}

// hasSession reports whether the device has a session with peer.
func (d *emuDevice) hasSession(peer types.JID) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.sessions[peer.SignalAddress().String()]
	return ok
}

// encrypt encrypts padded plaintext for peer. When there is no session yet
// it builds one from bundle, which must then be non-nil.
func (d *emuDevice) encrypt(ctx context.Context, peer types.JID, bundle *bundleKeys, plaintext []byte) (encType string, ciphertext []byte, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	addr := peer.SignalAddress()
	builder := session.NewBuilderFromSignal(signalStore{d}, addr, serializer)
	if _, ok := d.sessions[addr.String()]; !ok {
		if bundle == nil {
			return "", nil, fmt.Errorf("encrypt for %s: no session and no prekey bundle", peer)
		}
		if err := builder.ProcessBundle(ctx, bundle.libsignal(uint32(peer.Device))); err != nil {
			return "", nil, fmt.Errorf("process prekey bundle of %s: %w", peer, err)
		}
	}
	msg, err := session.NewCipher(builder, addr).Encrypt(ctx, plaintext)
	if err != nil {
		return "", nil, fmt.Errorf("encrypt for %s: %w", peer, err)
	}
	if msg.Type() == protocol.PREKEY_TYPE {
		return "pkmsg", msg.Serialize(), nil
	}
	return "msg", msg.Serialize(), nil
}

// decrypt decrypts a pkmsg or msg from peer and returns the plaintext with
// its padding still on.
func (d *emuDevice) decrypt(ctx context.Context, peer types.JID, encType string, ciphertext []byte) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	addr := peer.SignalAddress()
	builder := session.NewBuilderFromSignal(signalStore{d}, addr, serializer)
	cipher := session.NewCipher(builder, addr)
	switch encType {
	case "pkmsg":
		msg, err := protocol.NewPreKeySignalMessageFromBytes(ciphertext, serializer.PreKeySignalMessage, serializer.SignalMessage)
		if err != nil {
			return nil, fmt.Errorf("parse pkmsg from %s: %w", peer, err)
		}
		return cipher.DecryptMessage(ctx, msg)
	case "msg":
		msg, err := protocol.NewSignalMessageFromBytes(ciphertext, serializer.SignalMessage)
		if err != nil {
			return nil, fmt.Errorf("parse msg from %s: %w", peer, err)
		}
		return cipher.Decrypt(ctx, msg)
	default:
		return nil, fmt.Errorf("decrypt from %s: unsupported enc type %q", peer, encType)
	}
}

// bundleKeys is the public half of a device's keys, as the prekey fetch
// returns them.
type bundleKeys struct {
	regID    uint32
	identity [32]byte
	signed   signedKey
	prekey   *preKeyPub // nil when the device has run out
}

type signedKey struct {
	id  uint32
	pub [32]byte
	sig [64]byte
}

type preKeyPub struct {
	id  uint32
	pub [32]byte
}

func (b *bundleKeys) libsignal(deviceID uint32) *prekey.Bundle {
	ident := identity.NewKey(ecc.NewDjbECPublicKey(b.identity))
	signedPub := ecc.NewDjbECPublicKey(b.signed.pub)
	if b.prekey == nil {
		return prekey.NewBundle(b.regID, deviceID, optional.NewEmptyUint32(), b.signed.id,
			nil, signedPub, b.signed.sig, ident)
	}
	return prekey.NewBundle(b.regID, deviceID, optional.NewOptionalUint32(b.prekey.id), b.signed.id,
		ecc.NewDjbECPublicKey(b.prekey.pub), signedPub, b.signed.sig, ident)
}

// signalStore implements libsignal's store.SignalProtocol over an
// emuDevice. The device's mutex is held by the caller.
type signalStore struct{ d *emuDevice }

func (s signalStore) GetIdentityKeyPair() *identity.KeyPair {
	return identity.NewKeyPair(
		identity.NewKey(ecc.NewDjbECPublicKey(*s.d.identity.Pub)),
		ecc.NewDjbECPrivateKey(*s.d.identity.Priv),
	)
}

func (s signalStore) GetLocalRegistrationID() uint32 { return s.d.regID }

func (s signalStore) SaveIdentity(_ context.Context, addr *protocol.SignalAddress, key *identity.Key) error {
	s.d.trusted[addr.String()] = key.PublicKey().PublicKey()
	return nil
}

// IsTrustedIdentity trusts everyone: the emulated phones accept whatever
// identity a client presents, like a user who ignores safety-number changes.
func (s signalStore) IsTrustedIdentity(context.Context, *protocol.SignalAddress, *identity.Key) (bool, error) {
	return true, nil
}

func (s signalStore) LoadPreKey(_ context.Context, id uint32) (*record.PreKey, error) {
	k, ok := s.d.prekeys[id]
	if !ok {
		return nil, nil
	}
	pair := ecc.NewECKeyPair(ecc.NewDjbECPublicKey(*k.Pub), ecc.NewDjbECPrivateKey(*k.Priv))
	return record.NewPreKey(k.KeyID, pair, nil), nil
}

func (s signalStore) StorePreKey(context.Context, uint32, *record.PreKey) error {
	return fmt.Errorf("store prekey: not supported")
}

func (s signalStore) ContainsPreKey(_ context.Context, id uint32) (bool, error) {
	_, ok := s.d.prekeys[id]
	return ok, nil
}

func (s signalStore) RemovePreKey(_ context.Context, id uint32) error {
	delete(s.d.prekeys, id)
	return nil
}

func (s signalStore) LoadSession(_ context.Context, addr *protocol.SignalAddress) (*record.Session, error) {
	raw, ok := s.d.sessions[addr.String()]
	if !ok {
		return record.NewSession(serializer.Session, serializer.State), nil
	}
	sess, err := record.NewSessionFromBytes(raw, serializer.Session, serializer.State)
	if err != nil {
		return nil, fmt.Errorf("load session with %s: %w", addr, err)
	}
	return sess, nil
}

func (s signalStore) GetSubDeviceSessions(context.Context, string) ([]uint32, error) {
	return nil, nil
}

func (s signalStore) StoreSession(_ context.Context, addr *protocol.SignalAddress, rec *record.Session) error {
	s.d.sessions[addr.String()] = rec.Serialize()
	return nil
}

func (s signalStore) ContainsSession(_ context.Context, addr *protocol.SignalAddress) (bool, error) {
	_, ok := s.d.sessions[addr.String()]
	return ok, nil
}

func (s signalStore) DeleteSession(_ context.Context, addr *protocol.SignalAddress) error {
	delete(s.d.sessions, addr.String())
	return nil
}

func (s signalStore) DeleteAllSessions(context.Context) error {
	clear(s.d.sessions)
	return nil
}

func (s signalStore) LoadSignedPreKey(_ context.Context, id uint32) (*record.SignedPreKey, error) {
	if id != s.d.signed.KeyID {
		return nil, nil
	}
	k := s.d.signed
	pair := ecc.NewECKeyPair(ecc.NewDjbECPublicKey(*k.Pub), ecc.NewDjbECPrivateKey(*k.Priv))
	return record.NewSignedPreKey(k.KeyID, 0, pair, *k.Signature, nil), nil
}

func (s signalStore) LoadSignedPreKeys(ctx context.Context) ([]*record.SignedPreKey, error) {
	k, err := s.LoadSignedPreKey(ctx, s.d.signed.KeyID)
	return []*record.SignedPreKey{k}, err
}

func (s signalStore) StoreSignedPreKey(context.Context, uint32, *record.SignedPreKey) error {
	return fmt.Errorf("store signed prekey: not supported")
}

func (s signalStore) ContainsSignedPreKey(_ context.Context, id uint32) (bool, error) {
	return id == s.d.signed.KeyID, nil
}

func (s signalStore) RemoveSignedPreKey(context.Context, uint32) error { return nil }

func (s signalStore) StoreSenderKey(_ context.Context, name *protocol.SenderKeyName, rec *groupRecord.SenderKey) error {
	s.d.sender[name.GroupID()+"/"+name.Sender().String()] = rec.Serialize()
	return nil
}

func (s signalStore) LoadSenderKey(_ context.Context, name *protocol.SenderKeyName) (*groupRecord.SenderKey, error) {
	raw, ok := s.d.sender[name.GroupID()+"/"+name.Sender().String()]
	if !ok {
		return groupRecord.NewSenderKey(serializer.SenderKeyRecord, serializer.SenderKeyState), nil
	}
	return groupRecord.NewSenderKeyFromBytes(raw, serializer.SenderKeyRecord, serializer.SenderKeyState)
}

// pad adds WhatsApp's random padding (1 to 15 bytes, each equal to the
// count), and unpad removes and checks it.
func pad(plaintext []byte) []byte {
	var b [1]byte
	_, _ = rand.Read(b[:])
	n := int(b[0] & 0x0F)
	if n == 0 {
		n = 0x0F
	}
	return append(plaintext, bytes.Repeat([]byte{byte(n)}, n)...)
}

func unpad(plaintext []byte) ([]byte, error) {
	if len(plaintext) == 0 {
		return nil, fmt.Errorf("unpad: empty plaintext")
	}
	n := int(plaintext[len(plaintext)-1])
	if n == 0 || n > len(plaintext) || !bytes.Equal(plaintext[len(plaintext)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		return nil, fmt.Errorf("unpad: bad padding")
	}
	return plaintext[:len(plaintext)-n], nil
}
