package admin

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/tenant"
)

// removal is what deleting a tenant did.
type removal struct {
	// LoggedOut is true when the owning worker confirmed the logout from
	// WhatsApp; false when the tenant had no device or no worker answered
	// (its credentials are deleted all the same).
	LoggedOut bool
}

// removeTenant logs tenant out of WhatsApp through its owner when it has a
// device, then deletes its credentials and the tenant (its lease
// cascades), failing its waiting jobs with code cancelled in the same
// transaction, and drops the jobs not yet taken from the send stream,
// which could otherwise be sent for a new tenant of the same id. It
// returns a 404 *apiError for an unknown tenant.
func (s *Server) removeTenant(ctx context.Context, tenant string) (removal, error) {
	device, ok, err := s.deviceJID(ctx, tenant)
	if err != nil {
		return removal{}, err
	}
	if !ok {
		return removal{}, notFound(tenant)
	}
	var res removal
	if device != "" {
		res.LoggedOut = s.logout(ctx, tenant)
	}
	// Past this point the deletion finishes even if the client goes away.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.deleteTenant(dctx, tenant, device); err != nil {
		return removal{}, err
	}
	s.purgeJobs(dctx, tenant)
	return res, nil
}

// logout asks the owner to log tenant out; it reports whether it did.
func (s *Server) logout(ctx context.Context, tenant string) bool {
	rep, err := s.control(ctx, tenant, ctl.OpLogout, nil)
	if err == nil {
		err = ctlError(rep)
	}
	if err != nil {
		s.log.WarnContext(ctx, "logout not confirmed; deleting credentials anyway",
			slog.String("tenant", tenant), slog.String("error", err.Error()))
		return false
	}
	return true
}

// deleteTenant deletes the tenant row and the credentials of device (read
// before the logout, which clears it) and of whatever device the row names
// now, in one transaction.
func (s *Server) deleteTenant(ctx context.Context, id, device string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		current, err := tenant.Delete(ctx, tx, id)
		if err != nil {
			return err
		}
		jids := slices.Compact(slices.Sorted(slices.Values([]string{device, current})))
		jids = slices.DeleteFunc(jids, func(j string) bool { return j == "" })
		if err := s.devices.DeleteDevices(ctx, tx, jids); err != nil {
			return err
		}
		_, err = s.jobs.CancelTenant(ctx, tx, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete tenant %s: %w", id, err)
	}
	s.jobs.Wake(ctx)
	return nil
}

// purgeJobs drops the tenant's jobs still in the send stream (published
// before the deletion, not yet ingested: normally a few milliseconds'
// worth). A failure is logged: the jobs are then ingested and wait, and
// expire, like any job of an unknown tenant.
func (s *Server) purgeJobs(ctx context.Context, tenant string) {
	err := func() error {
		stream, err := s.js.Stream(ctx, s.names.SendStream())
		if err != nil {
			return err
		}
		for _, subject := range s.names.SendStored(tenant) {
			if err := stream.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		s.log.WarnContext(ctx, "purge deleted tenant's jobs", slog.String("tenant", tenant), slog.String("error", err.Error()))
	}
}
