package event

// ReasonRestricted starts the reason of a session event that reports
// WhatsApp's error 463 on a send: the account may not contact new numbers
// for now. The event carries the session's current state (the session
// stays connected; messages to known contacts still go).
const ReasonRestricted = "restricted"
