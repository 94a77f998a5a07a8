package wmdriver

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"

	"github.com/wabus/wabus/internal/session/wa"
)

func TestQREvent(t *testing.T) {
	t.Parallel()
	pairErr := errors.New("invalid hmac")
	tests := []struct {
		in   whatsmeow.QRChannelItem
		want wa.QREvent
		ok   bool
	}{
		{whatsmeow.QRChannelItem{Event: "code", Code: "2@abc,def", Timeout: time.Minute}, wa.QREvent{Event: "code", Code: "2@abc,def", Timeout: time.Minute}, true},
		{whatsmeow.QRChannelSuccess, wa.QREvent{Event: "success"}, true},
		{whatsmeow.QRChannelTimeout, wa.QREvent{Event: "timeout"}, true},
		{whatsmeow.QRChannelItem{Event: "error", Error: pairErr}, wa.QREvent{Event: "error", Err: pairErr}, true},
		{whatsmeow.QRChannelScannedWithoutMultidevice, wa.QREvent{}, false},
	}
	for _, tt := range tests {
		got, ok := qrEvent(tt.in)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("qrEvent(%+v) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	for _, item := range []whatsmeow.QRChannelItem{whatsmeow.QRChannelErrUnexpectedEvent, whatsmeow.QRChannelClientOutdated} {
		got, ok := qrEvent(item)
		if !ok || got.Event != "error" || got.Err == nil {
			t.Errorf("qrEvent(%s) = %+v, %v; want an error event", item.Event, got, ok)
		}
	}
}

// relay runs relayQR over items and returns what it emitted.
func relay(t *testing.T, ctx context.Context, items []whatsmeow.QRChannelItem, closeSrc bool) []wa.QREvent {
	t.Helper()
	src := make(chan whatsmeow.QRChannelItem, len(items))
	for _, it := range items {
		src <- it
	}
	if closeSrc {
		close(src)
	}
	out := make(chan wa.QREvent, 16)
	relayQR(ctx, src, out, slog.New(slog.DiscardHandler))
	var got []wa.QREvent
	for ev := range out {
		got = append(got, ev)
	}
	return got
}

func TestRelayQRStopsAtTerminalEvent(t *testing.T) {
	t.Parallel()
	items := []whatsmeow.QRChannelItem{
		{Event: "code", Code: "c1", Timeout: time.Minute}, whatsmeow.QRChannelScannedWithoutMultidevice,
		{Event: "code", Code: "c2", Timeout: 20 * time.Second}, whatsmeow.QRChannelSuccess, {Event: "code", Code: "late"},
	}
	got := relay(t, context.Background(), items, false)
	want := []wa.QREvent{{Event: "code", Code: "c1", Timeout: time.Minute}, {Event: "code", Code: "c2", Timeout: 20 * time.Second}, {Event: "success"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("relayed %+v, want %+v", got, want)
	}
}

func TestRelayQREndsWithErrorWhenStopped(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errPairingStopped)
	got := relay(t, ctx, nil, false)
	if len(got) != 1 || got[0].Event != "error" || !errors.Is(got[0].Err, errPairingStopped) {
		t.Errorf("relayed %+v, want one error event with errPairingStopped", got)
	}
	got = relay(t, context.Background(), []whatsmeow.QRChannelItem{{Event: "code", Code: "c"}}, true)
	if len(got) != 2 || got[1].Event != "error" {
		t.Errorf("relayed %+v, want the code then an error when whatsmeow closed the channel", got)
	}
}

func TestPhoneDigits(t *testing.T) {
	t.Parallel()
	for phone, want := range map[string]string{"+51987654321": "51987654321", "51987654321": "51987654321", "12345678": "12345678"} {
		if got, ok := phoneDigits(phone); !ok || got != want {
			t.Errorf("phoneDigits(%q) = %q, %v", phone, got, ok)
		}
	}
	for _, phone := range []string{"", "+", "1234567", "1234567890123456", "051987654321", "+51 987 654 321", "+51-987654321", "++51987654321"} {
		if _, ok := phoneDigits(phone); ok {
			t.Errorf("phoneDigits(%q) accepted", phone)
		}
	}
}

func TestPairClientType(t *testing.T) {
	t.Parallel()
	tests := map[string]whatsmeow.PairClientType{
		"Chrome (Linux)": whatsmeow.PairClientChrome, "Firefox (Mac OS)": whatsmeow.PairClientFirefox,
		"Edge (Windows)": whatsmeow.PairClientEdge, "Safari (Mac OS)": whatsmeow.PairClientSafari,
		"Opera (Linux)": whatsmeow.PairClientOpera, "Whatever": whatsmeow.PairClientChrome,
	}
	for name, want := range tests {
		if got := pairClientType(name); got != want {
			t.Errorf("pairClientType(%q) = %v, want %v", name, got, want)
		}
	}
}
