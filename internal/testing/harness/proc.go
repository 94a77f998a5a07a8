package harness

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// ProcSample is one reading of a process (or a process tree) from /proc.
type ProcSample struct {
	// CPU is user plus system time since the process started.
	CPU time.Duration
	// RSS is the resident set size in bytes (VmRSS).
	RSS int64
}

// ReadProc reads the CPU time and RSS of pid. It returns an error when the
// process is gone or /proc is unreadable.
func ReadProc(pid int) (ProcSample, error) {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return ProcSample{}, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	cpu, err := parseStatCPU(stat)
	if err != nil {
		return ProcSample{}, fmt.Errorf("parse stat of %d: %w", pid, err)
	}
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return ProcSample{}, fmt.Errorf("read status of %d: %w", pid, err)
	}
	return ProcSample{CPU: cpu, RSS: parseStatusKB(status, "VmRSS:") * 1024}, nil
}

// parseStatCPU returns utime+stime (fields 14 and 15) of a stat line; the
// command name (field 2) may contain spaces, so fields count from its ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no ')' in %q", stat)
	}
	f := strings.Fields(string(stat[i+1:])) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("short stat %q", stat)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("utime/stime in %q", stat)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

func parseStatusKB(status []byte, key string) int64 {
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// ReadProcTree sums the CPU time of pid and its direct children
// (Postgres's postmaster and its backends), and their proportional set
// sizes (PSS, so that shared memory counts once) as RSS. It returns an
// error when pid is gone.
func ReadProcTree(pid int) (ProcSample, error) {
	total, err := ReadProc(pid)
	if err != nil {
		return ProcSample{}, err
	}
	total.RSS = pss(pid, total.RSS)
	for _, c := range children(pid) {
		if s, err := ReadProc(c); err == nil {
			total.CPU += s.CPU
			total.RSS += pss(c, s.RSS)
		}
	}
	return total, nil
}

// pss returns pid's proportional set size in bytes from smaps_rollup, or
// rss when it is unreadable.
func pss(pid int, rss int64) int64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "smaps_rollup"))
	if err != nil {
		return rss
	}
	if kb := parseStatusKB(b, "Pss:"); kb > 0 {
		return kb * 1024
	}
	return rss
}

// children lists the processes whose parent is pid.
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, c)
		}
	}
	return out
}

// Usage is what a Meter measured.
type Usage struct {
	// CPU is the CPU time used, summed over restarts of the process.
	CPU time.Duration
	// RSS is the last resident set size seen, in bytes.
	RSS int64
	// PeakRSS is the largest RSS seen since the Meter started or was Reset.
	PeakRSS int64
}

// Sub returns the CPU used between an earlier snapshot and u, with u's RSS
// figures.
func (u Usage) Sub(earlier Usage) Usage {
	u.CPU -= earlier.CPU
	return u
}

// Meter samples a process every interval while it runs: CPU time (summed
// across restarts, since a restarted process starts from zero) and RSS.
// Build it with NewMeter; Close it when done.
type Meter struct {
	read func() (ProcSample, error)
	stop chan struct{}
	wg   sync.WaitGroup

	mu    sync.Mutex
	base  time.Duration // CPU of earlier incarnations
	last  ProcSample
	alive bool
	peak  int64
}

// NewMeter starts sampling read every interval (100ms when 0).
func NewMeter(read func() (ProcSample, error), interval time.Duration) *Meter {
	m := &Meter{read: read, stop: make(chan struct{})}
	interval = max(interval, 0)
	if interval == 0 {
		interval = 100 * time.Millisecond
	}
	m.sample()
	m.wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.sample()
			}
		}
	})
	return m
}

func (m *Meter) sample() {
	s, err := m.read()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		if m.alive { // the process ended: keep its CPU
			m.base += m.last.CPU
			m.last, m.alive = ProcSample{}, false
		}
		return
	}
	if m.alive && s.CPU < m.last.CPU { // restarted between two samples
		m.base += m.last.CPU
	}
	m.last, m.alive = s, true
	m.peak = max(m.peak, s.RSS)
}

// Snapshot samples now and returns the usage so far.
func (m *Meter) Snapshot() Usage {
	m.sample()
	m.mu.Lock()
	defer m.mu.Unlock()
	return Usage{CPU: m.base + m.last.CPU, RSS: m.last.RSS, PeakRSS: m.peak}
}

// ResetPeak forgets the peak RSS, so that the next snapshots report the
// peak of a new phase.
func (m *Meter) ResetPeak() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.peak = m.last.RSS
}

// Close stops sampling.
func (m *Meter) Close() {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	m.wg.Wait()
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. It
// returns an error when no port can be bound.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
