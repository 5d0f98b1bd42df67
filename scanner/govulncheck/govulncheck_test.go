package govulncheck_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modgate/modgate/scanner/govulncheck"
	"github.com/modgate/modgate/scanner/internal/goproxytest"
	"github.com/modgate/modgate/scanner/vulndb"
)

var fixtureDir = filepath.Join("..", "..", "testdata", "vuln")

// fixtureDB builds the fixture OSV set into a v1 database directory and
// returns its file:// URL and the URL of the same database served by
// vulndb.Handler.
func fixtureDBs(t *testing.T) (fileURL, httpURL string) {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join(fixtureDir, "osv"))
	if err != nil {
		t.Fatal(err)
	}
	l := &vulndb.Loader{Config: vulndb.Config{Source: vulndb.SourceNone, Extra: []string{abs}}}
	s, err := l.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := s.Build(dir); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(http.StripPrefix("/vulndb", &vulndb.Handler{Source: vulndb.Static{S: s}}))
	t.Cleanup(hs.Close)
	return "file://" + filepath.ToSlash(dir), hs.URL + "/vulndb"
}

func fixtureDB(t *testing.T) string {
	u, _ := fixtureDBs(t)
	return u
}

// copyDir copies the fixture app so the go command may write go.sum.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	des, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		data, err := os.ReadFile(filepath.Join(src, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, de.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestScanFixtureApp(t *testing.T) {
	if testing.Short() {
		t.Skip("runs govulncheck")
	}
	srv := goproxytest.New(t, goproxytest.LoadDir(t, filepath.Join(fixtureDir, "modules"))...)
	fileDB, httpDB := fixtureDBs(t)
	env := append(srv.GoEnv(t), "GOVERSION=go1.21.1")
	for _, db := range []string{fileDB, httpDB} {
		t.Run(db[:4], func(t *testing.T) { scanFixtureApp(t, db, env) })
	}
}

