package send_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image/jpeg"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/job"
	"github.com/wabus/wabus/internal/media"
	"github.com/wabus/wabus/internal/session/sim"
	"github.com/wabus/wabus/internal/testing/mediatest"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/workertest"
	"github.com/wabus/wabus/internal/vocab"
)

// contentStack is a paired tenant acme on the simulator, with what its
// recipients got.
type contentStack struct {
	s          *testenv.Stack
	deliveries *workertest.Deliveries
	mu         sync.Mutex
	presence   []sim.Presence
	// order is the sequence of delivered and presence notices ("p:" or
	// "d:" and the message id or recipient).
	order []string
}

func newContentStack(t *testing.T) *contentStack {
	s := testenv.NewStack(t)
	nc := s.NATS.Conn(t)
	workertest.Start(t, s, workertest.Config(t, s, "w1"))
	c := &contentStack{s: s}
	sub, err := nc.Subscribe(s.Names.Sim("acme", "*"), func(m *nats.Msg) {
		c.mu.Lock()
		defer c.mu.Unlock()
		switch op := s.Names.Token(m.Subject, 2); op {
		case "presence":
			var p sim.Presence
			_ = json.Unmarshal(m.Data, &p)
			c.presence = append(c.presence, p)
			c.order = append(c.order, "p:"+p.To)
		case "delivered":
			var d sim.Delivered
			_ = json.Unmarshal(m.Data, &d)
			c.order = append(c.order, "d:"+d.JobID)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	c.deliveries = workertest.WatchDeliveries(t, s, nc)
	workertest.Pair(t, s, nc, "acme")
	return c
}

// send publishes a job and returns what its recipient got.
func (c *contentStack) send(t *testing.T, body map[string]any) workertest.Delivered {
	t.Helper()
	b, _ := json.Marshal(body)
	id := body["id"].(string)
	publish(t, c.s.JS, c.s.Names.Send("acme"), b, id)
	var got workertest.Delivered
	testenv.Eventually(t, 30*time.Second, "delivery of "+id, func() bool {
		for _, d := range c.deliveries.All() {
			if d.JobID == id {
				got = d
				return true
			}
		}
		return false
	})
	return got
}

// outcome waits for the job's sent or failed event and returns its data.
func (c *contentStack) outcome(t *testing.T, id string) (sent *event.Sent, failed *event.Failed) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, "outcome of "+id, func() bool {
		s, f := outcomes(t, c.s)
		if evs := s[id]; len(evs) > 0 {
			sent = &event.Sent{}
			_ = json.Unmarshal(evs[0].Data, sent)
		}
		if evs := f[id]; len(evs) > 0 {
			failed = &event.Failed{}
			_ = json.Unmarshal(evs[0].Data, failed)
		}
		return sent != nil || failed != nil
	})
	return sent, failed
}

func (c *contentStack) fails(t *testing.T, body map[string]any, code, mentions string) {
	t.Helper()
	b, _ := json.Marshal(body)
	id := body["id"].(string)
	publish(t, c.s.JS, c.s.Names.Send("acme"), b, id)
	sent, failed := c.outcome(t, id)
	if sent != nil || failed.Code != code || !strings.Contains(failed.Error, mentions) {
		t.Fatalf("job %s: sent %+v, failed %+v; want %s naming %q", id, sent, failed, code, mentions)
	}
}

const alice = "51987654321@s.whatsapp.net"

func TestSendEachContentKindThroughTheSimulator(t *testing.T) {
	t.Parallel()
	c := newContentStack(t)
	base := c.send(t, map[string]any{"id": "base", "to": "+51987654321", "text": "Reserva a las 8"})
	own := job.MessageID("acme", "base")
	if base.MessageID != own {
		t.Fatalf("base delivered %+v", base)
	}
	lat, long := -12.0464, -77.0428
	tests := []struct {
		name string
		body map[string]any
		want sim.Delivered
	}{
		{"reaction to own message", map[string]any{"reaction": map[string]string{"message_id": own, "emoji": "👍"}},
			sim.Delivered{Contents: event.Contents{Reaction: &event.Reaction{MessageID: own, Emoji: "👍"}}}},
		{"reaction to the contact's message", map[string]any{"reaction": map[string]string{"message_id": "3EB0FROMALICE", "emoji": ""}},
			sim.Delivered{Contents: event.Contents{Reaction: &event.Reaction{MessageID: "3EB0FROMALICE", Emoji: "", Sender: alice}}}},
		{"edit", map[string]any{"edit": map[string]string{"message_id": own, "text": "Reserva a las 9"}},
			sim.Delivered{Contents: event.Contents{Edit: &event.Edit{MessageID: own, Text: "Reserva a las 9"}}}},
		{"location", map[string]any{"location": map[string]any{"latitude": lat, "longitude": long, "name": "Plaza Mayor", "address": "Lima"}, "reply_to": own},
			sim.Delivered{ReplyTo: own, Contents: event.Contents{Location: &event.Location{Latitude: &lat, Longitude: &long, Name: "Plaza Mayor", Address: "Lima"}}}},
		{"contact by name and phone", map[string]any{"contact": map[string]string{"name": "Ana Pérez", "phone": "+51 911 122 233"}},
			sim.Delivered{Contents: event.Contents{Contact: &event.Contact{Name: "Ana Pérez", Phone: "+51911122233",
				VCard: "BEGIN:VCARD\nVERSION:3.0\nN:;Ana Pérez;;;\nFN:Ana Pérez\nTEL;type=CELL;waid=51911122233:+51911122233\nEND:VCARD"}}}},
		{"contact by vcard", map[string]any{"contact": map[string]string{"vcard": "BEGIN:VCARD\nVERSION:3.0\nFN:Luis\nTEL:+51922\nEND:VCARD"}},
			sim.Delivered{Contents: event.Contents{Contact: &event.Contact{Name: "Luis", VCard: "BEGIN:VCARD\nVERSION:3.0\nFN:Luis\nTEL:+51922\nEND:VCARD"}}}},
		{"poll", map[string]any{"poll": map[string]any{"question": "¿Hora?", "options": []string{"8", "9", "10"}, "multiple": true}},
			sim.Delivered{Contents: event.Contents{Poll: &event.Poll{Question: "¿Hora?", Options: []string{"8", "9", "10"}, Multiple: true}}}},
		{"read", map[string]any{"read": map[string]any{"message_ids": []string{"3EB0FROMALICE", "3EB0ALSO"}}},
			sim.Delivered{Contents: event.Contents{Read: &event.Read{MessageIDs: []string{"3EB0FROMALICE", "3EB0ALSO"}}}}},
		{"revoke", map[string]any{"revoke": map[string]string{"message_id": own}},
			sim.Delivered{Contents: event.Contents{Revoke: &event.Revoke{MessageID: own}}}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "k" + string(rune('a'+i))
			tt.body["id"], tt.body["to"] = id, "+51987654321"
			kind := vocab.ContentText
			for _, k := range []string{"reaction", "edit", "revoke", "location", "contact", "poll", "read"} {
				if tt.body[k] != nil {
					kind = k
				}
			}
			got := c.send(t, tt.body)
			want := tt.want
			want.MessageID, want.To, want.Type, want.JobID = job.MessageID("acme", id), alice, kind, id
			if kind == "read" {
				want.MessageID = ""
			}
			if !reflect.DeepEqual(got.Delivered, want) {
				t.Fatalf("recipient got\n %s\nwant\n %s", jsonOf(got.Delivered), jsonOf(want))
			}
			sent, failed := c.outcome(t, id)
			if failed != nil || sent.MessageID != want.MessageID || sent.To != "+51987654321" {
				t.Fatalf("outcome: sent %+v failed %+v, want sent as %q", sent, failed, want.MessageID)
			}
		})
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// An edit or revoke of a message this tenant did not send fails with
// unknown_message; limits that need the sent message fail with invalid_job.
func TestSendEditAndRevokeOfUnknownMessages(t *testing.T) {
	t.Parallel()
	c := newContentStack(t)
	c.send(t, map[string]any{"id": "base", "to": "+51987654321", "text": "hola"})
	own := job.MessageID("acme", "base")
	c.fails(t, map[string]any{"id": "e1", "to": "+51987654321", "edit": map[string]string{"message_id": "3EB0NOTOURS", "text": "x"}},
		event.CodeUnknownMessage, "edit.message_id")
	c.fails(t, map[string]any{"id": "r1", "to": "+51987654321", "revoke": map[string]string{"message_id": job.MessageID("other", "base")}},
		event.CodeUnknownMessage, "revoke.message_id")
	c.fails(t, map[string]any{"id": "e2", "to": "+51911122233", "edit": map[string]string{"message_id": own, "text": "x"}},
		event.CodeUnknownMessage, "not sent to this chat")
	c.send(t, map[string]any{"id": "react", "to": "+51987654321", "reaction": map[string]string{"message_id": own, "emoji": "🙂"}})
	c.fails(t, map[string]any{"id": "e3", "to": "+51987654321", "edit": map[string]string{"message_id": job.MessageID("acme", "react"), "text": "x"}},
		event.CodeInvalidJob, "only text messages")
	c.fails(t, map[string]any{"id": "g1", "to": "120363025246125486@g.us", "reaction": map[string]string{"message_id": "3EB0THEIRS", "emoji": "🙂"}},
		event.CodeInvalidJob, "reaction.sender")
	// WhatsApp's edit window: a text sent 20 minutes ago is past it.
	if _, err := c.s.Pool.Exec(context.Background(), `INSERT INTO wabus_job (tenant, job_id, seq, status, recipient, kind, message_id,
		created_at, expires_at, sent_at) VALUES ('acme', 'old', 0, 'sent', '+51987654321', 'text', '3EB0OLDTEXT', now(), now(), now() - interval '20 minutes')`); err != nil {
		t.Fatal(err)
	}
	c.fails(t, map[string]any{"id": "e4", "to": "+51987654321", "edit": map[string]string{"message_id": "3EB0OLDTEXT", "text": "x"}},
		event.CodeInvalidJob, "edit window")
	c.send(t, map[string]any{"id": "r2", "to": "+51987654321", "revoke": map[string]string{"message_id": "3EB0OLDTEXT"}})
	// An invalid job fails at ingest, naming the field.
	c.fails(t, map[string]any{"id": "p1", "to": "+51987654321", "poll": map[string]any{"question": "q", "options": []string{"solo"}}},
		event.CodeInvalidJob, "poll.options")
	// The edit right after its target: the target's outcome is recorded first.
	c.send(t, map[string]any{"id": "quick", "to": "+51987654321", "text": "uno"})
	publish(t, c.s.JS, c.s.Names.Send("acme"), []byte(`{"id":"quick2","to":"+51987654321","text":"dos"}`), "quick2")
	got := c.send(t, map[string]any{"id": "quick-edit", "to": "+51987654321", "edit": map[string]string{"message_id": job.MessageID("acme", "quick2"), "text": "tres"}})
	if got.Edit == nil || got.Edit.Text != "tres" {
		t.Fatalf("edit right after its target: %+v", got)
	}
}

func TestTypingComesBeforeTheMessage(t *testing.T) {
	t.Parallel()
	c := newContentStack(t)
	voice := mediatest.OggOpus(make([]int, 100))
	c.send(t, map[string]any{"id": "typed", "to": "+51987654321", "text": "hola", "typing_seconds": 1})
	c.send(t, map[string]any{"id": "voice", "to": "+51987654321", "typing_seconds": 1,
		"audio": map[string]any{"data": base64.StdEncoding.EncodeToString(voice), "ptt": true}})
	c.mu.Lock()
	defer c.mu.Unlock()
	want := []sim.Presence{{To: alice, State: "composing", Seconds: 1}, {To: alice, State: "recording", Seconds: 1}}
	if !reflect.DeepEqual(c.presence, want) {
		t.Fatalf("presence notices %+v, want %+v", c.presence, want)
	}
	if strings.Join(c.order, " ") != "p:"+alice+" d:typed p:"+alice+" d:voice" {
		t.Fatalf("notices in the order %v, want each presence before its message", c.order)
	}
}

// Every media kind reaches the recipient with what its phone shows: the
// kind's mimetype, dimensions, duration, waveform, thumbnail.
func TestSendMediaWithWhatAPhoneShows(t *testing.T) {
	t.Parallel()
	c := newContentStack(t)
	b64 := base64.StdEncoding.EncodeToString
	sizes := make([]int, 250) // 5 s
	for i := range sizes {
		sizes[i] = 10 + i%50
	}
	voice := c.send(t, map[string]any{"id": "voice", "to": "+51987654321", "audio": map[string]any{"data": "data:audio/ogg;base64," + b64(mediatest.OggOpus(sizes)), "ptt": true}}).Media
	if voice.Mimetype != media.VoiceNoteMimetype || !voice.PTT || voice.Seconds != 5 || len(voice.Waveform) != media.WaveformLen {
		t.Errorf("voice note %+v", voice)
	}
	img := c.send(t, map[string]any{"id": "img", "to": "+51987654321", "text": "foto", "image": map[string]any{"data": b64(mediatest.PNG(800, 600))}}).Media
	if img.Mimetype != "image/png" || img.Width != 800 || img.Height != 600 || !isJPEG(img.Thumbnail, 72, 54) {
		t.Errorf("image %+v", img)
	}
	vid := c.send(t, map[string]any{"id": "vid", "to": "+51987654321", "video": map[string]any{
		"data": b64(mediatest.MP4(3200, 640, 360)), "thumbnail": "data:image/jpeg;base64," + b64(mediatest.JPEG(640, 360))}}).Media
	if vid.Mimetype != "video/mp4" || vid.Seconds != 3 || vid.Width != 640 || vid.Height != 360 || !isJPEG(vid.Thumbnail, 72, 40) {
		t.Errorf("video %+v", vid)
	}
	st := c.send(t, map[string]any{"id": "st", "to": "+51987654321", "sticker": map[string]any{"data": b64(mediatest.WebP()), "mimetype": "image/png"}}).Media
	if st.Mimetype != "image/webp" || st.Width != 1 || st.Height != 1 {
		t.Errorf("sticker %+v", st)
	}
	doc := c.send(t, map[string]any{"id": "doc", "to": "+51987654321", "document": map[string]any{"data": b64([]byte{0, 1, 2, 3}), "filename": "data.bin"}}).Media
	if doc.Mimetype != "application/octet-stream" || doc.Filename != "data.bin" || doc.Size != 4 {
		t.Errorf("document %+v", doc)
	}
	c.fails(t, map[string]any{"id": "png-sticker", "to": "+51987654321", "sticker": map[string]any{"data": b64(mediatest.PNG(8, 8))}},
		event.CodeMediaInvalid, "WebP")
	c.fails(t, map[string]any{"id": "bad-thumb", "to": "+51987654321", "video": map[string]any{"data": b64(mediatest.MP4(1000, 2, 2)), "thumbnail": b64([]byte("nope"))}},
		event.CodeMediaInvalid, "thumbnail")
}

func isJPEG(b []byte, w, h int) bool {
	img, err := jpeg.Decode(bytes.NewReader(b))
	return err == nil && img.Bounds().Dx() == w && img.Bounds().Dy() == h
}
