package wmdriver_test

import (
	"context"
	"runtime"
	rtmetrics "runtime/metrics"
	"sync"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/types"

	"github.com/wabus/wabus/internal/session"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/waemu"
	"github.com/wabus/wabus/internal/vocab"
)

// waitHistoryDone waits until dev has read and deleted the history blobs
// the emulator sent it (want of them), and returns them.
func waitHistoryDone(t testing.TB, emu *waemu.Server, dev types.JID, want int, within time.Duration) []*waemu.HistoryBlob {
	t.Helper()
	var blobs []*waemu.HistoryBlob
	testenv.Eventually(t, within, "history sync read and deleted", func() bool {
		blobs = emu.Histories(dev)
		if len(blobs) < want {
			return false
		}
		for _, b := range blobs {
			if !emu.HistoryDeleted(b) {
				return false
			}
		}
		return true
	})
	return blobs
}

// historyStored reports whether what sends need from blob is in the
// device store of dev: each contact's LID mapping and tctoken (under its
// LID), and the NCT salt; missing says what is not.
func historyStored(t testing.TB, s *testenv.Stack, dev types.JID, blob *waemu.HistoryBlob) (missing string) {
	t.Helper()
	for _, c := range blob.Contacts {
		if n := testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM whatsmeow_lid_map WHERE lid = $1 AND pn = $2`, c.LID.User, c.PN.User); n != 1 {
			return "LID mapping " + c.PN.String() + " -> " + c.LID.String()
		}
		if n := testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM whatsmeow_privacy_tokens WHERE our_jid = $1 AND their_jid = $2 AND token = $3`,
			dev.String(), c.LID.String(), c.TCToken); n != 1 {
			return "tctoken of " + c.PN.String() + " under its LID"
		}
	}
	if n := testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM whatsmeow_nct_salt WHERE our_jid = $1 AND salt = $2`, dev.String(), blob.NCTSalt); n != 1 {
		return "NCT salt"
	}
	return ""
}

// TestConformanceHistorySyncKeepsWhatSendsNeed lets the phone send a
// history sync right after pairing, as WhatsApp does: the driver reads
// the blob, stores the tctokens, LID mappings and NCT salt, deletes it from
// the media servers, and the session stays connected and receives.
func TestConformanceHistorySyncKeepsWhatSendsNeed(t *testing.T) {
	t.Parallel()
	s, emu := newEmuStack(t, waemu.Config{HistoryAfterPair: &waemu.HistorySync{Bytes: 2 << 20, Chats: 30}})
	createTenant(t, s, "acme")
	startEmuWorker(t, s, emu, "w1", session.Config{})
	dev := pairEmu(t, s, s.NATS.Conn(t), emu, "acme")
	blob := waitHistoryDone(t, emu, dev, 1, emuWait)[0]
	if missing := historyStored(t, s, dev, blob); missing != "" {
		t.Fatalf("history blob deleted before its %s was stored", missing)
	}

	id := newMessageID()
	if err := emu.SendText(dev, blob.Contacts[0].PN.User, id, "after history"); err != nil {
		t.Fatal(err)
	}
	waitEmu(t, "message acknowledged", func(ctx context.Context) error { return emu.WaitAcked(ctx, id) })
	if !storedBeforeAck(t, s, "acme", blob.Contacts[0].PN.String(), blob.Contacts[0].PN.String(), id) {
		t.Fatal("message after the history sync not stored")
	}
	if st := statesSeen(t, s, "acme"); count(st, vocab.StateConnected) != 1 || st[len(st)-1] != vocab.StateConnected {
		t.Fatalf("session states %v, want connected once and still", st)
	}
}

// BenchmarkConformanceHistorySync measures the heap a real whatsmeow
// session needs for a history sync after pairing: the phone sends one blob
// of WABUS_BENCH_HISTORY_MIB MiB (default 200) before compression, made of
// text messages in 200 chats (zlib brings it to about a third), and the
// benchmark samples the process's heap (live and not yet collected
// objects, runtime/metrics) every 2ms until the driver has read and
// deleted the blob. peak-heap-MiB is the highest sample over the heap in
// use before the notification was sent (after GC; the emulator's copy of
// the blob is in that base). The emulator runs in this process, so its
// serving of the download counts too: the figure is an upper bound. The
// session must still be connected and the blob's tctokens stored. Run with
// -benchtime=1x.
func BenchmarkConformanceHistorySync(b *testing.B) {
	mib := envInt(b, "WABUS_BENCH_HISTORY_MIB", 200)
	for range b.N {
		b.StopTimer()
		s, emu := newEmuStack(b, waemu.Config{})
		createTenant(b, s, "acme")
		startEmuWorker(b, s, emu, "w1", session.Config{LeaseTTL: 30 * time.Second})
		dev := pairEmu(b, s, s.NATS.Conn(b), emu, "acme")
		blob, err := emu.NewHistorySync(waemu.HistorySync{Bytes: mib << 20, Chats: 200})
		if err != nil {
			b.Fatal(err)
		}
		base := heapObjects(true)
		allocs := heapAllocs()
		peak := sampleHeap()
		b.StartTimer()
		start := time.Now()
		if _, err := emu.SendHistorySync(dev, blob); err != nil {
			b.Fatal(err)
		}
		waitHistoryDone(b, emu, dev, 1, 10*time.Minute)
		elapsed := time.Since(start)
		b.StopTimer()
		high := peak()
		allocs = heapAllocs() - allocs
		testenv.Eventually(b, time.Minute, "history stored", func() bool { return historyStored(b, s, dev, blob) == "" })
		if st := testenv.State(b, s, "acme"); st != vocab.StateConnected || !emu.Connected(dev) {
			b.Fatalf("after the history sync: state %s, connected to the emulator %v", st, emu.Connected(dev))
		}
		b.ReportMetric(float64(int64(high)-int64(base))/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(allocs)/(1<<20), "alloc-MiB")
		b.ReportMetric(float64(base)/(1<<20), "base-heap-MiB")
		b.ReportMetric(float64(blob.Uncompressed)/(1<<20), "blob-MiB")
		b.ReportMetric(float64(blob.Compressed)/(1<<20), "compressed-MiB")
		b.ReportMetric(elapsed.Seconds(), "sync-s")
	}
}

// heapObjects reads the bytes of heap objects, live or not yet swept;
// after a GC first when gc is set.
func heapObjects(gc bool) uint64 {
	if gc {
		runtime.GC()
		runtime.GC()
	}
	sample := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	rtmetrics.Read(sample)
	return sample[0].Value.Uint64()
}

// heapAllocs reads the bytes allocated on the heap since the process
// started.
func heapAllocs() uint64 {
	sample := []rtmetrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	rtmetrics.Read(sample)
	return sample[0].Value.Uint64()
}

// sampleHeap samples heapObjects every 2ms until the returned function is
// called, which returns the highest sample.
func sampleHeap() func() uint64 {
	var (
		wg   sync.WaitGroup
		high uint64
	)
	stop := make(chan struct{})
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			high = max(high, heapObjects(false))
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	return func() uint64 {
		close(stop)
		wg.Wait()
		return high
	}
}
