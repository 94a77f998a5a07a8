package wmdriver

import (
	"fmt"

	"go.mau.fi/whatsmeow/proto/waCompanionReg"
	"go.mau.fi/whatsmeow/proto/waWa6"
	"go.mau.fi/whatsmeow/store"
	"google.golang.org/protobuf/proto"
)

// A new device registers with DeviceProps: the name the phone lists it
// under (Os) and what history it wants. whatsmeow takes them from the
// process-wide store.DeviceProps; mautrix-whatsapp sets that global. The
// driver leaves the global alone (several drivers, in tests, may differ)
// and puts its own props into the registration payload of each client,
// through Client.GetClientPayload. The payload is otherwise whatsmeow's own
// (Device.GetClientPayload), and logins are untouched.

// deviceProps returns whatsmeow's device props with cfg's name and history
// bounds, marshalled for the registration payload. No full sync is asked
// for.
func deviceProps(cfg Config) ([]byte, error) {
	p := proto.CloneOf(store.DeviceProps)
	p.Os = proto.String(cfg.DeviceName)
	p.RequireFullSync = proto.Bool(false)
	if p.HistorySyncConfig == nil {
		p.HistorySyncConfig = &waCompanionReg.DeviceProps_HistorySyncConfig{}
	}
	hc := p.HistorySyncConfig
	hc.FullSyncDaysLimit = proto.Uint32(cfg.HistoryDays)
	hc.RecentSyncDaysLimit = proto.Uint32(cfg.HistoryDays)
	hc.FullSyncSizeMbLimit = proto.Uint32(cfg.HistorySizeMB)
	hc.StorageQuotaMb = proto.Uint32(cfg.HistoryQuotaMB)
	b, err := proto.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("marshal device props: %w", err)
	}
	return b, nil
}

// clientPayload is a Client.GetClientPayload for dev that registers with
// props.
func clientPayload(dev *store.Device, props []byte) func() *waWa6.ClientPayload {
	return func() *waWa6.ClientPayload {
		p := dev.GetClientPayload()
		if reg := p.GetDevicePairingData(); reg != nil {
			reg.DeviceProps = props
		}
		return p
	}
}
