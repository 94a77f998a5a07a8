package waemu

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
)

// mediaFault is how the media servers misbehave for one blob.
type mediaFault struct {
	status  int  // answer with this HTTP status instead of the blob
	corrupt bool // serve the blob with one byte changed
}

// FailMedia makes downloads of the stored blob that urlOrPath names (a URL
// or direct path from UploadMedia) fail with HTTP status: 404 or 410 as
// WhatsApp's media servers answer once an attachment has expired, another
// code for a server that keeps failing. It returns ErrUnknownMedia.
func (s *Server) FailMedia(urlOrPath string, status int) error {
	return s.setMediaFault(urlOrPath, mediaFault{status: status})
}

// CorruptMedia makes downloads of the stored blob that urlOrPath names
// return it with one byte changed, so that its hash no longer matches the
// message's. It returns ErrUnknownMedia.
func (s *Server) CorruptMedia(urlOrPath string) error {
	return s.setMediaFault(urlOrPath, mediaFault{corrupt: true})
}

func (s *Server) setMediaFault(urlOrPath string, f mediaFault) error {
	u, err := url.Parse(urlOrPath)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrUnknownMedia, urlOrPath)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.media[u.Path]; !ok {
		return fmt.Errorf("%w: %q", ErrUnknownMedia, urlOrPath)
	}
	if s.mediaFaults == nil {
		s.mediaFaults = make(map[string]mediaFault)
	}
	s.mediaFaults[u.Path] = f
	return nil
}

// serveMediaFault answers a download of a blob with a fault, and reports
// whether it did.
func (s *Server) serveMediaFault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	f, ok := s.mediaFaults[r.URL.Path]
	blob := s.media[r.URL.Path]
	s.mu.Unlock()
	switch {
	case !ok:
		return false
	case f.status != 0:
		http.Error(w, http.StatusText(f.status), f.status)
	default:
		bad := slices.Clone(blob)
		bad[len(bad)/2] ^= 0xff
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(bad)
	}
	return true
}

// recordMediaRetry notes a client's media retry receipt (a request that the
// phone upload an attachment again).
func (s *Server) recordMediaRetry(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mediaRetries = append(s.mediaRetries, id)
	s.notifyLocked()
}

// MediaRetries lists the message ids for which a client asked the phone to
// upload an attachment again (receipts of type server-error), in order.
func (s *Server) MediaRetries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mediaRetries)
}
