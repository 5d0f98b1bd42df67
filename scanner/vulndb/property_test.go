package vulndb_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/modgate/modgate/scanner/govulncheck"
	"github.com/modgate/modgate/scanner/internal/goproxytest"
	"github.com/modgate/modgate/scanner/vulndb"
)

var fixtureDir = filepath.Join("..", "..", "testdata", "vuln")

// universe lists, per fixture module, versions on both sides of every
// range boundary in testdata/vuln/osv and the extra directories.
var universe = map[string][]string{
	"example.com/vulnmod":    {"v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0-pre"},
	"example.com/multi":      {"v0.9.0", "v1.0.0", "v1.0.5", "v1.1.0", "v1.2.0", "v1.3.0", "v1.3.5", "v1.4.0", "v1.5.0", "v1.5.2", "v1.5.5", "v1.6.0-rc.1", "v1.6.0", "v1.7.0"},
	"example.com/allbad":     {"v0.1.0", "v1.0.0"},
	"example.com/pseudo":     {"v0.0.0-20220101000000-abcdefabcdef", "v0.0.0-20220701000000-123456789abc", "v0.0.0-20221201000000-abcdefabcdef", "v0.0.0-20230601000000-abcdefabcdef", "v0.1.0"},
	"example.com/incompat":   {"v1.9.0", "v2.0.0+incompatible", "v3.0.1+incompatible", "v3.1.0+incompatible"},
	"example.com/pre":        {"v1.0.0-beta.9", "v1.0.0-rc.1", "v1.0.0-rc.2", "v1.0.0", "v1.1.0-beta.1", "v1.1.0-beta.2", "v1.1.0-beta.10", "v1.1.0-rc.1", "v1.1.0"},
	"example.com/ecorange":   {"v0.5.0", "v1.0.0"},
	"example.com/emptyrange": {"v1.0.0"},
	"example.com/twoa":       {"v1.0.0", "v1.1.0"},
	"example.com/twob":       {"v0.9.0", "v1.0.0"},
	"example.com/clean":      {"v1.0.0", "v1.1.5", "v1.2.0"},
	"example.com/typo":       {"v0.0.1"},
}

var goVersions = []string{"go1.20.4", "go1.20.5", "go1.21rc2", "go1.21.1", "go1.21.2", "go1.22.0"}

// universeModules returns a module version per universe entry: a package
// at the module root, and a go.mod except for +incompatible versions.
func universeModules() []goproxytest.Module {
	var mods []goproxytest.Module
	for p, vs := range universe {
		for _, v := range vs {
			files := map[string]string{"p.go": "package " + path.Base(p) + "\n\nfunc F() {}\n"}
			if !strings.HasSuffix(v, "+incompatible") {
				files["go.mod"] = "module " + p + "\n\ngo 1.21\n"
			}
			mods = append(mods, goproxytest.Module{Path: p, Version: v, Files: files})
		}
	}
	return mods
}

