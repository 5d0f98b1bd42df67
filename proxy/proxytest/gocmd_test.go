package proxytest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixtureDir is the repository's shared fixture modules.
const fixtureDir = "../../testdata/modules"

func loadFixtures(t testing.TB) []Module {
	t.Helper()
	return Fixtures(t)
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

func TestGoCommandEdgeModules(t *testing.T) {
	requireGo(t)
	t.Parallel()
	u := New(t, loadFixtures(t))
	env := u.GoEnv(t, u.URL)
	dir := tempModule(t)
	tests := []struct {
		query       string
		wantVersion string
	}{
		{"example.com/Upper/Case@v1.0.0", "v1.0.0"},
		{"example.com/hello/v2@v2.0.0", "v2.0.0"},
		{"example.com/nomod@v1.0.0", "v1.0.0"},
		{"example.com/hello@master", "v1.2.0"},
		{"example.com/hello@abcdef123456", "v1.2.0"},
		{"example.com/hello@latest", "v1.2.0"},
		{"example.com/deprecated@latest", "v1.1.0"},
		{"example.com/retracted@v1.0.1", "v1.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			out, err := runGo(t, dir, env, "mod", "download", "-json", tt.query)
			if err != nil {
				t.Fatalf("go mod download %s: %v\n%s", tt.query, err, out)
			}
			var dl struct{ Path, Version, Sum, GoModSum string }
			if err := json.Unmarshal([]byte(out), &dl); err != nil {
				t.Fatalf("decode: %v\n%s", err, out)
			}
			zh, mh := u.SumDBHash(dl.Path, dl.Version)
			if dl.Version != tt.wantVersion || dl.Sum != zh || dl.GoModSum != mh {
				t.Errorf("go mod download %s = %s %s %s, want %s %s %s", tt.query, dl.Version, dl.Sum, dl.GoModSum, tt.wantVersion, zh, mh)
			}
		})
	}

	// The go command sees retractions and deprecations in the fixtures.
	out, err := runGo(t, dir, env, "list", "-m", "-retracted", "-versions", "-json", "example.com/retracted")
	if err != nil {
		t.Fatalf("go list -m -retracted: %v\n%s", err, out)
	}
	if !strings.Contains(out, `"Versions": [`) || !strings.Contains(out, `"v1.0.1"`) {
		t.Errorf("go list -m -retracted -versions lacks v1.0.1:\n%s", out)
	}
	out, err = runGo(t, dir, env, "list", "-m", "-retracted", "-json", "example.com/retracted@v1.0.1")
	if err != nil || !strings.Contains(out, "broken: panics on init") {
		t.Errorf("go list -m -retracted example.com/retracted@v1.0.1 lacks the rationale: %v\n%s", err, out)
	}
	out, err = runGo(t, dir, env, "list", "-m", "-u", "-json", "example.com/deprecated@v1.1.0")
	if err != nil || !strings.Contains(out, "use example.com/hello instead.") {
		t.Errorf("go list -m -u example.com/deprecated@v1.1.0 lacks the deprecation: %v\n%s", err, out)
	}
}

func TestGoCommandSeesAddedRelease(t *testing.T) {
	requireGo(t)
	t.Parallel()
	u := New(t, loadFixtures(t))
	env := u.GoEnv(t, u.URL)
	dir := tempModule(t)
	if out, err := runGo(t, dir, env, "get", "example.com/hello@latest"); err != nil {
		t.Fatalf("go get hello@latest: %v\n%s", err, out)
	}
	u.Add(Module{Path: "example.com/hello", Version: "v1.4.0", Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		GoMod: []byte("module example.com/hello\n\ngo 1.21\n"),
		Files: map[string]string{"hello.go": "package hello\n\nfunc Greet(name string) string { return name }\n"}})
	// The go command already holds an older signed tree in GOPATH/pkg/sumdb;
	// the grown tree must be accepted as consistent with it.
	out, err := runGo(t, dir, env, "get", "example.com/hello@latest")
	if err != nil {
		t.Fatalf("go get hello@latest after Add: %v\n%s", err, out)
	}
	if !strings.Contains(out, "v1.4.0") {
		t.Errorf("go get hello@latest after Add did not pick v1.4.0:\n%s", out)
	}
}

func TestGoCommandLargeModule(t *testing.T) {
	requireGo(t)
	t.Parallel()
	const size = 2 << 20
	m := LargeModule(t, "example.com/large", "v1.0.0", size)
	u := New(t, []Module{m})
	out, err := runGo(t, tempModule(t), u.GoEnv(t, u.URL), "mod", "download", "-json", "example.com/large@v1.0.0")
	if err != nil {
		t.Fatalf("go mod download large: %v\n%s", err, out)
	}
	var dl struct{ Zip, Sum string }
	if err := json.Unmarshal([]byte(out), &dl); err != nil {
		t.Fatal(err)
	}
	if zh, _ := u.SumDBHash(m.Path, m.Version); dl.Sum != zh {
		t.Errorf("large module Sum = %s, want %s", dl.Sum, zh)
	}
	if fi, err := os.Stat(dl.Zip); err != nil || fi.Size() < size {
		t.Errorf("downloaded large zip: %v, size < %d", err, size)
	}
}

func TestGoEnv(t *testing.T) {
	t.Setenv("GOFLAGS", "-mod=vendor")
	t.Setenv("GOPRIVATE", "example.com")
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	t.Setenv("PROXYTEST_KEEP", "1")
	env := GoEnvFor(t, "http://127.0.0.1:9", "off")
	got := make(map[string][]string)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = append(got[k], v)
	}
	for k, want := range map[string]string{
		"GOPROXY": "http://127.0.0.1:9", "GOSUMDB": "off", "GOFLAGS": "-modcacherw", "GOPRIVATE": "",
		"GOTOOLCHAIN": "local", "PROXYTEST_KEEP": "1",
	} {
		if len(got[k]) != 1 || got[k][0] != want {
			t.Errorf("GoEnvFor: %s = %q, want exactly [%q]", k, got[k], want)
		}
	}
	if _, ok := got["HTTPS_PROXY"]; ok {
		t.Error("GoEnvFor kept HTTPS_PROXY")
	}
	for _, k := range []string{"HOME", "GOPATH", "GOMODCACHE", "GOCACHE"} {
		if len(got[k]) != 1 || !filepath.IsAbs(got[k][0]) {
			t.Errorf("GoEnvFor: %s = %q, want one absolute dir", k, got[k])
		}
	}
}