func scanFixtureApp(t *testing.T, db string, env []string) {
	res, err := govulncheck.Scan(context.Background(), govulncheck.Options{
		DB:  db,
		Dir: copyDir(t, filepath.Join(fixtureDir, "app")),
		Env: env,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Config.ScanLevel != govulncheck.LevelSymbol || res.Config.DB != db || res.Config.GoVersion != "go1.21.1" {
		t.Errorf("Config = %+v", res.Config)
	}
	got := map[string]govulncheck.Vuln{}
	for _, v := range res.Vulns() {
		got[v.ID] = v
	}
	for _, want := range []struct {
		id, module, version, fixed string
		depth                      govulncheck.Depth
	}{
		{"GO-2099-0001", "example.com/vulnmod", "v1.1.0", "v1.2.0", govulncheck.DepthCalled},
		{"GO-2099-0002", "example.com/multi", "v1.0.0", "v1.1.0", govulncheck.DepthRequired},
		{"GO-2099-0003", "example.com/allbad", "v1.0.0", "", govulncheck.DepthImported},
		{"GO-2099-0008", "stdlib", "v1.21.1", "v1.21.2", govulncheck.DepthRequired},
	} {
		v, ok := got[want.id]
		if !ok {
			t.Errorf("no finding for %s; got %v", want.id, res.Vulns())
			continue
		}
		delete(got, want.id)
		if v.Module != want.module || v.Version != want.version || v.Fixed != want.fixed || v.Depth != want.depth {
			t.Errorf("%s: got %s@%s fixed %q depth %v; want %s@%s fixed %q depth %v",
				want.id, v.Module, v.Version, v.Fixed, v.Depth, want.module, want.version, want.fixed, want.depth)
		}
		if v.OSV == nil || v.OSV.ID != want.id {
			t.Errorf("%s: OSV entry missing", want.id)
		}
	}
	for id := range got {
		t.Errorf("unexpected finding %s (withdrawn GO-2099-0007 must not appear)", id)
	}
	called := res.Vulns()[0]
	if called.ID != "GO-2099-0001" || len(called.Traces) == 0 {
		t.Fatalf("GO-2099-0001: no call trace: %+v", called)
	}
	tr := called.Traces[0]
	if tr[0].Symbol() != "Vulnerable" || tr[0].Package != "example.com/vulnmod/pkg" || tr[len(tr)-1].Function != "main" || tr[len(tr)-1].Package != "example.com/app" {
		t.Errorf("trace = %+v, want Vulnerable ... main.main", tr)
	}
	if p := tr[len(tr)-1].Position; p == nil || p.Filename != "main.go" || p.Line == 0 {
		t.Errorf("entry frame position = %+v", p)
	}
	if len(called.Packages) != 1 || called.Packages[0] != "example.com/vulnmod/pkg" {
		t.Errorf("Packages = %v", called.Packages)
	}
}

func TestScanErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts govulncheck.Options
		want string
	}{
		{"no db", govulncheck.Options{Dir: "."}, "DB is required"},
		{"bad db", govulncheck.Options{DB: "/tmp/x", Dir: "."}, "not a file://"},
		{"no dir", govulncheck.Options{DB: "file:///x"}, "Dir is required"},
		{"bad level", govulncheck.Options{DB: "file:///x", Dir: ".", Level: "deep"}, "Level"},
	} {
		_, err := govulncheck.Scan(context.Background(), tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Scan error = %v, want %q", tc.name, err, tc.want)
		}
	}
	// A directory without go.mod fails the scan, with govulncheck's reason.
	_, err := govulncheck.Scan(context.Background(), govulncheck.Options{DB: fixtureDB(t), Dir: t.TempDir(), Env: []string{"PATH=" + os.Getenv("PATH"), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOTOOLCHAIN=local"}})
	var se *govulncheck.ScanError
	if !errors.As(err, &se) || !strings.Contains(se.Stderr+se.Err.Error(), "go.mod") {
		t.Errorf("Scan(no go.mod) error = %v, want *ScanError mentioning go.mod", err)
	}
}

func TestParse(t *testing.T) {
	stream := `{"config":{"protocol_version":"v1.0.0","scanner_name":"govulncheck","db":"file:///db","scan_level":"symbol","go_version":"go1.22.0"}}
{"SBOM":{"go_version":"go1.22.0","modules":[{"path":"example.com/app"},{"path":"example.com/m","version":"v1.0.0"}]}}
{"progress":{"message":"Scanning"}}
{"finding":{"osv":"GO-1","fixed_version":"v1.1.0","trace":[{"module":"example.com/m","version":"v1.0.0"}]}}
{"osv":{"id":"GO-1","modified":"2024-01-01T00:00:00Z","summary":"s","details":"d","affected":[{"package":{"name":"example.com/m","ecosystem":"Go"}}]}}
{"finding":{"osv":"GO-1","fixed_version":"v1.1.0","trace":[{"module":"example.com/m","version":"v1.0.0","package":"example.com/m/p"}]}}
{"finding":{"osv":"GO-1","fixed_version":"v1.1.0","trace":[{"module":"example.com/m","version":"v1.0.0","package":"example.com/m/p","function":"F","receiver":"*T"},{"module":"example.com/app","package":"example.com/app","function":"main","position":{"filename":"main.go","line":3,"column":2}}]}}
{"finding":{"osv":"GO-2","trace":[{"module":"example.com/n","version":"v0.1.0"}]}}
`
	res, err := govulncheck.Parse(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 4 || len(res.Modules) != 2 || res.Config.GoVersion != "go1.22.0" {
		t.Fatalf("Parse = %+v", res)
	}
	depths := []govulncheck.Depth{govulncheck.DepthRequired, govulncheck.DepthImported, govulncheck.DepthCalled, govulncheck.DepthRequired}
	for i, f := range res.Findings {
		if f.Depth != depths[i] {
			t.Errorf("finding %d depth = %v, want %v", i, f.Depth, depths[i])
		}
	}
	if res.Findings[0].OSV == nil || res.Findings[0].OSV.Summary != "s" {
		t.Errorf("finding before its OSV message was not linked: %+v", res.Findings[0])
	}
	vs := res.Vulns()
	if len(vs) != 2 || vs[0].Depth != govulncheck.DepthCalled || len(vs[0].Traces) != 1 || vs[0].Traces[0][0].Symbol() != "T.F" || vs[1].Fixed != "" {
		t.Errorf("Vulns = %+v", vs)
	}
	if _, err := govulncheck.Parse(strings.NewReader(`{"finding":{"osv":"X"}}`)); err == nil {
		t.Errorf("Parse(finding without trace) succeeded")
	}
	if _, err := govulncheck.Parse(strings.NewReader(`{`)); err == nil {
		t.Errorf("Parse(truncated) succeeded")
	}
}
