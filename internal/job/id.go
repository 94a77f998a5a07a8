package job

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// MessageIDPrefix starts every message id WhatsApp Web (and whatsmeow)
// generates.
const MessageIDPrefix = "3EB0"

// MessageIDLen is the length of a MessageID: the prefix and 18 hex digits
// (9 bytes), the length of whatsmeow's Client.GenerateMessageID.
const MessageIDLen = len(MessageIDPrefix) + 2*messageIDBytes

const messageIDBytes = 9

// MessageID returns the WhatsApp message id of a tenant's job: "3EB0"
// followed by the first 9 bytes of SHA-256(tenant, NUL, jobID) in upper-case
// hex, 22 characters in all. The same job of the same tenant always gets the
// same id, so a retry after a crash mid-send cannot deliver two copies. The
// NUL cannot occur in a tenant id, so distinct (tenant, job) pairs hash
// distinct inputs.
func MessageID(tenant, jobID string) string {
	h := sha256.New()
	h.Write([]byte(tenant))
	h.Write([]byte{0})
	h.Write([]byte(jobID))
	sum := h.Sum(nil)
	return MessageIDPrefix + strings.ToUpper(hex.EncodeToString(sum[:messageIDBytes]))
}

// NewID returns a random job id of 24 lower-case hex characters (96 bits),
// for a job published without one.
func NewID() string {
	var b [12]byte
	rand.Read(b[:]) // never fails (crypto/rand.Read crashes the program instead)
	return hex.EncodeToString(b[:])
}
