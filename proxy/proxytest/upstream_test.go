package proxytest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	modzip "golang.org/x/mod/zip"
)

// get fetches u.URL+p and returns status, content type and body.
func get(t *testing.T, u *Upstream, p string) (int, string, string) {
	t.Helper()
	resp, err := u.Server.Client().Get(u.URL + p)
	if err != nil {
		t.Fatalf("GET %s: %v", p, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", p, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}

func TestFixturesAreValid(t *testing.T) {
	t.Parallel()
	mods, err := LoadDir(fixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	if dir, err := FixtureDir(); err != nil || !sameFile(dir, fixtureDir) {
		t.Errorf("FixtureDir() = %q, %v; want %s", dir, err, fixtureDir)
	}
	want := map[string][]string{
		"example.com/hello":      {"v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0-pre"},
		"example.com/Upper/Case": {"v1.0.0"},
		"example.com/hello/v2":   {"v2.0.0"},
		"example.com/retracted":  {"v1.0.0", "v1.0.1", "v1.1.0"},
		"example.com/nomod":      {"v1.0.0"},
		"example.com/vulnlib":    {"v1.0.0", "v1.0.1", "v1.1.0"},
		"golang.org/x/vulndb":    {"v0.0.0-20240103000000-0123456789ab"},
		"example.com/deprecated": {"v1.0.0", "v1.1.0"},
		"example.com/app":        {"v1.0.0"},
		"example.com/dep":        {"v1.0.0"},
	}
	got := make(map[string][]string)
	for _, m := range mods {
		got[m.Path] = append(got[m.Path], m.Version)
		if m.GoMod != nil {
			if _, err := modfile.Parse(m.String()+"/go.mod", m.GoMod, nil); err != nil {
				t.Errorf("%s: go.mod does not parse strictly: %v", m, err)
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("LoadDir(%q) versions = %v, want %v", fixtureDir, got, want)
	}

	u := New(t, mods)
	for _, m := range mods {
		zp := u.ZipPath(m.Path, m.Version)
		cf, err := modzip.CheckZip(module.Version{Path: m.Path, Version: m.Version}, zp)
		if err == nil {
			err = cf.Err()
		}
		if err != nil {
			t.Errorf("CheckZip(%s) = %v", m, err)
		}
		if len(cf.Valid) != len(m.Files)+btoi(m.GoMod != nil) {
			t.Errorf("%s: zip has %d valid files %v, want %d", m, len(cf.Valid), cf.Valid, len(m.Files)+btoi(m.GoMod != nil))
		}
	}

	// Semantics other owners rely on.
	byKey := make(map[string]Module)
	for _, m := range mods {
		byKey[m.String()] = m
	}
	rf, err := modfile.Parse("go.mod", byKey["example.com/retracted@v1.1.0"].GoMod, nil)
	if err != nil || len(rf.Retract) != 1 || rf.Retract[0].Low != "v1.0.1" || rf.Retract[0].Rationale != "broken: panics on init" {
		t.Errorf("retracted@v1.1.0 go.mod retractions = %+v, %v; want v1.0.1 with rationale", rf.Retract, err)
	}
	df, err := modfile.Parse("go.mod", byKey["example.com/deprecated@v1.1.0"].GoMod, nil)
	if err != nil || df.Module.Deprecated != "use example.com/hello instead." {
		t.Errorf("deprecated@v1.1.0 Deprecated = %q, %v", df.Module.Deprecated, err)
	}
	if m := byKey["example.com/nomod@v1.0.0"]; m.GoMod != nil {
		t.Errorf("nomod@v1.0.0 has a go.mod: %q", m.GoMod)
	}
}

func sameFile(a, b string) bool {
	fa, erra := os.Stat(a)
	fb, errb := os.Stat(b)
	return erra == nil && errb == nil && os.SameFile(fa, fb)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	u := New(t, loadFixtures(t))
	u.Add(Module{Path: "example.com/pre", Version: "v1.0.0-rc.1", GoMod: []byte("module example.com/pre\n")})
	u.Add(Module{Path: "example.com/pre", Version: "v0.9.0-beta", GoMod: []byte("module example.com/pre\n")})
	u.Add(Module{Path: "example.com/pseudo", Version: "v0.0.0-20240102000000-abcdef123456", GoMod: []byte("module example.com/pseudo\n")})
	u.Add(Module{Path: "example.com/pseudo", Version: "v0.0.0-20240101000000-123456abcdef", GoMod: []byte("module example.com/pseudo\n")})
	u.Add(Module{Path: "example.com/private", Version: "v1.0.0", GoMod: []byte("module example.com/private\n"), NoSumDB: true})
	db := "/sumdb/" + DefaultSumDBName
	zh, mh := u.SumDBHash("example.com/hello", "v1.2.0")
	// The first hash tile holds the hash of record 0.
	rec0, err := u.db.ReadRecords(context.Background(), 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	h0 := tlog.RecordHash(rec0[0])
	hashTile := h0[:]

	tests := []struct {
		path      string
		status    int
		ctype     string
		body      string // exact, unless contains is set
		contains  []string
		nocontain []string
	}{
		{path: "/example.com/hello/@v/list", status: 200, ctype: ctypeText, body: "v1.0.0\nv1.1.0\nv1.2.0\nv1.3.0-pre\n"},
		{path: "/example.com/hello/@v/v1.0.0.info", status: 200, ctype: ctypeJSON, body: `{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}` + "\n"},
		{path: "/example.com/hello/@v/v1.2.0.info", status: 200, ctype: ctypeJSON,
			body: `{"Version":"v1.2.0","Time":"2024-03-01T00:00:00Z","Origin":{"VCS":"git","URL":"https://example.com/hello","Hash":"abcdef1234567890abcdef1234567890abcdef12","Ref":"refs/tags/v1.2.0"}}` + "\n"},
		{path: "/example.com/hello/@v/master.info", status: 200, ctype: ctypeJSON, contains: []string{`"Version":"v1.2.0"`}},
		{path: "/example.com/hello/@v/abcdef123456.info", status: 200, ctype: ctypeJSON, contains: []string{`"Version":"v1.2.0"`}},
		{path: "/example.com/hello/@v/master.mod", status: 404, ctype: ctypeText},
		{path: "/example.com/hello/@v/master.zip", status: 404, ctype: ctypeText},
		{path: "/example.com/hello/@v/v1.1.0.mod", status: 200, ctype: ctypeText, body: "module example.com/hello\n\ngo 1.21\n"},
		{path: "/example.com/hello/@v/v1.2.0.zip", status: 200, ctype: ctypeZip, contains: []string{"example.com/hello@v1.2.0/hello.go", "example.com/hello@v1.2.0/LICENSE"}},
		{path: "/example.com/hello/@latest", status: 200, ctype: ctypeJSON, contains: []string{`"Version":"v1.2.0"`}},
		{path: "/example.com/hello/@v/v9.9.9.info", status: 404, ctype: ctypeText, contains: []string{"example.com/hello@v9.9.9"}},
		{path: "/example.com/hello/@v/v1.0.info", status: 404, ctype: ctypeText},
		{path: "/example.com/hello/@v/v1.0.0.txt", status: 404, ctype: ctypeText},
		{path: "/example.com/nosuch/@v/list", status: 404, ctype: ctypeText, contains: []string{"example.com/nosuch"}},
		{path: "/example.com/nosuch/@latest", status: 404, ctype: ctypeText},
		{path: "/", status: 404, ctype: ctypeText},
		{path: "/example.com/!upper/!case/@v/list", status: 200, ctype: ctypeText, body: "v1.0.0\n"},
		{path: "/example.com/!upper/!case/@v/v1.0.0.mod", status: 200, ctype: ctypeText, body: "module example.com/Upper/Case\n\ngo 1.21\n"},
		{path: "/example.com/!upper/!case/@v/v1.0.0.zip", status: 200, ctype: ctypeZip, contains: []string{"example.com/Upper/Case@v1.0.0/upper.go"}},
		{path: "/example.com/Upper/Case/@v/list", status: 404, ctype: ctypeText},
		{path: "/example.com/hello/v2/@v/list", status: 200, ctype: ctypeText, body: "v2.0.0\n"},
		{path: "/example.com/hello/v2/@v/v2.0.0.zip", status: 200, ctype: ctypeZip, contains: []string{"example.com/hello/v2@v2.0.0/hello.go"}},
		{path: "/example.com/nomod/@v/v1.0.0.mod", status: 200, ctype: ctypeText, body: "module example.com/nomod\n"},
		{path: "/example.com/nomod/@v/v1.0.0.zip", status: 200, ctype: ctypeZip, contains: []string{"example.com/nomod@v1.0.0/nomod.go"}, nocontain: []string{"go.mod"}},
		{path: "/example.com/pre/@v/list", status: 200, ctype: ctypeText, body: "v0.9.0-beta\nv1.0.0-rc.1\n"},
		{path: "/example.com/pre/@latest", status: 200, ctype: ctypeJSON, contains: []string{`"Version":"v1.0.0-rc.1"`}},
		{path: "/example.com/pseudo/@v/list", status: 200, ctype: ctypeText, body: ""},
		{path: "/example.com/pseudo/@latest", status: 200, ctype: ctypeJSON, contains: []string{`"Version":"v0.0.0-20240102000000-abcdef123456"`}},
		{path: db + "/supported", status: 200, ctype: ctypeText, body: ""},
		{path: db + "/latest", status: 200, ctype: ctypeText, contains: []string{"go.sum database tree\n", "— " + DefaultSumDBName + " "}},
		{path: db + "/lookup/example.com/hello@v1.2.0", status: 200, ctype: ctypeText, contains: []string{
			"example.com/hello v1.2.0 " + zh + "\n", "example.com/hello v1.2.0/go.mod " + mh + "\n"}},
		{path: db + "/lookup/example.com/!upper/!case@v1.0.0", status: 200, ctype: ctypeText, contains: []string{"example.com/Upper/Case v1.0.0 h1:"}},
		{path: db + "/lookup/example.com/nosuch@v1.0.0", status: 404},
		{path: db + "/lookup/example.com/private@v1.0.0", status: 404},
		{path: db + "/tile/8/0/000.p/1", status: 200, ctype: "application/octet-stream", body: string(hashTile)},
		{path: "/sumdb/other.example/supported", status: 404, ctype: ctypeText},
	}
	for _, tt := range tests {
		t.Run(strings.TrimPrefix(tt.path, "/"), func(t *testing.T) {
			status, ctype, body := get(t, u, tt.path)
			if status != tt.status {
				t.Fatalf("GET %s = %d %q, want %d", tt.path, status, body, tt.status)
			}
			if tt.ctype != "" && !strings.EqualFold(ctype, tt.ctype) {
				t.Errorf("GET %s Content-Type = %q, want %q", tt.path, ctype, tt.ctype)
			}
			if tt.contains == nil && tt.status == 200 && body != tt.body {
				t.Errorf("GET %s body = %q, want %q", tt.path, body, tt.body)
			}
			for _, s := range tt.contains {
				if !strings.Contains(body, s) {
					t.Errorf("GET %s body lacks %q:\n%s", tt.path, s, body)
				}
			}
			for _, s := range tt.nocontain {
				if strings.Contains(body, s) {
					t.Errorf("GET %s body contains %q", tt.path, s)
				}
			}
		})
	}
}

func TestZipHashesMatchSumDB(t *testing.T) {
	t.Parallel()
	mods := loadFixtures(t)
	u := New(t, mods)
	for _, m := range mods {
		escPath, _ := module.EscapePath(m.Path)
		escVer, _ := module.EscapeVersion(m.Version)
		_, _, zipBody := get(t, u, "/"+escPath+"/@v/"+escVer+".zip")
		_, _, modBody := get(t, u, "/"+escPath+"/@v/"+escVer+".mod")
		zp := filepath.Join(t.TempDir(), "m.zip")
		if err := os.WriteFile(zp, []byte(zipBody), 0o644); err != nil {
			t.Fatal(err)
		}
		gotZip, err := dirhash.HashZip(zp, dirhash.Hash1)
		if err != nil {
			t.Fatal(err)
		}
		gotMod, err := hashMod([]byte(modBody))
		if err != nil {
			t.Fatal(err)
		}
		zh, mh := u.SumDBHash(m.Path, m.Version)
		if gotZip != zh || gotMod != mh {
			t.Errorf("%s: served hashes %s %s, sumdb has %s %s", m, gotZip, gotMod, zh, mh)
		}
	}
}

func TestSumDBSignedWithKey(t *testing.T) {
	t.Parallel()
	mods := loadFixtures(t)
	u := New(t, mods, WithSumDBName("sum.other.test"))
	if !strings.HasPrefix(u.SumDBKey, "sum.other.test+") {
		t.Fatalf("SumDBKey = %q, want name sum.other.test", u.SumDBKey)
	}
	if want := u.SumDBKey + " " + u.URL + "/sumdb/sum.other.test"; u.GOSUMDB() != want {
		t.Errorf("GOSUMDB() = %q, want %q", u.GOSUMDB(), want)
	}
	v, err := note.NewVerifier(u.SumDBKey)
	if err != nil {
		t.Fatal(err)
	}
	_, _, latest := get(t, u, "/sumdb/sum.other.test/latest")
	n, err := note.Open([]byte(latest), note.VerifierList(v))
	if err != nil {
		t.Fatalf("note.Open(latest) = %v", err)
	}
	tree, err := tlog.ParseTree([]byte(n.Text))
	if err != nil {
		t.Fatal(err)
	}
	if tree.N != int64(len(mods)) {
		t.Errorf("tree size = %d, want %d (one record per fixture)", tree.N, len(mods))
	}
	u.Add(Module{Path: "example.com/hello", Version: "v1.4.0", GoMod: []byte("module example.com/hello\n")})
	_, _, latest = get(t, u, "/sumdb/sum.other.test/latest")
	n, err = note.Open([]byte(latest), note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	if tree2, _ := tlog.ParseTree([]byte(n.Text)); tree2.N != tree.N+1 {
		t.Errorf("tree size after Add = %d, want %d", tree2.N, tree.N+1)
	}
}

func TestAddNewRelease(t *testing.T) {
	t.Parallel()
	u := New(t, loadFixtures(t))
	if _, _, body := get(t, u, "/example.com/hello/@latest"); !strings.Contains(body, `"v1.2.0"`) {
		t.Fatalf("@latest before Add = %s", body)
	}
	u.Add(Module{Path: "example.com/hello", Version: "v1.4.0", Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		GoMod: []byte("module example.com/hello\n\ngo 1.21\n"), Files: map[string]string{"hello.go": "package hello\n"}})
	if _, _, body := get(t, u, "/example.com/hello/@latest"); !strings.Contains(body, `"v1.4.0"`) {
		t.Errorf("@latest after Add = %s, want v1.4.0", body)
	}
	if _, _, body := get(t, u, "/example.com/hello/@v/list"); !strings.HasSuffix(body, "v1.3.0-pre\nv1.4.0\n") {
		t.Errorf("list after Add = %q", body)
	}
	if err := u.AddModule(Module{Path: "example.com/hello", Version: "v1.4.0"}); err == nil {
		t.Error("AddModule of an existing version succeeded, want error")
	}
	if err := u.AddModule(Module{Path: "example.com/hello", Version: "v1.5"}); err == nil {
		t.Error("AddModule of a non-canonical version succeeded, want error")
	}
	if err := u.AddModule(Module{Path: "example.com/hello", Version: "v1.5.0", GoMod: []byte("module example.com/other\n")}); err == nil {
		t.Error("AddModule with a mismatched go.mod module line succeeded, want error")
	}
}

func TestCountsConcurrent(t *testing.T) {
	t.Parallel()
	u := New(t, loadFixtures(t))
	const p = "/example.com/hello/@v/v1.0.0.zip"
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			resp, err := u.Server.Client().Get(u.URL + p)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	get(t, u, "/example.com/nosuch/@v/list")
	if n := u.Count(p); n != 40 {
		t.Errorf("Count(%s) = %d, want 40", p, n)
	}
	if n := u.Count("/example.com/nosuch/@v/list"); n != 1 {
		t.Errorf("Count(unknown module list) = %d, want 1", n)
	}
	if n := u.Count("/example.com/hello/@v/v1.1.0.zip"); n != 0 {
		t.Errorf("Count(never requested) = %d, want 0", n)
	}
	if c := u.Counts(); len(c) != 2 {
		t.Errorf("Counts() = %v, want 2 paths", c)
	}
	u.ResetCounts()
	if n := u.Count(p); n != 0 {
		t.Errorf("Count after ResetCounts = %d, want 0", n)
	}
}

func TestLoadDirErrors(t *testing.T) {
	t.Parallel()
	const gomod = "-- go.mod --\nmodule example.com/a\n"
	tests := []struct {
		name, txtar, wantErr string
	}{
		{"no module", "version: v1.0.0\n" + gomod, "module: and version:"},
		{"unknown key", "module: example.com/a\nversion: v1.0.0\ncolour: red\n" + gomod, "unknown key"},
		{"not key value", "module: example.com/a\nversion: v1.0.0\njust words\n" + gomod, "key: value"},
		{"non-canonical", "module: example.com/a\nversion: v1.0\n" + gomod, "canonical"},
		{"bad time", "module: example.com/a\nversion: v1.0.0\ntime: yesterday\n" + gomod, "parsing time"},
		{"module mismatch", "module: example.com/b\nversion: v1.0.0\n" + gomod, "no module line"},
		{"missing go.mod", "module: example.com/a\nversion: v1.0.0\n-- a.go --\npackage a\n", "no go.mod"},
		{"nogomod with go.mod", "module: example.com/a\nversion: v1.0.0\nnogomod: true\n" + gomod, "nogomod"},
		{"bad major", "module: example.com/a\nversion: v2.0.0\n" + gomod, "v2"},
		{"bad query", "module: example.com/a\nversion: v1.0.0\nquery: a/b\n" + gomod, "invalid query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "x.txtar"), []byte(tt.txtar), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadDir(dir)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("LoadDir(%s) = %v, want error containing %q", tt.name, err, tt.wantErr)
			}
		})
	}
	t.Run("duplicate", func(t *testing.T) {
		dir := t.TempDir()
		for _, n := range []string{"a.txtar", "b.txtar"} {
			os.WriteFile(filepath.Join(dir, n), []byte("module: example.com/a\nversion: v1.0.0\n"+gomod), 0o644)
		}
		if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "already defined") {
			t.Errorf("LoadDir(duplicates) = %v, want already defined", err)
		}
	})
	t.Run("empty dir", func(t *testing.T) {
		if _, err := LoadDir(t.TempDir()); err == nil {
			t.Error("LoadDir(empty) = nil error, want error")
		}
	})
}

func TestStartClose(t *testing.T) {
	t.Parallel()
	var app []Module
	for _, m := range loadFixtures(t) {
		if m.Path == "example.com/app" {
			app = append(app, m)
		}
	}
	u, err := Start(app)
	if err != nil {
		t.Fatal(err)
	}
	dir := u.dir
	resp, err := http.Get(u.URL + "/example.com/app/@v/list")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET list = %d, want 200", resp.StatusCode)
	}
	u.Close()
	u.Close() // idempotent
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("zip dir after Close: Stat = %v, want not exist", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", u.URL+"/example.com/app/@v/list", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Error("GET after Close succeeded, want connection error")
	}
}

func TestInfoIsJSON(t *testing.T) {
	t.Parallel()
	u := New(t, loadFixtures(t))
	_, _, body := get(t, u, "/example.com/hello/@v/v1.2.0.info")
	var info struct {
		Version string
		Time    time.Time
		Origin  struct{ VCS, URL, Hash, Ref string }
	}
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatal(err)
	}
	if info.Version != "v1.2.0" || !info.Time.Equal(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)) || info.Origin.VCS != "git" {
		t.Errorf("info = %+v", info)
	}
}
