package admin

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	openapiPath   = regexp.MustCompile(`^  (/\S*):\s*$`)
	openapiMethod = regexp.MustCompile(`^    (get|put|post|delete|patch|head|options):\s*$`)
)

// openapiRoutes lists "METHOD /path" of every operation under paths: in
// docs/openapi.yaml (a line scan of its two-space layout; no YAML library).
func openapiRoutes(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	inPaths, path := false, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line != "" && line[0] != ' ' && line[0] != '#' {
			inPaths = line == "paths:"
			continue
		}
		if !inPaths {
			continue
		}
		if m := openapiPath.FindStringSubmatch(line); m != nil {
			path = m[1]
		} else if m := openapiMethod.FindStringSubmatch(line); m != nil && path != "" {
			out = append(out, strings.ToUpper(m[1])+" "+path)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestOpenAPI: docs/openapi.yaml documents exactly the routes of the route
// table, and the mux built from the table serves each of them.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	documented := openapiRoutes(t)
	if len(documented) == 0 {
		t.Fatal("no operations found in docs/openapi.yaml")
	}
	s := &Server{}
	routes := s.routeTable(http.NotFoundHandler())
	var registered []string
	for _, rt := range routes {
		registered = append(registered, rt.pattern)
	}
	slices.Sort(registered)
	for _, r := range registered {
		if _, ok := slices.BinarySearch(documented, r); !ok {
			t.Errorf("route %s is not in docs/openapi.yaml", r)
		}
	}
	for _, d := range documented {
		if _, ok := slices.BinarySearch(registered, d); !ok {
			t.Errorf("docs/openapi.yaml documents %s, which is not a route", d)
		}
	}
	mux, _ := s.buildMux(routes)
	for _, d := range documented {
		method, path, _ := strings.Cut(d, " ")
		concrete := strings.NewReplacer("{tenant}", "t1", "{id}", "13").Replace(path)
		if _, pattern := mux.Handler(httptest.NewRequest(method, concrete, nil)); pattern != d {
			t.Errorf("%s %s is served by %q, want %q", method, concrete, pattern, d)
		}
	}
}
