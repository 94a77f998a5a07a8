package wmdriver

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/vocab"
)

// handlerFunc adapts a function to wa.Handler.
type handlerFunc func(wa.Event) bool

func (f handlerFunc) Handle(ev wa.Event) bool { return f(ev) }

// failingTransport stands in for a protocol emulator that is down; it
// records the hosts it was asked for.
type failingTransport struct {
	mu    sync.Mutex
	hosts []string
}

var errEmulatorDown = errors.New("emulator down")

func (f *failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hosts = append(f.hosts, r.URL.Host)
	return nil, errEmulatorDown
}

func (f *failingTransport) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.hosts...)
}

// openConn opens a Conn on a fresh store; paired saves a device first.
func openConn(t *testing.T, cfg Config, h wa.Handler, paired bool) (*conn, *sqlstore.Container, *store.Device) {
	t.Helper()
	container, _ := openTestStore(t)
	dev := container.NewDevice()
	if paired {
		dev = saveDevice(t, container, types.NewADJID("51987654321", 0, 12))
	}
	c, err := New(cfg, nil).Open("demo-test", &device{dev: dev}, h)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(c.Disconnect)
	return c.(*conn), container, dev
}

func textEvent() *events.Message {
	return inbound(direct(), &waE2E.Message{Conversation: new("hola")})
}

func TestDriverOpen(t *testing.T) {
	t.Parallel()
	d := New(Config{}, nil)
	if d.Name() != "whatsmeow" {
		t.Errorf("Name() = %q", d.Name())
	}
	h := &recorder{}
	for name, dev := range map[string]wa.Device{"nil device": nil, "no container": &device{dev: &store.Device{}},
		"another store's": otherDevice{}} {
		if _, err := d.Open("t", dev, h); !errors.Is(err, ErrInvalidOpen) {
			t.Errorf("%s: Open error %v, want ErrInvalidOpen", name, err)
		}
	}
	container, _ := openTestStore(t)
	if _, err := d.Open("t", &device{dev: container.NewDevice()}, nil); !errors.Is(err, ErrInvalidOpen) {
		t.Errorf("nil handler: Open error %v, want ErrInvalidOpen", err)
	}
}

// otherDevice is a wa.Device of another driver's store.
type otherDevice struct{ wa.Device }

func TestEventAckFollowsHandler(t *testing.T) {
	t.Parallel()
	h := &recorder{}
	c, _, _ := openConn(t, Config{}, h, false)
	if c.onEvent(textEvent()) {
		t.Error("message acknowledged although the handler answered false")
	}
	h.answer = true
	if !c.onEvent(textEvent()) {
		t.Error("message not acknowledged although the handler answered true")
	}
	retry := &events.Receipt{MessageSource: direct(), MessageIDs: []string{"a"}, Type: types.ReceiptTypeRetry}
	h.answer = false
	if !c.onEvent(retry) || !c.onEvent(&events.HistorySync{}) {
		t.Error("events wabus does not report must be acknowledged")
	}
	got := h.all()
	if len(got) != 2 || got[0].(wa.Message).Data.Text != "hola" {
		t.Errorf("handler got %#v, want the two messages only", got)
	}
}

