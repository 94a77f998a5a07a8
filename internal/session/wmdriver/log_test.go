package wmdriver

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// capture is a slog.Handler that keeps records.
type capture struct {
	mu      sync.Mutex
	level   slog.Level
	records []slog.Record
}

func (c *capture) Enabled(_ context.Context, l slog.Level) bool { return l >= c.level }
func (c *capture) WithAttrs([]slog.Attr) slog.Handler           { return c }
func (c *capture) WithGroup(string) slog.Handler                { return c }
func (c *capture) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, r)
	return nil
}

type logLine struct {
	level  slog.Level
	msg    string
	module string
}

func (c *capture) lines() []logLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []logLine
	for _, r := range c.records {
		l := logLine{level: r.Level, msg: r.Message}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "module" {
				l.module = a.Value.String()
			}
			return true
		})
		out = append(out, l)
	}
	return out
}

func TestLoggerLevelsAndModule(t *testing.T) {
	t.Parallel()
	h := &capture{level: slog.LevelDebug}
	l := NewLogger(slog.New(h), "whatsmeow")
	l.Debugf("dialing %s", "wss://web.whatsapp.com/ws/chat")
	l.Infof("paired %d", 1)
	sock := l.Sub("Socket")
	sock.Warnf("slow %s", "frame")
	sock.Sub("Noise").Errorf("broken: %v", "pipe")
	l.Sub("QRChannel").Debugf("Emitting QR code %s", "2@ref,noise,identity,advsecret")
	want := []logLine{
		{slog.LevelDebug, "dialing wss://web.whatsapp.com/ws/chat", "whatsmeow"},
		{slog.LevelInfo, "paired 1", "whatsmeow"},
		{slog.LevelWarn, "slow frame", "whatsmeow/Socket"},
		{slog.LevelError, "broken: pipe", "whatsmeow/Socket/Noise"},
	}
	got := h.lines()
	if len(got) != len(want) {
		t.Fatalf("got %d records %+v, want %+v", len(got), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestLoggerSkipsDisabledLevels(t *testing.T) {
	t.Parallel()
	h := &capture{level: slog.LevelInfo}
	l := NewLogger(slog.New(h), "whatsmeow")
	l.Debugf("%s", "chatty stanza")
	l.Infof("kept")
	if got := h.lines(); len(got) != 1 || got[0].msg != "kept" {
		t.Errorf("records = %+v, want only the info one", got)
	}
}

func TestLoggerRedactsPhoneNumbers(t *testing.T) {
	t.Parallel()
	h := &capture{level: slog.LevelDebug}
	l := NewLogger(slog.New(h), "whatsmeow")
	l.Warnf("Error decrypting message %s from %s: %v", "3EB0C4F1A2B3", "51987654321:3@s.whatsapp.net", "no session")
	l.Infof("LID for %s is %s", "51987654321@s.whatsapp.net", "152465347992519@lid")
	got := h.lines()
	want := []string{
		"Error decrypting message 3EB0C4F1A2B3 from 519…21:3@s.whatsapp.net: no session",
		"LID for 519…21@s.whatsapp.net is 152…19@lid",
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i].msg != want[i] {
			t.Errorf("line %d = %q, want %q", i, got[i].msg, want[i])
		}
	}
}

// A line of a Sub logger names its module once, through a real handler.
func TestLoggerLinesCarryOneModuleKey(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := NewLogger(slog.New(slog.NewJSONHandler(&buf, nil)), "whatsmeow/store")
	l.Sub("Upgrade").Infof("upgrading")
	if n := strings.Count(buf.String(), `"module"`); n != 1 {
		t.Fatalf("line %s has %d module keys, want 1", buf.String(), n)
	}
}
