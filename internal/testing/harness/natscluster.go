package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// NATSCluster is a JetStream cluster of nats-server processes on loopback
// ports, each with its own store.
type NATSCluster struct {
	Nodes []*NATSServer
}

// StartNATSCluster starts n nodes (at least 3 for R3 streams) storing under
// dir and waits until JetStream answers on every node. It returns an error
// when a node cannot start or the cluster is not ready within 30s; the
// nodes started so far are stopped then.
func StartNATSCluster(dir string, n int) (*NATSCluster, error) {
	bin, err := NATSBinary()
	if err != nil {
		return nil, err
	}
	routes := make([]string, n)
	clusterPorts := make([]int, n)
	c := &NATSCluster{}
	for i := range n {
		if clusterPorts[i], err = FreePort(); err != nil {
			return nil, err
		}
		routes[i] = "nats://127.0.0.1:" + strconv.Itoa(clusterPorts[i])
	}
	for i := range n {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("n%d", i+1)
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
		node := &NATSServer{bin: bin, port: port, name: name, dir: filepath.Join(dir, name), args: []string{
			"-n", name, "--cluster_name", "wabus-test",
			"--cluster", routes[i], "--routes", strings.Join(routes, ","),
		}}
		c.Nodes = append(c.Nodes, node)
	}
	for _, node := range c.Nodes {
		if err := node.Start(); err != nil {
			c.Stop()
			return nil, err
		}
	}
	for _, node := range c.Nodes {
		if err := waitJetStream(node.URL(), 30*time.Second); err != nil {
			c.Stop()
			return nil, fmt.Errorf("nats cluster not ready: %w", err)
		}
	}
	return c, nil
}

// URL lists every node's client URL, comma-separated, as WA_NATS_URL takes
// them.
func (c *NATSCluster) URL() string {
	urls := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		urls[i] = n.URL()
	}
	return strings.Join(urls, ",")
}

// Stop kills every node.
func (c *NATSCluster) Stop() {
	for _, n := range c.Nodes {
		n.Stop()
	}
}

// Node returns the node with server name name, or nil.
func (c *NATSCluster) Node(name string) *NATSServer {
	for _, n := range c.Nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

// PIDs returns the process ids of the running nodes.
func (c *NATSCluster) PIDs() []int {
	var out []int
	for _, n := range c.Nodes {
		if pid := n.PID(); pid != 0 {
			out = append(out, pid)
		}
	}
	return out
}

// StreamLeader returns the server name of stream's leader, "" while it has
// none. It returns an error when the stream cannot be looked up.
func StreamLeader(ctx context.Context, js jetstream.JetStream, stream string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return "", fmt.Errorf("stream %s: %w", stream, err)
	}
	info := s.CachedInfo()
	if info.Cluster == nil {
		return "", nil
	}
	return info.Cluster.Leader, nil
}

// WaitLeader waits until stream has a leader other than not and returns
// it. It returns an error when ctx ends first.
func WaitLeader(ctx context.Context, js jetstream.JetStream, stream, not string) (string, error) {
	var leader string
	err := Poll(ctx, 20*time.Millisecond, func() (bool, error) {
		l, err := StreamLeader(ctx, js, stream)
		if err != nil {
			return false, nil
		}
		leader = l
		return l != "" && l != not, nil
	})
	if err != nil {
		return "", fmt.Errorf("stream %s has no leader but %q: %w", stream, not, err)
	}
	return leader, nil
}

// WaitCurrent waits until each stream has a leader and every replica is
// online and current (a restarted node has caught up). It returns an error
// naming what lagged when ctx ends first.
func WaitCurrent(ctx context.Context, js jetstream.JetStream, streams ...string) error {
	var last string
	err := Poll(ctx, 50*time.Millisecond, func() (bool, error) {
		for _, name := range streams {
			if why := notCurrent(ctx, js, name); why != "" {
				last = why
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("replicas not current (%s): %w", last, err)
	}
	return nil
}

func notCurrent(ctx context.Context, js jetstream.JetStream, stream string) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return err.Error()
	}
	c := s.CachedInfo().Cluster
	if c == nil || c.Leader == "" {
		return stream + " has no leader"
	}
	want := s.CachedInfo().Config.Replicas - 1
	if len(c.Replicas) < want {
		return fmt.Sprintf("%s has %d of %d followers", stream, len(c.Replicas), want)
	}
	for _, r := range c.Replicas {
		if !r.Current || r.Offline {
			return fmt.Sprintf("%s replica %s not current", stream, r.Name)
		}
	}
	return ""
}