func TestEventPanicIsRecovered(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var recovered []any
	cfg := Config{OnPanic: func(r any) { mu.Lock(); recovered = append(recovered, r); mu.Unlock() }}
	h := &recorder{answer: true, panics: true}
	c, _, _ := openConn(t, cfg, h, false)
	if c.onEvent(textEvent()) {
		t.Error("a message whose handling panicked was acknowledged")
	}
	h.mu.Lock()
	h.panics = false
	h.mu.Unlock()
	if !c.onEvent(textEvent()) {
		t.Error("handling after a panic failed (handler lock not released?)")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(recovered) != 1 || recovered[0] != "handler exploded" {
		t.Errorf("OnPanic got %v, want one \"handler exploded\"", recovered)
	}
}

func TestLoggedOutDeletesCredentialsFirst(t *testing.T) {
	t.Parallel()
	var storedAtEvent *store.Device
	var container *sqlstore.Container
	jid := types.NewADJID("51987654321", 0, 12)
	h := handlerFunc(func(ev wa.Event) bool {
		if _, ok := ev.(wa.LoggedOut); ok {
			storedAtEvent, _ = container.GetDevice(context.Background(), jid)
		}
		return true
	})
	c, cont, _ := openConn(t, Config{}, h, true)
	container = cont
	c.onEvent(&events.LoggedOut{Reason: events.ConnectFailureLoggedOut})
	if storedAtEvent != nil {
		t.Error("credentials still stored when LoggedOut was delivered")
	}
}

func TestConnectUsesConfiguredHTTPClient(t *testing.T) {
	t.Parallel()
	tr := &failingTransport{}
	c, _, _ := openConn(t, Config{HTTPClient: &http.Client{Transport: tr}}, &recorder{}, false)
	err := c.Connect(context.Background())
	if !errors.Is(err, errEmulatorDown) {
		t.Fatalf("Connect = %v, want the transport's error", err)
	}
	if hosts := tr.seen(); len(hosts) == 0 || hosts[0] != "web.whatsapp.com" {
		t.Errorf("transport saw %v, want the websocket dial to web.whatsapp.com", hosts)
	}
	if c.IsConnected() {
		t.Error("IsConnected after a failed Connect")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Connect(ctx); err == nil {
		t.Error("Connect with a cancelled context succeeded")
	}
}

func TestLoginAfterPairingFailureIsReported(t *testing.T) {
	t.Parallel()
	h := &recorder{answer: true}
	c, _, _ := openConn(t, Config{HTTPClient: &http.Client{Transport: &failingTransport{}}}, h, true)
	c.onEvent(&events.ManualLoginReconnect{}) // not connected: nothing to do
	if got := h.all(); len(got) != 0 {
		t.Fatalf("events without a connection: %#v", got)
	}
	c.mu.Lock()
	c.life, c.cancelLife = context.WithCancel(context.Background()) // as after a successful Connect
	c.mu.Unlock()
	c.onEvent(&events.ManualLoginReconnect{})
	got := h.all()
	if len(got) != 1 {
		t.Fatalf("events = %#v, want one Disconnected", got)
	}
	d, ok := got[0].(wa.Disconnected)
	if !ok || !strings.Contains(d.Reason, "log in after pairing") || !strings.Contains(d.Reason, "emulator down") {
		t.Errorf("event = %#v, want Disconnected naming the failed login", got[0])
	}
}

func TestConnMethodsWhenOffline(t *testing.T) {
	t.Parallel()
	c, _, _ := openConn(t, Config{}, &recorder{}, false)
	ctx := context.Background()
	if _, err := c.Send(ctx, &wa.OutMessage{ID: "x", To: alice.String(), Kind: vocab.ContentText, Text: "hi"}); !errors.Is(err, wa.ErrNotConnected) {
		t.Errorf("Send = %v, want ErrNotConnected", err)
	}
	_, err := c.Send(ctx, &wa.OutMessage{ID: "x", To: "+999", Kind: vocab.ContentText, Text: "hi"})
	checkCode(t, err, event.CodeInvalidRecipient)
	if _, err := c.Registered(ctx, []string{"51987654321"}); !errors.Is(err, wa.ErrNotConnected) {
		t.Errorf("Registered = %v, want ErrNotConnected", err)
	}
	if _, err := c.PairPhone(ctx, "0123"); !errors.Is(err, wa.ErrInvalidPhone) {
		t.Errorf("PairPhone(bad) = %v, want ErrInvalidPhone", err)
	}
	if _, err := c.PairPhone(ctx, "+51987654321"); !errors.Is(err, wa.ErrNotConnected) {
		t.Errorf("PairPhone offline = %v, want ErrNotConnected", err)
	}
	if err := c.Logout(ctx); err != nil {
		t.Errorf("Logout of an unpaired device = %v, want nil", err)
	}
	c.Disconnect()
	c.Disconnect()
}

func TestPairedDeviceRefusesPairing(t *testing.T) {
	t.Parallel()
	c, _, _ := openConn(t, Config{}, &recorder{}, true)
	if _, err := c.PairQR(context.Background()); !errors.Is(err, wa.ErrAlreadyPaired) {
		t.Errorf("PairQR = %v, want ErrAlreadyPaired", err)
	}
	if _, err := c.PairPhone(context.Background(), "+51987654321"); !errors.Is(err, wa.ErrAlreadyPaired) {
		t.Errorf("PairPhone = %v, want ErrAlreadyPaired", err)
	}
}

func TestDisconnectEndsQRPairing(t *testing.T) {
	t.Parallel()
	c, _, _ := openConn(t, Config{}, &recorder{}, false)
	qr, err := c.PairQR(context.Background())
	if err != nil {
		t.Fatalf("PairQR: %v", err)
	}
	c.Disconnect()
	var got []wa.QREvent
	for ev := range qr {
		got = append(got, ev)
	}
	if len(got) != 1 || got[0].Event != "error" || !errors.Is(got[0].Err, errPairingStopped) {
		t.Errorf("QR events after Disconnect = %+v, want one error", got)
	}
}

func TestLogoutDeletesCredentialsWhenWhatsAppUnreachable(t *testing.T) {
	t.Parallel()
	c, container, _ := openConn(t, Config{}, &recorder{}, true)
	if err := c.Logout(context.Background()); err == nil {
		t.Error("Logout without a connection reported success")
	}
	if dev, err := container.GetDevice(context.Background(), types.NewADJID("51987654321", 0, 12)); err != nil || dev != nil {
		t.Errorf("device after Logout = %v, %v; want deleted", dev, err)
	}
}

func TestPairPhoneWaitsForPairingOffer(t *testing.T) {
	t.Parallel()
	c, _, _ := openConn(t, Config{PairReadyTimeout: 20 * time.Millisecond}, &recorder{}, false)
	if err := c.waitReady(context.Background()); !errors.Is(err, errPairNotReady) {
		t.Errorf("waitReady before any offer = %v, want errPairNotReady", err)
	}
	c.onEvent(&events.QR{Codes: []string{"ref"}})
	if err := c.waitReady(context.Background()); err != nil {
		t.Errorf("waitReady after the offer = %v", err)
	}
	c.resetReady()
	if err := c.waitReady(context.Background()); !errors.Is(err, errPairNotReady) {
		t.Errorf("waitReady on a new socket = %v, want errPairNotReady", err)
	}
}
