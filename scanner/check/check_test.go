package check_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/scanner/check"
	"github.com/modgate/modgate/scanner/check/checktest"
	"github.com/modgate/modgate/scanner/graph"
	"github.com/modgate/modgate/scanner/report"
)

// findingLine renders a finding as the fixtures' want files do.
func findingLine(f *check.Finding) string {
	return fmt.Sprintf("%s %s %s:%d %s %s", f.Severity, f.Kind, f.File, f.Line, f.Subject(), f.Rule)
}

func runFixture(t *testing.T, w *checktest.World, fx *checktest.Fixture, pol check.Policy) *check.Report {
	t.Helper()
	rep, err := check.Run(context.Background(), check.Options{
		Dir:               fx.Dir,
		Go:                graph.GoCmd{Env: w.GoEnv},
		Policy:            pol,
		Vulns:             &check.Govulncheck{DB: w.VulnDB},
		VulnIndex:         w.VulnSnapshot,
		AllowLocalReplace: fx.Header["allow-local-replace"],
	})
	if err != nil {
		t.Fatalf("Run(%s): %v", fx.Name, err)
	}
	return rep
}

// TestFixtures runs the check on every fixture repository with the
// remote policy (the decision API of a running modgate) and compares
// findings, exit code and every output format.
func TestFixtures(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command and govulncheck")
	}
	w := checktest.NewWorld(t)
	schema := sarifSchema(t)
	for _, name := range checktest.Fixtures(t) {
		if name == "diff" {
			continue // a graph --diff fixture
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fx := w.Repo(t, name)
			rep := runFixture(t, w, fx, &check.RemotePolicy{URL: w.PolicyGate.URL})
			var got []string
			for _, f := range rep.Findings {
				got = append(got, findingLine(f))
			}
			if strings.Join(got, "\n") != strings.Join(fx.Want, "\n") {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(fx.Want, "\n"))
				for _, f := range rep.Findings {
					t.Logf("%s: %s\n%s", f.Kind, f.Message, f.Detail)
				}
			}
			in := report.Info{FailOn: check.FailOn{}, ToolVersion: "test"}
			if code := in.ExitCode(rep); code != fx.Exit {
				t.Errorf("exit code = %d, want %d", code, fx.Exit)
			}
			if warn := (report.Info{WarnOnly: true}); warn.ExitCode(rep) != 0 {
				t.Errorf("--warn-only exit code = %d, want 0", warn.ExitCode(rep))
			}
			checkOutputs(t, rep, in, schema)
		})
	}
}

