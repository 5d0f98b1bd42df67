package proxy_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/proxy/proxytest"
)

func TestProtocolRoutes(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		path        string
		status      int
		contentType string
		cache       string // Cache-Control prefix
		body        string // substring
	}{
		{"/example.com/hello/@v/list", 200, "text/plain; charset=utf-8", "public, max-age=60", "v1.0.0\nv1.1.0\nv1.2.0\nv1.3.0-pre\n"},
		{"/example.com/hello/@v/v1.2.0.info", 200, "application/json", "public, max-age=604800, immutable", `"Version":"v1.2.0"`},
		{"/example.com/hello/@v/v1.2.0.mod", 200, "text/plain; charset=utf-8", "public, max-age=604800, immutable", "module example.com/hello"},
		{"/example.com/hello/@v/v1.2.0.zip", 200, "application/zip", "public, max-age=604800, immutable", "PK"},
		{"/example.com/hello/@latest", 200, "application/json", "public, max-age=60", `"Version":"v1.2.0"`},
		{"/example.com/hello/v2/@latest", 200, "application/json", "", `"Version":"v2.0.0"`},
		{"/example.com/!upper/!case/@v/list", 200, "", "", "v1.0.0"},
		{"/example.com/!upper/!case/@v/v1.0.0.mod", 200, "", "", "module example.com/Upper/Case"},
		{"/example.com/nomod/@v/v1.0.0.mod", 200, "", "", "module example.com/nomod"},
		{"/example.com/hello/@v/master.info", 200, "application/json", "public, max-age=60", `"Version":"v1.2.0"`},
		{"/example.com/hello/@v/abcdef123456.info", 200, "application/json", "", `"Version":"v1.2.0"`},
		{"/example.com/missing/@v/list", 404, "text/plain; charset=utf-8", "public, max-age=60", "example.com/missing: not found"},
		{"/example.com/hello/@v/v9.9.9.info", 400, "text/plain; charset=utf-8", "no-store", "should be v0 or v1"},
		{"/example.com/hello/@v/v1.9.9.info", 404, "text/plain; charset=utf-8", "", "example.com/hello@v1.9.9: not found"},
		{"/example.com/hello/@v/v1.9.9.zip", 404, "", "", "not found"},
		{"/example.com/hello/@v/nosuchbranch.info", 404, "", "", "not found"},
		{"/example.com/hello/@v/v1.2.zip", 400, "", "", "not canonical"},
	}
	for _, tt := range tests {
		t.Run(strings.TrimPrefix(tt.path, "/"), func(t *testing.T) {
			status, body, h := e.get(t, tt.path)
			if status != tt.status {
				t.Fatalf("GET %s = %d %q, want %d", tt.path, status, body, tt.status)
			}
			if tt.contentType != "" && h.Get("Content-Type") != tt.contentType {
				t.Errorf("GET %s Content-Type = %q, want %q", tt.path, h.Get("Content-Type"), tt.contentType)
			}
			if tt.cache != "" && h.Get("Cache-Control") != tt.cache {
				t.Errorf("GET %s Cache-Control = %q, want %q", tt.path, h.Get("Cache-Control"), tt.cache)
			}
			if !strings.Contains(body, tt.body) {
				t.Errorf("GET %s body = %q, want it to contain %q", tt.path, body, tt.body)
			}
			if status >= 400 && strings.Count(body, "\n") > 8 {
				t.Errorf("GET %s error body has more than 8 lines: %q", tt.path, body)
			}
		})
	}
}

func TestInfoOriginPreserved(t *testing.T) {
	e := newEnv(t, nil)
	for _, path := range []string{"/example.com/hello/@v/v1.2.0.info", "/example.com/hello/@v/master.info", "/example.com/hello/@latest"} {
		status, body, _ := e.get(t, path)
		if status != 200 {
			t.Fatalf("GET %s = %d %s", path, status, body)
		}
		var info struct {
			Version string
			Origin  struct{ VCS, URL, Hash, Ref string }
		}
		if err := json.Unmarshal([]byte(body), &info); err != nil {
			t.Fatal(err)
		}
		if info.Origin.VCS != "git" || info.Origin.Hash == "" {
			t.Errorf("GET %s Origin = %+v, want the upstream's Origin", path, info.Origin)
		}
	}
}

