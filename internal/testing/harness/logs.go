package harness

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strings"
)

// LogCount is how often one warning or error appeared in the logs.
type LogCount struct {
	Line  string // level, msg and error of the line
	Count int
}

// Warnings counts the WARN and ERROR lines of text-format worker logs by
// their level, msg and error attributes (tenant, worker and time left
// out), most frequent first. Unreadable files are skipped.
func Warnings(paths ...string) []LogCount {
	counts := map[string]int{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
				counts[logKey(line)]++
			}
		}
		f.Close()
	}
	out := make([]LogCount, 0, len(counts))
	for k, n := range counts {
		out = append(out, LogCount{k, n})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Count > out[j].Count || out[i].Count == out[j].Count && out[i].Line < out[j].Line
	})
	return out
}

// logKey keeps the level, msg and error attributes of a slog text line.
func logKey(line string) string {
	var parts []string
	for _, key := range []string{"level=", "msg=", "error="} {
		if v := attr(line, key); v != "" {
			parts = append(parts, key+v)
		}
	}
	return strings.Join(parts, " ")
}

// attr returns the value of key in a slog text line, quoted values whole.
func attr(line, key string) string {
	i := strings.Index(line, " "+key)
	if i < 0 {
		return ""
	}
	v := line[i+1+len(key):]
	if strings.HasPrefix(v, `"`) {
		end := 1
		for end < len(v) && (v[end] != '"' || v[end-1] == '\\') {
			end++
		}
		return truncate(v[:min(end+1, len(v))], 160)
	}
	if j := strings.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	return truncate(v, 160)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// String renders a count as "N× line".
func (c LogCount) String() string { return fmt.Sprintf("%d× %s", c.Count, c.Line) }
