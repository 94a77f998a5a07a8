package testenv

import (
	"testing"

	"github.com/wabus/wabus/internal/testing/harness"
)

// Cluster is a private Postgres cluster (initdb + pg_ctl) on a free port,
// for fault tests that stop and start Postgres without touching the shared
// server: the load tool's, failing the test instead of returning errors.
type Cluster struct {
	*harness.Cluster
	t testing.TB
}

// PrivatePostgres creates and starts a cluster (fsync off), removed when
// the test ends.
func PrivatePostgres(t testing.TB) *Cluster {
	t.Helper()
	c, err := harness.StartCluster(harness.ClusterConfig{MaxConnections: 200})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &Cluster{Cluster: c, t: t}
}

// Start starts the cluster and waits until it accepts connections.
func (c *Cluster) Start() {
	c.t.Helper()
	if err := c.Cluster.Start(); err != nil {
		c.t.Fatalf("testenv: %v", err)
	}
}

// Stop stops the cluster immediately (pg_ctl -m immediate: like a crash).
func (c *Cluster) Stop() {
	c.t.Helper()
	if err := c.Cluster.Stop(); err != nil {
		c.t.Fatalf("testenv: %v", err)
	}
}

// Restart is Stop then Start.
func (c *Cluster) Restart() {
	c.t.Helper()
	c.Stop()
	c.Start()
}

// Standby makes a streaming-replication standby of the cluster (see
// harness.Cluster.StartStandby), removed when the test ends.
func (c *Cluster) Standby(sync bool) *Cluster {
	c.t.Helper()
	s, err := c.Cluster.StartStandby("", sync)
	if err != nil {
		c.t.Fatalf("testenv: %v", err)
	}
	c.t.Cleanup(func() { _ = s.Close() })
	return &Cluster{Cluster: s, t: c.t}
}

// Promote turns a standby into a primary.
func (c *Cluster) Promote() {
	c.t.Helper()
	if err := c.Cluster.Promote(); err != nil {
		c.t.Fatalf("testenv: %v", err)
	}
}
