package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/config"
	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/session/wmdriver"
	"github.com/wabus/wabus/internal/testing/harness"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/worker"
)

const testToken = "s3cret-admin-token"

// env is a stack with an admin server over real HTTP.
type env struct {
	stack  *testenv.Stack
	nc     *nats.Conn
	srv    *Server
	base   string // the server's URL
	client *http.Client
}

// newEnv starts a stack and an admin server on it; cfg's zero fields get
// test-friendly values.
func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	stack := testenv.NewStack(t)
	return (&env{stack: stack, nc: stack.NATS.Conn(t)}).withServer(t, cfg)
}

// withServer returns an env with another admin server, configured with
// cfg, on the same stack.
func (e *env) withServer(t *testing.T, cfg Config) *env {
	t.Helper()
	js, err := jetstream.New(e.nc)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Token = testToken
	srv, err := New(cfg, Deps{Pool: e.stack.Pool, NATS: e.nc, JS: js, Names: e.stack.Names, Devices: wmdriver.Devices{}, Logger: testLogger()})
	if err != nil {
		t.Fatalf("admin.New: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &env{stack: e.stack, nc: e.nc, srv: srv, base: hs.URL, client: hs.Client()}
}

// testLogger discards logs unless WABUS_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("WABUS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startWorker runs a sim worker on the env's stack until the test ends and
// waits until it has registered.
func (e *env) startWorker(t *testing.T, id string) {
	t.Helper()
	cfg, err := config.Load(func(string) (string, bool) { return "", false }, id)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Driver, cfg.WorkerID, cfg.SubjectPrefix = "sim", id, e.stack.Names.Prefix()
	cfg.DatabaseURL, cfg.NATSURL, cfg.MetricsAddr = e.stack.DBURL, e.stack.NATS.URL(), "127.0.0.1:0"
	cfg.LeaseTTL, cfg.SendRate = 3*time.Second, 0
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- worker.Run(ctx, cfg, testLogger().With("worker", id)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker %s: %v", id, err)
		}
	})
	testenv.Eventually(t, 30*time.Second, "worker "+id+" registered", func() bool {
		select {
		case err := <-done:
			t.Fatalf("worker %s exited: %v", id, err)
		default:
		}
		return testenv.QueryInt(t, e.stack.Pool, `SELECT count(*) FROM wabus_worker WHERE id = $1`, id) == 1
	})
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a map.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v: %.300s", r.status, err, r.body)
	}
	return m
}

// do sends a request with the test token; body is JSON-encoded unless it
// is a []byte or an io.Reader.
func (e *env) do(t *testing.T, method, path string, body any) response {
	t.Helper()
	return e.doAuth(t, method, path, body, "Bearer "+testToken)
}

func (e *env) doAuth(t *testing.T, method, path string, body any, auth string) response {
	t.Helper()
	r, err := e.try(method, path, bodyReader(t, body), auth)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// try makes a request and returns its error instead of failing the test,
// for use off the test's goroutine.
func (e *env) try(method, path string, body io.Reader, auth string) (response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.base+path, body)
	if err != nil {
		return response{}, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := e.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, fmt.Errorf("read body: %w", err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}, nil
}

func bodyReader(t *testing.T, body any) io.Reader {
	t.Helper()
	switch b := body.(type) {
	case nil:
		return nil
	case io.Reader:
		return b
	case []byte:
		return bytes.NewReader(b)
	}
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(data)
}

// wantStatus fails the test unless r has status code.
func wantStatus(t *testing.T, r response, code int) {
	t.Helper()
	if r.status != code {
		t.Fatalf("status %d, want %d; body %.500s", r.status, code, r.body)
	}
}

// wantError checks a JSON error answer.
func wantError(t *testing.T, r response, status int, code string) map[string]any {
	t.Helper()
	wantStatus(t, r, status)
	m := r.json(t)
	if m["code"] != code || m["error"] == "" || m["error"] == nil {
		t.Fatalf("error body %s, want code %q and an error message", r.body, code)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q", ct)
	}
	return m
}

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	name string
	data map[string]any
}

// sseStream is an open pairing stream.
type sseStream struct {
	res      *http.Response
	events   chan sseEvent
	comments atomic.Int32 // keep-alive comment lines seen
	cancel   context.CancelFunc
}

