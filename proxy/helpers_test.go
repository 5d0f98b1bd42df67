package proxy_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/checksum"
	"github.com/modgate/modgate/proxy/facts"
	"github.com/modgate/modgate/proxy/modcache"
	"github.com/modgate/modgate/proxy/proxytest"
	"github.com/modgate/modgate/proxy/storage"
	"github.com/modgate/modgate/proxy/upstream"
)

var (
	fixturesOnce sync.Once
	fixtures     []proxytest.Module
	fixturesErr  error
)

func loadFixtures(t testing.TB) []proxytest.Module {
	fixturesOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		fixtures, fixturesErr = proxytest.LoadDir(filepath.Join(filepath.Dir(file), "..", "testdata", "modules"))
	})
	if fixturesErr != nil {
		t.Fatal(fixturesErr)
	}
	return fixtures
}

// env is a modgate proxy in front of a hermetic upstream.
type env struct {
	up     *proxytest.Upstream
	cache  *modcache.Cache
	facts  *facts.Service
	proxy  *proxy.Proxy
	srv    *httptest.Server
	root   string // storage root
	client *upstream.Client
	clock  *fakeClock
	// decide, when an option sets it, decides every version.
	decide proxy.DecideFunc
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type envOption func(*env)

func newEnv(t testing.TB, mods []proxytest.Module, opts ...envOption) *env {
	t.Helper()
	if mods == nil {
		mods = loadFixtures(t)
	}
	up := proxytest.New(t, mods)
	return newEnvFor(t, up, opts...)
}

func newEnvFor(t testing.TB, up *proxytest.Upstream, opts ...envOption) *env {
	t.Helper()
	root := t.TempDir()
	store, err := storage.NewDisk(root)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := upstream.ParseList(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	client := &upstream.Client{Entries: entries, Timeout: 2 * time.Second, IdleTimeout: 2 * time.Second, Retries: -1, Logger: logger}
	// Name and key only: modgate finds the database through the upstream's
	// /sumdb/ endpoint, as with the default configuration.
	db, err := checksum.ParseGOSUMDB(up.SumDBKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	v := &checksum.Verifier{DB: db, Upstream: client, Store: store, Logger: logger}
	c := &modcache.Cache{Upstream: client, Verifier: v, Store: store, Logger: logger, Now: clock.Now}
	e := &env{up: up, cache: c, root: root, client: client, clock: clock}
	for _, o := range opts {
		o(e)
	}
	e.facts = &facts.Service{Source: c, Logger: logger, Now: clock.Now}
	e.proxy = &proxy.Proxy{Cache: c, Facts: e.facts, Logger: logger}
	if e.decide != nil {
		e.proxy.Decider = proxy.Filter{Facts: e.facts, Func: e.decide}
	}
	mux := http.NewServeMux()
	mux.Handle("/sumdb/", &checksum.Passthrough{Verifier: v, Logger: logger, Now: clock.Now})
	mux.Handle("/", e.proxy)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	t.Cleanup(c.Wait)
	return e
}

// restart returns a new cache on the same storage, as after a process
// restart, with its clock at now.
func (e *env) restart(now func() time.Time) *modcache.Cache {
	return &modcache.Cache{Upstream: e.client, Verifier: e.cache.Verifier, Store: e.cache.Store, Logger: e.cache.Logger, Now: now}
}

// get fetches a path from the proxy and returns status and body.
func (e *env) get(t testing.TB, path string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(e.srv.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", path, err)
	}
	return resp.StatusCode, string(body), resp.Header
}

// gosumdb routes the go command's checksum database traffic through the
// proxy under test.
func (e *env) gosumdb() string {
	return e.up.SumDBKey + " " + e.srv.URL + "/sumdb/" + e.up.SumDBName
}

// goCmd runs the real go command in dir with GOPROXY pointing at the proxy.
func goCmd(t testing.TB, env []string, dir string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// artifactFiles lists files under the storage root's mod/ tree.
func (e *env) artifactFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(filepath.Join(e.root, "mod"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(e.root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	return files
}

func hasFileContaining(files []string, sub string) bool {
	for _, f := range files {
		if strings.Contains(f, sub) {
			return true
		}
	}
	return false
}

func privateClient(t testing.TB, url string) *upstream.Client {
	entries, err := upstream.ParseList(url)
	if err != nil {
		t.Fatal(err)
	}
	return &upstream.Client{Entries: entries, Retries: -1}
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func mustRequest(t testing.TB, path string) *http.Request {
	return httptest.NewRequest("GET", path, nil)
}
