package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/retry"
)

// v1ConsumerPrefix names v1's per-tenant send consumers (send-<tenant>).
const v1ConsumerPrefix = "send-"

// removeV1Consumers deletes the per-tenant consumers of a v1 deployment:
// they are no longer read, and as long as one exists a consumer of the
// jobs stored before the transform cannot be made (a work-queue stream
// refuses overlapping consumers). Every worker does it at start-up; a
// failure is logged (the next start tries again).
func (g *Ingester) removeV1Consumers(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	stream, err := g.js.Stream(ctx, g.names.SendStream())
	if err != nil {
		g.log.WarnContext(ctx, "list v1 send consumers", slog.String("error", err.Error()))
		return
	}
	names := stream.ConsumerNames(ctx)
	var old []string
	for name := range names.Name() {
		if strings.HasPrefix(name, v1ConsumerPrefix) {
			old = append(old, name)
		}
	}
	if err := names.Err(); err != nil {
		g.log.WarnContext(ctx, "list v1 send consumers", slog.String("error", err.Error()))
	}
	for _, name := range old {
		if err := stream.DeleteConsumer(ctx, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			g.log.WarnContext(ctx, "delete v1 send consumer", slog.String("consumer", name), slog.String("error", err.Error()))
		}
	}
	if len(old) > 0 {
		g.log.InfoContext(ctx, "deleted the per-tenant send consumers of v1", slog.Int("consumers", len(old)))
	}
}

// upgrade makes sure the jobs stored before the transform are in the job
// table before this partition is read: the reader of partition 0 copies
// them (in stream order, through consumer ingest-v1) and then deletes that
// consumer; the others wait until none is left and the consumer is gone.
// (While a consumer filtered on the unpartitioned subjects exists,
// nats-server 2.15 keeps partitioned jobs in the work-queue stream after
// they are acknowledged.) Once none is left there never are again (every
// job stored since has a partition), so this costs a look or two per
// reader start.
func (r *reader) upgrade(ctx context.Context) error {
	g := r.g
	if g.drained.Load() {
		return nil
	}
	for first := true; ; first = false {
		left, err := g.unpartitioned(ctx)
		if err != nil {
			return err
		}
		if r.part == 0 && left {
			if first {
				r.log.InfoContext(ctx, "taking the jobs stored before the send stream was partitioned")
			}
			if err := r.consume(ctx, legacyConsumer, g.names.SendUnpartitioned(), g.noneUnpartitioned); err != nil {
				return err
			}
			continue
		}
		if r.part == 0 {
			if err := g.deleteLegacyConsumer(ctx); err != nil {
				return err
			}
		}
		if !left {
			gone, err := g.legacyGone(ctx)
			if err != nil {
				return err
			}
			if gone {
				g.drained.Store(true)
				return nil
			}
		}
		if first {
			r.log.InfoContext(ctx, "waiting until the jobs stored before the send stream was partitioned are taken")
		}
		if !retry.Sleep(ctx, 500*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// unpartitioned reports whether the stream still holds jobs stored before
// it had its transform.
func (g *Ingester) unpartitioned(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stream, err := g.js.Stream(ctx, g.names.SendStream())
	if err != nil {
		return false, fmt.Errorf("open send stream: %w", err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(g.names.SendUnpartitioned()))
	if err != nil {
		return false, fmt.Errorf("send stream info: %w", err)
	}
	return len(info.State.Subjects) > 0, nil
}

func (g *Ingester) noneUnpartitioned(ctx context.Context) bool {
	left, err := g.unpartitioned(ctx)
	return err == nil && !left
}

// deleteLegacyConsumer deletes consumer ingest-v1; it returns nil when
// there is none.
func (g *Ingester) deleteLegacyConsumer(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := g.js.DeleteConsumer(ctx, g.names.SendStream(), legacyConsumer)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("delete the consumer of unpartitioned jobs: %w", err)
	}
	return nil
}

// legacyGone reports whether consumer ingest-v1 is gone.
func (g *Ingester) legacyGone(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := g.js.Consumer(ctx, g.names.SendStream(), legacyConsumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up the consumer of unpartitioned jobs: %w", err)
	}
	return false, nil
}
