package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/scanner/check"
	"github.com/modgate/modgate/scanner/check/checktest"
)

// runIn runs modgate in-process with env.
func runIn(env []string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(""), &out, &errb, env)
	return code, out.String(), errb.String()
}

func kindsOf(t *testing.T, jsonFile string) []string {
	t.Helper()
	data, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Findings []check.Finding
		ExitCode int `json:"exit_code"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", jsonFile, err)
	}
	var kinds []string
	for _, f := range doc.Findings {
		kinds = append(kinds, string(f.Kind)+":"+f.Subject())
	}
	slices.Sort(kinds)
	return kinds
}

func TestCheckCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command and govulncheck")
	}
	w := checktest.NewWorld(t)
	denied := w.Repo(t, "denied")
	called := w.Repo(t, "vulncalled")
	clean := w.Repo(t, "clean")
	env := w.GoEnv
	for _, tc := range []struct {
		name  string
		dir   string
		args  []string
		code  int
		kinds []string
		err   string
	}{
		{name: "denied via the decision API", dir: denied.Dir, args: []string{"--proxy", w.PolicyGate.URL, "--vulndb", w.VulnDB}, code: 1,
			kinds: []string{"policy-deny:example.com/hello@v1.0.0", "policy-warn:example.com/dep@v1.0.0"}},
		{name: "warn-only", dir: denied.Dir, args: []string{"--proxy", w.PolicyGate.URL, "--no-vulns", "--warn-only"}, code: 0,
			kinds: []string{"policy-deny:example.com/hello@v1.0.0", "policy-warn:example.com/dep@v1.0.0"}},
		{name: "fail on warnings only of policy-warn kind", dir: denied.Dir, args: []string{"--proxy", w.PolicyGate.URL, "--no-vulns", "--fail-on", "vuln-called"}, code: 0,
			kinds: []string{"policy-deny:example.com/hello@v1.0.0", "policy-warn:example.com/dep@v1.0.0"}},
		// In-process: the built-in rules deny the reviewed vulnerability
		// and govulncheck finds the call.
		{name: "built-in policy in-process", dir: called.Dir, args: []string{"--vulndb", w.VulnDB}, code: 1,
			kinds: []string{"policy-deny:example.com/vulnlib@v1.0.0", "vuln-called:example.com/vulnlib@v1.0.0"}},
		{name: "policy file in-process", dir: called.Dir, args: []string{"--vulndb", w.VulnDB, "--policy", writePolicy(t, "vulns:\n  ignore: [GO-2099-0101]\n")}, code: 1,
			kinds: []string{"vuln-called:example.com/vulnlib@v1.0.0"}},
		{name: "clean", dir: clean.Dir, args: []string{"--vulndb", w.VulnDB}, code: 0},
		{name: "proxy down", dir: clean.Dir, args: []string{"--proxy", "http://127.0.0.1:1", "--no-vulns"}, code: 2, err: "decision API"},
		{name: "bad vulndb", dir: clean.Dir, args: []string{"--vulndb", "file:///nonexistent/db"}, code: 2, err: "vulnerability database"},
		{name: "bad format", dir: clean.Dir, args: []string{"--format", "xml"}, code: 2, err: "--format"},
		{name: "bad fail-on", dir: clean.Dir, args: []string{"--fail-on", "fatal"}, code: 2, err: "--fail-on"},
		{name: "proxy and policy", dir: clean.Dir, args: []string{"--proxy", "http://x", "--policy", "p.yaml"}, code: 2, err: "exclusive"},
		{name: "no module", dir: t.TempDir(), args: []string{"--no-vulns"}, code: 2, err: "no go.mod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jsonFile := filepath.Join(t.TempDir(), "report.json")
			sarifFile := filepath.Join(t.TempDir(), "out", "report.sarif")
			args := append([]string{"check", "--json", jsonFile, "--sarif", sarifFile}, tc.args...)
			code, stdout, stderr := runIn(env, append(args, tc.dir)...)
			if code != tc.code {
				t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			if tc.err != "" {
				if !strings.Contains(stderr, tc.err) {
					t.Errorf("stderr lacks %q:\n%s", tc.err, stderr)
				}
				return
			}
			if got := kindsOf(t, jsonFile); strings.Join(got, " ") != strings.Join(tc.kinds, " ") {
				t.Errorf("findings = %v, want %v\n%s", got, tc.kinds, stdout)
			}
			if _, err := os.Stat(sarifFile); err != nil {
				t.Errorf("SARIF file not written: %v", err)
			}
			if !strings.Contains(stdout, "PASS:") && !strings.Contains(stdout, "FAIL:") && !strings.Contains(stdout, "WARN:") {
				t.Errorf("text output lacks a verdict:\n%s", stdout)
			}
			if strings.Contains(stdout, "::error") {
				t.Errorf("annotations outside GitHub Actions:\n%s", stdout)
			}
		})
	}
}

func writePolicy(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCheckInActions: with the GitHub Actions variables set, the check
// writes annotations, the job summary and the step outputs.
func TestCheckInActions(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	w := checktest.NewWorld(t)
	fx := w.Repo(t, "denied")
	tmp := t.TempDir()
	summary, output := filepath.Join(tmp, "summary.md"), filepath.Join(tmp, "output")
	os.WriteFile(summary, []byte("previous step\n"), 0o644)
	env := append(slices.Clip(w.GoEnv), "GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY="+summary, "GITHUB_OUTPUT="+output, "GITHUB_WORKSPACE="+fx.Dir)
	sarif := filepath.Join(tmp, "modgate.sarif")
	code, stdout, stderr := runIn(env, "check", "--proxy", w.PolicyGate.URL, "--no-vulns", "--sarif", sarif, filepath.Join(fx.Dir, "."))
	if code != 1 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "::error file=go.mod,line=7,title=modgate policy-deny policy/blocked::example.com/hello@v1.0.0 is denied") ||
		!strings.Contains(stdout, "::warning file=go.mod,line=5,") {
		t.Errorf("annotations missing:\n%s", stdout)
	}
	sum, _ := os.ReadFile(summary)
	if !strings.HasPrefix(string(sum), "previous step\n") || !strings.Contains(string(sum), "## ❌ modgate check") || !strings.Contains(string(sum), "```mermaid") {
		t.Errorf("summary:\n%s", sum)
	}
	out, _ := os.ReadFile(output)
	for _, want := range []string{"findings=2\n", "failing=1\n", "result=fail\n", "sarif-file=" + sarif + "\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("outputs lack %q:\n%s", want, out)
		}
	}
}

func TestGraphCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	w := checktest.NewWorld(t)
	denied := w.Repo(t, "denied")
	diff := w.Repo(t, "diff")
	env := append(slices.Clip(w.GoEnv), "GOWORK=off")
	for _, tc := range []struct {
		name string
		dir  string
		args []string
		code int
		want []string
	}{
		{"dot annotated", denied.Dir, []string{"--proxy", w.PolicyGate.URL}, 0,
			[]string{"digraph modules {", `"example.com/denied" -> "example.com/dep";`, `"example.com/hello" [label="example.com/hello\nv1.0.0", fillcolor="#fecaca"`}},
		{"mermaid", denied.Dir, []string{"--format", "mermaid", "--vulndb", w.VulnDB}, 0, []string{"flowchart LR", `["example.com/dep<br/>v1.0.0"]`}},
		{"updates", denied.Dir, []string{"--format", "mermaid", "--updates"}, 0, []string{`["example.com/hello<br/>v1.0.0 (update v1.2.0)"]`, " outdated\n"}},
		{"why", denied.Dir, []string{"--why", "example.com/hello"}, 0,
			[]string{"example.com/denied → example.com/hello\n"}},
		{"why json", denied.Dir, []string{"--why", "example.com/hello", "--format", "json"}, 0, []string{`"why": {`, `"module": "example.com/hello"`}},
		{"why missing", denied.Dir, []string{"--why", "example.com/nope"}, 1, nil},
		{"focus depth", denied.Dir, []string{"--focus", "example.com/dep", "--depth", "1", "--format", "text"}, 0, []string{"example.com/dep example.com/hello@v1.0.0"}},
		{"svg", denied.Dir, []string{"--format", "svg"}, 0, []string{"<svg"}},
		{"svg without graphviz", denied.Dir, []string{"--format", "svg", "--dot", "/nonexistent/dot"}, 2, nil},
		{"snapshot", denied.Dir, []string{"--format", "github-snapshot"}, 0,
			[]string{`"package_url": "pkg:golang/example.com/dep@v1.0.0"`, `"relationship": "direct"`, `"ref": "refs/heads/main"`, `"sha": "` + denied.Commits[0] + `"`}},
		{"diff", diff.Dir, []string{"--diff", diff.Commits[0]}, 0,
			[]string{"↑ example.com/hello v1.0.0 → v1.2.0  (example.com/diff requires v1.2.0)", "+ example.com/dep@v1.0.0", "- example.com/deprecated@v1.0.0", "↓ example.com/vulnlib v1.1.0 → v1.0.1"}},
		{"diff json", diff.Dir, []string{"--diff", diff.Commits[0] + "", "--format", "json"}, 0, []string{`"upgraded": [`, `"added_edges": [`}},
		{"diff mermaid", diff.Dir, []string{"--diff", "HEAD~1", "--format", "mermaid"}, 0, []string{"class ", " added"}},
		{"bad format", denied.Dir, []string{"--format", "png"}, 2, nil},
		{"diff and why", diff.Dir, []string{"--diff", "HEAD~1", "--why", "x"}, 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "svg" {
				if _, err := exec.LookPath("dot"); err != nil && os.Getenv("CI") != "true" {
					t.Skip("Graphviz dot not installed (required under CI)")
				}
			}
			code, stdout, stderr := runIn(env, append(append([]string{"graph"}, tc.args...), tc.dir)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			for _, want := range tc.want {
				if !strings.Contains(stdout, want) {
					t.Errorf("output lacks %q:\n%s", want, stdout)
				}
			}
			if tc.name == "svg without graphviz" && !strings.Contains(stderr, "graphviz package") {
				t.Errorf("stderr does not name the package to install:\n%s", stderr)
			}
		})
	}
}

// BenchmarkCheckPolicy150 evaluates a synthetic 150-module build list
// with the real core (facts through the hermetic upstream, built-in rules,
// the fixture vulnerability database, decision cache disabled so every
// iteration evaluates all 150) through the check's in-process policy path.
// Target: < 1 s.
func BenchmarkCheckPolicy150(b *testing.B) {
	w := checktest.NewWorld(b)
	ctx := context.Background()
	c := testCore(b, w.Up, "  cache: {ttl: -1}\n  cooldown: {days: 3}\n", filepath.Join(w.Testdata, "osv"))
	mods := make([]check.ModuleQuery, 150)
	for i := range mods {
		mods[i] = check.ModuleQuery{Path: fmt.Sprintf("example.com/mod%03d", i), Version: fmt.Sprintf("v1.%d.0", i%9)}
	}
	mods[7] = check.ModuleQuery{Path: "example.com/vulnlib", Version: "v1.0.0"}
	pol := &check.DeciderPolicy{Decider: c.decider}
	for b.Loop() {
		ds, err := pol.Evaluate(ctx, proxy.KindZip, mods)
		if err != nil {
			b.Fatal(err)
		}
		if ds[7].Allowed() {
			b.Fatal("vulnerable module allowed")
		}
	}
}
