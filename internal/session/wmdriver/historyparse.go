package wmdriver

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// A history sync blob is one HistorySync protobuf, often hundreds of MB
// once decompressed, nearly all of it messages. readHistory reads it as a
// stream and keeps only what sends need, so memory does not grow with the
// blob: each conversation's id and tctoken (its messages are skipped
// unread), the phone-number-to-LID mappings and the NCT salt.

// Field numbers of waHistorySync.HistorySync and Conversation read here.
const (
	historyConversations = 2
	historyLIDMappings   = 15
	historyNCTSalt       = 19

	convID                     = 1
	convTCToken                = 21
	convTCTokenTimestamp       = 22
	convTCTokenSenderTimestamp = 28
)

// maxHistoryField bounds a field that readHistory holds in memory (an id,
// a token, a mapping); larger ones are skipped.
const maxHistoryField = 64 << 10

// historySink receives what readHistory keeps, in the blob's order.
type historySink interface {
	conversation(c *waHistorySync.Conversation) error
	lidMapping(m *waHistorySync.PhoneNumberToLIDMapping) error
	nctSalt(salt []byte) error
}

// readHistory parses the HistorySync protobuf in r, handing sink what it
// keeps. It returns errHistoryMalformed (wrapped) for bad wire data, the
// reader's error, or the first error of sink. Skipping allocates nothing,
// so the garbage it leaves does not grow with the blob either.
func readHistory(r io.Reader, sink historySink) error {
	w := &wire{br: bufio.NewReaderSize(r, 64<<10)}
	for {
		num, typ, err := w.tag()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := readHistoryField(w, num, typ, sink); err != nil {
			return err
		}
	}
}

func readHistoryField(w *wire, num protowire.Number, typ protowire.Type, sink historySink) error {
	switch {
	case num == historyConversations && typ == protowire.BytesType:
		n, err := w.length()
		if err != nil {
			return err
		}
		c, err := readConversation(w, n)
		if err != nil || c == nil {
			return err
		}
		return sink.conversation(c)
	case num == historyLIDMappings && typ == protowire.BytesType:
		var m waHistorySync.PhoneNumberToLIDMapping
		if ok, err := w.message(&m); !ok {
			return err
		}
		return sink.lidMapping(&m)
	case num == historyNCTSalt && typ == protowire.BytesType:
		salt, err := w.smallBytes()
		if err != nil || salt == nil {
			return err
		}
		return sink.nctSalt(salt)
	}
	return w.skip(typ)
}

// readConversation reads the n bytes of a Conversation, keeping its id and
// tctoken; it returns nil for one without a tctoken.
func readConversation(w *wire, n int64) (*waHistorySync.Conversation, error) {
	end := w.n + n
	var c waHistorySync.Conversation
	for w.n < end {
		num, typ, err := w.tag()
		if err != nil {
			return nil, truncated(err)
		}
		switch {
		case (num == convID || num == convTCToken) && typ == protowire.BytesType:
			b, err := w.smallBytes()
			if err != nil {
				return nil, err
			}
			if num == convID {
				c.ID = proto.String(string(b))
			} else {
				c.TcToken = b
			}
		case (num == convTCTokenTimestamp || num == convTCTokenSenderTimestamp) && typ == protowire.VarintType:
			v, err := w.varint()
			if err != nil {
				return nil, err
			}
			if num == convTCTokenTimestamp {
				c.TcTokenTimestamp = proto.Uint64(v)
			} else {
				c.TcTokenSenderTimestamp = proto.Uint64(v)
			}
		default:
			if err := w.skip(typ); err != nil {
				return nil, err
			}
		}
	}
	if w.n != end {
		return nil, fmt.Errorf("%w: conversation overruns its %d bytes", errHistoryMalformed, n)
	}
	if c.ID == nil || len(c.TcToken) == 0 {
		return nil, nil
	}
	return &c, nil
}

// wire reads protobuf wire data from br, counting the bytes read.
type wire struct {
	br *bufio.Reader
	n  int64
}

func (w *wire) ReadByte() (byte, error) {
	b, err := w.br.ReadByte()
	if err == nil {
		w.n++
	}
	return b, err
}

// tag reads a field's tag; io.EOF at a clean end between fields.
func (w *wire) tag() (protowire.Number, protowire.Type, error) {
	v, err := binary.ReadUvarint(w)
	if errors.Is(err, io.EOF) {
		return 0, 0, io.EOF
	}
	if err != nil {
		return 0, 0, truncated(err)
	}
	num, typ := protowire.DecodeTag(v)
	if num < protowire.MinValidNumber || num > protowire.MaxValidNumber {
		return 0, 0, fmt.Errorf("%w: field number %d", errHistoryMalformed, num)
	}
	return num, typ, nil
}

func (w *wire) varint() (uint64, error) {
	v, err := binary.ReadUvarint(w)
	if err != nil {
		return 0, truncated(err)
	}
	return v, nil
}

func (w *wire) length() (int64, error) {
	v, err := w.varint()
	if err != nil {
		return 0, err
	}
	if v > 1<<40 {
		return 0, fmt.Errorf("%w: length %d", errHistoryMalformed, v)
	}
	return int64(v), nil
}

// message reads a length-delimited field into m; ok is false (with a nil
// error) for one over maxHistoryField or that does not unmarshal, which is
// skipped.
func (w *wire) message(m proto.Message) (ok bool, err error) {
	b, err := w.smallBytes()
	if err != nil || b == nil {
		return false, err
	}
	return proto.Unmarshal(b, m) == nil, nil
}

// smallBytes reads a length-delimited field; one over maxHistoryField is
// skipped and nil returned.
func (w *wire) smallBytes() ([]byte, error) {
	n, err := w.length()
	if err != nil {
		return nil, err
	}
	if n > maxHistoryField {
		return nil, w.discard(n)
	}
	b := make([]byte, n)
	k, err := io.ReadFull(w.br, b)
	w.n += int64(k)
	if err != nil {
		return nil, truncated(err)
	}
	return b, nil
}

// skip reads past a field's value.
func (w *wire) skip(typ protowire.Type) error {
	switch typ {
	case protowire.VarintType:
		_, err := w.varint()
		return err
	case protowire.Fixed32Type:
		return w.discard(4)
	case protowire.Fixed64Type:
		return w.discard(8)
	case protowire.BytesType:
		n, err := w.length()
		if err != nil {
			return err
		}
		return w.discard(n)
	}
	return fmt.Errorf("%w: wire type %d", errHistoryMalformed, typ)
}

func (w *wire) discard(n int64) error {
	for n > 0 {
		k, err := w.br.Discard(int(min(n, 1<<30)))
		w.n += int64(k)
		n -= int64(k)
		if err != nil {
			return truncated(err)
		}
	}
	return nil
}

// truncated turns an EOF inside a field into errHistoryMalformed.
func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: truncated", errHistoryMalformed)
	}
	return err
}
