package waemu_test

import (
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/wabus/wabus/internal/testing/waemu"
)

// BenchmarkIdleClientMemory pairs N real whatsmeow clients (N from
// WAEMU_BENCH_CLIENTS, default 20) to the emulator, lets them sit connected,
// and reports the heap in use per client:
//
//   - heap-B/client: the heap in use that the N connections added, after
//     GC: the clients and the emulator's side (its connection state and the
//     812 prekeys each client uploads) together, so an upper bound;
//   - goroutines/client: goroutines per connected client (both sides).
func BenchmarkIdleClientMemory(b *testing.B) {
	n := 20
	if v, err := strconv.Atoi(os.Getenv("WAEMU_BENCH_CLIENTS")); err == nil && v > 0 {
		n = v
	}
	srv := waemu.Start(b)
	container := newContainer(b)
	base, baseG := heapInUse(), runtime.NumGoroutine()

	clients := make([]*client, n)
	for i := range clients {
		clients[i] = pairClient(b, srv, container)
	}
	connected, connectedG := heapInUse(), runtime.NumGoroutine()
	runtime.KeepAlive(clients)

	for b.Loop() { // the measurement above is the benchmark; b.Loop resets metrics
	}
	b.ReportMetric(float64(connected-base)/float64(n), "heap-B/client")
	b.ReportMetric(float64(connectedG-baseG)/float64(n), "goroutines/client")
}

func heapInUse() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}
