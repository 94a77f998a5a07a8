package harness

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
)

// BaselineJetStream measures raw JetStream on the deployment's server: n
// small messages published (async) to a file-storage work-queue stream
// while one pull consumer takes and acknowledges them, one at a time. It
// returns messages a second from the first publish to the last ack, and an
// error when the stream or consumer cannot be made or ctx ends first.
func BaselineJetStream(ctx context.Context, js jetstream.JetStream, prefix string, n int) (float64, error) {
	name := "BENCH_" + RandomHex(4)
	subject := prefix + ".bench." + name
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: name, Subjects: []string{subject}, Storage: jetstream.FileStorage,
		Retention: jetstream.WorkQueuePolicy, Duplicates: 10 * time.Minute,
	})
	if err != nil {
		return 0, fmt.Errorf("baseline stream: %w", err)
	}
	defer js.DeleteStream(context.WithoutCancel(ctx), name)
	cons, err := stream.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "bench", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		return 0, fmt.Errorf("baseline consumer: %w", err)
	}
	var acked atomic.Int64
	done := make(chan struct{})
	cc, err := cons.Consume(func(m jetstream.Msg) {
		_ = m.Ack()
		if acked.Add(1) == int64(n) {
			close(done)
		}
	})
	if err != nil {
		return 0, fmt.Errorf("baseline consume: %w", err)
	}
	defer cc.Stop()
	start := time.Now()
	for i := range n {
		if err := publishStalled(ctx, js, subject, i); err != nil {
			return 0, err
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
		return 0, fmt.Errorf("baseline: %d of %d acked: %w", acked.Load(), n, ctx.Err())
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// publishStalled publishes message i asynchronously, waiting while too
// many acknowledgements are outstanding.
func publishStalled(ctx context.Context, js jetstream.JetStream, subject string, i int) error {
	id := strconv.Itoa(i)
	for {
		_, err := js.PublishAsync(subject, []byte(`{"id":"`+id+`","to":"+51987654321","text":"x"}`), jetstream.WithMsgID(id))
		if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			if err != nil {
				return fmt.Errorf("baseline publish: %w", err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("baseline publish: %w", ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// BaselinePostgres measures raw Postgres commits on url: conns connections
// each committing single-row inserts (autocommit) for d. It returns commits
// a second, and an error when a connection or insert fails.
func BaselinePostgres(ctx context.Context, url string, conns int, d time.Duration) (float64, error) {
	setup, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, fmt.Errorf("baseline connect: %w", err)
	}
	defer setup.Close(context.WithoutCancel(ctx))
	table := "bench_" + RandomHex(4)
	if _, err := setup.Exec(ctx, "CREATE TABLE "+table+" (id bigserial PRIMARY KEY, v text NOT NULL, at timestamptz NOT NULL DEFAULT now())"); err != nil {
		return 0, fmt.Errorf("baseline table: %w", err)
	}
	defer setup.Exec(context.WithoutCancel(ctx), "DROP TABLE "+table)
	var (
		commits atomic.Int64
		wg      sync.WaitGroup
		errs    = make(chan error, conns)
	)
	start := time.Now()
	deadline := start.Add(d)
	for range conns {
		wg.Go(func() {
			c, err := pgx.Connect(ctx, url)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close(context.WithoutCancel(ctx))
			for time.Now().Before(deadline) {
				if _, err := c.Exec(ctx, "INSERT INTO "+table+" (v) VALUES ($1)", "x"); err != nil {
					errs <- err
					return
				}
				commits.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, fmt.Errorf("baseline insert: %w", err)
	}
	return float64(commits.Load()) / time.Since(start).Seconds(), nil
}
