package admin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/job"
)

// defaultMaxPayload is NATS's default max payload, assumed while the
// connection does not know the server's.
const defaultMaxPayload = 1 << 20

// publishTimeout bounds the wait for JetStream's ack of a job.
const publishTimeout = 10 * time.Second

// publishJob validates j, moves inline media that would not fit in one
// NATS message into the media bucket, and publishes j to the tenant's send
// subject with its id as Nats-Msg-Id, waiting for JetStream's ack. It
// returns a 400 *apiError with the job's failure code for an invalid job
// and a 503 one when NATS does not take it.
func (s *Server) publishJob(ctx context.Context, tenant string, j *job.Job) error {
	if err := j.Validate(); err != nil {
		return jobError(err)
	}
	data, err := s.encodeJob(ctx, tenant, j)
	if err != nil {
		return err
	}
	// Once the job goes out, wait for its ack even if the client leaves or
	// admin shuts down: the answer then tells the truth about the job.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	_, err = s.js.Publish(pctx, s.names.Send(tenant), data, jetstream.WithMsgID(j.ID))
	if err != nil {
		return errorf(http.StatusServiceUnavailable, CodeUnavailable, "publish job: %v", err)
	}
	return nil
}

// encodeJob checks the job's inline media and encodes the job; media that
// would make it too large for one message goes to the media bucket first.
func (s *Server) encodeJob(ctx context.Context, tenant string, j *job.Job) ([]byte, error) {
	m := j.Media()
	var media inline
	if m != nil && m.Data != "" {
		var err error
		if media, err = decodeMedia(j, m); err != nil {
			return nil, err
		}
	}
	data, err := j.Marshal()
	if err != nil {
		return nil, jobError(err)
	}
	if int64(len(data)) <= s.payloadLimit() || media.data == nil {
		return data, nil
	}
	if err := s.storeMedia(ctx, tenant, j, m, media); err != nil {
		return nil, err
	}
	if data, err = j.Marshal(); err != nil {
		return nil, jobError(err)
	}
	return data, nil
}

// inline is a job's decoded inline media.
type inline struct {
	data     []byte
	mimetype string // of the data URL, if any
}

// decodeMedia decodes inline media, rejecting what the worker would reject
// (media_invalid, media_too_large) before anything is queued.
func decodeMedia(j *job.Job, m *job.Media) (inline, error) {
	data, mimetype, err := job.DecodeData(m.Data)
	if err != nil {
		return inline{}, jobError(err)
	}
	if err := job.CheckSize(j.Kind(), len(data)); err != nil {
		return inline{}, jobError(err)
	}
	return inline{data: data, mimetype: mimetype}, nil
}

// payloadLimit is the largest job that is published as it is.
func (s *Server) payloadLimit() int64 {
	limit := s.nc.MaxPayload()
	if limit <= 0 {
		limit = defaultMaxPayload
	}
	return limit - s.cfg.PayloadMargin
}

// storeMedia puts the media's bytes into the media bucket as
// <tenant>/<job id>/<filename or "media"> and makes m refer to the object,
// keeping the data URL's mimetype when none was declared.
func (s *Server) storeMedia(ctx context.Context, tenant string, j *job.Job, m *job.Media, media inline) error {
	name := objectName(tenant, j.ID, m.Filename)
	store, err := s.js.ObjectStore(ctx, s.names.MediaBucket())
	if err != nil {
		return errorf(http.StatusServiceUnavailable, CodeUnavailable, "open media bucket: %v", err)
	}
	if _, err := store.PutBytes(ctx, name, media.data); err != nil {
		return errorf(http.StatusServiceUnavailable, CodeUnavailable, "store media: %v", err)
	}
	m.Data, m.Object = "", name
	m.Mimetype = cmp.Or(m.Mimetype, media.mimetype)
	return nil
}

// objectName names a job's media object; it stays within the job's limit
// on object names by dropping a long filename.
func objectName(tenant, jobID, filename string) string {
	base := strings.ReplaceAll(filename, "/", "_")
	name := tenant + "/" + jobID + "/" + base
	if base == "" || len(name) > job.MaxNameLen {
		name = tenant + "/" + jobID + "/media"
	}
	return name
}

// jobError turns a *job.Error into a 400 with the job's failure code.
func jobError(err error) error {
	je, ok := errors.AsType[*job.Error](err)
	if !ok {
		return fmt.Errorf("job: %w", err)
	}
	return &apiError{Status: http.StatusBadRequest, Code: je.Code, Msg: je.Error()}
}

// accepted is the answer of POST /v1/sessions/{tenant}/messages.
type accepted struct {
	JobID string `json:"job_id"`
}

// postMessage answers POST /v1/sessions/{tenant}/messages: the body is a
// send job (an id is generated when it has none), published to the
// tenant's send subject; 202 {"job_id"}.
func (s *Server) postMessage(w http.ResponseWriter, r *http.Request, tenant string) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if err := s.mustExist(r.Context(), tenant); err != nil {
		return err
	}
	j, err := job.Decode(body)
	if err != nil {
		return jobError(err)
	}
	if j.ID == "" {
		j.ID = job.NewID()
	}
	if err := s.publishJob(r.Context(), tenant, j); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, accepted{JobID: j.ID})
	return nil
}
