package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modgate/modgate/proxy/api"
	"github.com/modgate/modgate/scanner/check/checktest"
	"github.com/modgate/modgate/scanner/vex"
	"github.com/modgate/modgate/scanner/vex/vextest"
)

// TestCheckVEX runs `modgate check --vex` on the vulnerability fixtures
// and loads what it wrote back: the index answers for the fixture's
// module version as govulncheck found it.
func TestCheckVEX(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command and govulncheck")
	}
	w := checktest.NewWorld(t)
	schema := vextest.Schema(t)
	for _, tc := range []struct {
		fixture string
		code    int
		status  vex.Status
		just    vex.Justification
	}{
		{"vulncalled", 1, vex.StatusAffected, ""},
		{"vulnimported", 0, vex.StatusNotAffected, vex.JustificationVulnerableCodeNotInExecutePath},
		{"vulnrequired", 0, vex.StatusNotAffected, vex.JustificationVulnerableCodeNotPresent},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			fx := w.Repo(t, tc.fixture)
			out := filepath.Join(t.TempDir(), "vex", "modgate.vex.json")
			code, stdout, stderr := runIn(w.GoEnv, "check", "--proxy", w.PolicyGate.URL, "--vulndb", w.VulnDB, "--vex", out, fx.Dir)
			if code != tc.code {
				t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("--vex file: %v", err)
			}
			vextest.Validate(t, schema, data)
			ix, err := vex.Load(out)
			if err != nil {
				t.Fatalf("Load(%s): %v", out, err)
			}
			sts := ix.Statements("example.com/vulnlib", "v1.0.0")
			if len(sts) != 1 {
				t.Fatalf("Statements(example.com/vulnlib@v1.0.0) = %+v, want one\n%s", sts, data)
			}
			st := sts[0]
			if st.Vulnerability != "GO-2099-0101" || strings.Join(st.Aliases, ",") != "CVE-2099-0101" ||
				st.Status != tc.status || st.Justification != tc.just || st.Product != "pkg:golang/example.com/"+tc.fixture {
				t.Errorf("statement = %+v, want GO-2099-0101 %s %s for example.com/%s\n%s", st, tc.status, tc.just, tc.fixture, data)
			}
			if tc.status == vex.StatusAffected && st.ActionStatement != "Upgrade example.com/vulnlib to v1.0.1 or later." {
				t.Errorf("action statement = %q", st.ActionStatement)
			}
			if _, ok := ix.Lookup("example.com/vulnlib", "v1.0.1", "GO-2099-0101"); ok {
				t.Errorf("a statement about v1.0.0 matches v1.0.1")
			}
		})
	}
	code, _, stderr := runIn(w.GoEnv, "check", "--no-vulns", "--vex", filepath.Join(t.TempDir(), "x.json"), t.TempDir())
	if code != 2 || !strings.Contains(stderr, "--no-vulns") {
		t.Errorf("--vex with --no-vulns: exit %d, stderr %q; want a usage error", code, stderr)
	}
}

// TestVEXExceptsAtTheProxy closes the loop: a VEX document written by
// `modgate check --vex` for a repository that imports the vulnerable
// package without calling the vulnerable symbol lets the proxy serve that
// version (with a warning naming the document); one where it is called
// does not.
func TestVEXExceptsAtTheProxy(t *testing.T) {
	w := checktest.NewWorld(t)
	for _, tc := range []struct {
		fixture string
		allowed bool
	}{{"vulnimported", true}, {"vulncalled", false}} {
		t.Run(tc.fixture, func(t *testing.T) {
			fx := w.Repo(t, tc.fixture)
			doc := filepath.Join(t.TempDir(), "vex", tc.fixture+".vex.json")
			if code, _, stderr := runIn(w.GoEnv, "check", "--proxy", w.PolicyGate.URL, "--vulndb", w.VulnDB, "--vex", doc, fx.Dir); code > 1 {
				t.Fatalf("check --vex = exit %d\n%s", code, stderr)
			}
			e := startEnforcingOpts(t, enforceOptions{up: w.Up, policy: "  vex: [" + filepath.Dir(doc) + "]\n"})
			ds, err := (&api.Client{URL: e.url}).Decide(context.Background(), "", []api.ModuleVersion{{Path: "example.com/vulnlib", Version: "v1.0.0"}})
			if err != nil {
				t.Fatal(err)
			}
			d := ds[0]
			if d.Allowed != tc.allowed {
				t.Fatalf("vulnlib@v1.0.0 with the %s VEX: allowed = %v, want %v (%+v)", tc.fixture, d.Allowed, tc.allowed, d)
			}
			if tc.allowed {
				found := false
				for _, v := range d.Warn {
					found = found || v.Rule == "exceptions" && strings.Contains(v.Msg, "vulnerable_code_not_in_execute_path per VEX "+doc)
				}
				if !found {
					t.Errorf("no warning names the VEX exception: %+v", d.Warn)
				}
			}
			// The go command gets the same answer.
			out, err := e.run(t, "", "mod", "download", "example.com/vulnlib@v1.0.0")
			if (err == nil) != tc.allowed {
				t.Errorf("go mod download vulnlib@v1.0.0 = %v, want allowed %v:\n%s", err, tc.allowed, out)
			}
		})
	}
}
