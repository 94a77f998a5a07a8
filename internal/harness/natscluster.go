package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
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
		node := &NATSServer{bin: bin, port: port, dir: filepath.Join(dir, name), args: []string{
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
