package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/db"
	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/job"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/workertest"
	"github.com/wabus/wabus/internal/vocab"
)

// v1Stack is a deployment as v1 left it: the schema up to migration 004
// (the send ledger in wabus_send), a send stream without the partition
// transform, and a per-tenant consumer that a killed v1 worker left with
// jobs fetched and not acknowledged.
func v1Stack(t *testing.T) *testenv.Stack {
	t.Helper()
	ctx := context.Background()
	s := &testenv.Stack{DBURL: testenv.PostgresDB(t), NATS: testenv.NATS(t), Names: bus.NewNames(testenv.Prefix(t))}
	s.Pool = testenv.Pool(t, s.DBURL)
	steps, err := db.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool.Exec(ctx, `CREATE TABLE wabus_schema_version (version integer PRIMARY KEY, name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for _, st := range steps {
		if st.Version > 4 {
			break
		}
		if _, err := s.Pool.Exec(ctx, st.SQL); err != nil {
			t.Fatalf("v1 migration %d: %v", st.Version, err)
		}
		if _, err := s.Pool.Exec(ctx, `INSERT INTO wabus_schema_version (version, name) VALUES ($1, $2)`, st.Version, st.Name); err != nil {
			t.Fatal(err)
		}
	}
	s.JS = s.NATS.JetStream(t)
	_, err = s.JS.CreateStream(ctx, jetstream.StreamConfig{
		Name: s.Names.SendStream(), Subjects: []string{s.Names.Prefix() + ".send.*"}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, MaxAge: 24 * time.Hour, Duplicates: 10 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func textJob(id string) []byte {
	b, _ := json.Marshal(map[string]string{"id": id, "to": "+51987654321", "text": id})
	return b
}

// Upgrading: jobs queued in v1's stream flow through the job table, before
// the tenant's later jobs and in stream order; a job v1 had sent already
// (its ledger row says so) is not sent again but reported again; v1's
// per-tenant consumers are removed, and the stream is left with the fixed
// number of ingest consumers.
func TestUpgradeFromV1SendsQueuedJobsInOrderOnce(t *testing.T) {
	t.Parallel()
	s := v1Stack(t)
	ctx := context.Background()
	tenants := []string{"acme", "bob", "13"}
	for _, tenant := range tenants {
		if _, err := s.Pool.Exec(ctx, `INSERT INTO wabus_tenant (id) VALUES ($1)`, tenant); err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			id := fmt.Sprintf("old-%d", i)
			if _, err := s.JS.Publish(ctx, s.Names.Send(tenant), textJob(id), jetstream.WithMsgID(tenant+id)); err != nil {
				t.Fatal(err)
			}
		}
		cons, err := s.JS.CreateOrUpdateConsumer(ctx, s.Names.SendStream(), jetstream.ConsumerConfig{
			Durable: "send-" + tenant, FilterSubject: s.Names.Send(tenant), AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 32,
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cons.Fetch(2, jetstream.FetchMaxWait(5*time.Second)); err != nil { // a v1 worker died holding these
			t.Fatal(err)
		}
	}
	// v1 sent acme's old-0 and died before acknowledging it
	if _, err := s.Pool.Exec(ctx, `INSERT INTO wabus_send (tenant, job_id, message_id, status, attempts, event_id, recipient, sent_at)
		VALUES ('acme', 'old-0', $1, 'sent', 1, $2, '+51987654321', now())`,
		job.MessageID("acme", "old-0"), event.StableID("acme", vocab.EventSent.Token, "old-0")); err != nil {
		t.Fatal(err)
	}

	nc := s.NATS.Conn(t)
	deliveries := workertest.WatchDeliveries(t, s, nc)
	workertest.Start(t, s, workertest.Config(t, s, "w1"))
	for _, tenant := range tenants { // published after the upgrade
		for i := range 2 {
			if _, err := s.JS.Publish(ctx, s.Names.Send(tenant), textJob(fmt.Sprintf("new-%d", i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tenant := range tenants {
		workertest.Pair(t, s, nc, tenant)
	}
	want := map[string][]string{
		"acme": {"old-1", "old-2", "old-3", "new-0", "new-1"},
		"bob":  {"old-0", "old-1", "old-2", "old-3", "new-0", "new-1"},
		"13":   {"old-0", "old-1", "old-2", "old-3", "new-0", "new-1"},
	}
	testenv.Eventually(t, 60*time.Second, "every job delivered", func() bool { return deliveries.Len() >= 17 })
	testenv.Eventually(t, 20*time.Second, "every outcome recorded", func() bool {
		return testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_job WHERE status = 'sent'`) == 18
	})
	got := map[string][]string{}
	for _, d := range deliveries.All() {
		got[d.Tenant] = append(got[d.Tenant], d.JobID)
	}
	for _, tenant := range tenants {
		if strings.Join(got[tenant], " ") != strings.Join(want[tenant], " ") {
			t.Errorf("%s: delivered %v, want %v", tenant, got[tenant], want[tenant])
		}
	}
	testenv.Eventually(t, 10*time.Second, "acme's old-0 reported again", func() bool {
		return testenv.SubjectMsgs(t, s.JS, s.Names.EventsStream(), s.Names.Event("acme", vocab.EventSent)) == 6
	})
	st, err := s.JS.Stream(ctx, s.Names.SendStream())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range st.ConsumerNames(ctx).Name() {
		names = append(names, name)
	}
	if len(names) > bus.SendPartitions {
		t.Errorf("%d consumers on the send stream, want at most %d: %v", len(names), bus.SendPartitions, names)
	}
	for _, name := range names {
		if !strings.HasPrefix(name, "ingest-") || name == "ingest-v1" {
			t.Errorf("consumer %s is left on the send stream", name)
		}
	}
	// (jobs acknowledged while ingest-v1 existed stayed in the stream)
	testenv.Eventually(t, 10*time.Second, "the send stream emptied (acks are asynchronous)", func() bool {
		if testenv.StreamMsgs(t, s.JS, s.Names.SendStream()) == 0 {
			return true
		}
		info, _ := st.Info(ctx, jetstream.WithSubjectFilter(">"))
		t.Logf("left: %v", info.State.Subjects)
		return false
	})
}
