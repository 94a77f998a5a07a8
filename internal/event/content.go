package event

import "github.com/wabus/wabus/internal/vocab"

// The content objects of the contract's v2 kinds: the same JSON in a send
// job (internal/job validates them there) and in a message event, under the
// key named by the kind (vocab.ContentReaction and the others).

// Reaction is a reaction to the message MessageID; an empty Emoji removes
// it. Sender names the author of the target in a group (a send job gives
// it for a contact's message; an event leaves it empty).
type Reaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
	Sender    string `json:"sender,omitempty"`
}

// Edit is the new text of the earlier message MessageID.
type Edit struct {
	MessageID string `json:"message_id"`
	Text      string `json:"text"`
}

// Revoke deletes the earlier message MessageID for everyone.
type Revoke struct {
	MessageID string `json:"message_id"`
}

// Location is a location pin. Latitude and Longitude are pointers so that
// a send job without one is told so; an event always has both.
type Location struct {
	Latitude  *float64 `json:"latitude"`
	Longitude *float64 `json:"longitude"`
	Name      string   `json:"name,omitempty"`
	Address   string   `json:"address,omitempty"`
}

// Contact is a contact card: Name and Phone, or a VCard (an event has
// all three when the card names them).
type Contact struct {
	Name  string `json:"name,omitempty"`
	Phone string `json:"phone,omitempty"`
	VCard string `json:"vcard,omitempty"`
}

// Poll is a poll: a question and its options; Multiple lets a voter pick
// more than one.
type Poll struct {
	Question string   `json:"question"`
	Options  []string `json:"options"`
	Multiple bool     `json:"multiple"`
}

// PollVote is a vote on the poll MessageID: the options chosen now (none:
// the vote was withdrawn). Options the gateway cannot name (a poll it never
// saw) are given as OptionHashes, the hex SHA-256 WhatsApp sends instead.
type PollVote struct {
	MessageID    string   `json:"message_id"`
	Options      []string `json:"options"`
	OptionHashes []string `json:"option_hashes,omitempty"`
}

// Read marks the messages MessageIDs of a chat read; Sender is their
// author in a group.
type Read struct {
	MessageIDs []string `json:"message_ids"`
	Sender     string   `json:"sender,omitempty"`
}

// Contents holds the content objects of the v2 kinds, each under its JSON
// key (vocab.ContentReaction and the others), exclusive with each other: a
// send job, the message the pipeline hands a driver and the simulator's
// delivered notice carry at most one. A message event has its own fields
// (a poll_vote, and no read).
type Contents struct {
	Reaction *Reaction `json:"reaction,omitempty"`
	Edit     *Edit     `json:"edit,omitempty"`
	Revoke   *Revoke   `json:"revoke,omitempty"`
	Location *Location `json:"location,omitempty"`
	Contact  *Contact  `json:"contact,omitempty"`
	Poll     *Poll     `json:"poll,omitempty"`
	Read     *Read     `json:"read,omitempty"`
}

// Kinds lists the kinds of the content objects present, in the order of
// the contract's tables.
func (c *Contents) Kinds() []string {
	var kinds []string
	for _, o := range [...]struct {
		present bool
		kind    string
	}{
		{c.Reaction != nil, vocab.ContentReaction}, {c.Edit != nil, vocab.ContentEdit},
		{c.Revoke != nil, vocab.ContentRevoke}, {c.Location != nil, vocab.ContentLocation},
		{c.Contact != nil, vocab.ContentContact}, {c.Poll != nil, vocab.ContentPoll},
		{c.Read != nil, vocab.ContentRead},
	} {
		if o.present {
			kinds = append(kinds, o.kind)
		}
	}
	return kinds
}
