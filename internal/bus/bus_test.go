package bus_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/vocab"
)

func TestNamesFollowThePrefix(t *testing.T) {
	for _, tc := range []struct{ prefix, send, stream, bucket string }{
		{"wa", "wa.send.t1", "WA_SEND", "wa-media"},
		{"test.x-1", "test.x-1.send.t1", "TEST_X-1_SEND", "test-x-1-media"},
	} {
		n := bus.NewNames(tc.prefix)
		if n.Send("t1") != tc.send || n.SendStream() != tc.stream || n.MediaBucket() != tc.bucket {
			t.Errorf("prefix %q: got %s %s %s", tc.prefix, n.Send("t1"), n.SendStream(), n.MediaBucket())
		}
	}
	n := bus.NewNames("wa")
	if got := n.Event("acme", vocab.EventSent); got != "wa.events.acme.sent" {
		t.Errorf("event subject %s", got)
	}
	if got := n.Token("wa.ctl.acme.pair", 1); got != "acme" {
		t.Errorf("token = %q", got)
	}
	if got := n.Token("xx.ctl.acme.pair", 1); got != "" {
		t.Errorf("token of a foreign subject = %q", got)
	}
}

func TestValidTenant(t *testing.T) {
	for _, ok := range []string{"13", "153", "demo-test", "A_b-9", string(make([]byte, 0)) + "x"} {
		if !bus.ValidTenant(ok) {
			t.Errorf("%q rejected", ok)
		}
	}
	long := ""
	for range 65 {
		long += "a"
	}
	for _, bad := range []string{"", "a.b", "a*", "a>", "a/b", "a b", long, "ü"} {
		if bus.ValidTenant(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestProvisionIsIdempotentAndConcurrent(t *testing.T) {
	t.Parallel()
	ns := testenv.NATS(t)
	names := bus.NewNames(testenv.Prefix(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		js := ns.JetStream(t)
		wg.Go(func() { errs[i] = bus.Provision(ctx, js, names, bus.Config{SendMaxAge: time.Hour}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
	}
	js := ns.JetStream(t)
	if err := bus.Provision(ctx, js, names, bus.Config{SendMaxAge: 2 * time.Hour}); err != nil {
		t.Fatalf("update: %v", err)
	}
	s, err := js.Stream(ctx, names.SendStream())
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Info(ctx)
	src, dst := names.SendTransform()
	tr := info.Config.SubjectTransform
	if info.Config.Retention != jetstream.WorkQueuePolicy || info.Config.MaxAge != 4*time.Hour || info.Config.Duplicates != 10*time.Minute ||
		tr == nil || tr.Source != src || tr.Destination != dst {
		t.Fatalf("send stream config %+v (transform %+v)", info.Config, tr)
	}
	for _, name := range []string{names.EventsStream(), names.DLQStream()} {
		if _, err := js.Stream(ctx, name); err != nil {
			t.Errorf("stream %s: %v", name, err)
		}
	}
	for _, b := range []string{names.MediaBucket(), names.InboundMediaBucket()} {
		if _, err := js.ObjectStore(ctx, b); err != nil {
			t.Errorf("bucket %s: %v", b, err)
		}
	}
}
