package proxy_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/facts"
	"github.com/modgate/modgate/proxy/modcache"
	"github.com/modgate/modgate/proxy/proxytest"
)

func TestListCachingAndStaleIfError(t *testing.T) {
	e := newEnv(t, nil, func(e *env) { e.cache.ListTTL = time.Minute })
	list := "/example.com/hello/@v/list"
	for range 3 {
		if status, body, _ := e.get(t, list); status != 200 || !strings.Contains(body, "v1.2.0") {
			t.Fatalf("GET list = %d %q", status, body)
		}
	}
	if n := e.up.Count(list); n != 1 {
		t.Errorf("within the TTL the upstream saw %d list requests, want 1", n)
	}
	// After the TTL, a new upstream version appears after a background
	// refresh; the stale answer is served meanwhile.
	e.up.Add(proxytest.Module{Path: "example.com/hello", Version: "v1.4.0", GoMod: []byte("module example.com/hello\n"), Files: map[string]string{"a.go": "package hello\n"}})
	e.clock.Advance(2 * time.Minute)
	e.get(t, list)
	e.cache.Wait()
	if _, body, _ := e.get(t, list); !strings.Contains(body, "v1.4.0") {
		t.Errorf("after refresh, list = %q, want v1.4.0", body)
	}
	// Upstream outage after the TTL: the previous list is still served.
	e.up.SetFault(list, proxytest.FaultStatus500)
	e.clock.Advance(2 * time.Minute)
	for range 2 {
		status, body, _ := e.get(t, list)
		e.cache.Wait()
		if status != 200 || !strings.Contains(body, "v1.4.0") {
			t.Errorf("during outage list = %d %q, want the stale list", status, body)
		}
	}
}

func TestStaleListSurvivesRestart(t *testing.T) {
	e := newEnv(t, nil)
	list := "/example.com/hello/@v/list"
	e.get(t, list)
	// A new proxy on the same storage, with the upstream down.
	e.up.SetFault(list, proxytest.FaultStatus500)
	c2 := e.restart(func() time.Time { return e.clock.Now().Add(time.Hour) })
	l, err := c2.List(context.Background(), "example.com/hello")
	c2.Wait()
	if err != nil || len(l.Versions) != 4 {
		t.Errorf("List after restart during outage = %v, %v; want the 4 stored versions", l, err)
	}
}

func TestNotFoundCachedBriefly(t *testing.T) {
	e := newEnv(t, nil)
	path := "/example.com/nothere/@v/list"
	for range 3 {
		if status, _, _ := e.get(t, path); status != 404 {
			t.Fatalf("GET %s = %d, want 404", path, status)
		}
	}
	if n := e.up.Count(path); n != 1 {
		t.Errorf("upstream saw %d requests for a missing module, want 1", n)
	}
	e.clock.Advance(2 * time.Minute)
	e.get(t, path)
	if n := e.up.Count(path); n != 2 {
		t.Errorf("after the not-found TTL upstream saw %d requests, want 2", n)
	}
}

func TestImmutableArtifactsNeverRefetched(t *testing.T) {
	e := newEnv(t, nil)
	paths := []string{"/example.com/hello/@v/v1.0.0.info", "/example.com/hello/@v/v1.0.0.mod", "/example.com/hello/@v/v1.0.0.zip"}
	for range 2 {
		for _, p := range paths {
			if status, body, _ := e.get(t, p); status != 200 {
				t.Fatalf("GET %s = %d %q", p, status, body)
			}
		}
		e.clock.Advance(365 * 24 * time.Hour)
	}
	for _, p := range paths {
		if n := e.up.Count(p); n != 1 {
			t.Errorf("upstream saw %d requests for %s, want 1", n, p)
		}
	}
	// Asking for .info or .mod never downloads the zip.
	if n := e.up.Count("/example.com/hello/@v/v1.1.0.zip"); n != 0 {
		t.Fatalf("zip fetched before anyone asked")
	}
	e.get(t, "/example.com/hello/@v/v1.1.0.info")
	e.get(t, "/example.com/hello/@v/v1.1.0.mod")
	if n := e.up.Count("/example.com/hello/@v/v1.1.0.zip"); n != 0 {
		t.Errorf(".info/.mod requests fetched the zip %d times", n)
	}
}

