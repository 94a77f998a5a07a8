package control_test

import (
	"context"
	"testing"

	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/workertest"
	"github.com/wabus/wabus/internal/vocab"
)

// A control request is answered by the tenant's owner whichever worker
// takes it from the queue group: the others forward it to the owner's
// subject, derived from its id, and relay the owner's answer. (With two
// workers, twenty requests all taken by the owner would be a chance of one
// in a million.)
func TestRequestsReachTheOwner(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	workertest.Start(t, s, workertest.Config(t, s, "w1"))
	workertest.Start(t, s, workertest.Config(t, s, "w2"))
	nc := s.NATS.Conn(t)
	workertest.Pair(t, s, nc, "acme")
	var owner string
	if err := s.Pool.QueryRow(context.Background(), `SELECT owner FROM wabus_lease WHERE tenant = 'acme'`).Scan(&owner); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		rep := workertest.Request(t, nc, s.Names.Ctl("acme", ctl.OpPair), nil)
		if rep.Error != "" || rep.State != vocab.StateConnected || rep.JID == "" {
			t.Fatalf("request %d, owner %s: %+v, want the owner's connected state and jid", i, owner, rep)
		}
	}
	if rep := workertest.Request(t, nc, s.Names.Ctl("ghost", ctl.OpPair), nil); rep.Code != ctl.CodeNotFound {
		t.Fatalf("request for an unknown tenant: %+v, want %s", rep, ctl.CodeNotFound)
	}
}
