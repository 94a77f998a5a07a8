package send

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/bus"
)

// sweepEvery is how often the send stream is checked for subjects no
// tenant can own.
const sweepEvery = 30 * time.Second

// sweepInvalid runs until ctx ends, removing messages published on a send
// subject whose tenant token is not a valid tenant id (say wa.send.acme@x):
// no consumer will ever take them, and no failed event can name their
// tenant, so they are terminated and counted instead of waiting out the
// stream's max age. Every worker sweeps; a message is counted by the one
// whose delete succeeds.
func (p *Pipeline) sweepInvalid(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := p.sweep(ctx); err != nil && ctx.Err() == nil {
			p.log.WarnContext(ctx, "sweep of invalid send subjects failed", slog.String("error", err.Error()))
		}
		t.Reset(sweepEvery)
	}
}

func (p *Pipeline) sweep(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	stream, err := p.js.Stream(ctx, p.names.SendStream())
	if err != nil {
		return err
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(p.names.Send("*")))
	if err != nil {
		return err
	}
	for subject := range info.State.Subjects {
		if bus.ValidTenant(p.names.Token(subject, 1)) {
			continue
		}
		for range info.State.Subjects[subject] + 1 {
			m, err := stream.GetLastMsgForSubject(ctx, subject)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				break
			}
			if err != nil {
				return err
			}
			if err := stream.DeleteMsg(ctx, m.Sequence); err != nil {
				if errors.Is(err, jetstream.ErrMsgNotFound) || errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) {
					continue // another worker removed it
				}
				return err
			}
			p.metrics.invalid.Inc()
			p.log.WarnContext(ctx, "removed a message on a send subject without a valid tenant id",
				slog.String("subject", subject), slog.Int("bytes", len(m.Data)))
		}
	}
	return nil
}
