package proxy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoCommandThroughProxy drives modgate with the real go command: every
// download is verified by the go command against the test checksum
// database, reached through modgate's /sumdb/ pass-through.
func TestGoCommandThroughProxy(t *testing.T) {
	e := newEnv(t, nil)
	goenv := proxytestEnv(t, e)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/client\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(`package main

import (
	"fmt"

	"example.com/Upper/Case"
	"example.com/hello"
	hello2 "example.com/hello/v2"
)

func main() { fmt.Println(hello.Greet("x"), hello2.Greet("en", "y"), upper.Shout("z")) }
`), 0o644)

	steps := [][]string{
		{"mod", "download", "-json", "example.com/hello@v1.2.0"},
		{"get", "example.com/app@v1.0.0"},
		{"get", "example.com/hello/v2@v2.0.0"},
		{"get", "example.com/Upper/Case@v1.0.0"},
		{"get", "example.com/nomod@v1.0.0"},
		{"get", "example.com/hello@master"},
		{"mod", "tidy"},
		{"build", "./..."},
		{"mod", "verify"},
	}
	for _, args := range steps {
		if out, err := goCmd(t, goenv, dir, args...); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	out, err := goCmd(t, goenv, dir, "list", "-m", "-versions", "example.com/hello")
	if err != nil {
		t.Fatalf("go list -m -versions: %v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(out), "example.com/hello v1.0.0 v1.1.0 v1.2.0 v1.3.0-pre"; got != want {
		t.Errorf("go list -m -versions = %q, want %q", got, want)
	}
	out, err = goCmd(t, goenv, dir, "list", "-m", "example.com/retracted@latest")
	if err != nil {
		t.Fatalf("go list -m example.com/retracted@latest: %v\n%s", err, out)
	}
	if !strings.Contains(out, "example.com/retracted v1.1.0") {
		t.Errorf("retracted@latest = %q, want v1.1.0", out)
	}
	// The checksum database traffic went through modgate, not around it.
	if e.up.Count("/sumdb/"+e.up.SumDBName+"/supported") == 0 {
		t.Errorf("modgate never consulted the upstream's checksum database")
	}
	// Each artifact was fetched from upstream once, however often the go
	// command asked.
	for _, p := range []string{"/example.com/hello/@v/v1.2.0.zip", "/example.com/hello/@v/v1.2.0.mod"} {
		if n := e.up.Count(p); n != 1 {
			t.Errorf("upstream saw %d requests for %s, want 1", n, p)
		}
	}
}

func proxytestEnv(t *testing.T, e *env) []string {
	t.Helper()
	goenv := e.up.GoEnv(t, e.srv.URL)
	for i, kv := range goenv {
		if strings.HasPrefix(kv, "GOSUMDB=") {
			goenv[i] = "GOSUMDB=" + e.gosumdb()
		}
	}
	return goenv
}
