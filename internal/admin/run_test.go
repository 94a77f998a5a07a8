package admin

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/config"
	"github.com/wabus/wabus/internal/session/wmdriver"
	"github.com/wabus/wabus/internal/testing/testenv"
)

// TestRun runs the admin process as cmd/admin does, on a database and a
// nats-server nobody prepared, and shuts it down while a send waits.
func TestRun(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(func(string) (string, bool) { return "", false }, "admin-test")
	if err != nil {
		t.Fatal(err)
	}
	if err := Run(context.Background(), cfg, wmdriver.Devices{}, testLogger()); !errors.Is(err, ErrNoToken) {
		t.Fatalf("Run without a token: %v, want ErrNoToken", err)
	}
	nats := testenv.NATS(t)
	cfg.DatabaseURL, cfg.NATSURL, cfg.SubjectPrefix = testenv.PostgresDB(t), nats.URL(), testenv.Prefix(t)
	cfg.AdminToken, cfg.AdminAddr = testToken, "127.0.0.1:"+strconv.Itoa(testenv.FreePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	var runErr error
	finished := make(chan struct{})
	go func() { runErr = Run(ctx, cfg, wmdriver.Devices{}, testLogger()); close(finished) }()
	t.Cleanup(func() { cancel(); <-finished })

	e := &env{base: "http://" + cfg.AdminAddr, client: &http.Client{}}
	testenv.Eventually(t, 60*time.Second, "admin serves /readyz", func() bool {
		r, err := http.Get("http://" + cfg.AdminAddr + "/readyz")
		if err == nil {
			r.Body.Close()
		}
		return err == nil && r.StatusCode == http.StatusOK
	})
	wantStatus(t, e.do(t, http.MethodPut, "/v1/sessions/t1", nil), http.StatusCreated)

	// Admin alone (whatsmeow's tables not created yet) still deletes a
	// paired tenant whose worker is gone.
	wantStatus(t, e.do(t, http.MethodPut, "/v1/sessions/t2", nil), http.StatusCreated)
	pool := testenv.Pool(t, cfg.DatabaseURL)
	if _, err := pool.Exec(context.Background(), `UPDATE wabus_tenant SET device_jid = '51900000002:7@s.whatsapp.net' WHERE id = 't2'`); err != nil {
		t.Fatal(err)
	}
	r := e.do(t, http.MethodDelete, "/v1/sessions/t2", nil)
	if m := r.json(t); r.status != http.StatusOK || m["logged_out"] != false {
		t.Fatalf("delete without worker: %s", r.body)
	}

	js := nats.JetStream(t)
	// A send waiting for its outcome answers queued when admin stops.
	answered := make(chan response, 1)
	go func() {
		r, err := e.try(http.MethodPost, "/api/send/t1", strings.NewReader(`{"to": "51987654321", "message": "hola"}`), "Bearer "+testToken)
		if err != nil {
			r = response{body: []byte(err.Error())}
		}
		answered <- r
	}()
	testenv.Eventually(t, 10*time.Second, "the send is queued", func() bool {
		return testenv.StreamMsgs(t, js, bus.NewNames(cfg.SubjectPrefix).SendStream()) == 1
	})
	cancel()
	select {
	case r := <-answered:
		if r.status != http.StatusAccepted || r.json(t)["queued"] != true {
			t.Fatalf("send during shutdown: %d %s", r.status, r.body)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the waiting send was not answered at shutdown")
	}
	select {
	case <-finished:
		if runErr != nil {
			t.Fatalf("Run: %v", runErr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
