package send

import (
	"github.com/wabus/wabus/internal/lease"
	"github.com/wabus/wabus/internal/session/wa"
)

// Session is what a tenant's loop needs of the tenant's session.
type Session interface {
	// Tenant is the tenant the session runs.
	Tenant() string
	// Lease is the lease the session runs under; its epoch fences the
	// loop's writes.
	Lease() lease.Lease
	// Usable reports whether the session may send now: connected, and its
	// lease surely valid.
	Usable() bool
	// Conn is the session's connection, through which jobs are sent, or
	// nil while there is none.
	Conn() wa.Conn
}
