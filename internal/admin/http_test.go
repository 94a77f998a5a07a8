package admin

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestAuth: every route but health and metrics needs the bearer token.
func TestAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	for _, path := range []string{"/v1/sessions", "/v1/sessions/t1", "/api/health", "/api/sessions", "/nowhere"} {
		for name, auth := range map[string]string{
			"none":         "",
			"wrong token":  "Bearer not-the-token",
			"token prefix": "Bearer " + testToken[:5],
			"basic":        "Basic " + testToken,
		} {
			r := e.doAuth(t, http.MethodGet, path, nil, auth)
			m := wantError(t, r, http.StatusUnauthorized, CodeUnauthorized)
			if strings.HasPrefix(path, "/api/") && m["success"] != false {
				t.Errorf("%s (%s): old API error without success false: %s", path, name, r.body)
			}
			if r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s (%s): no WWW-Authenticate", path, name)
			}
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		wantStatus(t, e.doAuth(t, http.MethodGet, path, nil, ""), http.StatusOK)
	}
	wantStatus(t, e.doAuth(t, http.MethodGet, "/v1/sessions", nil, "bearer "+testToken), http.StatusOK)
}

// TestInvalidTenant: ids that are not one subject token never reach NATS
// or SQL.
func TestInvalidTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	bad := []string{"a.b", "*", "%3E", "a%3Eb", "a%2Fb", "a%20b", "%20", strings.Repeat("x", 65), "caf%C3%A9"}
	routes := []struct{ method, path string }{
		{http.MethodGet, "/v1/sessions/%s"},
		{http.MethodPut, "/v1/sessions/%s"},
		{http.MethodDelete, "/v1/sessions/%s"},
		{http.MethodGet, "/v1/sessions/%s/qr"},
		{http.MethodPost, "/v1/sessions/%s/messages"},
		{http.MethodPost, "/v1/sessions/%s/pair-phone"},
		{http.MethodGet, "/api/status/%s"},
		{http.MethodGet, "/api/connect/%s"},
		{http.MethodPost, "/api/send/%s"},
	}
	for _, id := range bad {
		for _, rt := range routes {
			path := strings.Replace(rt.path, "%s", id, 1)
			r := e.do(t, rt.method, path, map[string]string{"to": "+51987654321", "text": "x"})
			wantError(t, r, http.StatusBadRequest, CodeInvalidTenant)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM wabus_tenant`); n != 0 {
		t.Fatalf("%d tenants created by invalid requests", n)
	}
	wantStatus(t, e.do(t, http.MethodPut, "/v1/sessions/"+strings.Repeat("x", 64), nil), http.StatusCreated)
	wantStatus(t, e.do(t, http.MethodPut, "/v1/sessions/Demo_test-13", nil), http.StatusCreated)
}

// TestBodyLimit: a body over the limit is 413 too_large, whether its
// length is declared or not.
func TestBodyLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{MaxBody: 2048})
	wantStatus(t, e.do(t, http.MethodPut, "/v1/sessions/t1", nil), http.StatusCreated)
	big := `{"to": "+51987654321", "text": "` + strings.Repeat("a", 4096) + `"}`
	for _, path := range []string{"/v1/sessions/t1/messages", "/api/send/t1", "/v1/sessions/t1/pair-phone"} {
		wantError(t, e.do(t, http.MethodPost, path, []byte(big)), http.StatusRequestEntityTooLarge, CodeTooLarge)
		// io.MultiReader hides the length: the request is chunked.
		chunked := io.MultiReader(strings.NewReader(big))
		wantError(t, e.do(t, http.MethodPost, path, chunked), http.StatusRequestEntityTooLarge, CodeTooLarge)
	}
	if n := e.pending(t, "t1"); n != 0 {
		t.Fatalf("%d jobs queued by oversized requests", n)
	}
}

// TestUnknownRoutes: JSON 404 for unknown paths, 405 with Allow for a
// wrong method.
func TestUnknownRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	for _, path := range []string{"/", "/v2/sessions", "/v1/sessions/t1/nope", "/api/status", "/api/unknown/13"} {
		wantError(t, e.do(t, http.MethodGet, path, nil), http.StatusNotFound, CodeNotFound)
	}
	r := e.do(t, http.MethodPost, "/v1/sessions", nil)
	wantError(t, r, http.StatusMethodNotAllowed, CodeMethodNotAllowed)
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") {
		t.Fatalf("Allow %q", allow)
	}
	wantError(t, e.do(t, http.MethodPatch, "/v1/sessions/t1", nil), http.StatusMethodNotAllowed, CodeMethodNotAllowed)
	wantError(t, e.do(t, http.MethodGet, "/v1/sessions/t1", nil), http.StatusNotFound, CodeNotFound)
}

// TestMetrics: requests are counted by route pattern and status, never by
// tenant.
func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.do(t, http.MethodPut, "/v1/sessions/metrics-tenant", nil)
	e.do(t, http.MethodGet, "/v1/sessions/metrics-tenant", nil)
	e.doAuth(t, http.MethodGet, "/v1/sessions", nil, "")
	e.do(t, http.MethodGet, "/nowhere/at/all", nil)
	body := string(e.doAuth(t, http.MethodGet, "/metrics", nil, "").body)
	for _, want := range []string{
		`wabus_admin_requests_total{code="201",route="PUT /v1/sessions/{tenant}"} 1`,
		`wabus_admin_requests_total{code="200",route="GET /v1/sessions/{tenant}"} 1`,
		`wabus_admin_requests_total{code="401",route="GET /v1/sessions"} 1`,
		`wabus_admin_requests_total{code="404",route="unmatched"} 1`,
		`wabus_admin_request_duration_seconds_bucket{route="GET /v1/sessions/{tenant}"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "metrics-tenant") {
		t.Error("metrics carry a tenant id")
	}
}

// TestPanicRecovered: a panicking handler answers a JSON 500 and the
// server goes on.
func TestPanicRecovered(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.srv.mux.HandleFunc("GET /v1/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	e.srv.routes["GET /v1/panic"] = route{pattern: "GET /v1/panic"}
	wantError(t, e.do(t, http.MethodGet, "/v1/panic", nil), http.StatusInternalServerError, CodeInternal)
	wantStatus(t, e.do(t, http.MethodGet, "/v1/sessions", nil), http.StatusOK)
}

// TestNew: the token and the dependencies are required.
func TestNew(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{}, Deps{}); err != ErrNoToken {
		t.Fatalf("New without token: %v, want ErrNoToken", err)
	}
	if _, err := New(Config{Token: "x"}, Deps{}); err != ErrMissingDeps {
		t.Fatalf("New without deps: %v, want ErrMissingDeps", err)
	}
}

// TestTenantsByState: every tenant is counted by its state, including the
// ones no worker runs, and a connected tenant whose owner's lease expired
// counts as disconnected (as the sessions routes show it).
func TestTenantsByState(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		e.do(t, http.MethodPut, "/v1/sessions/"+id, nil)
	}
	for _, q := range []string{
		`UPDATE wabus_tenant SET state = 'logged_out' WHERE id IN ('a', 'b')`,
		`UPDATE wabus_tenant SET state = 'connected' WHERE id IN ('c', 'd')`,
		`INSERT INTO wabus_lease (tenant, owner, expires_at) VALUES ('c', 'w9', now() + interval '1 minute'), ('d', 'w9', now() - interval '1 second')`,
	} {
		if _, err := e.stack.Pool.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	body := string(e.doAuth(t, http.MethodGet, "/metrics", nil, "").body)
	for _, want := range []string{
		`wabus_tenants_by_state{state="logged_out"} 2`,
		`wabus_tenants_by_state{state="connected"} 1`,
		`wabus_tenants_by_state{state="disconnected"} 1`,
		`wabus_tenants_by_state{state="unpaired"} 1`,
		`wabus_tenants_by_state{state="banned"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
}
