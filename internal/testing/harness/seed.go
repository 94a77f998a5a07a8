package harness

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/jackc/pgx/v5"
)

// insertDevices writes simulated devices into whatsmeow's device table,
// column for column as whatsmeow's sqlstore (PutDevice) stores a paired
// device: random key material of the checked lengths, platform "sim".
const insertDevices = `INSERT INTO whatsmeow_device (jid, registration_id, noise_key, identity_key,
	signed_pre_key, signed_pre_key_id, signed_pre_key_sig,
	adv_key, adv_details, adv_account_sig, adv_account_sig_key, adv_device_sig, platform, push_name)
SELECT d.jid, d.reg, d.noise, d.ident, d.spk, 1, d.sig, d.adv, d.details, d.asig, d.askey, d.dsig, 'sim', 'wabus sim'
FROM unnest($1::text[], $2::bigint[], $3::bytea[], $4::bytea[], $5::bytea[], $6::bytea[], $7::bytea[], $8::bytea[],
	$9::bytea[], $10::bytea[], $11::bytea[]) AS d(jid, reg, noise, ident, spk, sig, adv, details, asig, askey, dsig)`

const upsertPairedTenants = `INSERT INTO wabus_tenant (id, device_jid, jid, state)
SELECT t.id, t.jid, t.jid, 'disconnected' FROM unnest($1::text[], $2::text[]) AS t(id, jid)
ON CONFLICT (id) DO UPDATE SET device_jid = excluded.device_jid, jid = excluded.jid, state = 'disconnected'`

// SeedDevices records a simulated linked device for every tenant straight
// in the database, as the simulator's pairing would (a whatsmeow device
// row and the tenant's device_jid), without the pairing round trips: for
// scale tests that need thousands of paired tenants. A worker must have
// run once (whatsmeow's tables exist); no worker may serve the tenants
// meanwhile. It writes whatsmeow's table by its current schema
// (go.mau.fi/whatsmeow store/sqlstore/upgrades), so a whatsmeow upgrade
// that changes it makes SeedDevices return the insert's error.
func (c *Client) SeedDevices(ctx context.Context, tenants []string) error {
	for start := 0; start < len(tenants); start += 1000 {
		batch := tenants[start:min(start+1000, len(tenants))]
		if err := c.seedBatch(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) seedBatch(ctx context.Context, tenants []string) error {
	n := len(tenants)
	jids := make([]string, n)
	regs := make([]int64, n)
	cols := make([][][]byte, 9)
	sizes := []int{32, 32, 32, 64, 32, 32, 64, 32, 64} // noise … device signature
	for i, t := range tenants {
		jids[i] = simDeviceJID(t)
		r, _ := rand.Int(rand.Reader, big.NewInt(1<<31))
		regs[i] = r.Int64()
		for k, size := range sizes {
			cols[k] = append(cols[k], randomBytes(size))
		}
	}
	return pgx.BeginFunc(ctx, c.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertDevices, jids, regs, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8]); err != nil {
			return fmt.Errorf("seed whatsmeow devices: %w", err)
		}
		if _, err := tx.Exec(ctx, upsertPairedTenants, tenants, jids); err != nil {
			return fmt.Errorf("seed tenants: %w", err)
		}
		return nil
	})
}

// simDeviceJID is the device JID the simulator gives tenant: a stable
// phone number 51 + 10 digits derived from the tenant id, and a random
// device number (internal/session/sim deviceJID).
func simDeviceJID(tenant string) string {
	sum := sha256.Sum256([]byte(tenant))
	phone := binary.BigEndian.Uint64(sum[:8]) % 10_000_000_000
	return fmt.Sprintf("51%010d:%d@s.whatsapp.net", phone, randomBytes(1)[0]%90+1)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