// checkOutputs validates every output format of rep.
func checkOutputs(t *testing.T, rep *check.Report, in report.Info, schema *jsonschema.Schema) {
	t.Helper()
	// SARIF: valid against the SARIF 2.1.0 schema, one result per
	// finding anchored at the finding's file and line.
	var sarif bytes.Buffer
	if err := report.WriteSARIF(&sarif, rep, in); err != nil {
		t.Fatal(err)
	}
	validateSARIF(t, schema, sarif.Bytes())
	var log struct {
		Runs []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }    `json:"artifactLocation"`
						Region           struct{ StartLine int } `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(sarif.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Runs) != 1 || len(log.Runs[0].Results) != len(rep.Findings) {
		t.Fatalf("SARIF has %d runs / results for %d findings", len(log.Runs), len(rep.Findings))
	}
	for i, r := range log.Runs[0].Results {
		f := rep.Findings[i]
		loc := r.Locations[0].PhysicalLocation
		if r.RuleID != f.Rule || r.Level != f.Severity.String() || loc.ArtifactLocation.URI != f.File || loc.Region.StartLine != f.Line {
			t.Errorf("SARIF result %d = %s %s %s:%d, want %s", i, r.RuleID, r.Level, loc.ArtifactLocation.URI, loc.Region.StartLine, findingLine(f))
		}
	}

	// JSON: round-trips the findings and the verdict.
	var js bytes.Buffer
	if err := report.WriteJSON(&js, rep, in); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version  int
		Findings []check.Finding
		ExitCode int `json:"exit_code"`
		Modules  []check.ModuleReport
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatalf("JSON output: %v", err)
	}
	if doc.Version != report.JSONVersion || len(doc.Findings) != len(rep.Findings) || doc.ExitCode != in.ExitCode(rep) || len(doc.Modules) != len(rep.Modules) {
		t.Errorf("JSON output = version %d, %d findings, exit %d", doc.Version, len(doc.Findings), doc.ExitCode)
	}
	for i := range doc.Findings {
		if findingLine(&doc.Findings[i]) != findingLine(rep.Findings[i]) {
			t.Errorf("JSON finding %d = %s, want %s", i, findingLine(&doc.Findings[i]), findingLine(rep.Findings[i]))
		}
	}

	// Annotations: one workflow command per finding, on the right line.
	var ann bytes.Buffer
	if err := report.WriteAnnotations(&ann, rep, in); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(ann.String(), "\n"), "\n")
	if ann.Len() == 0 {
		lines = nil
	}
	if len(lines) != len(rep.Findings) {
		t.Fatalf("%d annotations for %d findings:\n%s", len(lines), len(rep.Findings), ann.String())
	}
	cmdRE := regexp.MustCompile(`^::(error|warning|notice) file=([^,]+),line=(\d+),title=([^:]+)::(.+)$`)
	for i, ln := range lines {
		m := cmdRE.FindStringSubmatch(ln)
		f := rep.Findings[i]
		wantCmd := map[check.Severity]string{check.SeverityError: "error", check.SeverityWarning: "warning", check.SeverityNote: "notice"}[f.Severity]
		if m == nil || m[1] != wantCmd || m[2] != f.File || m[3] != fmt.Sprint(f.Line) {
			t.Errorf("annotation %q does not match %s", ln, findingLine(f))
		}
	}

	// Text: the verdict.
	var text bytes.Buffer
	if err := report.WriteText(&text, rep, in); err != nil {
		t.Fatal(err)
	}
	wantVerdict := "PASS:"
	if in.Failed(rep) {
		wantVerdict = "FAIL:"
	}
	if !strings.Contains(text.String(), "\n"+wantVerdict) {
		t.Errorf("text output lacks %q:\n%s", wantVerdict, text.String())
	}

	// Markdown: a findings table row per finding, and Mermaid graphs that
	// parse and color every flagged module.
	var md bytes.Buffer
	if err := report.WriteMarkdown(&md, rep, in); err != nil {
		t.Fatal(err)
	}
	checkMarkdown(t, rep, md.String())
}

var mermaidBlock = regexp.MustCompile("(?s)```mermaid\n(.*?)```")

func checkMarkdown(t *testing.T, rep *check.Report, md string) {
	t.Helper()
	for _, f := range rep.Findings {
		if !strings.Contains(md, "| `"+string(f.Kind)+"` |") {
			t.Errorf("Markdown lacks a row for %s", findingLine(f))
		}
	}
	flagged := map[string]string{}
	for _, f := range rep.Findings {
		switch f.Kind {
		case check.KindPolicyDeny:
			flagged[f.Module] = "denied"
		case check.KindVulnCalled, check.KindVulnImported, check.KindVulnRequired:
			if flagged[f.Module] == "" {
				flagged[f.Module] = "vulnerable"
			}
		case check.KindPolicyWarn:
			if flagged[f.Module] == "" {
				flagged[f.Module] = "warned"
			}
		}
	}
	blocks := mermaidBlock.FindAllStringSubmatch(md, -1)
	if len(flagged) > 0 && len(blocks) == 0 {
		t.Fatalf("Markdown has no Mermaid graph for flagged modules %v:\n%s", flagged, md)
	}
	if len(flagged) == 0 && len(blocks) > 0 {
		t.Errorf("Markdown has a Mermaid graph but nothing is flagged")
	}
	seen := map[string]bool{}
	for _, b := range blocks {
		mm, err := graph.ParseMermaid(strings.NewReader(b[1]))
		if err != nil {
			t.Fatalf("Mermaid graph does not parse: %v\n%s", err, b[1])
		}
		for mod, class := range flagged {
			id := mm.NodeByLabelPrefix(mod)
			if id == "" {
				continue
			}
			seen[mod] = true
			if mm.Classes[id] != class {
				t.Errorf("Mermaid node %s has class %q, want %q", mod, mm.Classes[id], class)
			}
			// The node is reachable from a main-module node.
			if !reachesFromMain(mm, id) {
				t.Errorf("Mermaid graph has no path to %s:\n%s", mod, b[1])
			}
		}
	}
	for mod := range flagged {
		if !seen[mod] {
			t.Errorf("flagged module %s missing from the Mermaid graphs", mod)
		}
	}
}

func reachesFromMain(mm *graph.Mermaid, target string) bool {
	preds := map[string][]string{}
	for _, e := range mm.Edges {
		preds[e.To] = append(preds[e.To], e.From)
	}
	seen := map[string]bool{}
	stack := []string{target}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if mm.Classes[cur] == "main" {
			return true
		}
		for _, p := range preds[cur] {
			if !seen[p] {
				seen[p] = true
				stack = append(stack, p)
			}
		}
	}
	return false
}

func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join(checktest.Testdata(t), "sarif-schema-2.1.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("sarif-schema-2.1.0.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validateSARIF(t *testing.T, s *jsonschema.Schema, data []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("SARIF is not JSON: %v", err)
	}
	if err := s.Validate(inst); err != nil {
		t.Fatalf("SARIF is invalid: %v\n%s", err, data)
	}
}

// TestSARIFSchemaRejects makes sure the validator is live: documents
// breaking the schema are refused.
func TestSARIFSchemaRejects(t *testing.T) {
	s := sarifSchema(t)
	for _, doc := range []string{
		`{"version":"2.1.0"}`,
		`{"version":"2.0.0","runs":[]}`,
		`{"version":"2.1.0","runs":[{"tool":{"driver":{}}}]}`,
		`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"level":"fatal"}]}]}`,
		`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"message":{"text":"m"},"locations":[{"physicalLocation":{"region":{"startLine":0}}}]}]}]}`,
	} {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		if s.Validate(inst) == nil {
			t.Errorf("schema accepted invalid SARIF %s", doc)
		}
	}
}

// TestInProcessPolicy applies the same policy through a proxy.Decider
// in-process and expects the same findings as through the decision API.
func TestInProcessPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command and govulncheck")
	}
	w := checktest.NewWorld(t)
	fx := w.Repo(t, "denied")
	rep := runFixture(t, w, fx, &check.DeciderPolicy{Decider: proxy.Filter{Facts: w.PolicyGate.Facts, Func: checktest.Decider{}.Decide}})
	var got []string
	for _, f := range rep.Findings {
		got = append(got, findingLine(f))
	}
	if strings.Join(got, "\n") != strings.Join(fx.Want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(fx.Want, "\n"))
	}
	if rep.PolicyEvaluated != 2 {
		t.Errorf("PolicyEvaluated = %d, want 2 (dep and hello)", rep.PolicyEvaluated)
	}

	// A failing decider makes the check inconclusive, never clean.
	_, err := check.Run(context.Background(), check.Options{Dir: fx.Dir, Go: graph.GoCmd{Env: w.GoEnv}, SkipRepro: true,
		Policy: &check.DeciderPolicy{Decider: proxy.Filter{Facts: w.PolicyGate.Facts, Func: failDecide}}})
	if err == nil || !strings.Contains(err.Error(), "policy engine down") {
		t.Errorf("Run with a failing decider: err = %v, want the decider's error", err)
	}
}

func failDecide(context.Context, proxy.Query) (proxy.Decision, error) {
	return proxy.Decision{}, errors.New("policy engine down")
}

// TestAllowLocalReplace: the same fixture passes when its replacement is
// allowed.
func TestAllowLocalReplace(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	w := checktest.NewWorld(t)
	fx := w.Repo(t, "localreplace")
	rep, err := check.Run(context.Background(), check.Options{Dir: fx.Dir, Go: graph.GoCmd{Env: w.GoEnv}, AllowLocalReplace: "example.com/localdep"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 0 {
		t.Errorf("findings with the replacement allowed: %v", rep.Findings)
	}
	if len(rep.Modules) != 2 {
		t.Errorf("checked %d modules, want 2 (the replaced directory is a module too)", len(rep.Modules))
	}
	if len(rep.Notes) != 2 {
		t.Errorf("Notes = %q, want the skipped policy and vulnerability checks", rep.Notes)
	}
}

// TestWorkspace: both modules and the workspace build list are checked.
func TestWorkspace(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	w := checktest.NewWorld(t)
	fx := w.Repo(t, "workspace")
	rep, err := check.Run(context.Background(), check.Options{Dir: fx.Dir, Go: graph.GoCmd{Env: w.GoEnv}, Policy: &check.RemotePolicy{URL: w.PolicyGate.URL}})
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, m := range rep.Modules {
		files = append(files, m.File+"="+m.Workspace)
	}
	if strings.Join(files, " ") != "go.mod=go.work tools/go.mod=go.work" {
		t.Errorf("modules = %v", files)
	}
	if len(rep.Workspaces) != 1 || rep.Workspaces[0].File != "go.work" || rep.Workspaces[0].Graph == nil {
		t.Fatalf("workspaces = %+v", rep.Workspaces)
	}
	ws := rep.Workspaces[0].Graph
	if len(ws.Mains()) != 2 || ws.Modules["example.com/hello"].Version != "v1.1.0" {
		t.Errorf("workspace graph mains %v, hello %+v", ws.Mains(), ws.Modules["example.com/hello"])
	}
	// tools alone selects hello v1.0.0 (denied by the test policy); the
	// workspace selects v1.1.0. Policy judged both build lists.
	var denied []string
	for _, f := range rep.Findings {
		denied = append(denied, findingLine(f))
	}
	want := []string{
		"error policy-deny tools/go.mod:7 example.com/hello@v1.0.0 policy/blocked",
		"warning policy-warn tools/go.mod:5 example.com/dep@v1.0.0 policy/cooldown",
	}
	if strings.Join(denied, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(denied, "\n"), strings.Join(want, "\n"))
	}
}

// TestRunErrors: problems that make the check inconclusive are errors.
func TestRunErrors(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		name string
		opts check.Options
		want string
	}{
		{"no dir", check.Options{}, "Dir is required"},
		{"missing dir", check.Options{Dir: filepath.Join(empty, "nope")}, "no such file"},
		{"no go.mod", check.Options{Dir: empty}, "no go.mod found"},
		{"bad kind", check.Options{Dir: empty, PolicyKind: "tarball"}, "PolicyKind"},
	} {
		_, err := check.Run(context.Background(), tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Run error = %v, want %q", tc.name, err, tc.want)
		}
	}
	// No go command at all is an infrastructure error, not a finding.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/x\n\ngo 1.21\n"), 0o644)
	_, err := check.Run(context.Background(), check.Options{Dir: dir, Go: graph.GoCmd{Path: filepath.Join(dir, "no-such-go")}})
	if err == nil || !strings.Contains(err.Error(), "no-such-go") {
		t.Errorf("Run without a go command: err = %v", err)
	}
}

func TestParseFailOn(t *testing.T) {
	note := &check.Finding{Kind: check.KindVulnRequired, Severity: check.SeverityNote}
	warn := &check.Finding{Kind: check.KindPolicyWarn, Severity: check.SeverityWarning}
	deny := &check.Finding{Kind: check.KindPolicyDeny, Severity: check.SeverityError}
	called := &check.Finding{Kind: check.KindVulnCalled, Severity: check.SeverityError}
	for _, tc := range []struct {
		in   string
		fail []*check.Finding
		pass []*check.Finding
	}{
		{"", []*check.Finding{deny, called}, []*check.Finding{note, warn}},
		{"error", []*check.Finding{deny, called}, []*check.Finding{note, warn}},
		{"warning", []*check.Finding{deny, warn}, []*check.Finding{note}},
		{"note", []*check.Finding{note, warn, deny}, nil},
		{"none", nil, []*check.Finding{note, warn, deny, called}},
		{"vuln-called", []*check.Finding{called}, []*check.Finding{deny, warn, note}},
		{"policy", []*check.Finding{deny, warn}, []*check.Finding{called, note}},
		{"vuln,policy-deny", []*check.Finding{note, called, deny}, []*check.Finding{warn}},
	} {
		f, err := check.ParseFailOn(tc.in)
		if err != nil {
			t.Errorf("ParseFailOn(%q): %v", tc.in, err)
			continue
		}
		for _, fd := range tc.fail {
			if !f.Fails(fd) {
				t.Errorf("ParseFailOn(%q).Fails(%s) = false", tc.in, fd.Kind)
			}
		}
		for _, fd := range tc.pass {
			if f.Fails(fd) {
				t.Errorf("ParseFailOn(%q).Fails(%s) = true", tc.in, fd.Kind)
			}
		}
		if g, err := check.ParseFailOn(f.String()); err != nil || g.String() != f.String() {
			t.Errorf("ParseFailOn(%q).String() = %q does not round-trip", tc.in, f.String())
		}
	}
	for _, bad := range []string{"fatal", "none,error", "vuln-maybe"} {
		if _, err := check.ParseFailOn(bad); err == nil {
			t.Errorf("ParseFailOn(%q) succeeded", bad)
		}
	}
}
