package send

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wabus/wabus/internal/testenv"
)

// A message on a send subject whose tenant token is not a tenant id can
// never be consumed: the sweep removes it and counts it, and leaves valid
// tenants' jobs alone.
func TestSweepRemovesJobsOfInvalidTenantSubjects(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	ctx := context.Background()
	for _, subject := range []string{s.Names.Send("acme@x"), s.Names.Send("acme@x"), s.Names.Send("ñandú"), s.Names.Send("acme")} {
		if _, err := s.JS.Publish(ctx, subject, []byte(`{"id":"j1","to":"+51987654321","text":"hi"}`)); err != nil {
			t.Fatal(err)
		}
	}
	p, err := New(Config{WorkerID: "w1"}, s.Pool, nil, s.JS, s.Names, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(p.metrics.invalid); n != 3 {
		t.Fatalf("counted %v removed messages, want 3", n)
	}
	if n := testenv.StreamMsgs(t, s.JS, s.Names.SendStream()); n != 1 {
		t.Fatalf("%d messages left in the send stream, want acme's job", n)
	}
	if n := testenv.SubjectMsgs(t, s.JS, s.Names.SendStream(), s.Names.Send("acme")); n != 1 {
		t.Fatalf("acme's job was removed")
	}
	if err := p.sweep(ctx); err != nil || testutil.ToFloat64(p.metrics.invalid) != 3 {
		t.Fatalf("second sweep: %v, count %v", err, testutil.ToFloat64(p.metrics.invalid))
	}
}