func TestRangeAndConditionalRequests(t *testing.T) {
	e := newEnv(t, nil)
	path := e.srv.URL + "/example.com/hello/@v/v1.2.0.zip"
	resp, err := http.Get(path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Last-Modified") == "" {
		t.Fatalf("zip response lacks ETag or Last-Modified: %v", resp.Header)
	}
	req, _ := http.NewRequest("GET", path, nil)
	req.Header.Set("Range", "bytes=0-1")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || resp.ContentLength != 2 {
		t.Errorf("Range request = %d, %d bytes; want 206, 2 bytes", resp.StatusCode, resp.ContentLength)
	}
	req, _ = http.NewRequest("GET", path, nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match request = %d, want 304", resp.StatusCode)
	}
	req, _ = http.NewRequest("HEAD", path, nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength <= 0 {
		t.Errorf("HEAD = %d length %d, want 200 with length", resp.StatusCode, resp.ContentLength)
	}
	req, _ = http.NewRequest("POST", path, nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d, want 405", resp.StatusCode)
	}
}

func TestSumDBPassthrough(t *testing.T) {
	e := newEnv(t, nil)
	name := e.up.SumDBName
	tests := []struct {
		path   string
		status int
	}{
		{"/sumdb/" + name + "/supported", 200},
		{"/sumdb/" + name + "/latest", 200},
		{"/sumdb/" + name + "/lookup/example.com/hello@v1.2.0", 200},
		{"/sumdb/other.example/supported", 404},
		{"/sumdb/" + name + "/lookup/example.com/nosuch@v1.0.0", 404},
		{"/sumdb/" + name + "/tile/8/0/x%00", 400},
		{"/sumdb/" + name + "/tile/../../etc", 404}, // cleaned by the client to /sumdb/etc
		{"/sumdb/" + name + "/bogus", 404},
	}
	for _, tt := range tests {
		status, body, _ := e.get(t, tt.path)
		if status != tt.status {
			t.Errorf("GET %s = %d %q, want %d", tt.path, status, body, tt.status)
		}
	}
	// Lookups are immutable: a second request is served from the cache.
	lookup := "/sumdb/" + name + "/lookup/example.com/hello@v1.1.0"
	_, first, _ := e.get(t, lookup)
	_, second, _ := e.get(t, lookup)
	if first != second || e.up.Count(lookup) != 1 {
		t.Errorf("lookup fetched %d times upstream (bodies equal: %v), want once", e.up.Count(lookup), first == second)
	}
	// The go.sum lines in the lookup match the upstream's records, byte for byte.
	if !strings.Contains(first, e.up.GoSumLines("example.com/hello", "v1.1.0")) {
		t.Errorf("lookup body %q lacks the go.sum lines", first)
	}
}

// TestSumDBPassthroughReusesVerifierCache checks that a go client's
// checksum lookup for a module modgate just verified costs no upstream
// round trip: the verifier's cached lookup is served.
func TestSumDBPassthroughReusesVerifierCache(t *testing.T) {
	e := newEnv(t, nil)
	if status, body, _ := e.get(t, "/example.com/hello/@v/v1.0.0.zip"); status != 200 {
		t.Fatalf("zip = %d %s", status, body)
	}
	lookup := "/sumdb/" + e.up.SumDBName + "/lookup/example.com/hello@v1.0.0"
	if e.up.Count(lookup) != 1 {
		t.Fatalf("verifier looked up %d times, want 1", e.up.Count(lookup))
	}
	status, body, _ := e.get(t, lookup)
	if status != 200 || !strings.Contains(body, e.up.GoSumLines("example.com/hello", "v1.0.0")) {
		t.Fatalf("lookup = %d %q", status, body)
	}
	if n := e.up.Count(lookup); n != 1 {
		t.Errorf("client lookup went upstream again (%d requests), want the verifier's cached answer", n)
	}
}

// TestOverlongVersionIs400 checks that a version too long for a file
// name is a 400 whatever the cache holds for the module.
func TestOverlongVersionIs400(t *testing.T) {
	e := newEnv(t, nil)
	long := "v1.0.0-" + strings.Repeat("x", 300)
	for _, warm := range []bool{false, true} {
		if warm {
			if status, body, _ := e.get(t, "/example.com/hello/@v/v1.0.0.info"); status != 200 {
				t.Fatalf("warming the cache: %d %q", status, body)
			}
		}
		for _, suffix := range []string{".info", ".mod", ".zip"} {
			status, body, _ := e.get(t, "/example.com/hello/@v/"+long+suffix)
			if status != http.StatusBadRequest || !strings.Contains(body, "too long") {
				t.Errorf("cached=%v: GET %s = %d %q, want 400 too long", warm, suffix, status, body)
			}
		}
	}
}

// TestStaleListCacheControl checks that a list served past its TTL says
// so to caches in front (a short max-age and stale-if-error), and that
// the refreshed answer is fresh again.
func TestStaleListCacheControl(t *testing.T) {
	e := newEnv(t, nil)
	for _, path := range []string{"/example.com/hello/@v/list", "/example.com/hello/@latest"} {
		t.Run(path, func(t *testing.T) {
			_, _, h := e.get(t, path)
			if cc := h.Get("Cache-Control"); cc != "public, max-age=60" {
				t.Errorf("fresh %s: Cache-Control %q", path, cc)
			}
			e.clock.Advance(2 * time.Minute) // past the 1m list TTL
			e.up.SetFault("/example.com/hello/@v/list", proxytest.FaultStatus500)
			status, _, h := e.get(t, path)
			if cc := h.Get("Cache-Control"); status != 200 || !strings.Contains(cc, "stale-if-error") || strings.Contains(cc, "max-age=60") {
				t.Errorf("stale %s with a failing upstream = %d, Cache-Control %q; want a short max-age and stale-if-error", path, status, cc)
			}
			e.cache.Wait()
			e.up.SetFault("/example.com/hello/@v/list", proxytest.FaultNone)
			e.get(t, path) // serves stale, refreshes in the background
			e.cache.Wait()
			if _, _, h := e.get(t, path); h.Get("Cache-Control") != "public, max-age=60" {
				t.Errorf("refreshed %s: Cache-Control %q, want fresh", path, h.Get("Cache-Control"))
			}
		})
	}
}
