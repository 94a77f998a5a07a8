package queue

import "errors"

// ErrFenced is returned by Finish and Requeue when the tenant's lease has
// moved on (or the row is no longer the owner's to settle): nothing was
// written.
var ErrFenced = errors.New("lease lost: outcome not recorded")

// ErrNotFound is returned by Cancel for a job id the table does not have,
// and by SentMessage for a message id the tenant did not send.
var ErrNotFound = errors.New("job not found")

// ErrNotCancellable is returned by Cancel for a job that is being sent or
// has its outcome already.
var ErrNotCancellable = errors.New("job is sending or done")

// ErrBadCursor is returned by List for a before cursor it did not issue.
var ErrBadCursor = errors.New("malformed page cursor")
