package vulndb

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHandler(t *testing.T) {
	s := fixtureSnapshot(t)
	h := &Handler{Source: Static{s}}
	do := func(method, path string, hdr map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, tc := range []struct {
		method, path string
		code         int
		ctype        string
	}{
		{"GET", "/index/db.json", 200, "application/json"},
		{"GET", "/index/db.json.gz", 200, "application/gzip"},
		{"HEAD", "/index/modules.json.gz", 200, "application/gzip"},
		{"GET", "/index/vulns.json", 200, "application/json"},
		{"GET", "/ID/GO-2099-0001.json", 200, "application/json"},
		{"GET", "/ID/GO-2099-0001.json.gz", 200, "application/gzip"},
		{"GET", "/ID/GO-2099-9999.json", 404, ""},
		{"GET", "/ID/../index/db.json", 404, ""},
		{"GET", "//index/db.json", 404, ""},
		{"GET", "/index/other.json", 404, ""},
		{"GET", "/", 404, ""},
		{"POST", "/index/db.json", 405, ""},
	} {
		rec := do(tc.method, tc.path, nil)
		if rec.Code != tc.code {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, rec.Code, tc.code)
			continue
		}
		if tc.code != 200 {
			continue
		}
		if got := rec.Header().Get("Content-Type"); got != tc.ctype {
			t.Errorf("%s %s Content-Type = %q, want %q", tc.method, tc.path, got, tc.ctype)
		}
		if rec.Header().Get("ETag") == "" || rec.Header().Get("Last-Modified") == "" || rec.Header().Get("Cache-Control") == "" {
			t.Errorf("%s %s: missing caching headers: %v", tc.method, tc.path, rec.Header())
		}
		if tc.method == "HEAD" && rec.Body.Len() != 0 {
			t.Errorf("HEAD %s has a body", tc.path)
		}
	}

	// The .gz twin decompresses to the .json file.
	plain := do("GET", "/ID/GO-2099-0002.json", nil)
	gz := do("GET", "/ID/GO-2099-0002.json.gz", nil)
	if !bytes.Equal(gunzip(t, gz.Body.Bytes()), plain.Body.Bytes()) {
		t.Errorf("gz twin differs from json")
	}
	if plain.Header().Get("ETag") == gz.Header().Get("ETag") {
		t.Errorf("json and gz share an ETag")
	}
	var e Entry
	if err := json.Unmarshal(plain.Body.Bytes(), &e); err != nil || e.ID != "GO-2099-0002" {
		t.Errorf("entry = %+v, %v", e, err)
	}

	// Conditional requests.
	etag := plain.Header().Get("ETag")
	if rec := do("GET", "/ID/GO-2099-0002.json", map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", rec.Code)
	}
	lm := do("GET", "/index/db.json", nil).Header().Get("Last-Modified")
	if rec := do("GET", "/index/db.json", map[string]string{"If-Modified-Since": lm}); rec.Code != http.StatusNotModified {
		t.Errorf("If-Modified-Since: %d, want 304", rec.Code)
	}

	// db.json carries the snapshot time.
	var db struct{ Modified time.Time }
	json.Unmarshal(do("GET", "/index/db.json", nil).Body.Bytes(), &db)
	if !db.Modified.Equal(s.Modified) {
		t.Errorf("db.json modified = %v, want %v", db.Modified, s.Modified)
	}

	// Not loaded yet.
	rec := httptest.NewRecorder()
	(&Handler{Source: Static{}}).ServeHTTP(rec, httptest.NewRequest("GET", "/index/db.json", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("no snapshot: %d, want 503", rec.Code)
	}
}

func TestBuildLayout(t *testing.T) {
	s := fixtureSnapshot(t)
	dir := t.TempDir()
	// A stale entry from an earlier build must disappear.
	os.MkdirAll(filepath.Join(dir, "ID"), 0o755)
	os.WriteFile(filepath.Join(dir, "ID", "GO-1999-0001.json"), []byte("{}"), 0o644)
	os.WriteFile(filepath.Join(dir, "ID", "GO-1999-0001.json.gz"), []byte("x"), 0o644)
	if err := s.Build(dir); err != nil {
		t.Fatal(err)
	}
	want := []string{"index/db.json", "index/modules.json", "index/vulns.json"}
	for _, e := range s.Entries() {
		want = append(want, "ID/"+e.ID+".json")
	}
	for _, p := range want {
		plain, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Errorf("missing %s: %v", p, err)
			continue
		}
		gz, err := os.ReadFile(filepath.Join(dir, p+".gz"))
		if err != nil {
			t.Errorf("missing %s.gz: %v", p, err)
			continue
		}
		if !bytes.Equal(gunzip(t, gz), plain) {
			t.Errorf("%s.gz does not decompress to %s", p, p)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ID", "GO-1999-0001.json")); !os.IsNotExist(err) {
		t.Errorf("stale entry kept: %v", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "*", ".tmp-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// index/modules.json lists every module with its entries and fixes.
	data, _ := os.ReadFile(filepath.Join(dir, "index", "modules.json"))
	var mods []moduleMeta
	if err := json.Unmarshal(data, &mods); err != nil {
		t.Fatal(err)
	}
	fixed := map[string]string{}
	for _, m := range mods {
		for _, v := range m.Vulns {
			fixed[m.Path+" "+v.ID] = v.Fixed
		}
	}
	for k, want := range map[string]string{
		"example.com/vulnmod GO-2099-0001":  "1.2.0",
		"example.com/vulnmod GO-2099-0007":  "", // withdrawn entries stay listed; govulncheck filters them
		"example.com/multi GO-2099-0002":    "", // reintroduced at 1.6.0
		"example.com/multi GO-2099-0012":    "1.5.0",
		"example.com/incompat GO-2099-0005": "3.1.0+incompatible",
		"stdlib GO-2099-0008":               "1.21.2",
		"example.com/allbad GO-2099-0003":   "",
	} {
		got, ok := fixed[k]
		if !ok || got != want {
			t.Errorf("modules.json %s: fixed %q (listed %v), want %q", k, got, ok, want)
		}
	}
	if !strings.Contains(string(data), `"path":"example.com/twob"`) {
		t.Errorf("modules.json lacks the second module of a two-module entry")
	}
}
