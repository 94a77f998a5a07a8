package wmdriver

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"

	"github.com/wabus/wabus/internal/session/wa"
)

var (
	testNow   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ownDevice = types.NewADJID("51900000001", 0, 7)
	alice     = types.NewJID("51987654321", types.DefaultUserServer)
	aliceLID  = types.NewJID("112233445566", types.HiddenUserServer)
	group     = types.NewJID("120363025246125486", types.GroupServer)
)

// testMapper is a mapper whose download reports the attachment's type.
func testMapper() mapper {
	return mapper{
		ownJID: func() types.JID { return ownDevice },
		download: func(_ context.Context, msg whatsmeow.DownloadableMessage, f whatsmeow.File) error {
			_, err := fmt.Fprintf(f, "%T", msg)
			return err
		},
		now: func() time.Time { return testNow },
	}
}

// recorder is a wa.Handler that records events and answers with answer.
type recorder struct {
	mu     sync.Mutex
	events []wa.Event
	answer bool
	panics bool
}

func (r *recorder) Handle(ev wa.Event) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	if r.panics {
		panic("handler exploded")
	}
	return r.answer
}

func (r *recorder) all() []wa.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]wa.Event(nil), r.events...)
}
