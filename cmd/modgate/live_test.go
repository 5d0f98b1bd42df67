package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLiveSmoke downloads a real module graph through modgate from the
// real upstream of `go env GOPROXY`, verifying against the real checksum
// database (through modgate's /sumdb/). Opt-in: MODGATE_LIVE=1.
func TestLiveSmoke(t *testing.T) {
	if os.Getenv("MODGATE_LIVE") != "1" {
		t.Skip("live check against the real upstream; set MODGATE_LIVE=1")
	}
	goEnv := func(k string) string {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	sumdb := goEnv("GOSUMDB")
	p := startModgate(t, []string{"GOPROXY=" + goEnv("GOPROXY"), "GOSUMDB=" + sumdb, "MODGATE_VULNDB_SOURCE=module"}, "--storage-dir", t.TempDir())
	// The default policy needs the vulnerability database, loaded through
	// modgate itself at start-up; until then modgate is not ready.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		status, body := httpGet(t, p.URL+"/readyz")
		if status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 2 minutes: %s", body)
		}
		time.Sleep(500 * time.Millisecond)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/live\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport (\n\t_ \"github.com/google/uuid\"\n\t_ \"golang.org/x/text/language\"\n\t_ \"gopkg.in/yaml.v3\"\n)\n\nfunc main() {}\n"), 0o644)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "GOPROXY=" + p.URL, "GOSUMDB=" + sumdb + " " + p.URL + "/sumdb/" + sumdb,
		"GOMODCACHE=" + t.TempDir(), "GOFLAGS=-modcacherw", "GOTOOLCHAIN=local", "GOCACHE=" + goEnv("GOCACHE")}
	for _, args := range [][]string{{"mod", "tidy"}, {"mod", "download", "all"}, {"build", "./..."}, {"mod", "verify"}} {
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s through modgate: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// A version with a known, reviewed vulnerability is refused with the
	// entry and the fix.
	status, body := httpGet(t, p.URL+"/golang.org/x/text/@v/v0.3.5.zip")
	if status != 403 || !strings.Contains(body, "GO-2021-0113") || !strings.Contains(body, "fix: go get golang.org/x/text@v") {
		t.Errorf("GET golang.org/x/text@v0.3.5.zip = %d %q, want 403 naming GO-2021-0113 and a fix", status, body)
	}
	// @latest resolves to a version the policy allows, and it downloads.
	status, body = httpGet(t, p.URL+"/golang.org/x/text/@latest")
	var latest struct{ Version string }
	if status != 200 || json.Unmarshal([]byte(body), &latest) != nil {
		t.Fatalf("GET golang.org/x/text/@latest = %d %q", status, body)
	}
	if status, body := httpGet(t, p.URL+"/golang.org/x/text/@v/"+latest.Version+".zip"); status != 200 {
		t.Errorf("GET golang.org/x/text@%s.zip = %d %q, want 200", latest.Version, status, body)
	}
}
