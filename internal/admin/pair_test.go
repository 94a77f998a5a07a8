package admin

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/vocab"
)

// TestPairingQR pairs a new tenant through the QR stream and a simulated
// scan, with a second client joining mid-way.
func TestPairingQR(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.startWorker(t, "w1")
	wantStatus(t, e.do(t, http.MethodPut, "/v1/sessions/t1", nil), http.StatusCreated)

	first := e.openSSE(t, "/v1/sessions/t1/qr")
	ev := first.next(t, 10*time.Second)
	code := wantQR(t, ev)
	if got := zbarDecode(t, pngOf(t, ev)); got != code {
		t.Fatalf("zbarimg read %q from the PNG, want the code %q", got, code)
	}
	// A client that (re)connects gets the code being shown.
	second := e.openSSE(t, "/v1/sessions/t1/qr")
	if again := wantQR(t, second.next(t, 10*time.Second)); again != code {
		t.Fatalf("second client got code %q, want the current %q", again, code)
	}
	if s := e.do(t, http.MethodGet, "/v1/sessions/t1", nil).json(t); s["state"] != "pairing" || s["worker"] != "w1" {
		t.Fatalf("while pairing: %v", s)
	}

	if rep := ask(t, e.nc, e.stack.Names.Sim("t1", "scan"), nil); rep.Code != "" {
		t.Fatalf("scan: %v", rep)
	}
	var jid string
	for _, s := range []*sseStream{first, second} {
		ev := nextOf(t, s, "paired")
		jid, _ = ev.data["jid"].(string)
		if !strings.HasSuffix(jid, "@s.whatsapp.net") {
			t.Fatalf("paired jid %q", jid)
		}
		s.wantEnd(t, 5*time.Second)
	}
	if s := e.waitState(t, "t1", "connected"); s["jid"] != jid {
		t.Fatalf("connected session %v, want jid %s", s, jid)
	}

	// Already connected: state and paired at once, then the end.
	again := e.openSSE(t, "/v1/sessions/t1/qr")
	if ev := again.next(t, 10*time.Second); ev.name != "state" || ev.data["state"] != "connected" {
		t.Fatalf("first event on a connected tenant: %s %v", ev.name, ev.data)
	}
	if ev := again.next(t, 5*time.Second); ev.name != "paired" || ev.data["jid"] != jid {
		t.Fatalf("second event on a connected tenant: %s %v", ev.name, ev.data)
	}
	again.wantEnd(t, 5*time.Second)
}

// TestReconnect forces a reconnect of a connected tenant.
func TestReconnect(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.startWorker(t, "w1")
	wantError(t, e.do(t, http.MethodPost, "/v1/sessions/nobody/reconnect", nil), http.StatusNotFound, CodeNotFound)
	e.do(t, http.MethodPut, "/v1/sessions/u1", nil)
	wantError(t, e.do(t, http.MethodPost, "/v1/sessions/u1/reconnect", nil), http.StatusConflict, "not_paired")

	e.pair(t, "t1")
	disconnected := e.watchSim(t, "t1", "disconnected")
	r := e.do(t, http.MethodPost, "/v1/sessions/t1/reconnect", nil)
	wantStatus(t, r, http.StatusAccepted)
	if m := r.json(t); m["tenant"] != "t1" || m["state"] != "connecting" {
		t.Fatalf("reconnect: %s", r.body)
	}
	waitMsg(t, disconnected, 10*time.Second, "sim disconnected notice")
	testenv.Eventually(t, 20*time.Second, "t1 reconnected", func() bool {
		s := e.do(t, http.MethodGet, "/v1/sessions/t1", nil).json(t)
		return s["state"] == "connected" && s["reconnects"].(float64) >= 1
	})
}

// TestPairPhone: phone pairing answers the simulator's code.
func TestPairPhone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.startWorker(t, "w1")
	wantError(t, e.do(t, http.MethodPost, "/v1/sessions/p1/pair-phone", map[string]string{"phone": "+51987654321"}),
		http.StatusNotFound, CodeNotFound)
	e.do(t, http.MethodPut, "/v1/sessions/p1", nil)
	wantError(t, e.do(t, http.MethodPost, "/v1/sessions/p1/pair-phone", map[string]string{}), http.StatusBadRequest, "invalid_phone")
	wantError(t, e.do(t, http.MethodPost, "/v1/sessions/p1/pair-phone", []byte(`{"phone": 5}`)), http.StatusBadRequest, CodeInvalidRequest)

	r := e.do(t, http.MethodPost, "/v1/sessions/p1/pair-phone", map[string]string{"phone": "+51987654321"})
	wantStatus(t, r, http.StatusOK)
	if code, _ := r.json(t)["code"].(string); !regexp.MustCompile(`^[A-Z0-9]{4}-[A-Z0-9]{4}$`).MatchString(code) {
		t.Fatalf("pairing code %q, want XXXX-XXXX", code)
	}
	wantError(t, e.do(t, http.MethodPost, "/v1/sessions/p1/pair-phone", map[string]string{"phone": "12"}),
		http.StatusBadRequest, "invalid_phone")

	e.pair(t, "c1")
	wantError(t, e.do(t, http.MethodPost, "/v1/sessions/c1/pair-phone", map[string]string{"phone": "+51987654321"}),
		http.StatusConflict, "already_paired")
}

