package waemu

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"go.mau.fi/libsignal/ecc"
	signalLogger "go.mau.fi/libsignal/logger"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCert"
	"go.mau.fi/whatsmeow/util/keys"
	"google.golang.org/protobuf/proto"
)

// The server half of WhatsApp's Noise_XX_25519_AESGCM_SHA256 handshake
// (whatsmeow's handshake.go and socket/noisehandshake.go are the client
// half) and the certificate chain that authenticates the server's static key.

const noisePattern = "Noise_XX_25519_AESGCM_SHA256\x00\x00\x00\x00"

var (
	rootOnce sync.Once
	rootKey  *keys.KeyPair
)

// installRootKey generates the process's test root key pair once and makes
// whatsmeow trust it in place of WhatsApp's real root.
func installRootKey() *keys.KeyPair {
	rootOnce.Do(func() {
		rootKey = keys.NewKeyPair()
		whatsmeow.WACertPubKey = *rootKey.Pub
		// libsignal sets up its package logger lazily and without a lock on
		// first use, and its default one prints to stdout; set a quiet one
		// here, once, before clients and servers run in parallel.
		if signalLogger.Logger == nil {
			signalLogger.Logger = quietSignalLogger{}
		}
	})
	return rootKey
}

// quietSignalLogger drops libsignal's log lines; the server reports the
// errors that matter itself.
type quietSignalLogger struct{}

func (quietSignalLogger) Debug(string, string)   {}
func (quietSignalLogger) Info(string, string)    {}
func (quietSignalLogger) Warning(string, string) {}
func (quietSignalLogger) Error(string, string)   {}
func (quietSignalLogger) Configure(string)       {}

// newCertChain returns a serialized waCert.CertChain: an intermediate
// signed by the root, and a leaf for the server's static key signed by the
// intermediate, both valid from notBefore to notAfter.
func newCertChain(root *keys.KeyPair, static [32]byte, notBefore, notAfter time.Time) ([]byte, error) {
	inter := keys.NewKeyPair()
	const interSerial = 1
	interDetails, err := proto.Marshal(&waCert.CertChain_NoiseCertificate_Details{
		Serial:       proto.Uint32(interSerial),
		IssuerSerial: proto.Uint32(whatsmeow.WACertIssuerSerial),
		Key:          inter.Pub[:],
		NotBefore:    proto.Uint64(uint64(notBefore.Unix())),
		NotAfter:     proto.Uint64(uint64(notAfter.Unix())),
	})
	if err != nil {
		return nil, fmt.Errorf("marshal intermediate cert: %w", err)
	}
	leafDetails, err := proto.Marshal(&waCert.CertChain_NoiseCertificate_Details{
		Serial:       proto.Uint32(interSerial + 1),
		IssuerSerial: proto.Uint32(interSerial),
		Key:          static[:],
		NotBefore:    proto.Uint64(uint64(notBefore.Unix())),
		NotAfter:     proto.Uint64(uint64(notAfter.Unix())),
	})
	if err != nil {
		return nil, fmt.Errorf("marshal leaf cert: %w", err)
	}
	chain, err := proto.Marshal(&waCert.CertChain{
		Intermediate: signedCert(root, interDetails),
		Leaf:         signedCert(inter, leafDetails),
	})
	if err != nil {
		return nil, fmt.Errorf("marshal cert chain: %w", err)
	}
	return chain, nil
}

func signedCert(signer *keys.KeyPair, details []byte) *waCert.CertChain_NoiseCertificate {
	sig := sign(signer, details)
	return &waCert.CertChain_NoiseCertificate{Details: details, Signature: sig[:]}
}

// sign makes an XEdDSA signature, the kind libsignal's ecc.VerifySignature
// checks.
func sign(kp *keys.KeyPair, msg []byte) [64]byte {
	return ecc.CalculateSignature(ecc.NewDjbECPrivateKey(*kp.Priv), msg)
}

// dh is X25519. It fails on a low-order public key.
func dh(priv *[32]byte, pub []byte) ([]byte, error) {
	if len(pub) != 32 {
		return nil, fmt.Errorf("x25519: public key of %d bytes", len(pub))
	}
	sk, err := ecdh.X25519().NewPrivateKey(priv[:])
	if err != nil {
		return nil, fmt.Errorf("x25519 private key: %w", err)
	}
	pk, err := ecdh.X25519().NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("x25519 public key: %w", err)
	}
	secret, err := sk.ECDH(pk)
	if err != nil {
		return nil, fmt.Errorf("x25519: %w", err)
	}
	return secret, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return aead, nil
}

func nonce(counter uint32) []byte {
	iv := make([]byte, 12)
	binary.BigEndian.PutUint32(iv[8:], counter)
	return iv
}

// symmetricState is the Noise handshake's running hash, chaining key
// ("salt") and cipher, mirroring socket.NoiseHandshake.
type symmetricState struct {
	hash    []byte
	salt    []byte
	aead    cipher.AEAD
	counter uint32
}

func newSymmetricState(prologue []byte) (*symmetricState, error) {
	h := []byte(noisePattern)
	aead, err := newGCM(h)
	if err != nil {
		return nil, err
	}
	s := &symmetricState{hash: h, salt: h, aead: aead}
	s.authenticate(prologue)
	return s, nil
}

func (s *symmetricState) authenticate(data []byte) {
	sum := sha256.Sum256(append(append([]byte(nil), s.hash...), data...))
	s.hash = sum[:]
}

func (s *symmetricState) encrypt(plaintext []byte) []byte {
	ct := s.aead.Seal(nil, nonce(s.counter), plaintext, s.hash)
	s.counter++
	s.authenticate(ct)
	return ct
}

func (s *symmetricState) decrypt(ciphertext []byte) ([]byte, error) {
	pt, err := s.aead.Open(nil, nonce(s.counter), ciphertext, s.hash)
	s.counter++
	if err != nil {
		return nil, fmt.Errorf("decrypt handshake message: %w", err)
	}
	s.authenticate(ciphertext)
	return pt, nil
}

func (s *symmetricState) mixKey(secret []byte) error {
	write, read, err := expand(s.salt, secret)
	if err != nil {
		return err
	}
	s.counter = 0
	s.salt = write
	s.aead, err = newGCM(read)
	return err
}

// split returns the transport ciphers: the client writes with the first
// key, so the server reads with it.
func (s *symmetricState) split() (read, write cipher.AEAD, err error) {
	clientWrite, clientRead, err := expand(s.salt, nil)
	if err != nil {
		return nil, nil, err
	}
	if read, err = newGCM(clientWrite); err != nil {
		return nil, nil, err
	}
	if write, err = newGCM(clientRead); err != nil {
		return nil, nil, err
	}
	return read, write, nil
}

func expand(salt, secret []byte) (first, second []byte, err error) {
	out, err := hkdf.Key(sha256.New, secret, salt, "", 64)
	if err != nil {
		return nil, nil, fmt.Errorf("hkdf: %w", err)
	}
	return out[:32], out[32:], nil
}
