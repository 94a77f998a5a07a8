package job

import (
	"errors"
	"fmt"

	"github.com/wabus/wabus/internal/event"
)

// Error is the error of every function of this package that rejects a job or
// its media. Code is one of the contract's failure codes:
//
//   - event.CodeInvalidJob: malformed JSON, not an object, a missing or bad
//     field, no content or two media objects (Parse, Decode, Validate,
//     Marshal, CheckSize for a kind without media);
//   - event.CodeInvalidRecipient: a "to" that is neither a phone nor a JID
//     (Parse, Validate, Recipient);
//   - event.CodeMediaInvalid: media data that is not base64 or a data: URL,
//     or is empty (DecodeData);
//   - event.CodeMediaTooLarge: media over its kind's limit (CheckSize).
//
// JobID is the job's id when it was usable, "" otherwise (a job without a
// usable id cannot have a failed event and goes to the DLQ alone). To is the
// job's "to" as given, if any. Err is the underlying cause, if any.
type Error struct {
	Code  string
	JobID string
	To    string
	Msg   string
	Err   error
}

// Error returns "<code>: <msg>", followed by the cause if there is one.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Msg, e.Err)
	}
	return e.Code + ": " + e.Msg
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// CodeOf returns the Code of the first *Error in err's chain, or "" if there
// is none (nil included).
func CodeOf(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return ""
}

func invalidJob(msg string, args ...any) *Error {
	return &Error{Code: event.CodeInvalidJob, Msg: fmt.Sprintf(msg, args...)}
}
