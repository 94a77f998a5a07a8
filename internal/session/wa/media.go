package wa

// MediaError is a failure to fetch an inbound attachment that fetching
// again cannot fix. The message is stored without the attachment, with
// Code as its media_error.
type MediaError struct {
	// Code is one of internal/event's media error codes (expired, corrupt,
	// too_large).
	Code string
	Err  error
}

func (e *MediaError) Error() string { return "media " + e.Code + ": " + e.Err.Error() }
func (e *MediaError) Unwrap() error { return e.Err }
