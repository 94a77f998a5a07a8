package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// writeJSON answers v as JSON with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// errorBody is the JSON of every error.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// legacyErrorBody is an error of the old API's routes, which its callers
// tell by "success": false.
type legacyErrorBody struct {
	Success bool   `json:"success"`
	Error   string `json:"error"`
	Code    string `json:"code"`
	JobID   string `json:"job_id,omitempty"`
}

// writeError answers e as JSON; legacy adds "success": false.
func writeError(w http.ResponseWriter, e *apiError, legacy bool) {
	if legacy {
		writeJSON(w, e.Status, legacyErrorBody{Error: e.Msg, Code: e.Code})
		return
	}
	writeJSON(w, e.Status, errorBody{Error: e.Msg, Code: e.Code})
}

// decodeJSON reads a JSON object body into v. It returns an *apiError:
// 413 too_large over the body limit, 400 invalid_request for anything that
// is not a JSON object of the right shape.
func decodeJSON(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if t := strings.TrimSpace(string(body)); t == "" || t[0] != '{' {
		return errorf(http.StatusBadRequest, CodeInvalidRequest, "body must be a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errorf(http.StatusBadRequest, CodeInvalidRequest, "malformed JSON: %v", jsonProblem(err))
	}
	return nil
}

// jsonProblem describes a JSON error without quoting the input.
func jsonProblem(err error) string {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return fmt.Sprintf("field %q has the wrong type %s", te.Field, te.Value)
	}
	return err.Error()
}

// readBody reads the whole body, within the body limit.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, asAPIError(err)
		}
		return nil, errorf(http.StatusBadRequest, CodeInvalidRequest, "read body: %v", err)
	}
	return body, nil
}
