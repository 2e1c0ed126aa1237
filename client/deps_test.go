package client

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the SDK light for the agents that import it: the
// package may use the standard library only, and not even the testing
// package outside tests. A server dependency (pgx, River, SQLite, cobra,
// internal/...) here would land in every agent's binary.
func TestDependencies(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH; cannot list dependencies")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "github.com/agentgate/agentgate/client" {
			continue
		}
		why := "the SDK uses the standard library only"
		switch {
		case strings.Contains(dep, "/internal/") || strings.HasSuffix(dep, "/internal"):
			why = "internal packages are the server's; agents cannot import them"
		case strings.Contains(dep, "pgx"), strings.Contains(dep, "riverqueue"), strings.Contains(dep, "sqlite"), strings.Contains(dep, "cobra"):
			why = "a server or CLI dependency"
		}
		t.Errorf("client imports %s: %s", dep, why)
	}
	std, err := exec.Command(goBin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, std)
	}
	for _, dep := range strings.Fields(string(std)) {
		if dep == "testing" || strings.HasPrefix(dep, "testing/") || strings.HasPrefix(dep, "net/http/httptest") {
			t.Errorf("client imports %s outside its tests", dep)
		}
	}
}
