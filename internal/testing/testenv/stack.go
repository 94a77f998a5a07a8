package testenv

import (
	"context"
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/db"
	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/vocab"
)

// Stack is a migrated database plus a provisioned nats-server under a
// private prefix: what most integration tests start from.
type Stack struct {
	DBURL string
	Pool  *pgxpool.Pool
	NATS  *NATSServer
	JS    jetstream.JetStream
	Names bus.Names
}

// NewStack creates the database, applies the migrations, starts a
// nats-server and provisions the streams and buckets.
func NewStack(t testing.TB) *Stack {
	t.Helper()
	return newStack(t, PostgresDB(t))
}

// NewPrivateStack is NewStack on a private Postgres cluster of its own,
// which the test may stop, start and restart.
func NewPrivateStack(t testing.TB) (*Stack, *Cluster) {
	t.Helper()
	cluster := PrivatePostgres(t)
	return newStack(t, cluster.URL()), cluster
}

func newStack(t testing.TB, dbURL string) *Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := &Stack{DBURL: dbURL, NATS: NATS(t), Names: bus.NewNames(Prefix(t))}
	s.Pool = Pool(t, s.DBURL)
	if err := db.Migrate(ctx, s.Pool); err != nil {
		t.Fatalf("testenv: migrate: %v", err)
	}
	s.JS = s.NATS.JetStream(t)
	if err := bus.Provision(ctx, s.JS, s.Names, bus.Config{}); err != nil {
		t.Fatalf("testenv: provision: %v", err)
	}
	return s
}

// State returns tenant's recorded session state.
func State(t testing.TB, s *Stack, tenant string) string {
	t.Helper()
	var st string
	if err := s.Pool.QueryRow(context.Background(), `SELECT state FROM wabus_tenant WHERE id = $1`, tenant).Scan(&st); err != nil {
		t.Fatalf("testenv: state of %s: %v", tenant, err)
	}
	return st
}

// WaitState waits up to 20s until tenant's recorded state is want.
func WaitState(t testing.TB, s *Stack, tenant, want string) {
	t.Helper()
	Eventually(t, 20*time.Second, tenant+" reaches "+want, func() bool { return State(t, s, tenant) == want })
}

// Device returns tenant's recorded device JID, "" when it has none.
func Device(t testing.TB, s *Stack, tenant string) string {
	t.Helper()
	var jid string
	if err := s.Pool.QueryRow(context.Background(), `SELECT coalesce(device_jid, '') FROM wabus_tenant WHERE id = $1`, tenant).Scan(&jid); err != nil {
		t.Fatalf("testenv: device of %s: %v", tenant, err)
	}
	return jid
}

// MemInUse is the heap and stacks in use after two collections.
func MemInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// StreamMsgs returns how many messages a stream holds.
func StreamMsgs(t testing.TB, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	return streamInfo(t, js, stream).State.Msgs
}

// streamInfo returns a stream's info, read with opts.
func streamInfo(t testing.TB, js jetstream.JetStream, stream string, opts ...jetstream.StreamInfoOpt) *jetstream.StreamInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("testenv: stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx, opts...)
	if err != nil {
		t.Fatalf("testenv: stream %s info: %v", stream, err)
	}
	return info
}

// ReadStream returns every message of a stream whose subject matches
// filter (a subject wildcard), in stream order, reading it with an
// ephemeral ordered consumer.
func ReadStream(t testing.TB, js jetstream.JetStream, stream, filter string) []jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		t.Fatalf("testenv: ordered consumer on %s: %v", stream, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatalf("testenv: consumer info: %v", err)
	}
	want := info.NumPending
	var out []jetstream.Msg
	for uint64(len(out)) < want {
		batch, err := cons.Fetch(int(min(want-uint64(len(out)), 1000)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatalf("testenv: fetch %s: %v", stream, err)
		}
		n := 0
		for m := range batch.Messages() {
			out = append(out, m)
			n++
		}
		if n == 0 {
			t.Fatalf("testenv: fetch %s: got %d of %d messages", stream, len(out), want)
		}
	}
	return out
}

// SubjectMsgs returns how many messages of a stream match filter.
func SubjectMsgs(t testing.TB, js jetstream.JetStream, stream, filter string) uint64 {
	t.Helper()
	var n uint64
	for _, c := range streamInfo(t, js, stream, jetstream.WithSubjectFilter(filter)).State.Subjects {
		n += c
	}
	return n
}

// EventsBy is Events grouped by key (a message id, a job id), each group
// in order.
func EventsBy[T any](t testing.TB, s *Stack, tenant string, kind vocab.EventKind, key func(T) string) map[string][]T {
	t.Helper()
	out := map[string][]T{}
	for _, d := range Events[T](t, s, tenant, kind) {
		out[key(d)] = append(out[key(d)], d)
	}
	return out
}

// Events returns the data of tenant's events of kind on the stack's events
// stream, in order (see Envelopes for what it checks).
func Events[T any](t testing.TB, s *Stack, tenant string, kind vocab.EventKind) []T {
	t.Helper()
	var out []T
	for _, ev := range Envelopes(t, s, tenant, kind) {
		var d T
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatalf("bad %s event data %s: %v", kind.Token, ev.Data, err)
		}
		out = append(out, d)
	}
	return out
}

// Envelopes returns tenant's events of kind on the stack's events stream,
// in order. It fails the test on an event that does not decode or whose
// envelope is not kind's: its type, its source wa/<tenant>, spec version
// 1.0, and the event id as the message's deduplication id.
func Envelopes(t testing.TB, s *Stack, tenant string, kind vocab.EventKind) []event.Event {
	t.Helper()
	var out []event.Event
	for _, m := range ReadStream(t, s.JS, s.Names.EventsStream(), s.Names.Event(tenant, kind)) {
		var ev event.Event
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			t.Fatalf("bad %s event %s", kind.Token, m.Data())
		}
		if ev.Type != kind.Type || ev.Source != "wa/"+tenant || ev.SpecVersion != "1.0" || m.Headers().Get(jetstream.MsgIDHeader) != ev.ID {
			t.Fatalf("%s event envelope %+v, id header %q", kind.Token, ev, m.Headers().Get(jetstream.MsgIDHeader))
		}
		out = append(out, ev)
	}
	return out
}
