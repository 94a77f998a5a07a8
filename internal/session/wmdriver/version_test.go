package wmdriver

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/store"

	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/waemu"
)

// setVersionForTest sets whatsmeow's process-wide client version and puts
// the old one back when the test ends. Tests that change it do not run in
// parallel: every login in the process reads it.
func setVersionForTest(t *testing.T) store.WAVersionContainer {
	t.Helper()
	old := store.GetWAVersion()
	t.Cleanup(func() {
		versionMu.Lock()
		defer versionMu.Unlock()
		store.SetWAVersion(old)
	})
	return old
}

// runDriver runs d until the test ends.
func runDriver(t *testing.T, d *Driver) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := d.Run(ctx); err != nil {
			t.Errorf("run: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func TestRunFetchesTheWebVersionAtStartAndThenPeriodically(t *testing.T) {
	old := setVersionForTest(t)
	emu := waemu.Start(t)
	served := old
	served[2] += 1000
	emu.SetWebVersion(served[2])

	runDriver(t, New(Config{HTTPClient: emu.HTTPClient(), VersionRefresh: 100 * time.Millisecond}, nil))
	testenv.Eventually(t, 10*time.Second, "client version "+served.String(), func() bool { return currentVersion() == served.String() })
	testenv.Eventually(t, 10*time.Second, "fetched again", func() bool { return emu.WebVersionFetches() >= 3 })
	served[2]++
	emu.SetWebVersion(served[2])
	testenv.Eventually(t, 10*time.Second, "client version "+served.String(), func() bool { return currentVersion() == served.String() })
}

func TestRefreshKeepsTheLastVersionOnFailureAndNeverDowngrades(t *testing.T) {
	old := setVersionForTest(t)
	emu := waemu.Start(t)
	d := New(Config{HTTPClient: emu.HTTPClient()}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	newer := old
	newer[2] += 7
	emu.SetWebVersion(newer[2])
	if err := d.versions.refresh(ctx); err != nil || store.GetWAVersion() != newer {
		t.Fatalf("refresh: %v, version %s; want %s", err, store.GetWAVersion(), newer)
	}
	emu.FailWebVersion(http.StatusServiceUnavailable)
	if err := d.versions.refresh(ctx); err == nil || store.GetWAVersion() != newer {
		t.Fatalf("failed refresh: %v, version %s; want an error and %s kept", err, store.GetWAVersion(), newer)
	}
	emu.FailWebVersion(0)
	emu.SetWebVersion(old[2])
	if err := d.versions.refresh(ctx); err != nil || store.GetWAVersion() != newer {
		t.Fatalf("stale page: %v, version %s; want %s kept", err, store.GetWAVersion(), newer)
	}
}

func TestOutdatedLoginAsksForAFetch(t *testing.T) {
	old := setVersionForTest(t)
	emu := waemu.Start(t)
	d := New(Config{HTTPClient: emu.HTTPClient(), VersionRefresh: time.Hour}, nil)
	runDriver(t, d)
	testenv.Eventually(t, 10*time.Second, "first fetch", func() bool { return emu.WebVersionFetches() == 1 })

	newer := old
	newer[2] += 3
	emu.SetWebVersion(newer[2])
	d.versions.kick() // what a ClientOutdated event does
	testenv.Eventually(t, 10*time.Second, "client version "+newer.String(), func() bool { return currentVersion() == newer.String() })
}
