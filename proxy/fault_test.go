package proxy_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modgate/modgate/proxy/proxytest"
)

// TestTamperedContentRejected checks that content differing from the
// checksum database is answered with a 502 naming the module, version and
// both hashes, and that nothing is cached.
func TestTamperedContentRejected(t *testing.T) {
	tests := []struct {
		file string // .zip or .mod
		want string
	}{
		{".zip", "zip checksum mismatch"},
		{".mod", "go.mod checksum mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			e := newEnv(t, nil)
			path := "/example.com/hello/@v/v1.1.0" + tt.file
			e.up.SetFault(path, proxytest.FaultTamper)
			status, body, _ := e.get(t, path)
			if status != http.StatusBadGateway {
				t.Fatalf("GET %s with tampered upstream = %d %q, want 502", path, status, body)
			}
			zipHash, modHash := e.up.SumDBHash("example.com/hello", "v1.1.0")
			want := zipHash
			if tt.file == ".mod" {
				want = modHash
			}
			for _, s := range []string{"example.com/hello@v1.1.0", tt.want, "checksum database: " + want, "downloaded: h1:"} {
				if !strings.Contains(body, s) {
					t.Errorf("502 body %q lacks %q", body, s)
				}
			}
			if files := e.artifactFiles(t); hasFileContaining(files, "v1.1.0"+tt.file) {
				t.Errorf("tampered artifact was stored: %v", files)
			}
			// Once the upstream serves the genuine content, it is cached.
			e.up.SetFault(path, proxytest.FaultNone)
			if status, body, _ := e.get(t, path); status != 200 {
				t.Fatalf("GET %s after fault cleared = %d %q", path, status, body)
			}
			if files := e.artifactFiles(t); !hasFileContaining(files, "v1.1.0"+tt.file) {
				t.Errorf("genuine artifact not stored: %v", files)
			}
		})
	}
}

// TestUpstreamFailuresFailClosed checks that outages become 502/504 and
// never 404/410, for every kind of request.
func TestUpstreamFailuresFailClosed(t *testing.T) {
	faults := []struct {
		fault  proxytest.Fault
		status int
		want   string
	}{
		{proxytest.FaultStatus500, 502, "upstream failed"},
		{proxytest.FaultHang, 504, "timed out"},
		{proxytest.FaultReset, 502, ""},
		{proxytest.FaultTruncate, 502, ""},
	}
	paths := []string{
		"/example.com/hello/@v/v1.1.0.zip",
		"/example.com/hello/@v/v1.1.0.mod",
		"/example.com/hello/@v/v1.1.0.info",
		"/example.com/hello/@v/list",
	}
	for _, f := range faults {
		for _, path := range paths {
			t.Run(f.fault.String()+path, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, nil)
				e.up.SetFault(path, f.fault)
				defer e.up.SetFault(path, proxytest.FaultNone)
				status, body, _ := e.get(t, path)
				if path == "/example.com/hello/@v/list" && (f.fault == proxytest.FaultTruncate) {
					// A list cut short cannot be told from a short list
					// unless Content-Length says so; either a 502 or the
					// partial-but-valid list is acceptable, never a 404.
					if status == 404 || status == 410 {
						t.Fatalf("GET %s = %d, must not be 404/410", path, status)
					}
					return
				}
				if status != f.status {
					t.Fatalf("GET %s with upstream %v = %d %q, want %d", path, f.fault, status, body, f.status)
				}
				if !strings.Contains(body, f.want) || !strings.Contains(body, "example.com/hello") {
					t.Errorf("body %q lacks %q or the module", body, f.want)
				}
				if files := e.artifactFiles(t); hasFileContaining(files, path[strings.LastIndex(path, "/"):]) {
					t.Errorf("artifact stored after failure: %v", files)
				}
			})
		}
	}
}

func TestRetryRecoversTransientFailure(t *testing.T) {
	e := newEnv(t, nil, func(e *env) { e.client.Retries = 2 })
	path := "/example.com/hello/@v/v1.0.0.mod"
	e.up.SetFaultN(path, proxytest.FaultStatus500, 1)
	if status, body, _ := e.get(t, path); status != 200 {
		t.Fatalf("GET %s after one transient 500 = %d %q, want 200", path, status, body)
	}
	if n := e.up.Count(path); n != 2 {
		t.Errorf("upstream saw %d requests, want 2 (one failure, one retry)", n)
	}
}

// TestConcurrentMissesFetchOnce sends 64 concurrent clients for one
// uncached large zip: the upstream must see exactly one request.
func TestConcurrentMissesFetchOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100 MB zip")
	}
	big := proxytest.LargeModule(t, "example.com/big", "v1.0.0", 100<<20)
	up := proxytest.New(t, append(loadFixtures(t), big))
	e := newEnvFor(t, up, func(e *env) { e.client.IdleTimeout = time.Minute })
	path := "/example.com/big/@v/v1.0.0.zip"
	var wg sync.WaitGroup
	sizes := make([]int64, 64)
	statuses := make([]int, 64)
	for i := range sizes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(e.srv.URL + path)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			statuses[i] = resp.StatusCode
			sizes[i], _ = io.Copy(io.Discard, resp.Body)
		}()
	}
	wg.Wait()
	if n := up.Count(path); n != 1 {
		t.Errorf("upstream saw %d requests for %s, want 1", n, path)
	}
	for i := range sizes {
		if statuses[i] != 200 || sizes[i] < 100<<20 {
			t.Errorf("client %d got %d with %d bytes", i, statuses[i], sizes[i])
		}
	}
}
