package wmdriver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"

	"github.com/wabus/wabus/internal/testing/testenv"
)

// Environment of the helper process that reads a device in another process.
const (
	helperDBEnv  = "WABUS_WMDRIVER_HELPER_DB"
	helperJIDEnv = "WABUS_WMDRIVER_HELPER_JID"
	helperPrefix = "device="
)

// openTestStore returns a store on a fresh database.
func openTestStore(t *testing.T) (*sqlstore.Container, string) {
	t.Helper()
	url := testenv.PostgresDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := OpenStore(ctx, testenv.Pool(t, url), nil)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st.container, url
}

// saveDevice stores a device as pairing would, with dummy ADV fields.
func saveDevice(t *testing.T, container *sqlstore.Container, jid types.JID) *store.Device {
	t.Helper()
	dev := container.NewDevice()
	dev.ID = &jid
	dev.Account = &waAdv.ADVSignedDeviceIdentity{
		Details:             []byte("adv details"),
		AccountSignatureKey: bytes.Repeat([]byte{1}, 32),
		AccountSignature:    bytes.Repeat([]byte{2}, 64),
		DeviceSignature:     bytes.Repeat([]byte{3}, 64),
	}
	dev.Platform, dev.PushName = "android", "Tienda"
	if err := dev.Save(context.Background()); err != nil {
		t.Fatalf("save device: %v", err)
	}
	return dev
}

// fingerprint hashes everything secret about a device, so that two
// processes can compare keys without printing them.
func fingerprint(dev *store.Device) string {
	h := sha256.New()
	for _, b := range [][]byte{
		[]byte(dev.GetJID().String()), dev.NoiseKey.Priv[:], dev.NoiseKey.Pub[:], dev.IdentityKey.Priv[:],
		dev.IdentityKey.Pub[:], dev.SignedPreKey.Priv[:], dev.SignedPreKey.Signature[:], dev.AdvSecretKey,
		dev.Account.Details, dev.Account.AccountSignatureKey, dev.Account.AccountSignature, dev.Account.DeviceSignature,
		binary.BigEndian.AppendUint32(nil, dev.RegistrationID), binary.BigEndian.AppendUint32(nil, dev.SignedPreKey.KeyID),
		[]byte(dev.Platform), []byte(dev.PushName),
	} {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(b))))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestHelperProcess is not a test: run by helperDevice in a child process,
// it opens a new store on the parent's database and prints the device's
// fingerprint, or "missing". Without the environment it does nothing.
func TestHelperProcess(t *testing.T) {
	url := os.Getenv(helperDBEnv)
	if url == "" {
		return
	}
	jid, err := types.ParseJID(os.Getenv(helperJIDEnv))
	if err != nil {
		t.Fatalf("helper: parse jid: %v", err)
	}
	ctx := context.Background()
	st, err := OpenStore(ctx, testenv.Pool(t, url), nil)
	if err != nil {
		t.Fatalf("helper: open store: %v", err)
	}
	defer st.Close()
	dev, err := st.container.GetDevice(ctx, jid)
	if err != nil {
		t.Fatalf("helper: get device: %v", err)
	}
	if dev == nil {
		fmt.Println(helperPrefix + "missing")
		return
	}
	fmt.Println(helperPrefix + fingerprint(dev))
}

// helperDevice loads jid from the database at url in a separate process.
func helperDevice(t *testing.T, url string, jid types.JID) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperDBEnv+"="+url, helperJIDEnv+"="+jid.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper process: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), helperPrefix); ok {
			return line
		}
	}
	t.Fatalf("helper process printed no device line:\n%s", out)
	return ""
}

func TestDeviceStoreAcrossProcesses(t *testing.T) {
	t.Parallel()
	container, url := openTestStore(t)
	jid := types.NewADJID("51987654321", 0, 12)
	dev := saveDevice(t, container, jid)
	if got, want := helperDevice(t, url, jid), fingerprint(dev); got != want {
		t.Fatalf("other process loaded device %s, want %s", got, want)
	}
	if err := dev.Delete(context.Background()); err != nil {
		t.Fatalf("delete device: %v", err)
	}
	if got := helperDevice(t, url, jid); got != "missing" {
		t.Errorf("after Delete the other process loaded %s, want missing", got)
	}
}

func TestOpenStoreConcurrently(t *testing.T) {
	t.Parallel()
	url := testenv.PostgresDB(t)
	pool := testenv.Pool(t, url)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			st, err := OpenStore(context.Background(), pool, nil)
			if err == nil {
				err = st.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent OpenStore: %v", err)
		}
	}
	if n := testenv.QueryInt(t, pool, "SELECT count(*) FROM whatsmeow_version"); n != 1 {
		t.Errorf("whatsmeow_version has %d rows, want 1", n)
	}
}
