package waemu

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/whatsmeow"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/proto/waCompanionReg"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
	"google.golang.org/protobuf/proto"
)

// qrPrefix starts every pairing QR code of today's WhatsApp: a link the
// phone's camera opens in WhatsApp's linked-devices screen. The fragment
// holds the ref, the noise, identity and ADV keys, and the client type.
const qrPrefix = "https://wa.me/settings/linked_devices#"

// qrCode is what a pairing QR code carries.
type qrCode struct {
	ref       string
	noise     [32]byte
	identity  [32]byte
	advSecret []byte
}

func parseQR(code string) (qrCode, error) {
	rest, ok := strings.CutPrefix(code, qrPrefix)
	if !ok {
		return qrCode{}, ErrBadQR
	}
	parts := strings.Split(rest, ",")
	if len(parts) != 5 || parts[0] == "" || parts[4] == "" {
		return qrCode{}, ErrBadQR
	}
	var q qrCode
	q.ref = parts[0]
	noise, err1 := base64.StdEncoding.DecodeString(parts[1])
	ident, err2 := base64.StdEncoding.DecodeString(parts[2])
	adv, err3 := base64.StdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil || err3 != nil || len(noise) != 32 || len(ident) != 32 || len(adv) == 0 {
		return qrCode{}, ErrBadQR
	}
	copy(q.noise[:], noise)
	copy(q.identity[:], ident)
	q.advSecret = adv
	return q, nil
}

// ScanQR plays the phone scanning the QR code a client shows: it pairs the
// client to a new account with a random phone number. See ScanQRAs.
func (s *Server) ScanQR(code string) error {
	_, err := s.ScanQRAs(code, randomDigits("1555", 11))
	return err
}

// ScanQRAs pairs the client showing code to phone's account (created if
// needed) as a new companion device, and returns the device's JID. It sends
// the signed device identity, waits for the client's signature, then sends
// stream error 515 so that the client logs in again as the new device.
//
// It returns ErrBadQR, ErrBadPhone, ErrNotPairing, ErrPairRejected, or an
// error wrapping context.DeadlineExceeded after Config.PairTimeout.
func (s *Server) ScanQRAs(code, phone string) (types.JID, error) {
	q, err := parseQR(code)
	if err != nil {
		return types.EmptyJID, err
	}
	p, err := normalizePhone(phone)
	if err != nil {
		return types.EmptyJID, err
	}
	s.mu.Lock()
	c, ok := s.pairing[q.ref]
	s.mu.Unlock()
	if !ok || c.static != q.noise || !bytes.Equal(c.payload.GetDevicePairingData().GetEIdent(), q.identity[:]) {
		return types.EmptyJID, ErrNotPairing
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.PairTimeout)
	defer cancel()
	return c.pair(ctx, q.identity, p, q.advSecret)
}

// pair completes pairing on a registration connection for account phone.
// identity is the client's identity key and advSecret authenticates the
// device identity (from the QR code, or derived in phone-code pairing).
func (c *conn) pair(ctx context.Context, identity [32]byte, phone string, advSecret []byte) (types.JID, error) {
	comp, err := companionFromRegistration(c)
	if err != nil {
		return types.EmptyJID, err
	}
	s := c.s
	s.mu.Lock()
	u := s.addUserLocked(phone)
	dev := u.jid()
	dev.Device = u.nextDevice
	u.nextDevice++
	lid := u.lid
	lid.Device = dev.Device
	accountKey := u.phoneDev.identity
	s.mu.Unlock()
	comp.jid, comp.lid = dev, lid

	keyIndex := uint32(dev.Device)
	container, err := deviceIdentityContainer(accountKey, identity, advSecret, keyIndex)
	if err != nil {
		return types.EmptyJID, err
	}
	resp, err := c.request(ctx, pairSuccessNode(container, dev, lid))
	if err != nil {
		return types.EmptyJID, err
	}
	if err := checkPairSign(resp, identity, accountKey.Pub[:]); err != nil {
		return types.EmptyJID, err
	}
	s.mu.Lock()
	s.companions[dev] = comp
	u.companions = append(u.companions, dev.Device)
	s.forgetPairingLocked(c)
	s.notifyLocked()
	s.mu.Unlock()
	c.streamError("515", "")
	s.historyAfterPair(dev)
	return dev, nil
}

// companionFromRegistration reads the keys a client registered with.
func companionFromRegistration(c *conn) (*companion, error) {
	reg := c.payload.GetDevicePairingData()
	regID, ident := reg.GetERegid(), reg.GetEIdent()
	skeyID, skey, skeySig := reg.GetESkeyID(), reg.GetESkeyVal(), reg.GetESkeySig()
	if len(regID) != 4 || len(ident) != 32 || len(skeyID) != 3 || len(skey) != 32 || len(skeySig) != 64 {
		return nil, fmt.Errorf("pair: malformed registration data")
	}
	comp := &companion{noise: c.static, props: &waCompanionReg.DeviceProps{}}
	if err := proto.Unmarshal(reg.GetDeviceProps(), comp.props); err != nil {
		return nil, fmt.Errorf("pair: malformed device props: %w", err)
	}
	comp.keys.regID = binary.BigEndian.Uint32(regID)
	copy(comp.keys.identity[:], ident)
	comp.keys.signed.id = uint32(skeyID[0])<<16 | uint32(skeyID[1])<<8 | uint32(skeyID[2])
	copy(comp.keys.signed.pub[:], skey)
	copy(comp.keys.signed.sig[:], skeySig)
	return comp, nil
}

