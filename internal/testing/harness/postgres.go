package harness

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// ClusterConfig configures a private Postgres cluster.
type ClusterConfig struct {
	// Dir holds the cluster (data directory, log, socket); it is removed by
	// Close. When the harness runs as root, the postgres user must be able
	// to reach it (no 0700 parent). Defaults to a new temporary directory.
	Dir string
	// Fsync turns fsync on, for figures that include durable commits.
	// Defaults to off (as the tests' clusters).
	Fsync bool
	// MaxConnections is max_connections. Defaults to 300.
	MaxConnections int
}

// Cluster is a private Postgres cluster (initdb + pg_ctl) on a free port,
// run as the postgres system user when the harness runs as root (initdb
// refuses root), like testenv's. It can be crashed and restarted.
type Cluster struct {
	cfg  ClusterConfig
	bin  string
	port int

	mu sync.Mutex
	up bool
}

// StartCluster creates and starts a cluster. It returns an error when the
// PostgreSQL server binaries are missing or initdb or the start fails.
func StartCluster(cfg ClusterConfig) (*Cluster, error) {
	cfg.MaxConnections = cmp.Or(cfg.MaxConnections, 300)
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg, bin: bin, port: port}
	if err := c.init(); err != nil {
		return nil, err
	}
	return c, c.Start()
}

func (c *Cluster) init() error {
	if c.cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "wabus-harness-pg-")
		if err != nil {
			return fmt.Errorf("cluster directory: %w", err)
		}
		c.cfg.Dir = dir
	}
	if err := os.MkdirAll(c.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", c.cfg.Dir, err)
	}
	if err := chownToPostgres(c.cfg.Dir); err != nil {
		return err
	}
	if err := c.run("initdb", "-D", c.data(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"); err != nil {
		return err
	}
	fsync := "off"
	if c.cfg.Fsync {
		fsync = "on"
	}
	conf := fmt.Sprintf("listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\nfsync = %s\nmax_connections = %d\n",
		c.port, c.cfg.Dir, fsync, c.cfg.MaxConnections)
	if err := os.WriteFile(filepath.Join(c.data(), "postgresql.auto.conf"), []byte(conf), 0o600); err != nil {
		return fmt.Errorf("write postgresql.auto.conf: %w", err)
	}
	return c.run("chown", "-R", "postgres", c.data())
}

// Dir returns the cluster's directory.
func (c *Cluster) Dir() string { return c.cfg.Dir }

func (c *Cluster) data() string { return filepath.Join(c.cfg.Dir, "data") }

// URL is the URL of the cluster's postgres database (the admin database).
func (c *Cluster) URL() string {
	return "postgres://postgres@127.0.0.1:" + strconv.Itoa(c.port) + "/postgres?sslmode=disable"
}

// PID returns the postmaster's process id, or 0 while the cluster is down.
func (c *Cluster) PID() int {
	b, err := os.ReadFile(filepath.Join(c.data(), "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid
}

// Start starts the cluster and waits until it accepts connections. It
// returns an error when pg_ctl fails or no connection succeeds within 30s.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.up {
		return nil
	}
	if err := c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.cfg.Dir, "log"), "-w", "-t", "60", "start"); err != nil {
		return err
	}
	c.up = true
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, c.URL())
		if err == nil {
			conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		if time.Now().After(deadline) {
			return fmt.Errorf("private postgres not accepting connections: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the cluster immediately (pg_ctl -m immediate: like a crash).
// It returns an error when pg_ctl fails.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.up {
		return nil
	}
	c.up = false
	return c.run("pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop")
}

// Restart is Stop then Start.
func (c *Cluster) Restart() error {
	if err := c.Stop(); err != nil {
		return err
	}
	return c.Start()
}

// Close stops the cluster and removes its directory.
func (c *Cluster) Close() error {
	err := c.Stop()
	if rerr := os.RemoveAll(c.cfg.Dir); err == nil {
		err = rerr
	}
	return err
}

func (c *Cluster) run(name string, args ...string) error {
	path := name
	if name != "chown" {
		path = filepath.Join(c.bin, name)
	}
	var cmd *exec.Cmd
	if os.Geteuid() == 0 && name != "chown" {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func pgBinDir() (string, error) {
	out, err := exec.Command("pg_config", "--bindir").Output()
	if err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) == 0 {
		return "", fmt.Errorf("harness: no PostgreSQL server binaries (pg_ctl) found; install postgresql")
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}

func chownToPostgres(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("look up the postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", dir, err)
	}
	return nil
}

// CreateDatabase creates database name on the server of adminURL and
// returns its URL. It returns an error when the server is unreachable or
// the database exists.
func CreateDatabase(ctx context.Context, adminURL, name string) (string, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect %s: %w", redact(adminURL), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", redact(adminURL), err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// DropDatabase drops database name (forcing out its connections). It
// returns an error when the server is unreachable or the drop fails.
func DropDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect %s: %w", redact(adminURL), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}
