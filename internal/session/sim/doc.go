// Package sim is the simulator driver (WA_DRIVER=sim): it replaces only the
// WhatsApp network. Devices are real whatsmeow device rows in Postgres, so
// restore after a restart is the same code path as with real WhatsApp.
//
// The simulated server keeps its own state in Postgres, like WhatsApp keeps
// its own: the live connection of each tenant (a new connection replaces the
// old one, which learns it was replaced) and inbound messages that no worker
// has acknowledged yet (redelivered until one does). When Postgres is down,
// accepted inbound messages wait in memory and are persisted later.
//
// Control subjects (request/reply; reply {} or {"error","code"}):
// <p>.sim.<t>.scan, .inbound, .disconnect, .logout, .fail-sends, .restrict.
// An inbound message carries text or any one content object of a send job
// (read aside), under the job package's rules, reported with its type.
// An inbound message may come from a LID-addressed chat ("lid": true): the
// event still names the phone number, with the contact's LID (ContactLID)
// beside, and so do the receipts of what the tenant sends it. While a
// restriction holds (restrict {"seconds": n}), a message to a number the
// tenant never wrote to nor heard from fails with code restricted. Contacts
// and restrictions are the simulated server's state, in Postgres. Published:
// <p>.sim.<t>.connected / .disconnected {"worker"} for every connection and
// disconnection, <p>.sim.<t>.delivered for every message sent (with its
// content object and the media fields a phone would show), and
// <p>.sim.<t>.presence before a job with typing_seconds, which is then held
// back that long. Recipients
// whose number starts with 999 are not on WhatsApp; each send is followed by
// delivered and read receipts.
package sim
