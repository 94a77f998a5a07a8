package wmdriver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types/events"
)

// maxPolls bounds the polls whose options a tenant's driver remembers.
const maxPolls = 4096

// polls remembers the options of the polls a tenant sent or received, by
// message id, so that a vote (which names options by their SHA-256) can be
// reported with the options' names. It is memory only, kept across the
// tenant's connections: a vote on a poll from before the worker started is
// reported by hash (event.PollVote.OptionHashes).
type polls struct {
	mu    sync.Mutex
	byID  map[string][]string
	order []string
}

func newPolls() *polls { return &polls{byID: map[string][]string{}} }

// saw records the options of the poll id.
func (p *polls) saw(id string, options []string) {
	if p == nil || id == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.byID[id]; !ok {
		p.order = append(p.order, id)
	}
	p.byID[id] = append([]string(nil), options...)
	for len(p.order) > maxPolls {
		delete(p.byID, p.order[0])
		p.order = p.order[1:]
	}
}

// names returns the names of the chosen options of poll id, and the hex
// hashes of those it cannot name.
func (p *polls) names(id string, hashes [][]byte) (names, unknown []string) {
	byHash := map[string]string{}
	if p != nil {
		p.mu.Lock()
		for _, o := range p.byID[id] {
			sum := sha256.Sum256([]byte(o))
			byHash[string(sum[:])] = o
		}
		p.mu.Unlock()
	}
	names = []string{}
	for _, h := range hashes {
		if name, ok := byHash[string(h)]; ok {
			names = append(names, name)
		} else {
			unknown = append(unknown, hex.EncodeToString(h))
		}
	}
	return names, unknown
}

// decryptVoteFunc decrypts a poll vote (whatsmeow's Client.DecryptPollVote).
type decryptVoteFunc func(ctx context.Context, vote *events.Message) (*waE2E.PollVoteMessage, error)

// pollOptions are the option names of a poll creation message.
func pollOptions(pc *waE2E.PollCreationMessage) []string {
	out := make([]string, 0, len(pc.GetOptions()))
	for _, o := range pc.GetOptions() {
		out = append(out, o.GetOptionName())
	}
	return out
}

// pollCreation is the poll of a message, whichever version wraps it.
func pollCreation(msg *waE2E.Message) *waE2E.PollCreationMessage {
	for _, pc := range []*waE2E.PollCreationMessage{msg.GetPollCreationMessage(), msg.GetPollCreationMessageV2(), msg.GetPollCreationMessageV3()} {
		if pc != nil {
			return pc
		}
	}
	return nil
}
