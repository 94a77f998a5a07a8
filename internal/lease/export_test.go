package lease

import "context"

// Tick runs one round of the keeper's loop: heartbeat, renewal and
// rebalancing.
func (k *Keeper) Tick(ctx context.Context) { k.tick(ctx) }

// Heartbeat records the keeper's worker as live.
func (k *Keeper) Heartbeat(ctx context.Context) error { return k.heartbeat(ctx) }
