package wa

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Device is one tenant's credentials in a DeviceStore: paired (stored
// under its JID) or fresh from NewDevice (to be paired). Above the seam it
// is opaque; the driver whose store made it reads inside it (Driver.Open).
type Device interface {
	// JID is the device JID, "" while the device is unpaired.
	JID() string
	// Enrol stores an unpaired device as paired under jid (a device JID),
	// with platform and pushName and an account identity of random bytes:
	// what the simulator's pairing leaves behind (WhatsApp itself would
	// not accept such a device). It returns an error when jid is malformed
	// or the device cannot be stored; the device stays unpaired then.
	Enrol(ctx context.Context, jid, platform, pushName string) error
	// Delete deletes the device's credentials; the device is unpaired
	// after. Deleting an unpaired device does nothing. It returns the
	// store's error.
	Delete(ctx context.Context) error
}

// DeviceDeleter deletes devices inside a caller's transaction (admin
// deleting a tenant with its device).
type DeviceDeleter interface {
	// DeleteDevices deletes the credentials of the devices jids (device
	// JIDs as wabus_tenant keeps them), and everything the store keeps of
	// them, inside tx. It returns the database's error.
	DeleteDevices(ctx context.Context, tx pgx.Tx, jids []string) error
}

// DeviceStore keeps the tenants' devices: the WhatsApp driver's tables in
// wabus's database. Its methods are safe for concurrent use.
type DeviceStore interface {
	DeviceDeleter
	// NewDevice returns a fresh, unpaired device, not stored yet.
	NewDevice() Device
	// Device returns the stored device jid, or nil when none is stored.
	// It returns an error when jid is malformed or the store cannot be
	// read.
	Device(ctx context.Context, jid string) (Device, error)
}
