package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// StartStandby makes a streaming-replication standby of the cluster with
// pg_basebackup, in dir (a new temporary directory when empty) on a free
// port, and starts it. With sync, the
// primary waits for the standby to confirm every commit
// (synchronous_standby_names), so that a commit the primary acknowledged is
// on the standby too; without it replication is asynchronous and the last
// commits before a crash of the primary may be missing from the standby.
// It returns an error when the backup, the start or the replication fails.
func (c *Cluster) StartStandby(dir string, sync bool) (*Cluster, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "wabus-harness-pg-standby-")
		if err != nil {
			return nil, fmt.Errorf("standby directory: %w", err)
		}
		dir = d
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &Cluster{cfg: c.cfg, bin: c.bin, port: port}
	s.cfg.Dir = dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := chownToPostgres(dir); err != nil {
		return nil, err
	}
	if err := s.run("pg_basebackup", "-h", "127.0.0.1", "-p", fmt.Sprint(c.port), "-U", "postgres",
		"-D", s.data(), "-X", "stream", "--no-sync"); err != nil {
		return nil, err
	}
	fsync := "off"
	if c.cfg.Fsync {
		fsync = "on"
	}
	conf := fmt.Sprintf("listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\nfsync = %s\nmax_connections = %d\n"+
		"primary_conninfo = 'host=127.0.0.1 port=%d user=postgres application_name=standby'\nhot_standby = on\n",
		port, dir, fsync, c.cfg.MaxConnections, c.port)
	if err := os.WriteFile(filepath.Join(s.data(), "postgresql.auto.conf"), []byte(conf), 0o600); err != nil {
		return nil, fmt.Errorf("write the standby's postgresql.auto.conf: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.data(), "standby.signal"), nil, 0o600); err != nil {
		return nil, fmt.Errorf("write standby.signal: %w", err)
	}
	if err := s.run("chown", "-R", "postgres", s.data()); err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if sync {
		if err := c.exec(ctx, `ALTER SYSTEM SET synchronous_standby_names = 'standby'`, `SELECT pg_reload_conf()`); err != nil {
			return nil, err
		}
	}
	if err := c.waitStreaming(ctx, sync); err != nil {
		return nil, err
	}
	return s, nil
}

// Promote turns a standby into a primary (pg_ctl promote) and waits until
// it accepts writes. It returns an error when pg_ctl fails.
func (c *Cluster) Promote() error {
	return c.run("pg_ctl", "-D", c.data(), "-w", "-t", "60", "promote")
}

// HostPort is the cluster's address, as a multi-host URL lists it.
func (c *Cluster) HostPort() string { return fmt.Sprintf("127.0.0.1:%d", c.port) }

// exec runs statements on the cluster's postgres database.
func (c *Cluster) exec(ctx context.Context, stmts ...string) error {
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		return fmt.Errorf("connect the private postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// waitStreaming waits until the primary streams to the standby (and, with
// sync, counts it as its synchronous standby).
func (c *Cluster) waitStreaming(ctx context.Context, sync bool) error {
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		return fmt.Errorf("connect the private postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	want := "async"
	if sync {
		want = "sync"
	}
	for {
		var n int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND sync_state = $1`, want).Scan(&n)
		if err == nil && n > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("standby not streaming (%s): %w", want, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Kill kills the postmaster and every backend at once (SIGKILL, as a
// machine that loses power), without the shutdown pg_ctl -m immediate
// does. It returns an error when the cluster does not run.
func (c *Cluster) Kill() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	pid := c.PID()
	if !c.up || pid == 0 {
		return fmt.Errorf("private postgres is not running")
	}
	procs := append([]int{pid}, children(pid)...)
	for _, p := range procs {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	c.up = false
	_ = os.Remove(filepath.Join(c.data(), "postmaster.pid"))
	return nil
}

// MultiHostURL returns the URL of database db listing every cluster's
// host in turn, with target_session_attrs=read-write: a client connects to
// whichever is the primary.
func MultiHostURL(db string, clusters ...*Cluster) string {
	hosts := make([]string, len(clusters))
	for i, c := range clusters {
		hosts[i] = c.HostPort()
	}
	return "postgres://postgres@" + strings.Join(hosts, ",") + "/" + db +
		"?sslmode=disable&target_session_attrs=read-write&connect_timeout=2"
}

// Lag is how far the standby was behind the primary at one moment.
type Lag struct {
	// Bytes is the WAL the primary had written and the standby had not
	// flushed yet.
	Bytes int64
	// Flush is the standby's last reported flush lag: how long after a
	// commit's WAL was written the standby had it on disk.
	Flush time.Duration
}

// ReplicationLag reads the standby's lag from the primary's
// pg_stat_replication. It returns an error when the primary cannot be read
// or no standby streams.
func (c *Cluster) ReplicationLag(ctx context.Context, conn *pgx.Conn) (Lag, error) {
	var l Lag
	var us int64
	err := conn.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::bigint,
		coalesce((extract(epoch FROM flush_lag) * 1e6)::bigint, 0)
		FROM pg_stat_replication WHERE application_name = 'standby'`).Scan(&l.Bytes, &us)
	if err != nil {
		return l, fmt.Errorf("read the standby's lag: %w", err)
	}
	l.Flush = time.Duration(us) * time.Microsecond
	return l, nil
}

// SetSynchronous turns synchronous replication to the standby on or off on
// the primary and waits until the standby is counted so. It returns an
// error when the primary cannot be reached.
func (c *Cluster) SetSynchronous(ctx context.Context, sync bool) error {
	names := ""
	if sync {
		names = "standby"
	}
	if err := c.exec(ctx, `ALTER SYSTEM SET synchronous_standby_names = '`+names+`'`, `SELECT pg_reload_conf()`); err != nil {
		return err
	}
	return c.waitStreaming(ctx, sync)
}
