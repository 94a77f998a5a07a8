package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/retry"
)

// Connect opens a NATS connection that keeps reconnecting for ever, so a
// restarted server is picked up without anyone asking. It pings the server
// every PingInterval and leaves it after MaxPingsOut pings without a pong
// (a cluster node cut off from the network keeps its sockets open, and
// nats.go's default of two minutes would stall this process that long
// while the other nodes serve). It returns at once
// even when the server is down (the connection retries in the background);
// it returns an error only for a malformed URL or an unreadable creds file.
func Connect(url, creds, name string, logger *slog.Logger) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.RetryOnFailedConnect(true),
		nats.PingInterval(PingInterval),
		nats.MaxPingsOutstanding(MaxPingsOut),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logger.Warn("nats disconnected", slog.String("error", err.Error()))
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			logger.Info("nats reconnected", slog.String("server", c.ConnectedUrlRedacted()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			logger.Warn("nats async error", slog.String("subject", subject), slog.String("error", err.Error()))
		}),
	}
	if creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect nats: %w", err)
	}
	return nc, nil
}

// PingInterval and MaxPingsOut bound how long a connection waits on a
// server that has stopped answering: 10 to 15 s.
const (
	PingInterval = 5 * time.Second
	MaxPingsOut  = 2
)

// Config says how the streams and buckets are provisioned.
type Config struct {
	// SendMaxAge is WA_SEND_MAX_AGE, how long a job may wait before it
	// fails expired. The send stream keeps a job twice as long (at least
	// its duplicate window), so that a job that waited there while no
	// worker ran is still taken out and failed rather than lost. Defaults
	// to 24h.
	SendMaxAge time.Duration
	// Replicas is the replica count of every stream and bucket
	// (WA_STREAM_REPLICAS); existing ones are updated to it. Defaults to 1.
	Replicas int
	// TryTimeout bounds each provisioning attempt, so that a request whose
	// reply was lost (a cluster electing a leader drops some) is sent again
	// instead of waiting out the whole start-up deadline. Defaults to 5s.
	TryTimeout time.Duration
}

const dedupeWindow = 10 * time.Minute

// Open connects to NATS as Connect does and provisions the streams and
// buckets under prefix, trying for up to a minute: what each process does
// at start-up. It returns an error when either fails; the connection is
// closed then.
func Open(ctx context.Context, url, creds, name, prefix string, cfg Config, logger *slog.Logger) (*nats.Conn, jetstream.JetStream, Names, error) {
	names := NewNames(prefix)
	nc, err := Connect(url, creds, name, logger)
	if err != nil {
		return nil, nil, names, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, names, fmt.Errorf("jetstream: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := Provision(pctx, js, names, cfg); err != nil {
		nc.Close()
		return nil, nil, names, err
	}
	return nc, js, names, nil
}

// Provision creates or updates the send, events and DLQ streams and the two
// object-store buckets. Any process may call it at start-up, several at once:
// it is idempotent. It retries until ctx ends while NATS is unreachable, and
// returns the last error then.
func Provision(ctx context.Context, js jetstream.JetStream, n Names, cfg Config) error {
	cfg.SendMaxAge = cmpOr(cfg.SendMaxAge, 24*time.Hour)
	cfg.Replicas = max(cfg.Replicas, 1)
	cfg.TryTimeout = cmpOr(cfg.TryTimeout, 5*time.Second)
	backoff := retry.Backoff{Min: 100 * time.Millisecond, Max: 2 * time.Second}
	for {
		tctx, cancel := context.WithTimeout(ctx, cfg.TryTimeout)
		err := provisionOnce(tctx, js, n, cfg)
		cancel()
		if err == nil {
			return nil
		}
		if !retry.Sleep(ctx, backoff.Next()) {
			return fmt.Errorf("provision jetstream: %w", err)
		}
	}
}

func cmpOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// SendRetention is how long the send stream keeps a job that no ingest
// consumer took: twice the max age, and never less than the duplicate
// window.
func SendRetention(maxAge time.Duration) time.Duration {
	return max(2*cmpOr(maxAge, 24*time.Hour), dedupeWindow)
}

func provisionOnce(ctx context.Context, js jetstream.JetStream, n Names, cfg Config) error {
	src, dst := n.SendTransform()
	streams := []jetstream.StreamConfig{{
		Name:             n.SendStream(),
		Description:      "wabus send jobs, stored under a partition of the tenant",
		Subjects:         []string{n.prefix + ".send.*"},
		SubjectTransform: &jetstream.SubjectTransformConfig{Source: src, Destination: dst},
		Retention:        jetstream.WorkQueuePolicy,
		Storage:          jetstream.FileStorage,
		MaxAge:           SendRetention(cfg.SendMaxAge),
		Duplicates:       dedupeWindow,
		Replicas:         cfg.Replicas,
	}, {
		Name:        n.EventsStream(),
		Description: "wabus events (CloudEvents)",
		Subjects:    []string{n.prefix + ".events.*.*"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      7 * 24 * time.Hour,
		Duplicates:  dedupeWindow,
		Replicas:    cfg.Replicas,
	}, {
		Name:        n.DLQStream(),
		Description: "wabus jobs that failed for good",
		Subjects:    []string{n.prefix + ".dlq.*"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      30 * 24 * time.Hour,
		Duplicates:  dedupeWindow,
		Replicas:    cfg.Replicas,
	}}
	for _, sc := range streams {
		if err := ensureStream(ctx, js, sc); err != nil {
			return err
		}
	}
	buckets := []jetstream.ObjectStoreConfig{
		{Bucket: n.MediaBucket(), Description: "wabus outgoing media", TTL: 7 * 24 * time.Hour, Storage: jetstream.FileStorage, Replicas: cfg.Replicas},
		{Bucket: n.InboundMediaBucket(), Description: "wabus inbound media", TTL: 7 * 24 * time.Hour, Storage: jetstream.FileStorage, Replicas: cfg.Replicas},
	}
	for _, bc := range buckets {
		if _, err := js.CreateOrUpdateObjectStore(ctx, bc); err != nil {
			return fmt.Errorf("ensure bucket %s: %w", bc.Bucket, err)
		}
	}
	return nil
}

func ensureStream(ctx context.Context, js jetstream.JetStream, sc jetstream.StreamConfig) error {
	_, err := js.CreateOrUpdateStream(ctx, sc)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		// another process created it between our lookup and create
		_, err = js.CreateOrUpdateStream(ctx, sc)
	}
	if err != nil {
		return fmt.Errorf("ensure stream %s: %w", sc.Name, err)
	}
	return nil
}
