package proxytest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

// fetch does one GET with a fresh connection (faults close connections)
// and reports the response, the body read so far and the read error.
func fetch(ctx context.Context, t *testing.T, url string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func TestFaults(t *testing.T) {
	t.Parallel()
	const (
		zipPath = "/example.com/hello/@v/v1.2.0.zip"
		modPath = "/example.com/hello/@v/v1.2.0.mod"
	)
	u := New(t, loadFixtures(t), WithSlow(8, 5*time.Millisecond))
	realZip, err := os.ReadFile(u.ZipPath("example.com/hello", "v1.2.0"))
	if err != nil {
		t.Fatal(err)
	}
	zh, mh := u.SumDBHash("example.com/hello", "v1.2.0")
	_, _, real := get(t, u, "/sumdb/"+DefaultSumDBName+"/latest")

	tests := []struct {
		name  string
		path  string
		fault Fault
		check func(t *testing.T, resp *http.Response, body []byte, err error)
	}{
		{"status500", zipPath, FaultStatus500, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 500 {
				t.Errorf("got %v %v, want 500", resp, err)
			}
		}},
		{"status404", zipPath, FaultStatus404, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 404 {
				t.Errorf("got %v %v, want 404", resp, err)
			}
		}},
		{"reset", zipPath, FaultReset, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if resp == nil || resp.StatusCode != 200 || resp.ContentLength != int64(len(realZip)) {
				t.Fatalf("got %v, want 200 headers with full Content-Length %d", resp, len(realZip))
			}
			if err == nil || len(body) >= len(realZip) || len(body) == 0 {
				t.Errorf("read %d of %d bytes, err %v; want a partial body and an error", len(body), len(realZip), err)
			}
		}},
		{"truncate", zipPath, FaultTruncate, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if resp == nil || resp.ContentLength != int64(len(realZip)) {
				t.Fatalf("got %v, want full Content-Length %d", resp, len(realZip))
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) || len(body) != len(realZip)/2 {
				t.Errorf("read %d of %d bytes, err %v; want half and unexpected EOF", len(body), len(realZip), err)
			}
		}},
		{"slow", "/example.com/hello/@v/v1.2.0.info", FaultSlow, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), `"Version":"v1.2.0"`) {
				t.Errorf("got %v %q %v, want the full info", resp, body, err)
			}
		}},
		{"tamper zip", zipPath, FaultTamper, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 200 || bytes.Equal(body, realZip) {
				t.Fatalf("got %v %v (same as real: %v), want different content", resp, err, bytes.Equal(body, realZip))
			}
			zp := filepath.Join(t.TempDir(), "t.zip")
			os.WriteFile(zp, body, 0o644)
			cf, err := modzip.CheckZip(module.Version{Path: "example.com/hello", Version: "v1.2.0"}, zp)
			if err == nil {
				err = cf.Err()
			}
			if err != nil {
				t.Errorf("tampered zip is not a valid module zip: %v", err)
			}
			if h, _ := dirhash.HashZip(zp, dirhash.Hash1); h == zh {
				t.Errorf("tampered zip hash = sumdb hash %s", h)
			}
		}},
		{"tamper mod", modPath, FaultTamper, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("got %v %v", resp, err)
			}
			if modfile.ModulePath(body) != "example.com/hello" {
				t.Errorf("tampered go.mod module = %q, want example.com/hello", modfile.ModulePath(body))
			}
			if h, _ := hashMod(body); h == mh {
				t.Errorf("tampered go.mod hash = sumdb hash %s", h)
			}
		}},
		{"tamper info", "/example.com/hello/@v/v1.2.0.info", FaultTamper, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || !strings.Contains(string(body), `"Version":"v1.2.0","Time":"2025-03-01T00:00:00Z"`) {
				t.Errorf("got %q %v, want Time a year later", body, err)
			}
		}},
		{"tamper list", "/example.com/hello/@v/list", FaultTamper, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || !strings.HasSuffix(string(body), "v1.3.0-pre\nv99.99.99\n") {
				t.Errorf("got %q %v, want an injected version", body, err)
			}
		}},
		{"tamper sumdb latest", "/sumdb/" + DefaultSumDBName + "/latest", FaultTamper, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || len(body) != len(real) || string(body) == real {
				t.Errorf("got %q %v, want one byte changed from %q", body, err, real)
			}
		}},
		{"slow sumdb supported", "/sumdb/" + DefaultSumDBName + "/supported", FaultSlow, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("got %v %v, want 200", resp, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u.SetFault(tt.path, tt.fault)
			defer u.SetFault(tt.path, FaultNone)
			before := u.Count(tt.path)
			resp, body, err := fetch(t.Context(), t, u.URL+tt.path)
			tt.check(t, resp, body, err)
			if n := u.Count(tt.path) - before; n != 1 {
				t.Errorf("Count(%s) grew by %d, want 1", tt.path, n)
			}
		})
	}

	// Cleared faults serve the real content again.
	_, body, err := fetch(t.Context(), t, u.URL+zipPath)
	if err != nil || !bytes.Equal(body, realZip) {
		t.Errorf("after clearing faults: err %v, same as real %v", err, bytes.Equal(body, realZip))
	}
}