// deviceIdentityContainer builds the ADVSignedDeviceIdentityHMAC the phone
// sends: the device identity signed by the account key, wrapped in an HMAC
// keyed with the client's ADV secret.
func deviceIdentityContainer(kp *keys.KeyPair, deviceIdentity [32]byte, advSecret []byte, keyIndex uint32) ([]byte, error) {
	var raw [4]byte
	_, _ = rand.Read(raw[:])
	details, err := proto.Marshal(&waAdv.ADVDeviceIdentity{
		RawID:       proto.Uint32(binary.BigEndian.Uint32(raw[:])),
		Timestamp:   proto.Uint64(uint64(time.Now().Unix())),
		KeyIndex:    proto.Uint32(keyIndex),
		AccountType: waAdv.ADVEncryptionType_E2EE.Enum(),
		DeviceType:  waAdv.ADVEncryptionType_E2EE.Enum(),
	})
	if err != nil {
		return nil, fmt.Errorf("marshal device identity: %w", err)
	}
	msg := concat(whatsmeow.AdvAccountSignaturePrefix, details, deviceIdentity[:])
	sig := sign(kp, msg)
	signed, err := proto.Marshal(&waAdv.ADVSignedDeviceIdentity{
		Details: details, AccountSignatureKey: kp.Pub[:], AccountSignature: sig[:],
	})
	if err != nil {
		return nil, fmt.Errorf("marshal signed device identity: %w", err)
	}
	mac := hmac.New(sha256.New, advSecret)
	mac.Write(signed)
	out, err := proto.Marshal(&waAdv.ADVSignedDeviceIdentityHMAC{
		Details: signed, HMAC: mac.Sum(nil), AccountType: waAdv.ADVEncryptionType_E2EE.Enum(),
	})
	if err != nil {
		return nil, fmt.Errorf("marshal device identity container: %w", err)
	}
	return out, nil
}

// DeviceProps returns the device properties the companion dev presented
// when it registered: the name the phone lists it under (Os), its
// platform and the history sync limits it asked for. It returns
// ErrUnknownDevice.
func (s *Server) DeviceProps(dev types.JID) (*waCompanionReg.DeviceProps, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.companions[dev]
	if !ok {
		return nil, fmt.Errorf("device props of %s: %w", dev, ErrUnknownDevice)
	}
	return proto.CloneOf(c.props), nil
}

func pairSuccessNode(container []byte, dev, lid types.JID) waBinary.Node {
	return waBinary.Node{
		Tag:   "iq",
		Attrs: waBinary.Attrs{"from": types.ServerJID, "type": "set", "xmlns": "md"},
		Content: []waBinary.Node{{Tag: "pair-success", Content: []waBinary.Node{
			{Tag: "device-identity", Content: container},
			{Tag: "platform", Attrs: waBinary.Attrs{"name": "android"}},
			{Tag: "device", Attrs: waBinary.Attrs{"jid": dev, "lid": lid}},
		}}},
	}
}

// checkPairSign verifies the client's answer to pair-success: an iq result
// with the device identity counter-signed by the client's identity key.
func checkPairSign(resp *waBinary.Node, deviceIdentity [32]byte, accountKey []byte) error {
	if typ, _ := resp.Attrs["type"].(string); typ != "result" {
		return fmt.Errorf("%w: %s", ErrPairRejected, resp.String())
	}
	raw, ok := resp.GetChildByTag("pair-device-sign", "device-identity").Content.([]byte)
	if !ok {
		return fmt.Errorf("%w: no signed device identity in %s", ErrPairRejected, resp.String())
	}
	var signed waAdv.ADVSignedDeviceIdentity
	if err := proto.Unmarshal(raw, &signed); err != nil {
		return fmt.Errorf("%w: unmarshal signed device identity: %v", ErrPairRejected, err)
	}
	if len(signed.GetDeviceSignature()) != 64 {
		return fmt.Errorf("%w: device signature missing", ErrPairRejected)
	}
	msg := concat(whatsmeow.AdvDeviceSignaturePrefix, signed.GetDetails(), deviceIdentity[:], accountKey)
	if !ecc.VerifySignature(ecc.NewDjbECPublicKey(deviceIdentity), msg, [64]byte(signed.GetDeviceSignature())) {
		return fmt.Errorf("%w: bad device signature", ErrPairRejected)
	}
	return nil
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
