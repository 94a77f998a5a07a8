package waemu

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"go.mau.fi/whatsmeow"
)

const (
	mediaHost     = "mmg.whatsapp.net"
	maxMediaBytes = 128 << 20
)

// serveUpload stores an encrypted upload (POST /mms/<type>/<token>, the
// token being the base64url SHA-256 of the body) and answers with its URL
// and direct path, as the media servers do.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) != 3 || r.URL.Query().Get("auth") == "" {
		http.Error(w, "bad upload path", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxMediaBytes+1))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	if len(body) > maxMediaBytes {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
		return
	}
	sum := sha256.Sum256(body)
	if base64.URLEncoding.EncodeToString(sum[:]) != parts[2] {
		http.Error(w, "hash mismatch", http.StatusBadRequest)
		return
	}
	mediaURL, directPath := s.storeMedia(body)
	s.debugf("upload %s: %d bytes of %s", directPath, len(body), parts[1])
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"url": mediaURL, "direct_path": directPath})
}

// serveDelete removes stored media (DELETE /mms/<type>/<token>?d_md=<base64
// of the direct path>), as clients do with a processed history sync blob.
func (s *Server) serveDelete(w http.ResponseWriter, r *http.Request) {
	path, err := base64.RawURLEncoding.DecodeString(r.URL.Query().Get("d_md"))
	if err != nil || r.URL.Query().Get("auth") == "" {
		http.Error(w, "bad delete request", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	_, ok := s.media[string(path)]
	delete(s.media, string(path))
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// serveDownload serves stored media by path, whatever the host and query.
func (s *Server) serveDownload(w http.ResponseWriter, r *http.Request) {
	if s.serveMediaFault(w, r) {
		return
	}
	s.mu.Lock()
	data, ok := s.media[r.URL.Path]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(data)
}

// Media returns the encrypted bytes a client uploaded, found by the URL or
// direct path from the upload (or the message that carries it). It returns
// ErrUnknownMedia.
func (s *Server) Media(urlOrPath string) ([]byte, error) {
	u, err := url.Parse(urlOrPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownMedia, urlOrPath)
	}
	s.mu.Lock()
	data, ok := s.media[u.Path]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownMedia, urlOrPath)
	}
	return append([]byte(nil), data...), nil
}

// UploadMedia encrypts plaintext the way WhatsApp clients do for
// mediaType (whatsmeow.MediaDocument, MediaImage...) and stores it, as a
// contact's phone would before sending media: the result's fields go into
// the media message (URL, DirectPath, MediaKey, FileEncSHA256, FileSHA256,
// FileLength), and the client downloads it from this server.
func (s *Server) UploadMedia(plaintext []byte, mediaType whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
	var up whatsmeow.UploadResponse
	up.MediaKey = make([]byte, 32)
	_, _ = rand.Read(up.MediaKey)
	expanded, err := hkdf.Key(sha256.New, up.MediaKey, nil, string(mediaType), 112)
	if err != nil {
		return up, fmt.Errorf("expand media key: %w", err)
	}
	iv, cipherKey, macKey := expanded[:16], expanded[16:48], expanded[48:80]
	block, err := aes.NewCipher(cipherKey)
	if err != nil {
		return up, fmt.Errorf("media cipher: %w", err)
	}
	padLen := aes.BlockSize - len(plaintext)%aes.BlockSize
	ct := append(bytes.Clone(plaintext), bytes.Repeat([]byte{byte(padLen)}, padLen)...)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, ct)
	mac := hmac.New(sha256.New, macKey)
	mac.Write(iv)
	mac.Write(ct)
	blob := append(ct, mac.Sum(nil)[:10]...)
	encSum, plainSum := sha256.Sum256(blob), sha256.Sum256(plaintext)
	up.FileEncSHA256, up.FileSHA256, up.FileLength = encSum[:], plainSum[:], uint64(len(plaintext))
	up.URL, up.DirectPath = s.storeMedia(blob)
	return up, nil
}

// storeMedia keeps an encrypted blob and returns its URL and direct path.
func (s *Server) storeMedia(blob []byte) (mediaURL, directPath string) {
	path := "/v/t62.7119-24/" + randomHex(16) + ".enc"
	s.mu.Lock()
	s.media[path] = blob
	s.mu.Unlock()
	query := "?ccb=11-4&oh=" + randomHex(8) + "&oe=" + randomHex(4)
	return "https://" + mediaHost + path + query + "&mms3=true", path + query
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// MediaMessage is a media message a client sent (a document, image, audio,
// video or sticker message).
type MediaMessage interface {
	whatsmeow.DownloadableMessage
	GetFileLength() uint64
}

// DownloadMedia plays a recipient's phone opening media that a client
// sent: it fetches the blob the message's direct path names, checks its
// encrypted hash and MAC, decrypts it with the message's media key and
// checks the plaintext's hash and length, as WhatsApp clients do. It
// returns ErrUnknownMedia, or an error saying which check failed.
func (s *Server) DownloadMedia(msg MediaMessage) ([]byte, error) {
	blob, err := s.Media(msg.GetDirectPath())
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(blob); !bytes.Equal(sum[:], msg.GetFileEncSHA256()) {
		return nil, fmt.Errorf("media: encrypted hash mismatch")
	}
	if len(blob) < aes.BlockSize+10 || (len(blob)-10)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("media: bad blob length %d", len(blob))
	}
	expanded, err := hkdf.Key(sha256.New, msg.GetMediaKey(), nil, string(whatsmeow.GetMediaType(msg)), 112)
	if err != nil {
		return nil, fmt.Errorf("expand media key: %w", err)
	}
	iv, cipherKey, macKey := expanded[:16], expanded[16:48], expanded[48:80]
	ct, tag := blob[:len(blob)-10], blob[len(blob)-10:]
	mac := hmac.New(sha256.New, macKey)
	mac.Write(iv)
	mac.Write(ct)
	if !hmac.Equal(mac.Sum(nil)[:10], tag) {
		return nil, fmt.Errorf("media: MAC mismatch")
	}
	block, err := aes.NewCipher(cipherKey)
	if err != nil {
		return nil, fmt.Errorf("media cipher: %w", err)
	}
	plain := bytes.Clone(ct)
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, plain)
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > aes.BlockSize {
		return nil, fmt.Errorf("media: bad padding")
	}
	plain = plain[:len(plain)-pad]
	if sum := sha256.Sum256(plain); !bytes.Equal(sum[:], msg.GetFileSHA256()) || uint64(len(plain)) != msg.GetFileLength() {
		return nil, fmt.Errorf("media: plaintext hash or length mismatch")
	}
	return plain, nil
}
