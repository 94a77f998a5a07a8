package outbox

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wabus/wabus/internal/testing/testenv"
)

// BenchmarkRelay measures how fast committed events reach the stream:
// b.N events are enqueued (100 a transaction) while a relay publishes them,
// and the clock stops when the last one is acknowledged.
func BenchmarkRelay(b *testing.B) {
	s := testenv.NewStack(b)
	r := newRelay(b, s.Pool, s.JS, RelayConfig{})
	start(b, r)
	b.ResetTimer()
	enqueue(b, s.Pool, s.Names, 0, b.N, 100)
	for testutil.ToFloat64(r.metrics.published) < float64(b.N) {
		<-time.After(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRawPublish is the baseline: JetStream publish-with-ack of the
// same payloads, async, with no Postgres at all.
func BenchmarkRawPublish(b *testing.B) {
	s := testenv.NewStack(b)
	m := msg(b, s.Names, "acme", 0)
	payload := m.Payload
	ctx := context.Background()
	b.ResetTimer()
	var futures []jetstream.PubAckFuture
	for i := range b.N {
		f, err := s.JS.PublishAsync(m.Subject, payload, jetstream.WithMsgID(strconv.Itoa(i)))
		if err != nil {
			b.Fatal(err)
		}
		futures = append(futures, f)
	}
	select {
	case <-s.JS.PublishAsyncComplete():
	case <-ctx.Done():
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
