package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modgate/modgate/proxy/proxytest"
)

// modgateBin is the modgate binary built once for process-level tests.
var modgateBin string

// goConfigDir is the go command's configuration directory for the
// commands these tests run, with telemetry off: the go command otherwise
// counts into the user configuration directory and leaves a child process
// writing there after it exits (into a test's temporary HOME, as it is
// being removed).
var goConfigDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "modgate-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goConfigDir = filepath.Join(dir, "goconfig")
	off := exec.Command("go", "telemetry", "off")
	off.Env = append(os.Environ(), "XDG_CONFIG_HOME="+goConfigDir)
	if out, err := off.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go telemetry off: %v\n%s", err, out)
		os.Exit(1)
	}
	modgateBin = filepath.Join(dir, "modgate")
	out, err := exec.Command("go", "build", "-o", modgateBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building modgate: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// process is a running modgate binary.
type process struct {
	cmd  *exec.Cmd
	URL  string
	mu   sync.Mutex // protects logs
	logs strings.Builder
	done chan struct{}
}

func (p *process) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

var addrRE = regexp.MustCompile(`addr"?[=:]"?(http://127\.0\.0\.1:\d+)`)

// startModgate runs `modgate serve` with args and waits until it listens.
func startModgate(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(modgateBin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "GOSUMDB=off", "GOPROXY=off", "MODGATE_VULNDB_SOURCE=none"}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			if m := addrRE.FindStringSubmatch(line); m != nil {
				select {
				case ready <- m[1]:
				default:
				}
			}
		}
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("modgate logs:\n%s", p.Logs())
		}
	})
	select {
	case p.URL = <-ready:
	case <-p.done:
		t.Fatalf("modgate exited before listening:\n%s", p.Logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("modgate did not start:\n%s", p.Logs())
	}
	return p
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServeBinary(t *testing.T) {
	up := proxytest.New(t, proxytest.Fixtures(t))
	// Credentials in the upstream URL must never reach the logs.
	upURL := strings.Replace(up.URL, "http://", "http://ci-bot:s3cr3t-t0ken@", 1)
	storageDir := t.TempDir()
	p := startModgate(t, []string{"MODGATE_STORAGE_DIR=" + storageDir}, "--upstream", upURL, "--sumdb", up.SumDBKey, "--log-format", "json")
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready"} {
		if status, body := httpGet(t, p.URL+path); status != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s = %d %q", path, status, body)
		}
	}
	goenv := up.GoEnv(t, p.URL)
	for i, kv := range goenv {
		if strings.HasPrefix(kv, "GOSUMDB=") {
			goenv[i] = "GOSUMDB=" + up.SumDBKey + " " + p.URL + "/sumdb/" + up.SumDBName
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/m\n\ngo 1.21\n"), 0o644)
	cmd := exec.Command("go", "get", "example.com/app@v1.0.0")
	cmd.Dir, cmd.Env = dir, goenv
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go get through modgate binary: %v\n%s", err, out)
	}
	_, metrics := httpGet(t, p.URL+"/metrics")
	for _, want := range []string{`modgate_requests_total{code="200",endpoint="zip"}`, `modgate_cache_requests_total{kind="zip",result="miss"}`, "modgate_upstream_fetches_total", "modgate_request_duration_seconds_bucket"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if _, err := os.Stat(filepath.Join(storageDir, "mod", "example.com", "app", "@v", "v1.0.0.zip")); err != nil {
		t.Errorf("MODGATE_STORAGE_DIR not used: %v", err)
	}
	logs := p.Logs()
	if !strings.Contains(logs, `"msg":"request"`) || !strings.Contains(logs, `"path":"/example.com/app/@v/v1.0.0.zip"`) {
		t.Errorf("JSON access log missing:\n%s", logs)
	}
	if strings.Contains(logs, "s3cr3t") {
		t.Errorf("upstream credentials leaked into the logs")
	}
}

// TestKillMidDownload kills modgate with SIGKILL while it downloads a
// large zip, restarts it on the same storage and checks that the version
// is fetched cleanly and no partial file is ever visible.
func TestKillMidDownload(t *testing.T) {
	big := proxytest.LargeModule(t, "example.com/big", "v1.0.0", 8<<20)
	up := proxytest.New(t, append(proxytest.Fixtures(t), big), proxytest.WithSlow(64<<10, 10*time.Millisecond))
	zipURL := "/example.com/big/@v/v1.0.0.zip"
	up.SetFault(zipURL, proxytest.FaultSlow)
	storageDir := t.TempDir()
	args := []string{"--upstream", up.URL, "--sumdb", up.SumDBKey, "--storage-dir", storageDir}
	p := startModgate(t, nil, args...)
	go http.Get(p.URL + zipURL)
	deadline := time.Now().Add(10 * time.Second)
	for up.Count(zipURL) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // part of the body is in flight
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	if _, err := os.Stat(filepath.Join(storageDir, "mod", "example.com", "big", "@v", "v1.0.0.zip")); err == nil {
		t.Fatalf("a zip file is visible after a kill mid-download")
	}
	up.SetFault(zipURL, proxytest.FaultNone)
	p2 := startModgate(t, nil, args...)
	tmp, _ := os.ReadDir(filepath.Join(storageDir, ".tmp"))
	if len(tmp) != 0 {
		t.Errorf("restart left %d partial scratch files", len(tmp))
	}
	resp, err := http.Get(p2.URL + zipURL)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	want, _ := os.ReadFile(up.ZipPath("example.com/big", "v1.0.0"))
	if err != nil || resp.StatusCode != 200 || n != int64(len(want)) || fmt.Sprintf("%x", h.Sum(nil)) != fmt.Sprintf("%x", sha256.Sum256(want)) {
		t.Fatalf("after restart GET zip = %d, %d bytes (want %d), err %v", resp.StatusCode, n, len(want), err)
	}
}

// TestGracefulShutdown sends SIGTERM during a download: the download
// completes and the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	big := proxytest.LargeModule(t, "example.com/big", "v1.0.0", 2<<20)
	up := proxytest.New(t, append(proxytest.Fixtures(t), big), proxytest.WithSlow(128<<10, 20*time.Millisecond))
	zipURL := "/example.com/big/@v/v1.0.0.zip"
	up.SetFault(zipURL, proxytest.FaultSlow)
	p := startModgate(t, nil, "--upstream", up.URL, "--sumdb", up.SumDBKey, "--storage-dir", t.TempDir())
	type result struct {
		status int
		n      int64
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get(p.URL + zipURL)
		if err != nil {
			res <- result{err: err}
			return
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		res <- result{resp.StatusCode, n, err}
	}()
	for up.Count(zipURL) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	r := <-res
	if r.err != nil || r.status != 200 || r.n < 2<<20 {
		t.Errorf("in-flight download during shutdown = %d, %d bytes, %v; want a complete 200", r.status, r.n, r.err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("modgate did not exit after SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	_ = context.Background
}

// TestSIGHUPReloadsPolicy edits a custom rule and sends SIGHUP: the new
// rule decides from then on; a broken edit keeps the policy in force.
func TestSIGHUPReloadsPolicy(t *testing.T) {
	up := proxytest.New(t, proxytest.Fixtures(t))
	dir := t.TempDir()
	rego := filepath.Join(dir, "rules", "house.rego")
	os.MkdirAll(filepath.Dir(rego), 0o755)
	rule := func(version string) string {
		return "package modgate.rules.house\n\ndeny contains {\"msg\": \"house rule\"} if {\n\tinput.module == \"example.com/hello\"\n\tinput.version == \"" + version + "\"\n}\n"
	}
	os.WriteFile(rego, []byte(rule("v1.0.0")), 0o644)
	cfgFile := filepath.Join(dir, "modgate.yaml")
	os.WriteFile(cfgFile, []byte("policy:\n  paths: [rules]\n"), 0o644)
	p := startModgate(t, nil, "--config", cfgFile, "--upstream", up.URL, "--sumdb", up.SumDBKey, "--storage-dir", t.TempDir())
	zip := func(v string) int {
		status, _ := httpGet(t, p.URL+"/example.com/hello/@v/"+v+".zip")
		return status
	}
	if zip("v1.0.0") != 403 || zip("v1.1.0") != 200 {
		t.Fatalf("before reload: v1.0.0 = %d, v1.1.0 = %d; want 403, 200", zip("v1.0.0"), zip("v1.1.0"))
	}
	reload := func(content, wantLog string) {
		t.Helper()
		os.WriteFile(rego, []byte(content), 0o644)
		p.cmd.Process.Signal(syscall.SIGHUP)
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(p.Logs(), wantLog) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the logs after SIGHUP", wantLog)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	reload(rule("v1.1.0"), "policy reloaded")
	if zip("v1.0.0") != 200 || zip("v1.1.0") != 403 {
		t.Errorf("after reload: v1.0.0 = %d, v1.1.0 = %d; want 200, 403", zip("v1.0.0"), zip("v1.1.0"))
	}
	reload("package modgate.rules.house\n\ndeny contains", "policy reload failed")
	if zip("v1.1.0") != 403 {
		t.Errorf("a broken policy edit replaced the policy in force")
	}
}