// openSSE opens GET path as an event stream and fails unless it is one.
func (e *env) openSSE(t *testing.T, path string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := e.client.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", path, err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		cancel()
		t.Fatalf("GET %s: %d %s: %s", path, res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	s := &sseStream{res: res, events: make(chan sseEvent, 16), cancel: cancel}
	var wg sync.WaitGroup
	wg.Go(func() { s.read(ctx, t) })
	t.Cleanup(func() { cancel(); res.Body.Close(); wg.Wait() })
	return s
}

// read parses the stream into events until it ends.
func (s *sseStream) read(ctx context.Context, t *testing.T) {
	defer close(s.events)
	sc := bufio.NewScanner(s.res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var name string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, ": "):
			s.comments.Add(1)
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			var data map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &data); err != nil {
				t.Errorf("event %s: data is not a JSON object: %q", name, line)
			}
			select {
			case s.events <- sseEvent{name: name, data: data}:
			case <-ctx.Done(): // the test stopped reading
				return
			}
		}
	}
}

// next returns the next event, failing after within.
func (s *sseStream) next(t *testing.T, within time.Duration) sseEvent {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatal("event stream ended")
		}
		return ev
	case <-timer.C:
		t.Fatalf("no event within %s", within)
	}
	return sseEvent{}
}

// wantEnd fails unless the stream ends within the deadline.
func (s *sseStream) wantEnd(t *testing.T, within time.Duration) {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case ev, ok := <-s.events:
		if ok {
			t.Fatalf("event %s %v after the end", ev.name, ev.data)
		}
	case <-timer.C:
		t.Fatalf("stream did not end within %s", within)
	}
}

// ask sends a control or simulator request and decodes the reply
// (harness.Request, failing the test when no reply comes within 10s).
func ask(t *testing.T, nc *nats.Conn, subject string, body any) ctl.Reply {
	t.Helper()
	rep, err := harness.Request(context.Background(), nc, subject, body, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// waitState waits until GET /v1/sessions/{tenant} shows state.
func (e *env) waitState(t *testing.T, tenant, state string) map[string]any {
	t.Helper()
	var last map[string]any
	testenv.Eventually(t, 20*time.Second, tenant+" shows "+state, func() bool {
		r := e.do(t, http.MethodGet, "/v1/sessions/"+tenant, nil)
		if r.status != http.StatusOK {
			return false
		}
		last = r.json(t)
		return last["state"] == state
	})
	return last
}

// pair creates tenant and pairs it through the QR stream and a sim scan.
func (e *env) pair(t *testing.T, tenant string) {
	t.Helper()
	e.do(t, http.MethodPut, "/v1/sessions/"+tenant, nil)
	s := e.openSSE(t, "/v1/sessions/"+tenant+"/qr")
	if ev := s.next(t, 15*time.Second); ev.name != "qr" {
		t.Fatalf("first event %s %v, want qr", ev.name, ev.data)
	}
	if rep := ask(t, e.nc, e.stack.Names.Sim(tenant, "scan"), nil); rep.Code != "" {
		t.Fatalf("scan: %v", rep)
	}
	for {
		if ev := s.next(t, 15*time.Second); ev.name == "paired" {
			break
		}
	}
	e.waitState(t, tenant, "connected")
}

// count runs a counting query.
func (e *env) count(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	return testenv.QueryInt(t, e.stack.Pool, sql, args...)
}

// pending returns how many jobs wait in the send stream for tenant (not
// yet ingested: no worker runs).
func (e *env) pending(t *testing.T, tenant string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := e.stack.JS.Stream(ctx, e.stack.Names.SendStream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(e.stack.Names.SendStored(tenant)[0]))
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// jobs returns the jobs waiting in the send stream for tenant, in order,
// without consuming them.
func (e *env) jobs(t *testing.T, tenant string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := e.stack.JS.Stream(ctx, e.stack.Names.SendStream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("get job %d: %v", seq, err)
		}
		if e.stack.Names.SendTenant(m.Subject) == tenant {
			out = append(out, m)
		}
	}
	return out
}

// watchSim subscribes to the simulator's notices on <p>.sim.<tenant>.<op>.
func (e *env) watchSim(t *testing.T, tenant, op string) chan *nats.Msg {
	t.Helper()
	ch := make(chan *nats.Msg, 64)
	sub, err := e.nc.ChanSubscribe(e.stack.Names.Sim(tenant, op), ch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return ch
}

// waitMsg returns the next message on ch, failing after within.
func waitMsg(t *testing.T, ch chan *nats.Msg, within time.Duration, what string) *nats.Msg {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case m := <-ch:
		return m
	case <-timer.C:
		t.Fatalf("no %s within %s", what, within)
	}
	return nil
}
