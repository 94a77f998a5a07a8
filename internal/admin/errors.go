package admin

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrNoToken is returned by New and Run when no admin token is configured:
// admin refuses to serve without one.
var ErrNoToken = errors.New("admin: no token configured (set WA_ADMIN_TOKEN)")

// ErrMissingDeps is returned by New when Deps lacks the pool, the NATS
// connection, JetStream, the device store or the names.
var ErrMissingDeps = errors.New("admin: pool, nats, jetstream, device store and names are required")

// Error codes of admin's own JSON errors. Job failure codes (invalid_job,
// invalid_recipient, media_invalid, ...) and control codes (not_paired,
// already_paired, ...) are passed through as they are.
const (
	CodeUnauthorized     = "unauthorized"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeInvalidTenant    = "invalid_tenant"
	CodeInvalidRequest   = "invalid_request"
	CodeTooLarge         = "too_large"
	CodeUnavailable      = "unavailable"
	CodeTimeout          = "timeout"
	CodeInternal         = "internal"
	CodeNotCancellable   = "not_cancellable"
)

// apiError is an error answered as JSON {"error", "code"} with Status.
type apiError struct {
	Status int
	Code   string
	Msg    string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Msg }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Msg: fmt.Sprintf(format, args...)}
}

func notFound(tenant string) *apiError {
	return errorf(http.StatusNotFound, CodeNotFound, "unknown tenant %s", tenant)
}

// asAPIError returns err as an *apiError, or a 500 internal error.
func asAPIError(err error) *apiError {
	if ae, ok := errors.AsType[*apiError](err); ok {
		return ae
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body is larger than the limit")
	}
	return errorf(http.StatusInternalServerError, CodeInternal, "internal error")
}
