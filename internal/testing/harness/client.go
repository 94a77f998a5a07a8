package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/ctl"
)

// Client drives wabus the way its users do: control and simulator requests
// over core NATS, tenant rows in Postgres (as admin creates them).
type Client struct {
	Pool  *pgxpool.Pool
	NC    *nats.Conn
	Names bus.Names

	mu        sync.Mutex
	anomalies []string
}

// Request sends a control or simulator request and decodes the reply. It
// returns an error when no reply comes within timeout or it is not JSON;
// an error reply is returned as a Reply with Code set.
func (c *Client) Request(ctx context.Context, subject string, body any, timeout time.Duration) (ctl.Reply, error) {
	return Request(ctx, c.NC, subject, body, timeout)
}

// Request sends a control or simulator request on nc and decodes the
// reply: the one way tests and the load tool ask a worker. It returns an
// error when body cannot be encoded, no reply comes within timeout or the
// reply is not JSON; an error reply is a Reply with Code set.
func Request(ctx context.Context, nc *nats.Conn, subject string, body any, timeout time.Duration) (ctl.Reply, error) {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return ctl.Reply{}, fmt.Errorf("encode request: %w", err)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	msg, err := nc.RequestWithContext(rctx, subject, data)
	if err != nil {
		return ctl.Reply{}, fmt.Errorf("request %s: %w", subject, err)
	}
	var rep ctl.Reply
	if err := json.Unmarshal(msg.Data, &rep); err != nil {
		return ctl.Reply{}, fmt.Errorf("reply to %s: %q: %w", subject, msg.Data, err)
	}
	return rep, nil
}

// anomaly records a reply that contradicts the contract.
func (c *Client) anomaly(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.anomalies = append(c.anomalies, fmt.Sprintf(format, args...))
}

// Anomalies returns the replies seen so far that contradict the contract
// (each was retried).
func (c *Client) Anomalies() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.anomalies...)
}

const countConnected = `SELECT count(*) FROM wabus_tenant WHERE id = ANY($1) AND state = 'connected'`

// Connected returns how many of tenants are recorded as connected.
func (c *Client) Connected(ctx context.Context, tenants []string) (int, error) {
	var n int
	if err := c.Pool.QueryRow(ctx, countConnected, tenants).Scan(&n); err != nil {
		return 0, fmt.Errorf("count connected tenants: %w", err)
	}
	return n, nil
}

// WaitConnected waits until every tenant is recorded as connected. It
// returns an error when ctx ends first.
func (c *Client) WaitConnected(ctx context.Context, tenants []string) error {
	return Poll(ctx, PollInterval(len(tenants)), func() (bool, error) {
		n, err := c.Connected(ctx, tenants)
		return err == nil && n == len(tenants), nil
	})
}

// PollInterval is how often a wait over n tenants polls Postgres: 50ms for
// a few, up to about a second for 10,000, so that watching a large
// deployment does not load the database it measures.
func PollInterval(n int) time.Duration {
	return 50*time.Millisecond + time.Duration(n)*100*time.Microsecond
}

const notConnected = `SELECT id FROM wabus_tenant WHERE id = ANY($1) AND state <> 'connected' ORDER BY id`

// NotConnected returns the tenants not recorded as connected.
func (c *Client) NotConnected(ctx context.Context, tenants []string) ([]string, error) {
	rows, err := c.Pool.Query(ctx, notConnected, tenants)
	if err != nil {
		return nil, fmt.Errorf("query tenant states: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scan tenant: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

const leasesOf = `SELECT count(*) FROM wabus_lease WHERE owner = $1`

// Leases returns how many lease rows worker owns.
func (c *Client) Leases(ctx context.Context, worker string) (int, error) {
	var n int
	if err := c.Pool.QueryRow(ctx, leasesOf, worker).Scan(&n); err != nil {
		return 0, fmt.Errorf("count leases: %w", err)
	}
	return n, nil
}

const leaseCounts = `SELECT owner, count(*) FROM wabus_lease GROUP BY owner`

// LeaseCounts returns how many leases each worker owns.
func (c *Client) LeaseCounts(ctx context.Context) (map[string]int, error) {
	rows, err := c.Pool.Query(ctx, leaseCounts)
	if err != nil {
		return nil, fmt.Errorf("count leases: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var owner string
		var n int
		if err := rows.Scan(&owner, &n); err != nil {
			return nil, fmt.Errorf("count leases: %w", err)
		}
		out[owner] = n
	}
	return out, rows.Err()
}

const ingestParts = `SELECT owner, part FROM wabus_ingest_lease WHERE expires_at > now() ORDER BY part`

// IngestPartitions returns the partitions of the send stream each worker
// reads (live ingest leases).
func (c *Client) IngestPartitions(ctx context.Context) (map[string][]int, error) {
	rows, err := c.Pool.Query(ctx, ingestParts)
	if err != nil {
		return nil, fmt.Errorf("read ingest leases: %w", err)
	}
	defer rows.Close()
	out := map[string][]int{}
	for rows.Next() {
		var owner string
		var part int
		if err := rows.Scan(&owner, &part); err != nil {
			return nil, fmt.Errorf("read ingest leases: %w", err)
		}
		out[owner] = append(out[owner], part)
	}
	return out, rows.Err()
}