func loadFixtures(t *testing.T) *vulndb.Snapshot {
	t.Helper()
	var extra []string
	for _, d := range []string{"osv", "extra/inhouse", "extra/feed"} {
		abs, err := filepath.Abs(filepath.Join(fixtureDir, filepath.FromSlash(d)))
		if err != nil {
			t.Fatal(err)
		}
		extra = append(extra, abs)
	}
	l := &vulndb.Loader{Config: vulndb.Config{Source: vulndb.SourceNone, Extra: extra}}
	s, err := l.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAffectsMatchesGovulncheck is the property test of the issue: on
// generated go.mod files, `govulncheck -scan module` reading the built
// database (alternately via file:// and via Handler over HTTP) reports
// exactly what Affects reports for every module version in the build and
// for the standard library at GOVERSION, fixed versions included.
//
// Each iteration requires every fixture module at a version chosen so
// that, over the iterations, every version of the universe is covered
// (offsets are random; set MODGATE_PROPERTY_SEED to replay).
func TestAffectsMatchesGovulncheck(t *testing.T) {
	if testing.Short() {
		t.Skip("runs govulncheck repeatedly")
	}
	seed := uint64(1)
	if s := os.Getenv("MODGATE_PROPERTY_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seed = n
	}
	r := rand.New(rand.NewPCG(seed, 99))
	snap := loadFixtures(t)
	dbDir := t.TempDir()
	if err := snap.Build(dbDir); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(&vulndb.Handler{Source: vulndb.Static{S: snap}})
	t.Cleanup(hs.Close)
	srv := goproxytest.New(t, universeModules()...)
	env := srv.GoEnv(t)

	mods := make([]string, 0, len(universe))
	iterations := 0
	for p, vs := range universe {
		mods = append(mods, p)
		iterations = max(iterations, len(vs))
	}
	slices.Sort(mods)
	offsets := make(map[string]int)
	for _, p := range mods {
		offsets[p] = r.IntN(len(universe[p]))
	}
	for i := range iterations {
		goVersion := goVersions[(i+r.IntN(len(goVersions)))%len(goVersions)]
		db := "file://" + filepath.ToSlash(dbDir)
		if i%2 == 1 {
			db = hs.URL
		}
		req := make(map[string]string)
		for _, p := range mods {
			vs := universe[p]
			req[p] = vs[(i+offsets[p])%len(vs)]
		}
		t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
			dir := writeApp(t, req)
			res, err := govulncheck.Scan(context.Background(), govulncheck.Options{
				DB: db, Dir: dir, Level: govulncheck.LevelModule,
				Env: append(slices.Clip(env), "GOVERSION="+goVersion),
			})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range res.Findings {
				if f.Depth != govulncheck.DepthRequired {
					t.Errorf("module-level scan produced a %v finding", f.Depth)
				}
				fixed := f.Fixed
				if multiBlock(snap, f.ID, f.Module) {
					fixed = "(see multiBlock)"
				}
				got = append(got, fmt.Sprintf("%s %s@%s fixed=%s", f.ID, f.Module, f.Version, fixed))
			}
			var want []string
			check := func(module, version, reported string) {
				ms, err := snap.Affects(module, version)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range ms {
					fixed := m.Fixed
					if multiBlock(snap, m.ID, module) {
						fixed = "(see multiBlock)"
					}
					want = append(want, fmt.Sprintf("%s %s@%s fixed=%s", m.ID, module, reported, fixed))
				}
			}
			for _, p := range mods {
				check(p, req[p], req[p])
			}
			check("stdlib", goVersion, vulndb.GoVersionToSemver(goVersion))
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("db %s, %s, requirements %v:\ngovulncheck:\n\t%s\nAffects:\n\t%s",
					db, goVersion, req, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
			}
		})
	}
}

// multiBlock reports whether entry id names module in more than one
// affected block. There the fixed versions deliberately differ:
// govulncheck computes the fix from the blocks affecting the version only,
// so it may name a version another block of the same entry still covers
// (GO-2099-0012: v1.3.5 for v1.3.0); Affects names the first fix that the
// entry does not cover at all (v1.5.0), which is what the proxy can
// actually serve.
func multiBlock(s *vulndb.Snapshot, id, module string) bool {
	e, ok := s.Index().Entry(id)
	if !ok {
		return false
	}
	n := 0
	for _, a := range e.Affected {
		if a.Module.Path == module {
			n++
		}
	}
	return n > 1
}

// writeApp writes a main module requiring req and importing the root
// package of each required module.
func writeApp(t *testing.T, req map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	var gomod, imports strings.Builder
	gomod.WriteString("module example.com/app\n\ngo 1.21\n\nrequire (\n")
	paths := make([]string, 0, len(req))
	for p := range req {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		fmt.Fprintf(&gomod, "\t%s %s\n", p, req[p])
		fmt.Fprintf(&imports, "\t_ %q\n", p)
	}
	gomod.WriteString(")\n")
	main := "package main\n\nimport (\n" + imports.String() + ")\n\nfunc main() {}\n"
	for name, data := range map[string]string{"go.mod": gomod.String(), "main.go": main} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