// TestDelete logs a connected tenant out and deletes its credentials and
// the tenant.
func TestDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.startWorker(t, "w1")
	e.pair(t, "d1")
	device := e.deviceJID(t, "d1")
	if n := e.count(t, `SELECT count(*) FROM whatsmeow_device WHERE jid = $1`, device); n != 1 {
		t.Fatalf("%d device rows for %s before delete", n, device)
	}
	r := e.do(t, http.MethodDelete, "/v1/sessions/d1", nil)
	wantStatus(t, r, http.StatusOK)
	if m := r.json(t); m["logged_out"] != true || m["deleted"] != true || m["tenant"] != "d1" {
		t.Fatalf("delete: %s", r.body)
	}
	if n := e.count(t, `SELECT count(*) FROM whatsmeow_device WHERE jid = $1`, device); n != 0 {
		t.Fatalf("credentials of %s still stored", device)
	}
	if n := e.count(t, `SELECT count(*) FROM wabus_tenant WHERE id = 'd1'`); n != 0 {
		t.Fatal("tenant row still there")
	}
	wantError(t, e.do(t, http.MethodGet, "/v1/sessions/d1", nil), http.StatusNotFound, CodeNotFound)
	testenv.Eventually(t, 20*time.Second, "logged_out session event", func() bool {
		for _, m := range testenv.ReadStream(t, e.stack.JS, e.stack.Names.EventsStream(), e.stack.Names.Event("d1", vocab.EventSession)) {
			if bytes.Contains(m.Data(), []byte(`"state":"logged_out"`)) {
				return true
			}
		}
		return false
	})
	// The id can be used again: a fresh tenant pairs from scratch.
	wantStatus(t, e.do(t, http.MethodPut, "/v1/sessions/d1", nil), http.StatusCreated)
	wantQR(t, e.openSSE(t, "/v1/sessions/d1/qr").next(t, 10*time.Second))
}

// deviceJID returns the tenant's recorded device.
func (e *env) deviceJID(t *testing.T, tenant string) string {
	t.Helper()
	var jid string
	err := e.stack.Pool.QueryRow(context.Background(), `SELECT coalesce(device_jid, '') FROM wabus_tenant WHERE id = $1`, tenant).Scan(&jid)
	if err != nil || jid == "" {
		t.Fatalf("device of %s: %q, %v", tenant, jid, err)
	}
	return jid
}

// wantQR checks a qr event and returns its code.
func wantQR(t *testing.T, ev sseEvent) string {
	t.Helper()
	code, _ := ev.data["code"].(string)
	png, _ := ev.data["png"].(string)
	exp, _ := ev.data["expires_in"].(float64)
	if ev.name != "qr" || code == "" || !strings.HasPrefix(png, "data:image/png;base64,") || exp <= 0 {
		t.Fatalf("want a qr event, got %s %v", ev.name, ev.data)
	}
	return code
}

// nextOf skips events until one named name.
func nextOf(t *testing.T, s *sseStream, name string) sseEvent {
	t.Helper()
	for {
		if ev := s.next(t, 15*time.Second); ev.name == name {
			return ev
		}
	}
}

// pngOf decodes a qr event's PNG data URL.
func pngOf(t *testing.T, ev sseEvent) []byte {
	t.Helper()
	b64 := strings.TrimPrefix(ev.data["png"].(string), "data:image/png;base64,")
	png, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("png data URL: %v", err)
	}
	return png
}

// zbarDecode reads a QR code PNG with zbarimg. A missing zbarimg fails the
// test.
func zbarDecode(t *testing.T, png []byte) string {
	t.Helper()
	path, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Fatal("zbarimg not found on PATH; install it with: apt-get install -y zbar-tools")
	}
	file := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(file, png, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--raw", "-q", "--oneshot", "-Sdisable", "-Sqrcode.enable", "-Sbinary"}
	if help, _ := exec.Command(path, "--help").CombinedOutput(); bytes.Contains(help, []byte("--nodbus")) {
		args = append(args, "--nodbus")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, append(args, file)...).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v (exit status 4: no code found)", err)
	}
	return string(out)
}

// TestPairingStreamEnds: an idle stream carries keep-alive comments; when
// no pairing outcome comes within PairWait admin sends timeout and ends
// the stream; a client that leaves ends its request.
func TestPairingStreamEnds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{PairWait: 1500 * time.Millisecond, Heartbeat: 100 * time.Millisecond})
	e.startWorker(t, "w1")
	e.do(t, http.MethodPut, "/v1/sessions/t1", nil)
	s := e.openSSE(t, "/v1/sessions/t1/qr")
	wantQR(t, s.next(t, 10*time.Second))
	if ev := nextOf(t, s, "timeout"); len(ev.data) != 0 {
		t.Fatalf("timeout data %v, want {}", ev.data)
	}
	s.wantEnd(t, 5*time.Second)
	if s.comments.Load() == 0 {
		t.Fatal("no keep-alive comment in an idle stream")
	}

	// A server whose streams last long: only the client can end this one.
	long := e.withServer(t, Config{})
	left := long.openSSE(t, "/v1/sessions/t1/qr")
	wantQR(t, left.next(t, 10*time.Second))
	left.cancel()
	testenv.Eventually(t, 10*time.Second, "the left stream's request ended", func() bool {
		body := string(long.doAuth(t, http.MethodGet, "/metrics", nil, "").body)
		return strings.Contains(body, `wabus_admin_requests_total{code="200",route="GET /v1/sessions/{tenant}/qr"} 1`)
	})
}
