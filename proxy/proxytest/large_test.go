package proxytest

import (
	"net/http"
	"os"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

func TestLargeModule(t *testing.T) {
	// Not parallel: it measures allocations.
	const size = 8 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m := LargeModule(t, "example.com/large", "v1.0.0", size)
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/2 {
		t.Errorf("LargeModule(%d) allocated %d bytes, want streaming (< %d)", size, alloc, size/2)
	}
	fi, err := os.Stat(m.ZipFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() < size {
		t.Errorf("large zip is %d bytes, want >= %d", fi.Size(), size)
	}
	cf, err := modzip.CheckZip(module.Version{Path: m.Path, Version: m.Version}, m.ZipFile)
	if err == nil {
		err = cf.Err()
	}
	if err != nil {
		t.Errorf("CheckZip(large) = %v", err)
	}

	// Same arguments, same bytes: the data is seeded.
	// (Small sizes keep the race detector's overhead down.)
	m2 := LargeModule(t, "example.com/large", "v1.0.0", 64<<10)
	m3 := LargeModule(t, "example.com/large", "v1.0.0", 64<<10)
	u := New(t, []Module{m})
	// A prebuilt zip is checked against the module it is added as.
	if err := u.AddModule(Module{Path: "example.com/large2", Version: "v1.0.0", GoMod: []byte("module example.com/large2\n"), ZipFile: m2.ZipFile}); err == nil {
		t.Error("AddModule with another module's zip = nil error, want CheckZip failure")
	}
	u2, u3 := New(t, []Module{m2}), New(t, []Module{m3})
	h1, _ := u2.SumDBHash(m2.Path, m2.Version)
	h2, _ := u3.SumDBHash(m3.Path, m3.Version)
	if h1 == "" || h1 != h2 {
		t.Errorf("two LargeModule builds hash %q and %q, want equal", h1, h2)
	}

	req, _ := http.NewRequest(http.MethodHead, u.URL+"/example.com/large/@v/v1.0.0.zip", nil)
	resp, err := u.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Length") != strconv.FormatInt(fi.Size(), 10) {
		t.Errorf("HEAD large zip = %d, Content-Length %q, want 200 %d", resp.StatusCode, resp.Header.Get("Content-Length"), fi.Size())
	}
}

func TestLargeModuleBounds(t *testing.T) {
	t.Parallel()
	for _, size := range []int64{0, -1, modzip.MaxZipFile} {
		if _, err := BuildLargeModule(t.TempDir(), "example.com/large", "v1.0.0", size); err == nil {
			t.Errorf("BuildLargeModule(size %d) = nil error, want out of range", size)
		}
	}
}
