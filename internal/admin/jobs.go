package admin

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/wabus/wabus/internal/queue"
)

// Bounds of GET /v1/sessions/{tenant}/jobs's page size.
const (
	defaultJobsLimit = 50
	maxJobsLimit     = 500
)

// jobView is a job as the jobs route shows it (CONTRACT).
type jobView struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	To        string    `json:"to"`
	Kind      string    `json:"kind"`
	Attempts  int       `json:"attempts"`
	Code      string    `json:"code"`
	Error     string    `json:"error"`
	MessageID string    `json:"message_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func viewJob(j *queue.Job) jobView {
	return jobView{ID: j.ID, Status: j.Status, To: j.To, Kind: j.Kind, Attempts: j.Attempts, Code: j.Code,
		Error: j.Error, MessageID: j.MessageID, CreatedAt: j.CreatedAt.UTC(), UpdatedAt: j.UpdatedAt.UTC()}
}

// jobsPage is the answer of GET /v1/sessions/{tenant}/jobs.
type jobsPage struct {
	Jobs []jobView `json:"jobs"`
	Next string    `json:"next,omitempty"`
}

var jobStatuses = map[string]bool{queue.StatusQueued: true, queue.StatusSending: true, queue.StatusSent: true, queue.StatusFailed: true}

// listJobs answers GET /v1/sessions/{tenant}/jobs: the tenant's jobs,
// newest first, ?status= filtered, ?limit= long (default 50, at most 500),
// from ?before= (the next of the previous page).
func (s *Server) listJobs(w http.ResponseWriter, r *http.Request, tenant string) error {
	q := r.URL.Query()
	status := q.Get("status")
	if status != "" && !jobStatuses[status] {
		return errorf(http.StatusBadRequest, CodeInvalidRequest, "status must be one of queued, sending, sent, failed")
	}
	limit := defaultJobsLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxJobsLimit {
			return errorf(http.StatusBadRequest, CodeInvalidRequest, "limit must be a whole number from 1 to %d", maxJobsLimit)
		}
		limit = n
	}
	if err := s.mustExist(r.Context(), tenant); err != nil {
		return err
	}
	page, err := s.jobs.List(r.Context(), tenant, status, limit, q.Get("before"))
	if errors.Is(err, queue.ErrBadCursor) {
		return errorf(http.StatusBadRequest, CodeInvalidRequest, "before is not a cursor this server gave out")
	}
	if err != nil {
		return err
	}
	out := jobsPage{Jobs: make([]jobView, 0, len(page.Jobs)), Next: page.Next}
	for _, j := range page.Jobs {
		out.Jobs = append(out.Jobs, viewJob(j))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// cancelJob answers DELETE /v1/sessions/{tenant}/jobs/{id}: a job that has
// not been sent fails with code cancelled (event and dead letter) and is
// answered as the jobs route shows it; 409 not_cancellable once it is
// sending or done; 404 for an unknown tenant or job.
func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request, tenant string) error {
	if err := s.mustExist(r.Context(), tenant); err != nil {
		return err
	}
	id := r.PathValue("id")
	err := s.jobs.Cancel(r.Context(), tenant, id)
	switch {
	case errors.Is(err, queue.ErrNotFound):
		return errorf(http.StatusNotFound, CodeNotFound, "tenant %s has no job %q", tenant, id)
	case errors.Is(err, queue.ErrNotCancellable):
		return errorf(http.StatusConflict, CodeNotCancellable, "job %q is being sent or done already", id)
	case err != nil:
		return err
	}
	j, err := s.jobs.Get(r.Context(), tenant, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewJob(j))
	return nil
}
