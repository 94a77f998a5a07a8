package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Module is the module path whose root Build looks for.
const Module = "github.com/wabus/wabus"

// Binaries are the built commands.
type Binaries struct {
	// Dir holds the binaries.
	Dir string
	// Worker is the path of cmd/worker's binary.
	Worker string
	// Admin is the path of cmd/admin's binary, or "" when cmd/admin has no
	// Go files yet or did not build (then AdminErr says why).
	Admin string
	// AdminErr is why Admin is "" although cmd/admin exists.
	AdminErr error
}

// ModuleRoot returns the directory of wabus's go.mod, walking up from the
// working directory. It returns an error when there is none.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module "+Module+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("harness: no go.mod of " + Module + " above the working directory")
		}
		dir = parent
	}
}

// Build compiles cmd/worker (and cmd/admin when it has Go files) into dir
// with the go command on PATH. It returns an error when the module root is
// not found or the worker does not build; an admin that does not build is
// reported in Binaries.AdminErr, since no scenario needs it.
func Build(ctx context.Context, dir string) (*Binaries, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	b := &Binaries{Dir: dir, Worker: filepath.Join(dir, "worker")}
	if err := goBuild(ctx, root, dir, "./cmd/worker"); err != nil {
		return nil, err
	}
	if matches, _ := filepath.Glob(filepath.Join(root, "cmd", "admin", "*.go")); len(matches) > 0 {
		if err := goBuild(ctx, root, dir, "./cmd/admin"); err != nil {
			b.AdminErr = err
		} else {
			b.Admin = filepath.Join(dir, "admin")
		}
	}
	return b, nil
}

// goBuild builds pkg into a temporary directory beside dir, then renames
// the binary into dir: a process still running the old binary keeps it,
// and two builds into one dir never leave a half-written file.
func goBuild(ctx context.Context, root, dir, pkg string) error {
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return fmt.Errorf("build %s: %w", pkg, err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp+string(filepath.Separator), pkg)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	name := filepath.Base(pkg)
	if err := os.Rename(filepath.Join(tmp, name), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("build %s: %w", pkg, err)
	}
	return nil
}

// CacheDir returns a directory for binaries shared by every run on this
// machine (under the user's temporary directory), so that tests that
// cannot clean up after the whole package reuse one copy.
func CacheDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("wabus-harness-%d", os.Getuid()))
}
