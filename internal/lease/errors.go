package lease

import (
	"errors"
	"fmt"
)

// ErrUnknownTenant is returned by Acquire for a tenant that does not exist.
var ErrUnknownTenant = errors.New("unknown tenant")

// HeldError is returned by Acquire when another live worker holds the lease.
type HeldError struct {
	// Owner is the id of the worker holding the lease.
	Owner string
}

func (e *HeldError) Error() string { return fmt.Sprintf("lease held by worker %s", e.Owner) }
