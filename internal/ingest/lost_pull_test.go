package ingest

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/testing/testenv"
)

// lossyAPI returns a JetStream client whose API requests pass through a
// relay that loses the first pull request of each partition consumer, as a
// cluster does when the consumer's leader dies or moves with the request
// waiting on it (no reply, no status: the client is never told).
func lossyAPI(t *testing.T, s *testenv.Stack) (jetstream.JetStream, *atomic.Int32) {
	t.Helper()
	nc := s.NATS.Conn(t)
	const prefix = "lossy.$JS.API"
	var lost atomic.Int32
	var seen sync.Map // consumer → first pull request lost
	sub, err := nc.Subscribe(prefix+".>", func(m *nats.Msg) {
		subject := "$JS.API" + strings.TrimPrefix(m.Subject, prefix)
		if consumer, ok := strings.CutPrefix(subject, "$JS.API.CONSUMER.MSG.NEXT."+s.Names.SendStream()+"."); ok {
			if _, again := seen.LoadOrStore(consumer, true); !again {
				lost.Add(1)
				return
			}
		}
		_ = nc.PublishMsg(&nats.Msg{Subject: subject, Reply: m.Reply, Header: m.Header, Data: m.Data})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	js, err := jetstream.NewWithAPIPrefix(nc, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return js, &lost
}

// A reader whose pull request is lost, while its connection stays up,
// notices that the server has stopped sending it heartbeats and asks
// again, so jobs published after it keep flowing into the job table
// instead of staying in the stream with nobody reading them.
func TestAReaderWhosePullRequestIsLostAsksAgain(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	w := writer(t, s)
	liveWorker(t, s, "w1")
	js, lost := lossyAPI(t, s)
	g, err := New(Config{WorkerID: "w1", Idle: time.Second}, s.Pool, w, js, s.Names, quiet(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	run(t, g)
	testenv.Eventually(t, 20*time.Second, "every reader's first pull request is lost", func() bool {
		return lost.Load() == bus.SendPartitions
	})
	publish(t, s, "acme", ids("job", 0, 5)...)
	testenv.Eventually(t, 30*time.Second, "the jobs published after the loss are queued", func() bool {
		return len(queuedInOrder(t, s, "acme")) == 5
	})
}
