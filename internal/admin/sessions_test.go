package admin

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/testing/testenv"
)

// TestSessions: create, read and list sessions, as recorded in Postgres.
func TestSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	r := e.do(t, http.MethodPut, "/v1/sessions/t1", nil)
	wantStatus(t, r, http.StatusCreated)
	s := r.json(t)
	wantKeys(t, s, "tenant", "state", "jid", "worker", "since", "last_error", "reconnects", "pending_jobs", "send_rate", "send_burst", "paused")
	if s["tenant"] != "t1" || s["state"] != "unpaired" || s["pending_jobs"] != float64(0) || s["since"] == nil {
		t.Fatalf("new session %v", s)
	}
	r = e.do(t, http.MethodPut, "/v1/sessions/t1", nil)
	wantStatus(t, r, http.StatusOK)
	if got := r.json(t); got["since"] != s["since"] {
		t.Fatalf("second PUT changed the session: %v", got)
	}
	wantStatus(t, e.do(t, http.MethodGet, "/v1/sessions/t1", nil), http.StatusOK)
	wantError(t, e.do(t, http.MethodGet, "/v1/sessions/t0", nil), http.StatusNotFound, CodeNotFound)

	e.do(t, http.MethodPut, "/v1/sessions/a-first", nil)
	list := e.do(t, http.MethodGet, "/v1/sessions", nil).json(t)["sessions"].([]any)
	var ids []string
	for _, v := range list {
		ids = append(ids, v.(map[string]any)["tenant"].(string))
	}
	if !slices.Equal(ids, []string{"a-first", "t1"}) {
		t.Fatalf("list %v", ids)
	}
}

// TestSessionLease: a state that needs an owner shows disconnected once
// the owner's lease is missing or expired.
func TestSessionLease(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ctx := context.Background()
	for _, id := range []string{"live", "expired", "nolease", "banned"} {
		e.do(t, http.MethodPut, "/v1/sessions/"+id, nil)
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := e.stack.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`UPDATE wabus_tenant SET state = 'connected', worker = 'w9', jid = '51900000001:2@s.whatsapp.net' WHERE id IN ('live', 'expired', 'nolease')`)
	exec(`UPDATE wabus_tenant SET state = 'banned' WHERE id = 'banned'`)
	exec(`INSERT INTO wabus_lease (tenant, owner, expires_at) VALUES ('live', 'w9', now() + interval '1 minute'), ('expired', 'w9', now() - interval '1 second')`)
	want := map[string]string{"live": "connected", "expired": "disconnected", "nolease": "disconnected", "banned": "banned"}
	for id, state := range want {
		if got := e.do(t, http.MethodGet, "/v1/sessions/"+id, nil).json(t)["state"]; got != state {
			t.Errorf("%s: state %v, want %s", id, got, state)
		}
	}
	for _, v := range e.do(t, http.MethodGet, "/v1/sessions", nil).json(t)["sessions"].([]any) {
		s := v.(map[string]any)
		if id := s["tenant"].(string); s["state"] != want[id] {
			t.Errorf("list: %s state %v, want %s", id, s["state"], want[id])
		}
	}
	exec(`UPDATE wabus_lease SET expires_at = now() + interval '1 minute' WHERE tenant = 'expired'`)
	if got := e.do(t, http.MethodGet, "/v1/sessions/expired", nil).json(t)["state"]; got != "connected" {
		t.Errorf("renewed lease: state %v", got)
	}
}

// TestNoWorker: what needs a worker answers 503 unavailable when none
// runs, and deleting an unpaired tenant needs none.
func TestNoWorker(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{CtlWait: 2 * time.Second})
	e.do(t, http.MethodPut, "/v1/sessions/t1", nil)
	wantError(t, e.do(t, http.MethodGet, "/v1/sessions/t1/qr", nil), http.StatusServiceUnavailable, CodeUnavailable)
	wantError(t, e.do(t, http.MethodPost, "/v1/sessions/t1/reconnect", nil), http.StatusServiceUnavailable, CodeUnavailable)
	wantError(t, e.do(t, http.MethodPost, "/v1/sessions/t1/pair-phone", map[string]string{"phone": "+51987654321"}),
		http.StatusServiceUnavailable, CodeUnavailable)
	for _, path := range []string{"/qr", "/reconnect", "/pair-phone", ""} {
		method := map[string]string{"/qr": "GET", "": "DELETE"}[path]
		if method == "" {
			method = http.MethodPost
		}
		wantError(t, e.do(t, method, "/v1/sessions/unknown"+path, map[string]string{"phone": "+51987654321"}),
			http.StatusNotFound, CodeNotFound)
	}
	r := e.do(t, http.MethodDelete, "/v1/sessions/t1", nil)
	wantStatus(t, r, http.StatusOK)
	if m := r.json(t); m["deleted"] != true || m["logged_out"] != false {
		t.Fatalf("delete: %s", r.body)
	}
	if n := e.count(t, `SELECT count(*) FROM wabus_tenant`); n != 0 {
		t.Fatalf("%d tenants left", n)
	}
}

