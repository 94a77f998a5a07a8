package wmdriver_test

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wabus/wabus/internal/session/wmdriver"
)

// Devices made at once, as the first signatures of a process, do not race
// (libsignal's lazily made logger, see signal.go). The test runs itself in
// a process of its own, so that nothing signed before; it proves something
// under -race, which .ci/run's tests use.
func TestDevicesMadeAtOnceInAFreshProcess(t *testing.T) {
	if os.Getenv("WABUS_FRESH_DEVICES") == "1" {
		pool, err := pgxpool.New(context.Background(), "postgres://127.0.0.1:1/none") // never dialled
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		store := wmdriver.NewStore(pool, nil)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() { _ = store.NewDevice() })
		}
		wg.Wait()
		return
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDevicesMadeAtOnceInAFreshProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "WABUS_FRESH_DEVICES=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("devices made at once in a fresh process: %v\n%s", err, out)
	}
}
