package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabus/wabus/internal/testing/harness"
)

// describeMachine returns the lines that say where the figures come from.
func describeMachine(ctx context.Context, e *env) []string {
	pg := "external server (-database-url)"
	if e.cluster != nil {
		pg = fmt.Sprintf("private cluster (fsync %s)", onOff(e.o.fsync))
	}
	return []string{
		fmt.Sprintf("CPU: %s, nproc %d", cpuModel(), runtime.NumCPU()),
		fmt.Sprintf("memory: %.1f GiB", float64(memTotalKB())/(1<<20)),
		fmt.Sprintf("kernel: Linux %s", readTrim("/proc/sys/kernel/osrelease")),
		fmt.Sprintf("Go: %s (tool), %s", runtime.Version(), goVersion(ctx)),
		fmt.Sprintf("nats-server: %s", natsVersion(ctx)),
		fmt.Sprintf("Postgres: %s, %s", pgVersion(ctx, e.adminURL), pg),
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func memTotalKB() int64 {
	b, _ := os.ReadFile("/proc/meminfo")
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func goVersion(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return "go command unknown"
	}
	return strings.TrimSpace(string(out)) + " (build)"
}

func natsVersion(ctx context.Context) string {
	bin, err := harness.NATSBinary()
	if err != nil {
		return "unknown"
	}
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return "unknown"
	}
	return string(bytes.TrimSpace(out))
}

func pgVersion(ctx context.Context, url string) string {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, url)
	if err != nil {
		return "unknown"
	}
	defer conn.Close(cctx)
	var v string
	if err := conn.QueryRow(cctx, "SHOW server_version").Scan(&v); err != nil {
		return "unknown"
	}
	return "PostgreSQL " + v
}
