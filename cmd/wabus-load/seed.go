package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wabus/wabus/internal/session/sim"
	"github.com/wabus/wabus/internal/session/wmdriver"
	"github.com/wabus/wabus/internal/tenant"
)

// seedParallel is how many devices seedDevices stores at once.
const seedParallel = 16

// seedDevices leaves every tenant paired as the simulator's pairing would,
// without its round trips, for the scale test's thousands of tenants: a
// device in the device store with the simulator's account for the tenant,
// and the tenant paired with it and disconnected. A worker must have run
// once (the device store's tables exist), and no worker may serve the
// tenants meanwhile. It returns the first device that cannot be stored, or
// the tenant table's error.
func seedDevices(ctx context.Context, pool *pgxpool.Pool, tenants []string) error {
	store := wmdriver.NewStore(pool, nil)
	defer store.Close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jids := make([]string, len(tenants))
	next := make(chan int)
	var wg sync.WaitGroup
	for range seedParallel {
		wg.Go(func() {
			for i := range next {
				jid, err := sim.StoreDevice(ctx, store.NewDevice(), tenants[i])
				if err != nil {
					cancel(fmt.Errorf("seed the device of %s: %w", tenants[i], err))
					return
				}
				jids[i] = jid
			}
		})
	}
feed:
	for i := range tenants {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	if err := tenant.SetPaired(ctx, pool, tenants, jids); err != nil {
		return fmt.Errorf("seed tenants: %w", err)
	}
	return nil
}