func TestFaultSlowIsSlow(t *testing.T) {
	t.Parallel()
	u := New(t, loadFixtures(t), WithSlow(16, 20*time.Millisecond))
	const p = "/example.com/hello/@v/v1.0.0.mod" // 36 bytes: 3 chunks, 2 pauses
	u.SetFault(p, FaultSlow)
	start := time.Now()
	_, body, err := fetch(t.Context(), t, u.URL+p)
	if err != nil || string(body) != "module example.com/hello\n\ngo 1.21\n" {
		t.Fatalf("slow body = %q, %v", body, err)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("slow response took %v, want >= 40ms", d)
	}

	// A client that gives up ends the slow stream.
	u2 := New(t, loadFixtures(t), WithSlow(1, time.Hour))
	u2.SetFault(p, FaultSlow)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, body, err := fetch(ctx, t, u2.URL+p); err == nil {
		t.Errorf("slow fetch with 100ms deadline = %q, nil error; want deadline error", body)
	}
}

func TestFaultHang(t *testing.T) {
	t.Parallel()
	u := New(t, loadFixtures(t))
	const p = "/example.com/hello/@v/list"
	u.SetFault(p, FaultHang)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := fetch(ctx, t, u.URL+p); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hanging fetch err = %v, want deadline exceeded", err)
	}

	// Close releases a hang whose client never gives up.
	errc := make(chan error, 1)
	go func() {
		_, _, err := fetch(context.Background(), t, u.URL+p)
		errc <- err
	}()
	for u.Count(p) < 2 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan struct{})
	go func() { u.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close blocked on a hanging request")
	}
	if err := <-errc; err == nil {
		t.Error("hanging fetch after Close succeeded, want error")
	}
}

func TestSetFaultN(t *testing.T) {
	t.Parallel()
	u := New(t, loadFixtures(t))
	const p = "/example.com/hello/@v/v1.0.0.info"
	u.SetFaultN(p, FaultStatus500, 2)
	var got []int
	for range 4 {
		status, _, _ := get(t, u, p)
		got = append(got, status)
	}
	if want := []int{500, 500, 200, 200}; !slices.Equal(got, want) {
		t.Errorf("statuses with SetFaultN(2) = %v, want %v", got, want)
	}
}

func TestFaultString(t *testing.T) {
	for f, want := range map[Fault]string{FaultNone: "none", FaultTamper: "tamper", FaultSlow: "slow", Fault(42): "Fault(42)"} {
		if got := f.String(); got != want {
			t.Errorf("Fault(%d).String() = %q, want %q", int(f), got, want)
		}
	}
}

func TestFaultPatterns(t *testing.T) {
	t.Parallel()
	u := New(t, loadFixtures(t))
	u.SetFault("*", FaultStatus500)
	u.SetFault("/example.com/hello/*", FaultStatus404)
	u.SetFault("/example.com/hello/@v/list", FaultNone) // clearing an unset path is a no-op
	u.SetFault("/example.com/hello/@v/v1.0.0.mod", FaultTamper)
	tests := []struct {
		path   string
		status int
	}{
		{"/example.com/app/@v/list", 500},
		{"/sumdb/" + DefaultSumDBName + "/latest", 500},
		{"/example.com/hello/@v/list", 404},
		{"/example.com/hello/@v/v1.0.0.mod", 200},
	}
	for _, tt := range tests {
		if status, _, _ := get(t, u, tt.path); status != tt.status {
			t.Errorf("GET %s with pattern faults = %d, want %d", tt.path, status, tt.status)
		}
	}
	u.SetFault("*", FaultNone)
	u.SetFault("/example.com/hello/*", FaultNone)
	if status, _, _ := get(t, u, "/example.com/hello/@v/list"); status != 200 {
		t.Errorf("GET after clearing patterns = %d, want 200", status)
	}
}

func TestBlock(t *testing.T) {
	t.Parallel()
	u := New(t, loadFixtures(t))
	const p = "/example.com/hello/@v/v1.0.0.zip"
	release := u.Block(p)
	const n = 5
	errc := make(chan error, n)
	for range n {
		go func() {
			resp, body, err := fetch(t.Context(), t, u.URL+p)
			if err == nil && (resp.StatusCode != 200 || len(body) == 0) {
				err = errors.New("bad response " + resp.Status)
			}
			errc <- err
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for u.Count(p) < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-errc:
		t.Fatalf("a blocked request finished before release: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	release() // idempotent
	for range n {
		if err := <-errc; err != nil {
			t.Errorf("released request: %v", err)
		}
	}
	if status, _, _ := get(t, u, p); status != 200 {
		t.Errorf("GET after release = %d, want 200", status)
	}

	// Close ends blocked requests with a connection error.
	u.Block(p)
	go func() {
		_, _, err := fetch(context.Background(), t, u.URL+p)
		errc <- err
	}()
	for u.Count(p) < n+2 {
		time.Sleep(time.Millisecond)
	}
	u.Close()
	if err := <-errc; err == nil {
		t.Error("blocked request after Close succeeded, want error")
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	u := New(t, loadFixtures(t))
	resp, err := u.Server.Client().Post(u.URL+"/example.com/hello/@v/list", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST list = %d, want 405", resp.StatusCode)
	}
}
