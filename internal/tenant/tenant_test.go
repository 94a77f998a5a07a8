package tenant_test

import (
	"context"
	"testing"

	"github.com/wabus/wabus/internal/db"
	"github.com/wabus/wabus/internal/tenant"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/vocab"
)

func TestSetPaired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.Pool(t, testenv.PostgresDB(t))
	if err := db.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"acme", "other"} {
		if _, err := tenant.Create(ctx, pool, id); err != nil {
			t.Fatal(err)
		}
	}
	ids := []string{"acme", "fresh"} // an existing tenant and a new one
	jids := []string{"51911111111:3@s.whatsapp.net", "51922222222:7@s.whatsapp.net"}
	if err := tenant.SetPaired(ctx, pool, ids, jids); err != nil {
		t.Fatal(err)
	}
	type row struct{ device, jid, state string }
	read := func(id string) row {
		t.Helper()
		var r row
		err := pool.QueryRow(ctx, `SELECT coalesce(device_jid, ''), coalesce(jid, ''), state FROM wabus_tenant WHERE id = $1`, id).
			Scan(&r.device, &r.jid, &r.state)
		if err != nil {
			t.Fatalf("read %s: %v", id, err)
		}
		return r
	}
	for i, id := range ids {
		if got, want := read(id), (row{jids[i], jids[i], vocab.StateDisconnected}); got != want {
			t.Errorf("%s: got %+v, want %+v", id, got, want)
		}
	}
	if got, want := read("other"), (row{"", "", vocab.StateUnpaired}); got != want {
		t.Errorf("a tenant not named changed: got %+v, want %+v", got, want)
	}
	if err := tenant.SetPaired(ctx, pool, []string{"acme"}, nil); err == nil {
		t.Error("SetPaired took one tenant and no device")
	}
	if got := read("acme"); got.device != jids[0] {
		t.Errorf("a refused call changed acme: %+v", got)
	}
}

func TestCreateAll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.Pool(t, testenv.PostgresDB(t))
	if err := db.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if err := tenant.SetPaired(ctx, pool, []string{"acme"}, []string{"51911111111:3@s.whatsapp.net"}); err != nil {
		t.Fatal(err)
	}
	if err := tenant.CreateAll(ctx, pool, []string{"acme", "t1", "t2"}); err != nil {
		t.Fatal(err)
	}
	if n := testenv.QueryInt(t, pool, `SELECT count(*) FROM wabus_tenant WHERE id IN ('t1', 't2') AND state = $1 AND device_jid IS NULL`, vocab.StateUnpaired); n != 2 {
		t.Fatalf("%d new tenants unpaired, want 2", n)
	}
	if jid, _, err := tenant.Device(ctx, pool, "acme"); err != nil || jid != "51911111111:3@s.whatsapp.net" {
		t.Fatalf("an existing tenant changed: device %q, %v", jid, err)
	}
}
