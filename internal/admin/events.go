package admin

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/vocab"
)

// eventsBacklog is how many of a tenant's past events the tail starts with.
const eventsBacklog = 50

// tenantEvents answers GET /v1/sessions/{tenant}/events: the tenant's last
// 50 events from the events stream, then new ones as they arrive, as
// Server-Sent Events (event: <kind>, data: the CloudEvent). ?kinds= keeps
// only the kinds it lists. The stream ends when the client leaves.
func (s *Server) tenantEvents(w http.ResponseWriter, r *http.Request, tenant string) error {
	ctx := r.Context()
	kinds, err := parseKinds(r.URL.Query().Get("kinds"))
	if err != nil {
		return err
	}
	if err := s.mustExist(ctx, tenant); err != nil {
		return err
	}
	subjects := make([]string, len(kinds))
	for i, k := range kinds {
		subjects[i] = s.names.Event(tenant, k)
	}
	stream, err := s.js.Stream(ctx, s.names.EventsStream())
	if err != nil {
		return errorf(http.StatusServiceUnavailable, CodeUnavailable, "events stream: %v", err)
	}
	start, err := backlogStart(ctx, stream, subjects, eventsBacklog)
	if err != nil {
		return fmt.Errorf("find the events backlog: %w", err)
	}
	cons, err := s.js.OrderedConsumer(ctx, s.names.EventsStream(), jetstream.OrderedConsumerConfig{
		FilterSubjects: subjects, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: start,
	})
	if err != nil {
		return fmt.Errorf("tail events: %w", err)
	}
	msgs, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("tail events: %w", err)
	}
	defer msgs.Stop()
	out, err := startSSE(w)
	if err != nil {
		return nil // the client is gone
	}
	_ = s.relayEvents(ctx, out, msgs) // a write error means the client is gone
	return nil
}

// relayEvents writes each message as an event named by its kind, with a
// comment as keep-alive while nothing comes, until ctx ends.
func (s *Server) relayEvents(ctx context.Context, out *sseWriter, msgs jetstream.MessagesContext) error {
	type next struct {
		m   jetstream.Msg
		err error
	}
	ch := make(chan next)
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer msgs.Stop() // ends a Next that is waiting
	defer close(done)
	wg.Go(func() {
		for {
			m, err := msgs.Next()
			select {
			case ch <- next{m, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	})
	beat := time.NewTicker(s.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-beat.C:
			if err := out.comment("keep-alive"); err != nil {
				return err
			}
		case n := <-ch:
			if n.err != nil {
				return n.err
			}
			subj := n.m.Subject()
			if err := out.raw(subj[strings.LastIndexByte(subj, '.')+1:], n.m.Data()); err != nil {
				return err
			}
		}
	}
}

// parseKinds reads ?kinds=: every kind when empty, else a comma-separated
// list of known kinds' tokens. It returns a 400 *apiError for an unknown
// kind.
func parseKinds(q string) ([]vocab.EventKind, error) {
	if q == "" {
		return vocab.EventKinds, nil
	}
	var kinds []vocab.EventKind
	for token := range strings.SplitSeq(q, ",") {
		k, ok := vocab.EventKindOf(token)
		if !ok {
			return nil, errorf(http.StatusBadRequest, CodeInvalidRequest,
				"unknown event kind %q in kinds (known: %s)", token, strings.Join(eventTokens(), ", "))
		}
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	return kinds, nil
}

// eventTokens are the subject tokens of the event kinds, in CONTRACT's order.
func eventTokens() []string {
	tokens := make([]string, len(vocab.EventKinds))
	for i, k := range vocab.EventKinds {
		tokens[i] = k.Token
	}
	return tokens
}

// backlogStart returns the stream sequence from which the subjects' last n
// messages follow: the lowest sequence seq such that at least n of their
// messages are at seq or after it, found by bisecting on the pending count
// of a filtered consumer (the stream keeps no per-subject index that reads
// backwards). With fewer than n messages it is the stream's first sequence.
func backlogStart(ctx context.Context, stream jetstream.Stream, subjects []string, n uint64) (uint64, error) {
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream info: %w", err)
	}
	lo, hi := max(info.State.FirstSeq, 1), info.State.LastSeq
	if hi < lo {
		return lo, nil
	}
	total, err := pendingFrom(ctx, stream, subjects, lo)
	if err != nil || total <= n {
		return lo, err
	}
	// pendingFrom(lo) > n and pendingFrom(hi+1) = 0: find the last seq at
	// which n or more remain.
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		c, err := pendingFrom(ctx, stream, subjects, mid)
		if err != nil {
			return 0, err
		}
		if c >= n {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, nil
}

// pendingFrom counts the subjects' messages at seq or after it.
func pendingFrom(ctx context.Context, stream jetstream.Stream, subjects []string, seq uint64) (uint64, error) {
	cons, err := stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubjects: subjects, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: seq,
		AckPolicy: jetstream.AckNonePolicy, InactiveThreshold: 5 * time.Second, MemoryStorage: true,
	})
	if err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	info := cons.CachedInfo()
	// InactiveThreshold removes it should the delete fail.
	_ = stream.DeleteConsumer(context.WithoutCancel(ctx), info.Name)
	return info.NumPending, nil
}
