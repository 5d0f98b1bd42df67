package proxytest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureDir is the repository's shared fixture modules.
const fixtureDir = "../../testdata/modules"

func loadFixtures(t testing.TB) []Module {
	t.Helper()
	mods, err := LoadDir(fixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	return mods
}

// runGo runs the real go command in dir with env and returns its combined
// output.
func runGo(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

// tempModule writes a go.mod for a consumer module into a temp dir.
func tempModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/consumer\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func requireGo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("the go command is required for this test: %v", err)
	}
}

func TestGoCommandDownloadVerifies(t *testing.T) {
	requireGo(t)
	t.Parallel()
	u := New(t, loadFixtures(t))
	env := u.GoEnv(t, u.URL)
	dir := tempModule(t)

	out, err := runGo(t, dir, env, "mod", "download", "-json", "example.com/hello@v1.2.0")
	if err != nil {
		t.Fatalf("go mod download: %v\n%s", err, out)
	}
	var dl struct {
		Path, Version, Sum, GoModSum, Zip, Error string
	}
	if err := json.Unmarshal([]byte(out), &dl); err != nil {
		t.Fatalf("decode go mod download -json: %v\n%s", err, out)
	}
	zh, mh := u.SumDBHash("example.com/hello", "v1.2.0")
	if dl.Sum != zh || dl.GoModSum != mh || dl.Error != "" {
		t.Errorf("go mod download = Sum %q GoModSum %q Error %q, want %q %q", dl.Sum, dl.GoModSum, dl.Error, zh, mh)
	}
	// The go command must have consulted the checksum database.
	if n := u.Count("/sumdb/" + u.SumDBName + "/lookup/example.com/hello@v1.2.0"); n != 1 {
		t.Errorf("sumdb lookups for hello@v1.2.0 = %d, want 1", n)
	}

	out, err = runGo(t, dir, env, "get", "example.com/app@v1.0.0")
	if err != nil {
		t.Fatalf("go get example.com/app@v1.0.0: %v\n%s", err, out)
	}
	sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for _, mv := range [][2]string{{"example.com/app", "v1.0.0"}, {"example.com/hello", "v1.1.0"}, {"example.com/vulnlib", "v1.0.0"}} {
		if want := u.GoSumLines(mv[0], mv[1]); !strings.Contains(string(sum), want) {
			t.Errorf("go.sum lacks %q; go.sum:\n%s", want, sum)
		}
	}
}

func TestGoCommandDetectsTamperedZip(t *testing.T) {
	requireGo(t)
	t.Parallel()
	u := New(t, loadFixtures(t))
	u.SetFault("/example.com/hello/@v/v1.2.0.zip", FaultTamper)
	out, err := runGo(t, tempModule(t), u.GoEnv(t, u.URL), "mod", "download", "example.com/hello@v1.2.0")
	if err == nil {
		t.Fatalf("go mod download of a tampered zip succeeded:\n%s", out)
	}
	t.Logf("go mod download (tampered):\n%s", out)
	if !strings.Contains(out, "SECURITY ERROR") || !strings.Contains(out, "checksum mismatch") {
		t.Errorf("go mod download of a tampered zip: want SECURITY ERROR checksum mismatch, got:\n%s", out)
	}
}