func TestMalformedRequests(t *testing.T) {
	e := newEnv(t, nil)
	paths := []struct {
		raw    string
		status int
	}{
		{"/example.com/%2e%2e/@v/list", 400},
		{"/example.com/hello/@v/%2e%2e%2f%2e%2e%2fetc.info", 400},
		{"/example.com/hello/@v/v1.0.0%00.zip", 400},
		{"/example.com/!!bad/@v/list", 400},
		{"/example.com/Hello/@v/list", 400},
		{"/example.com/hello/@v/v1.0.zip", 400},
		{"/example.com/hello/@v/V1.0.0.mod", 400},
		{"/example.com/hello/@v/v1.0.0.exe", 400},
		{"/" + strings.Repeat("a/", 600) + "@v/list", 400},
		{"/example.com/hello", 400},
		{"/", 400},
	}
	for _, p := range paths {
		status, body, _ := e.get(t, p.raw)
		if status != p.status {
			t.Errorf("GET %s = %d %q, want %d", p.raw, status, body, p.status)
		}
	}
	// Nothing was created outside the storage root, and nothing inside
	// except the storage's own scratch directory.
	entries, _ := os.ReadDir(e.root)
	for _, de := range entries {
		if de.Name() != ".tmp" {
			t.Errorf("unexpected entry in storage after malformed requests: %s", de.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(e.root), "etc")); err == nil {
		t.Errorf("a file was created outside the storage root")
	}
}

func TestPrivateModulesNeverSentUpstream(t *testing.T) {
	e := newEnv(t, nil, func(e *env) {
		e.cache.Private = "example.com/hello"
		e.cache.Verifier.NoSumDB = "example.com/hello"
	})
	for _, p := range []string{"/example.com/hello/@v/list", "/example.com/hello/@v/v1.0.0.info", "/example.com/hello/@v/v1.0.0.zip", "/example.com/hello/@latest"} {
		if status, body, _ := e.get(t, p); status != 404 || !strings.Contains(body, "no upstream is configured") {
			t.Errorf("GET private %s = %d %q, want 404 explaining no upstream", p, status, body)
		}
	}
	for path, n := range e.up.Counts() {
		if strings.Contains(path, "example.com/hello") && n > 0 {
			t.Errorf("private path reached the public upstream: %s (%d)", path, n)
		}
	}
	// With a private upstream configured, private modules come from it
	// and are verified without the public checksum database.
	priv := proxytest.New(t, loadFixtures(t))
	e2 := newEnv(t, nil, func(e *env) {
		e.cache.Private = "example.com/hello"
		e.cache.Verifier.NoSumDB = "example.com/hello"
		e.cache.PrivateUpstream = privateClient(t, priv.URL)
	})
	if status, body, _ := e2.get(t, "/example.com/hello/@v/v1.0.0.zip"); status != 200 {
		t.Fatalf("private zip via private upstream = %d %q", status, body)
	}
	for path, n := range e2.up.Counts() {
		if strings.Contains(path, "example.com/hello") && n > 0 {
			t.Errorf("private path reached the public upstream or database: %s", path)
		}
	}
	if priv.Count("/example.com/hello/@v/v1.0.0.zip") != 1 {
		t.Errorf("private upstream was not used")
	}
}

func TestVerifyCacheFindsAndPurgesCorruption(t *testing.T) {
	e := newEnv(t, nil)
	zipPath := "/example.com/hello/@v/v1.0.0.zip"
	if status, _, _ := e.get(t, zipPath); status != 200 {
		t.Fatal("priming failed")
	}
	e.get(t, "/example.com/hello/@v/v1.0.0.mod")
	ctx := context.Background()
	var problems []modcache.Problem
	n, err := e.cache.Verify(ctx, false, func(p modcache.Problem) { problems = append(problems, p) })
	if err != nil || n != 2 || len(problems) != 0 {
		t.Fatalf("VerifyCache on a clean cache = %d, %v, %v", n, problems, err)
	}
	// Corrupt the stored zip in place (same size, so only hashes catch it).
	file := filepath.Join(e.root, "mod", "example.com", "hello", "@v", "v1.0.0.zip")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	os.WriteFile(file, data, 0o644)
	problems = nil
	if _, err := e.cache.Verify(ctx, true, func(p modcache.Problem) { problems = append(problems, p) }); err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || problems[0].Kind != proxy.KindZip || !problems[0].Purged {
		t.Fatalf("VerifyCache(purge) = %v, want the zip reported and purged", problems)
	}
	// A fresh proxy on the same storage refetches the purged zip.
	c2 := e.restart(nil)
	p2 := &proxy.Proxy{Cache: c2, Facts: &facts.Service{Source: c2}}
	rec := newRecorder()
	p2.ServeHTTP(rec, mustRequest(t, zipPath))
	if rec.Code != 200 || e.up.Count(zipPath) != 2 {
		t.Errorf("after purge GET zip = %d (upstream count %d), want 200 and a refetch", rec.Code, e.up.Count(zipPath))
	}
}

// staticDecider denies the listed versions.
type staticDecider struct{ deny map[string]string }

func (d staticDecider) decide(_ context.Context, q proxy.Query) (proxy.Decision, error) {
	if msg, ok := d.deny[q.Module+"@"+q.Version]; ok {
		return proxy.Decision{Deny: []proxy.Violation{{Rule: "test_rule", Msg: msg, Fix: "use v1.1.0"}}}, nil
	}
	if q.Module == "example.com/dep" {
		return proxy.Decision{}, errors.New("policy backend down")
	}
	return proxy.Decision{Warn: []proxy.Violation{{Rule: "note", Msg: "looked at"}}}, nil
}

func TestDeciderGatesEveryRoute(t *testing.T) {
	e := newEnv(t, nil, func(e *env) {
		e.decide = staticDecider{deny: map[string]string{
			"example.com/hello@v1.2.0":     "too new",
			"example.com/hello@v1.3.0-pre": "pre-release",
			"example.com/vulnlib@v1.0.0":   "vulnerable",
			"example.com/vulnlib@v1.0.1":   "vulnerable",
			"example.com/vulnlib@v1.1.0":   "vulnerable",
		}}.decide
	})
	status, body, h := e.get(t, "/example.com/hello/@v/v1.2.0.zip")
	if status != http.StatusForbidden || !strings.Contains(body, "example.com/hello@v1.2.0 is denied") || !strings.Contains(body, "test_rule: too new") || !strings.Contains(body, "fix: use v1.1.0") {
		t.Errorf("denied zip = %d %q", status, body)
	}
	if _, body, _ := e.get(t, "/example.com/hello/@v/list"); body != "v1.0.0\nv1.1.0\n" {
		t.Errorf("filtered list = %q, want v1.0.0 and v1.1.0", body)
	}
	if _, body, _ = e.get(t, "/example.com/hello/@latest"); !strings.Contains(body, `"v1.1.0"`) {
		t.Errorf("@latest = %q, want v1.1.0 (newest allowed)", body)
	}
	if status, body, _ := e.get(t, "/example.com/vulnlib/@latest"); status != 403 || !strings.Contains(body, "vulnerable") {
		t.Errorf("@latest with every version denied = %d %q, want 403 with the reason", status, body)
	}
	if _, _, h = e.get(t, "/example.com/hello/@v/v1.1.0.info"); h.Get("X-Modgate-Warning") != "note: looked at" {
		t.Errorf("warnings not reported in a header")
	}
	if status, body, _ := e.get(t, "/example.com/dep/@v/v1.0.0.info"); status != 503 || !strings.Contains(body, "fails closed") {
		t.Errorf("decider error = %d %q, want 503", status, body)
	}
}
