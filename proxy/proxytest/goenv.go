package proxytest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// GoEnv returns an environment for running the real go command against
// proxyURL (this upstream itself, or a modgate in front of it) while
// verifying against this upstream's checksum database. It starts from
// os.Environ without any GO* or *_PROXY variable and sets:
//
//	GOPROXY=proxyURL (no "direct" fallback), GOSUMDB=u.GOSUMDB(),
//	GONOSUMDB= GOPRIVATE= GONOPROXY= GOINSECURE=,
//	GOFLAGS=-modcacherw, GOMODCACHE, GOPATH and HOME in fresh temp dirs,
//	GOTOOLCHAIN=local, GOTELEMETRY=off, GOWORK=off, GO111MODULE=on,
//	GOENV=off, and GOCACHE kept from the caller so builds stay warm.
//
// Reuse the slice for every go command of one test that should share a
// module cache; call GoEnv again for a cold one.
func (u *Upstream) GoEnv(t testing.TB, proxyURL string) []string {
	t.Helper()
	return GoEnvFor(t, proxyURL, u.GOSUMDB())
}

// GoEnvFor is [Upstream.GoEnv] with an explicit GOSUMDB value (for
// example "off", or a key pointing at a modgate's own /sumdb/ route).
func GoEnvFor(t testing.TB, proxyURL, gosumdb string) []string {
	t.Helper()
	gocache := os.Getenv("GOCACHE")
	if gocache == "" {
		out, err := exec.Command("go", "env", "GOCACHE").Output()
		if err != nil {
			t.Fatalf("proxytest.GoEnv: go env GOCACHE: %v", err)
		}
		gocache = strings.TrimSpace(string(out))
	}
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "GO"), name == "HOME":
			continue
		case strings.HasSuffix(strings.ToUpper(name), "_PROXY"):
			// HTTP_PROXY and friends: the go command must reach proxyURL directly.
			continue
		}
		env = append(env, kv)
	}
	home := t.TempDir()
	return append(env,
		"HOME="+home,
		"XDG_CONFIG_HOME="+goConfigDir(t),
		"GOPROXY="+proxyURL,
		"GOSUMDB="+gosumdb,
		"GONOSUMDB=",
		"GOPRIVATE=",
		"GONOPROXY=",
		"GOINSECURE=",
		"GOFLAGS=-modcacherw",
		"GOMODCACHE="+t.TempDir(),
		"GOPATH="+t.TempDir(),
		"GOCACHE="+gocache,
		"GOTOOLCHAIN=local",
		"GOTELEMETRY=off",
		"GOWORK=off",
		"GO111MODULE=on",
		"GOENV=off",
	)
}

var (
	goConfigOnce sync.Once
	goConfig     string
	goConfigErr  error
)

// goConfigDir is a go configuration directory with telemetry off, shared
// by every test of the process: with the default, the go command counts
// into the configuration directory under HOME and leaves a child process
// writing there after it exits, while the test's temporary HOME is being
// removed.
func goConfigDir(t testing.TB) string {
	goConfigOnce.Do(func() {
		goConfig = filepath.Join(os.TempDir(), "modgate-test-goconfig")
		cmd := exec.Command("go", "telemetry", "off")
		cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+goConfig)
		if out, err := cmd.CombinedOutput(); err != nil {
			goConfigErr = fmt.Errorf("go telemetry off: %v\n%s", err, out)
		}
	})
	if goConfigErr != nil {
		t.Fatalf("proxytest.GoEnv: %v", goConfigErr)
	}
	return goConfig
}
