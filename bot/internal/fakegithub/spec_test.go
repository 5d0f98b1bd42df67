package fakegithub

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMissingSpecFails checks that a missing OpenAPI description fails
// the tests that need it instead of skipping them: a child test process
// pointed at a missing file must fail with the install hint.
func TestMissingSpecFails(t *testing.T) {
	if os.Getenv("FAKEGITHUB_CHILD") == "1" {
		Start(t, "tok", nil)
		return
	}
	missing := filepath.Join(t.TempDir(), "nope.json")
	cmd := exec.Command(os.Args[0], "-test.run=^TestMissingSpecFails$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FAKEGITHUB_CHILD=1", SpecEnv+"="+missing)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("child passed without the description:\n%s", out)
	}
	for _, want := range []string{"GitHub OpenAPI description not found", "npm install --prefix .tools @octokit/openapi", "--- FAIL"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("child output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "SKIP") {
		t.Errorf("child skipped:\n%s", out)
	}
}

func TestSpecPath(t *testing.T) {
	t.Setenv(SpecEnv, "/x/api.json")
	if p, err := SpecPath(); err != nil || p != "/x/api.json" {
		t.Errorf("SpecPath() with %s = %q, %v", SpecEnv, p, err)
	}
	t.Setenv(SpecEnv, "")
	p, err := SpecPath()
	if err != nil || !strings.HasSuffix(p, filepath.FromSlash(".tools/node_modules/@octokit/openapi/generated/api.github.com.json")) {
		t.Errorf("SpecPath() = %q, %v", p, err)
	}
}
