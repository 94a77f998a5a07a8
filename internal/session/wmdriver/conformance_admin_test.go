package wmdriver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/admin"
	"github.com/wabus/wabus/internal/session"
	"github.com/wabus/wabus/internal/session/wmdriver"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/waemu"
	"github.com/wabus/wabus/internal/vocab"
)

const adminToken = "conformance-admin-token"

// adminClient is admin's HTTP API on a test stack.
type adminClient struct {
	base string
	http *http.Client
}

// startAdmin serves admin's API with cfg on the stack until the test ends.
func startAdmin(t testing.TB, s *testenv.Stack, cfg admin.Config) *adminClient {
	t.Helper()
	cfg.Token = adminToken
	srv, err := admin.New(cfg, admin.Deps{Pool: s.Pool, NATS: s.NATS.Conn(t), JS: s.JS, Names: s.Names, Devices: wmdriver.Devices{}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &adminClient{base: hs.URL, http: hs.Client()}
}

// do sends a request with a JSON body (when not nil) and decodes the
// JSON answer into a map.
func (a *adminClient) do(t testing.TB, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd.Reset(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, &rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestConformancePairPhoneMintsOneCode asks admin for a phone pairing code
// while WhatsApp is slow to hand one out (3s, longer than a control
// request's usual deadline): one request mints one code, a repeated
// request while that code is valid gets the same code, and the phone
// pairs with it.
func TestConformancePairPhoneMintsOneCode(t *testing.T) {
	t.Parallel()
	s, emu := newEmuStack(t, waemu.Config{LinkCodeDelay: 3 * time.Second})
	startEmuWorker(t, s, emu, "w1", session.Config{})
	a := startAdmin(t, s, admin.Config{})
	if st, body := a.do(t, http.MethodPut, "/v1/sessions/acme", nil); st != http.StatusCreated {
		t.Fatalf("create tenant: %d %v", st, body)
	}
	const phone = "+51987000222"
	st, body := a.do(t, http.MethodPost, "/v1/sessions/acme/pair-phone", map[string]string{"phone": phone})
	code, _ := body["code"].(string)
	if st != http.StatusOK || code == "" {
		t.Fatalf("pair-phone: %d %v", st, body)
	}
	if n := emu.LinkCodes(phone); n != 1 {
		t.Fatalf("one pair-phone request registered %d codes with WhatsApp, want 1", n)
	}
	st, body = a.do(t, http.MethodPost, "/v1/sessions/acme/pair-phone", map[string]string{"phone": phone})
	if st != http.StatusOK || body["code"] != code {
		t.Fatalf("repeated pair-phone: %d %v, want the code %s again", st, body, code)
	}
	if n := emu.LinkCodes(phone); n != 1 {
		t.Fatalf("a repeated pair-phone request registered a new code (%d in all), want the first one reused", n)
	}
	dev, err := emu.EnterPairingCode(phone, code)
	if err != nil {
		t.Fatalf("enter the code on the phone: %v", err)
	}
	testenv.Eventually(t, 30*time.Second, "tenant connected", func() bool {
		_, body := a.do(t, http.MethodGet, "/v1/sessions/acme", nil)
		return body["state"] == vocab.StateConnected
	})
	if !emu.Connected(dev) {
		t.Fatalf("device %s paired by code is not connected", dev)
	}
	if props, err := emu.DeviceProps(dev); err != nil || props.GetOs() != "wabus" {
		t.Fatalf("the phone lists the device paired by code as %q (%v), want wabus", props.GetOs(), err)
	}
}