// TestReadyz: readiness checks Postgres and NATS.
func TestReadyz(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	wantStatus(t, e.doAuth(t, http.MethodGet, "/readyz", nil, ""), http.StatusOK)
	e.stack.NATS.Stop()
	var r response
	testenv.Eventually(t, 10*time.Second, "readyz fails without NATS", func() bool {
		r = e.doAuth(t, http.MethodGet, "/readyz", nil, "")
		return r.status == http.StatusServiceUnavailable
	})
	if failed, _ := r.json(t)["failed"].(map[string]any); failed["nats"] == nil {
		t.Fatalf("readyz: %s", r.body)
	}
	// Sessions are still shown, pending_jobs counted from Postgres.
	e.do(t, http.MethodPut, "/v1/sessions/t1", nil)
	r = e.do(t, http.MethodGet, "/v1/sessions/t1", nil)
	wantStatus(t, r, http.StatusOK)
	if m := r.json(t); m["pending_jobs"] != float64(0) {
		t.Fatalf("pending_jobs %v without NATS, want 0 (from the job table)", m["pending_jobs"])
	}
}

// wantKeys fails unless m has exactly keys.
func wantKeys(t *testing.T, m map[string]any, keys ...string) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Fatalf("keys %v, want %v", got, keys)
	}
}

// TestSessionSendLimits: PUT's optional body sets a tenant's own send rate
// limit, null gives the default back, and bad values are refused with
// nothing changed.
func TestSessionSendLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	r := e.do(t, http.MethodPut, "/v1/sessions/shop", map[string]any{"send_rate": 30, "send_burst": 5})
	wantStatus(t, r, http.StatusCreated)
	if s := r.json(t); s["send_rate"] != float64(30) || s["send_burst"] != float64(5) {
		t.Fatalf("session after PUT with limits: %v", s)
	}
	if n := e.count(t, `SELECT count(*) FROM wabus_tenant WHERE id = 'shop' AND send_rate = 30 AND send_burst = 5`); n != 1 {
		t.Fatal("limits not stored on the tenant")
	}
	// a field left out stays; null removes the tenant's own value
	s := e.do(t, http.MethodPut, "/v1/sessions/shop", map[string]any{"send_burst": nil}).json(t)
	if s["send_rate"] != float64(30) || s["send_burst"] != nil {
		t.Fatalf("session after clearing the burst: %v", s)
	}
	for _, body := range []any{
		map[string]any{"send_rate": -1},
		map[string]any{"send_rate": 6001},
		map[string]any{"send_rate": "fast"},
		map[string]any{"send_burst": 0},
		map[string]any{"send_burst": 2.5},
		map[string]any{"sendrate": 10},
		[]int{1},
	} {
		wantError(t, e.do(t, http.MethodPut, "/v1/sessions/shop", body), http.StatusBadRequest, CodeInvalidRequest)
		wantError(t, e.do(t, http.MethodPut, "/v1/sessions/fresh", body), http.StatusBadRequest, CodeInvalidRequest)
	}
	if s := e.do(t, http.MethodGet, "/v1/sessions/shop", nil).json(t); s["send_rate"] != float64(30) || s["send_burst"] != nil {
		t.Fatalf("a refused PUT changed the limits: %v", s)
	}
	wantError(t, e.do(t, http.MethodGet, "/v1/sessions/fresh", nil), http.StatusNotFound, CodeNotFound)
	if s := e.do(t, http.MethodPut, "/v1/sessions/plain", nil).json(t); s["send_rate"] != nil || s["send_burst"] != nil {
		t.Fatalf("a tenant without limits shows %v", s)
	}
}
