package testenv

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a private Postgres cluster (initdb + pg_ctl) on a free port,
// for fault tests that stop and start Postgres without touching the shared
// server. It runs as the postgres system user, since initdb refuses root.
type Cluster struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	mu   sync.Mutex
	up   bool
}

// PrivatePostgres creates and starts a cluster, removed when the test ends.
func PrivatePostgres(t testing.TB) *Cluster {
	t.Helper()
	c := &Cluster{t: t, bin: pgBinDir(t), port: FreePort(t)}
	dir, err := os.MkdirTemp("", "wabus-pg-")
	if err != nil {
		t.Fatalf("testenv: temp dir: %v", err)
	}
	c.dir = dir
	t.Cleanup(func() { c.Stop(); os.RemoveAll(dir) })
	if err := chownToPostgres(dir); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	c.run("initdb", "-D", c.data(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
	conf := "listen_addresses = '127.0.0.1'\nport = " + strconv.Itoa(c.port) +
		"\nunix_socket_directories = '" + dir + "'\nfsync = off\nmax_connections = 200\n"
	if err := os.WriteFile(filepath.Join(c.data(), "postgresql.auto.conf"), []byte(conf), 0o600); err != nil {
		t.Fatalf("testenv: write postgresql.auto.conf: %v", err)
	}
	c.run("chown", "-R", "postgres", c.data()) // the conf file we wrote as root
	c.Start()
	return c
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// URL is the cluster's postgres database URL.
func (c *Cluster) URL() string {
	return "postgres://postgres@127.0.0.1:" + strconv.Itoa(c.port) + "/postgres?sslmode=disable"
}

// Start starts the cluster and waits until it accepts connections.
func (c *Cluster) Start() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.up {
		return
	}
	c.run(filepath.Join(c.bin, "pg_ctl"), "-D", c.data(), "-l", filepath.Join(c.dir, "log"), "-w", "-t", "60", "start")
	c.up = true
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(context.Background(), c.URL())
		if err == nil {
			conn.Close(context.Background())
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("testenv: private postgres not accepting connections: %v", err)
		}
		<-time.After(50 * time.Millisecond)
	}
}

// Stop stops the cluster immediately (pg_ctl -m immediate: like a crash).
func (c *Cluster) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.up {
		return
	}
	c.run(filepath.Join(c.bin, "pg_ctl"), "-D", c.data(), "-m", "immediate", "-w", "stop")
	c.up = false
}

// Restart is Stop then Start.
func (c *Cluster) Restart() {
	c.t.Helper()
	c.Stop()
	c.Start()
}

func (c *Cluster) run(name string, args ...string) {
	c.t.Helper()
	if name != "chown" && !filepath.IsAbs(name) {
		name = filepath.Join(c.bin, name)
	}
	var cmd *exec.Cmd
	if os.Geteuid() == 0 && name != "chown" {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	} else {
		cmd = exec.Command(name, args...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("testenv: %s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

func pgBinDir(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("pg_config", "--bindir").Output()
	if err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) == 0 {
		t.Fatalf("testenv: no PostgreSQL server binaries (pg_ctl) found; install postgresql")
	}
	return filepath.Dir(matches[len(matches)-1])
}

func chownToPostgres(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(dir, uid, gid)
}
