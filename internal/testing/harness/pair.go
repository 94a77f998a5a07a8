package harness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wabus/wabus/internal/ctl"
)

// Pair pairs the tenants, which must exist (tenant.CreateAll), each through the control path (ctl
// pair, then the simulator's scan), concurrency at a time, retrying while
// the owner is unavailable or a pairing got lost. It returns once every
// tenant's device is recorded, not once every tenant is connected (see
// WaitConnected); it returns an error when ctx ends first or a tenant is
// rejected for good.
func (c *Client) Pair(ctx context.Context, tenants []string, concurrency int) error {
	work := make(chan string)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range max(concurrency, 1) {
		wg.Go(func() {
			for t := range work {
				if err := c.pairOne(ctx, t); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
feed:
	for _, t := range tenants {
		select {
		case work <- t:
		case <-ctx.Done():
			break feed
		case err := <-errs:
			errs <- err
			break feed
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return ctx.Err()
	}
}

// errRetry marks a reply worth trying again (owner moving, not answering).
var errRetry = errors.New("retry")

func (c *Client) pairOne(ctx context.Context, tenant string) error {
	delay := 50 * time.Millisecond
	for {
		err := c.pairAttempt(ctx, tenant)
		if err == nil {
			err = c.waitPaired(ctx, tenant)
		}
		if !errors.Is(err, errRetry) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pair %s: %w (last: %v)", tenant, ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(delay*2, time.Second)
	}
}

func (c *Client) pairAttempt(ctx context.Context, tenant string) error {
	rep, err := c.Request(ctx, c.Names.Ctl(tenant, ctl.OpPair), nil, 5*time.Second)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %v", errRetry, err)
	case rep.Code == ctl.CodeUnavailable || rep.Code == ctl.CodeTimeout:
		return fmt.Errorf("%w: pair %s: %s", errRetry, tenant, rep.Error)
	case rep.Code != "":
		return fmt.Errorf("pair %s: %s (%s)", tenant, rep.Error, rep.Code)
	case rep.QR == "" && rep.JID != "":
		return nil // paired already: the reply is its state
	case rep.QR == "":
		c.anomaly("pair %s: reply %+v has neither a QR code nor a JID", tenant, rep)
		return fmt.Errorf("%w: pair %s: no QR code", errRetry, tenant)
	}
	rep, err = c.Request(ctx, c.Names.Sim(tenant, "scan"), nil, 5*time.Second)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %v", errRetry, err)
	case rep.Code == "":
		return nil
	case rep.Code == ctl.CodeNotPairing || rep.Code == ctl.CodeUnavailable:
		return fmt.Errorf("%w: scan %s: %s", errRetry, tenant, rep.Error)
	default:
		return fmt.Errorf("scan %s: %s (%s)", tenant, rep.Error, rep.Code)
	}
}

const deviceOf = `SELECT device_jid IS NOT NULL FROM wabus_tenant WHERE id = $1`

// waitPaired waits up to 30s until tenant's device is recorded; past that
// (the pairing was lost) it asks for another attempt.
func (c *Client) waitPaired(ctx context.Context, tenant string) error {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := Poll(wctx, 50*time.Millisecond, func() (bool, error) {
		var paired bool
		err := c.Pool.QueryRow(wctx, deviceOf, tenant).Scan(&paired)
		return err == nil && paired, nil
	})
	if err != nil && ctx.Err() == nil {
		c.anomaly("pair %s: scan accepted but no device recorded within 30s", tenant)
		return fmt.Errorf("%w: %s not paired after scan", errRetry, tenant)
	}
	return err
}
