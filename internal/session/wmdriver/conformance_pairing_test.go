package wmdriver_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/session"
	"github.com/wabus/wabus/internal/session/wmdriver"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/waemu"
	"github.com/wabus/wabus/internal/vocab"
)

// scanAs scans tenant's current QR code as the phone of account phone.
func scanAs(t testing.TB, s *testenv.Stack, emu *waemu.Server, tenant, phone string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), emuWait)
	defer cancel()
	code, err := requestQR(ctx, s, s.NATS.Conn(t), tenant)
	if err != nil {
		t.Fatal(err)
	}
	_, err = emu.ScanQRAs(code, phone)
	return err
}

// wantNoDevice checks that pairing left nothing behind: no credentials in
// the device store, no device recorded for tenant, and no companion
// linked to the phone's account.
func wantNoDevice(t testing.TB, s *testenv.Stack, emu *waemu.Server, tenant, phone string) {
	t.Helper()
	if n := testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM whatsmeow_device`); n != 0 {
		t.Errorf("%d devices stored, want none", n)
	}
	if dev := testenv.Device(t, s, tenant); dev != "" {
		t.Errorf("device %q recorded for %s, want none", dev, tenant)
	}
	devs, err := emu.Devices(phone)
	if err != nil && !errors.Is(err, waemu.ErrNotOnWhatsApp) {
		t.Fatal(err)
	}
	if len(devs) > 1 {
		t.Errorf("the phone lists devices %v, want only itself", devs)
	}
}

// TestConformancePairingRefusedOnceTheLeaseIsLost takes the tenant's lease
// away while its QR code is shown: the scan that follows is refused to the
// phone, and nothing is stored. (The lease is long, so the worker's keeper
// does not notice before the scan.)
func TestConformancePairingRefusedOnceTheLeaseIsLost(t *testing.T) {
	t.Parallel()
	s, emu := newEmuStack(t, waemu.Config{})
	createTenant(t, s, "acme")
	startEmuWorker(t, s, emu, "w1", session.Config{LeaseTTL: 5 * time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), emuWait)
	defer cancel()
	code, err := requestQR(ctx, s, s.NATS.Conn(t), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool.Exec(ctx, `UPDATE wabus_lease SET owner = 'w2', epoch = nextval('wabus_lease_epoch') WHERE tenant = 'acme'`); err != nil {
		t.Fatal(err)
	}
	const phone = "15550001111"
	if _, err := emu.ScanQRAs(code, phone); !errors.Is(err, waemu.ErrPairRejected) {
		t.Fatalf("scan after the lease was lost: %v, want the pairing refused", err)
	}
	wantNoDevice(t, s, emu, "acme", phone)
}

// TestConformancePairingFailsWhenTheDeviceCannotBeStored makes a write of
// the new device fail for real (a trigger raises): the tenant's row, or
// whatsmeow's device row. The phone sees the pairing refused, the tenant
// goes back to unpaired, and nothing is left behind.
func TestConformancePairingFailsWhenTheDeviceCannotBeStored(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, table, when string }{
		{"tenant row", "wabus_tenant", "BEFORE UPDATE ON wabus_tenant FOR EACH ROW WHEN (NEW.device_jid IS NOT NULL)"},
		{"whatsmeow device", "whatsmeow_device", "BEFORE INSERT OR UPDATE ON whatsmeow_device FOR EACH ROW"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, emu := newEmuStack(t, waemu.Config{})
			createTenant(t, s, "acme")
			startEmuWorker(t, s, emu, "w1", session.Config{}) // upgrades whatsmeow's tables
			failWrites(t, s, tc.when)
			const phone = "15550002222"
			if err := scanAs(t, s, emu, "acme", phone); !errors.Is(err, waemu.ErrPairRejected) {
				t.Fatalf("scan while the device cannot be stored: %v, want the pairing refused", err)
			}
			testenv.WaitState(t, s, "acme", vocab.StateUnpaired)
			wantNoDevice(t, s, emu, "acme", phone)
		})
	}
}

// failWrites installs a trigger that fails the writes when names.
func failWrites(t testing.TB, s *testenv.Stack, when string) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{
		`CREATE FUNCTION wabus_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
		 BEGIN RAISE EXCEPTION 'test: device write refused'; END $$`,
		`CREATE TRIGGER wabus_test_fail ` + when + ` EXECUTE FUNCTION wabus_test_fail()`,
	} {
		if _, err := s.Pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
}

// TestConformanceDeviceNameAndHistoryLimits checks what a pairing client
// presents to the phone: the device name (wabus by default, or the
// driver's DeviceName) and bounds on the history the phone sends.
func TestConformanceDeviceNameAndHistoryLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, want string }{{"", "wabus"}, {"Acme support", "Acme support"}} {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			s, emu := newEmuStack(t, waemu.Config{})
			createTenant(t, s, "acme")
			startEmuWorkerDriver(t, s, emu, "w1", session.Config{}, wmdriver.Config{DeviceName: tc.name})
			dev := pairEmu(t, s, s.NATS.Conn(t), emu, "acme")
			props, err := emu.DeviceProps(dev)
			if err != nil {
				t.Fatal(err)
			}
			if got := props.GetOs(); got != tc.want {
				t.Errorf("the phone lists the device as %q, want %q", got, tc.want)
			}
			hc := props.GetHistorySyncConfig()
			if hc.GetFullSyncDaysLimit() == 0 || hc.GetFullSyncSizeMbLimit() == 0 || hc.GetStorageQuotaMb() == 0 || hc.GetRecentSyncDaysLimit() == 0 {
				t.Errorf("history sync config %v, want days, size and quota limits", hc)
			}
			if props.GetRequireFullSync() {
				t.Error("the client asks for a full history sync")
			}
		})
	}
}

// TestConformanceDeviceLoggedOutWhenRecordingItFailsAfterPairing lets the
// device be recorded before the phone is told (PairPending), then fails the
// write that confirms it once the pairing succeeded: the new device is
// logged out (the phone drops it), its credentials deleted, and the tenant
// is unpaired.
func TestConformanceDeviceLoggedOutWhenRecordingItFailsAfterPairing(t *testing.T) {
	t.Parallel()
	s, emu := newEmuStack(t, waemu.Config{})
	createTenant(t, s, "acme")
	startEmuWorker(t, s, emu, "w1", session.Config{})
	failWrites(t, s, "BEFORE UPDATE ON wabus_tenant FOR EACH ROW WHEN (OLD.device_jid IS NOT NULL AND NEW.device_jid IS NOT NULL)")
	const phone = "15550003333"
	if err := scanAs(t, s, emu, "acme", phone); err != nil {
		t.Fatalf("scan: %v", err)
	}
	testenv.WaitState(t, s, "acme", vocab.StateUnpaired)
	testenv.Eventually(t, emuWait, "the phone drops the device", func() bool {
		devs, err := emu.Devices(phone)
		return err == nil && len(devs) == 1
	})
	wantNoDevice(t, s, emu, "acme", phone)
}
