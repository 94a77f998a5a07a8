package session

import (
	"testing"
	"time"

	"go.mau.fi/whatsmeow"

	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/testing/testenv"
)

// whatsmeow pings every 20-30s and gives each ping 10s. The conformance
// tests ping every second or two, so that a half-open socket shows in
// seconds; their Liveness.KeepAliveTimeout is set to match. The values are
// process globals, set before any client exists.
func init() {
	whatsmeow.KeepAliveIntervalMin = time.Second
	whatsmeow.KeepAliveIntervalMax = 2 * time.Second
	whatsmeow.KeepAliveResponseDeadline = 2 * time.Second
}

// KeepAlivePeriod is the longest a keepalive failure takes to show in the
// conformance tests: the longest interval plus the response deadline.
const KeepAlivePeriod = 4 * time.Second

// StartEmuWorkerOn is StartEmuWorker on a driver the test made (to run
// its background work as a part, say).
func StartEmuWorkerOn(t testing.TB, s *testenv.Stack, id string, cfg Config, driver wa.Driver, parts ...WorkerPart) *EmuWorker {
	t.Helper()
	return runTestWorker(t, s, id, cfg, driver, testLogger().With("worker", id, "test", t.Name()), nil, parts...)
}
