package wmdriver

import (
	"context"
	"crypto/rand"
	"fmt"

	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"

	"github.com/wabus/wabus/internal/session/wa"
)

// device is a whatsmeow device of a Store, as wa.Device.
type device struct{ dev *store.Device }

var _ wa.Device = (*device)(nil)

// storedDevice returns the whatsmeow device inside d, or nil when d is not
// a Store's.
func storedDevice(d wa.Device) *store.Device {
	if d, ok := d.(*device); ok && d != nil {
		return d.dev
	}
	return nil
}

// JID implements wa.Device.
func (d *device) JID() string {
	if d.dev.ID == nil {
		return ""
	}
	return d.dev.ID.String()
}

// Enrol implements wa.Device.
func (d *device) Enrol(ctx context.Context, jid, platform, pushName string) error {
	parsed, err := types.ParseJID(jid)
	if err != nil {
		return fmt.Errorf("parse device jid: %w", err)
	}
	d.dev.ID = &parsed
	d.dev.Platform = platform
	d.dev.PushName = pushName
	d.dev.Account = &waAdv.ADVSignedDeviceIdentity{
		Details: randomBytes(32), AccountSignatureKey: randomBytes(32),
		AccountSignature: randomBytes(64), DeviceSignature: randomBytes(64),
	}
	if err := d.dev.Save(ctx); err != nil {
		d.dev.ID = nil
		return err
	}
	return nil
}

// Delete implements wa.Device.
func (d *device) Delete(ctx context.Context) error {
	if d.dev.ID == nil {
		return nil
	}
	return d.dev.Delete(ctx)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
