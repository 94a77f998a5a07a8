package wmdriver

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/testing/testenv"
)

// The store as the sessions and the simulator use it: a fresh device is
// unpaired, an enrolled one is found again under its JID (in a new store,
// as another process would), and a deleted one is gone.
func TestStoreEnrolLoadDelete(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool := testenv.Pool(t, testenv.PostgresDB(t))
	st, err := OpenStore(ctx, pool, nil)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	var ds wa.DeviceStore = st
	dev := ds.NewDevice()
	if dev.JID() != "" {
		t.Fatalf("fresh device has JID %q", dev.JID())
	}
	if err := dev.Delete(ctx); err != nil {
		t.Fatalf("delete of an unpaired device: %v", err)
	}
	if err := dev.Enrol(ctx, "51987654321:x@s.whatsapp.net", "sim", "x"); err == nil || dev.JID() != "" {
		t.Fatalf("enrol under a malformed JID: err %v, JID %q", err, dev.JID())
	}
	const jid = "51987654321:7@s.whatsapp.net"
	if err := dev.Enrol(ctx, jid, "sim", "wabus sim"); err != nil {
		t.Fatalf("enrol: %v", err)
	}
	if dev.JID() != jid {
		t.Fatalf("enrolled device JID %q, want %s", dev.JID(), jid)
	}
	again := NewStore(pool, nil)
	t.Cleanup(func() { again.Close() })
	loaded, err := again.Device(ctx, jid)
	if err != nil || loaded == nil || loaded.JID() != jid {
		t.Fatalf("load enrolled device: %v, %v", loaded, err)
	}
	if d := storedDevice(loaded); d.Platform != "sim" || d.PushName != "wabus sim" || len(d.Account.Details) != 32 {
		t.Fatalf("loaded device platform %q push name %q", d.Platform, d.PushName)
	}
	if err := loaded.Delete(ctx); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if loaded.JID() != "" {
		t.Fatalf("deleted device still has JID %q", loaded.JID())
	}
	if gone, err := st.Device(ctx, jid); err != nil || gone != nil {
		t.Fatalf("device after delete: %v, %v; want none", gone, err)
	}
	if _, err := st.Device(ctx, "51987654321:x@s.whatsapp.net"); err == nil {
		t.Fatal("loading a malformed JID returned no error")
	}
}

// DeleteDevices removes a device's row and its privacy tokens, kept under
// the device JID and the account JID, which do not cascade from the row;
// before the tables exist it has nothing to delete.
func TestDeleteDevicesRemovesPrivacyTokens(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool := testenv.Pool(t, testenv.PostgresDB(t))
	del := func() error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			return Devices{}.DeleteDevices(ctx, tx, []string{"51987654321:7@s.whatsapp.net"})
		})
	}
	if err := del(); err != nil {
		t.Fatalf("delete before the tables exist: %v", err)
	}
	st, err := OpenStore(ctx, pool, nil)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	dev := st.NewDevice()
	if err := dev.Enrol(ctx, "51987654321:7@s.whatsapp.net", "sim", "wabus sim"); err != nil {
		t.Fatalf("enrol: %v", err)
	}
	for _, our := range []string{"51987654321:7@s.whatsapp.net", "51987654321@s.whatsapp.net", "51900000000@s.whatsapp.net"} {
		if _, err := pool.Exec(ctx, `INSERT INTO whatsmeow_privacy_tokens (our_jid, their_jid, token, timestamp) VALUES ($1, '5155@s.whatsapp.net', 'x', 1)`, our); err != nil {
			t.Fatal(err)
		}
	}
	if err := del(); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if n := testenv.QueryInt(t, pool, `SELECT count(*) FROM whatsmeow_device`); n != 0 {
		t.Errorf("%d devices left", n)
	}
	if n := testenv.QueryInt(t, pool, `SELECT count(*) FROM whatsmeow_privacy_tokens`); n != 1 {
		t.Errorf("%d privacy tokens left, want only the other account's", n)
	}
}
