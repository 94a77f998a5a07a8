package wmdriver

import (
	"bytes"
	"errors"
	"testing"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waCompanionReg"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/proto/waWeb"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
	"google.golang.org/protobuf/proto"
)

// recordingSink keeps what readHistory hands it.
type recordingSink struct {
	convs    []*waHistorySync.Conversation
	mappings []*waHistorySync.PhoneNumberToLIDMapping
	salt     []byte
}

func (r *recordingSink) conversation(c *waHistorySync.Conversation) error {
	r.convs = append(r.convs, c)
	return nil
}

func (r *recordingSink) lidMapping(m *waHistorySync.PhoneNumberToLIDMapping) error {
	r.mappings = append(r.mappings, m)
	return nil
}

func (r *recordingSink) nctSalt(salt []byte) error {
	r.salt = salt
	return nil
}

func testHistory() *waHistorySync.HistorySync {
	msg := func(id, text string) *waHistorySync.HistorySyncMsg {
		return &waHistorySync.HistorySyncMsg{Message: &waWeb.WebMessageInfo{
			Key:     &waCommon.MessageKey{RemoteJID: proto.String(alice.String()), ID: proto.String(id)},
			Message: &waE2E.Message{Conversation: proto.String(text)},
		}}
	}
	return &waHistorySync.HistorySync{
		SyncType: waHistorySync.HistorySync_INITIAL_BOOTSTRAP.Enum(),
		Conversations: []*waHistorySync.Conversation{
			{
				ID:       proto.String(alice.String()),
				Messages: []*waHistorySync.HistorySyncMsg{msg("A1", "hello"), msg("A2", string(bytes.Repeat([]byte("x"), 2<<10)))},
				TcToken:  []byte("token-alice"), TcTokenTimestamp: proto.Uint64(1700000000), TcTokenSenderTimestamp: proto.Uint64(1700000001),
				Name: proto.String("Alice"),
			},
			{ID: proto.String(group.String()), Messages: []*waHistorySync.HistorySyncMsg{msg("G1", "hi all")}},
			{ID: proto.String(aliceLID.String()), TcToken: []byte("token-lid")},
		},
		Pushnames:                []*waHistorySync.Pushname{{ID: proto.String(alice.String()), Pushname: proto.String("Alice")}},
		PhoneNumberToLidMappings: []*waHistorySync.PhoneNumberToLIDMapping{{PnJID: proto.String(alice.String()), LidJID: proto.String(aliceLID.String())}},
		NctSalt:                  []byte("salt-salt-salt"),
	}
}

func TestReadHistoryKeepsWhatSendsNeed(t *testing.T) {
	raw, err := proto.Marshal(testHistory())
	if err != nil {
		t.Fatal(err)
	}
	var got recordingSink
	if err := readHistory(bytes.NewReader(raw), &got); err != nil {
		t.Fatal(err)
	}
	want := []*waHistorySync.Conversation{
		{ID: proto.String(alice.String()), TcToken: []byte("token-alice"), TcTokenTimestamp: proto.Uint64(1700000000), TcTokenSenderTimestamp: proto.Uint64(1700000001)},
		{ID: proto.String(aliceLID.String()), TcToken: []byte("token-lid")},
	}
	if len(got.convs) != len(want) {
		t.Fatalf("conversations %v, want %v", got.convs, want)
	}
	for i := range want {
		if !proto.Equal(got.convs[i], want[i]) {
			t.Errorf("conversation %d = %v, want %v (id and tctoken only)", i, got.convs[i], want[i])
		}
	}
	if len(got.mappings) != 1 || got.mappings[0].GetLidJID() != aliceLID.String() {
		t.Errorf("mappings %v", got.mappings)
	}
	if string(got.salt) != "salt-salt-salt" {
		t.Errorf("salt %q", got.salt)
	}
}

func TestReadHistoryRefusesBrokenBlobs(t *testing.T) {
	raw, err := proto.Marshal(testHistory())
	if err != nil {
		t.Fatal(err)
	}
	for name, blob := range map[string][]byte{
		"truncated":         raw[:len(raw)/2],
		"field number zero": {0x00, 0x01},
		"group wire type":   {0x0b},
		"huge length":       {0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		// a conversation claiming 2 bytes whose first field runs past them
		"conversation overrun": {0x12, 0x02, 0x0a, 0x05, 'a', 'b', 'c', 'd', 'e'},
	} {
		if err := readHistory(bytes.NewReader(blob), &recordingSink{}); !errors.Is(err, errHistoryMalformed) {
			t.Errorf("%s: %v, want errHistoryMalformed", name, err)
		}
	}
	if err := readHistory(bytes.NewReader(nil), &recordingSink{}); err != nil {
		t.Errorf("empty blob: %v", err)
	}
}

func FuzzReadHistory(f *testing.F) {
	raw, err := proto.Marshal(testHistory())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add(raw[:len(raw)-3])
	f.Fuzz(func(t *testing.T, blob []byte) {
		_ = readHistory(bytes.NewReader(blob), &recordingSink{})
	})
}

func TestDevicePropsCarryNameAndHistoryBounds(t *testing.T) {
	raw, err := deviceProps(Config{}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	dev := &store.Device{NoiseKey: keys.NewKeyPair(), IdentityKey: keys.NewKeyPair(), RegistrationID: 1} // unpaired: registration
	dev.SignedPreKey = dev.IdentityKey.CreateSignedPreKey(1)
	payload := clientPayload(dev, raw)()
	var props waCompanionReg.DeviceProps
	if err := proto.Unmarshal(payload.GetDevicePairingData().GetDeviceProps(), &props); err != nil {
		t.Fatal(err)
	}
	hc := props.GetHistorySyncConfig()
	if props.GetOs() != "wabus" || hc.GetFullSyncDaysLimit() != 30 || hc.GetRecentSyncDaysLimit() != 30 ||
		hc.GetFullSyncSizeMbLimit() != 64 || hc.GetStorageQuotaMb() != 512 || props.GetRequireFullSync() {
		t.Fatalf("registration device props %v", &props)
	}
	if store.DeviceProps.GetOs() != "whatsmeow" {
		t.Fatalf("whatsmeow's process-wide props changed: %v", store.DeviceProps)
	}
	dev.ID = &types.JID{User: "51900000001", Device: 7, Server: types.DefaultUserServer}
	if login := clientPayload(dev, raw)(); login.GetDevicePairingData() != nil || login.GetUsername() != 51900000001 {
		t.Fatalf("login payload %v", login)
	}
}
