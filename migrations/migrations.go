// Package migrations holds wabus's own SQL schema, one numbered file per
// step (NNN_name.up.sql). They are embedded into the binaries and applied by
// internal/db at start-up. whatsmeow's tables are not here: whatsmeow upgrades
// them itself.
package migrations

import "embed"

// FS holds every NNN_name.up.sql file of this directory.
//
//go:embed *.up.sql
var FS embed.FS
