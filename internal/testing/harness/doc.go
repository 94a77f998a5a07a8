// Package harness runs wabus as real processes, for the process-level tests
// and for the load and fault tool (cmd/wabus-load). Unlike internal/testenv
// it takes no testing.TB: every function returns an error, so a command can
// use it as well as a test.
//
// It builds the binaries once (Build), runs a private nats-server (NATS)
// that can be killed and restarted on the same port and store, a cluster
// of them (NATSCluster) whose nodes can be killed, terminated, frozen and
// restarted while stream leaders are looked up (StreamLeader, WaitCurrent),
// a private Postgres cluster (Cluster) that can be crashed and restarted,
// with a streaming-replication standby that can be promoted (StartStandby,
// Promote, Kill, ReplicationLag), or fresh databases on a given server
// (CreateDatabase), and worker processes in
// simulator mode (Worker) that can be killed, terminated, frozen and thawed
// while their CPU and memory are sampled from /proc (Meter).
//
// Around a scenario it observes what a user would: the simulator's
// connection and delivery notices (Observer), the events stream (Events);
// it drives the system the way clients do: pairing tenants through the
// control subjects (Pair), publishing send jobs to JetStream (Publisher),
// injecting inbound messages through the simulator (Inject); and afterwards
// checks the guarantees of the contract (Verify).
package harness
