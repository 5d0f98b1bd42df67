package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/proxy/api"
	"github.com/modgate/modgate/proxy/proxytest"
	"github.com/modgate/modgate/scanner/vex"
)

// verdict is what an entry point said about one module version.
type verdict struct {
	allowed bool
	rules   []string // denying rules, sorted
}

func (v verdict) String() string {
	if v.allowed {
		return "allow"
	}
	return "deny " + strings.Join(v.rules, ",")
}

// consistencyCase is one module version of the consistency table.
type consistencyCase struct {
	name, path, version string
	want                verdict
}

// consistencyPolicy makes each row of the table meet one rule.
const consistencyPolicy = `  cooldown:
    days: 7
  pseudo: warn
  lists:
    blocked:
      - module: example.com/dep
        reason: replaced by example.com/hello
  waivers:
    - module: example.com/deprecated
      versions: "= v1.0.0"
      rules: [vulnerabilities]
      reason: the vulnerable parser is not used
      owner: platform-team
      expires: 2030-01-01
`

// TestOneVerdictEverywhere decides a table of module versions through every
// entry point (the go command and direct HTTP against serve, the decision
// API, modgate policy eval, modgate check, and the bot's client of the
// decision API) and expects the same verdict and rule IDs from each.
func TestOneVerdictEverywhere(t *testing.T) {
	osv := t.TempDir()
	writeOSV(t, osv, "GO-2099-0201", "example.com/deprecated", "1.1.0")
	writeOSV(t, osv, "GO-2099-0203", "example.com/nomod", "1.0.1")
	vexDir := t.TempDir()
	f, err := os.Create(filepath.Join(vexDir, "app.vex.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := (&vex.Writer{Now: func() time.Time { return time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC) }}).Write(f, []vex.Fact{{
		Product: "example.com/app", Module: "example.com/nomod", Version: "v1.0.0", Vulnerability: "GO-2099-0203", Reachability: vex.Imported}}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	e := startEnforcingOpts(t, enforceOptions{policy: consistencyPolicy + "  vex: [" + vexDir + "]\n", osv: []string{osv}})
	now := e.clock.Now()
	add := func(path, version string, at time.Time) {
		e.up.Add(proxytest.Module{Path: path, Version: version, Time: at,
			GoMod: []byte("module " + path + "\n\ngo 1.21\n"), Files: map[string]string{"x.go": "package x\n"}})
	}
	add("example.com/preonly", "v0.1.0-beta.1", now.AddDate(0, -3, 0))
	add("example.com/untagged", "v0.0.0-20250105000000-aaaaaaaaaaaa", time.Date(2025, 1, 5, 0, 0, 0, 0, time.UTC))
	add("example.com/fresh", "v1.0.0", now.Add(-24*time.Hour))

	cases := []consistencyCase{
		{"vulnerable", "example.com/vulnlib", "v1.0.0", verdict{rules: []string{"vulnerabilities"}}},
		{"retracted", "example.com/retracted", "v1.0.1", verdict{rules: []string{"retracted"}}},
		{"pre-release only", "example.com/preonly", "v0.1.0-beta.1", verdict{allowed: true}},
		{"pseudo-version only", "example.com/untagged", "v0.0.0-20250105000000-aaaaaaaaaaaa", verdict{allowed: true}},
		{"cooldown-young", "example.com/fresh", "v1.0.0", verdict{rules: []string{"cooldown"}}},
		{"blocked", "example.com/dep", "v1.0.0", verdict{rules: []string{"blocklist"}}},
		{"waived", "example.com/deprecated", "v1.0.0", verdict{allowed: true}},
		{"VEX-excepted", "example.com/nomod", "v1.0.0", verdict{allowed: true}},
		{"clean", "example.com/hello", "v1.1.0", verdict{allowed: true}},
	}
	entries := []struct {
		name   string
		decide func(t *testing.T, cs []consistencyCase) []verdict
	}{
		{"serve over HTTP", e.viaHTTP},
		{"serve via the go command", e.viaGoCommand},
		{"decision API", e.viaDecisionAPI},
		{"bot gate", e.viaBotGate},
		{"policy eval", e.viaPolicyEval},
		{"modgate check", e.viaCheck},
	}
	for _, ep := range entries {
		t.Run(ep.name, func(t *testing.T) {
			got := ep.decide(t, cases)
			for i, c := range cases {
				if got[i].String() != c.want.String() {
					t.Errorf("%s: %s %s@%s = %s, want %s", ep.name, c.name, c.path, c.version, got[i], c.want)
				}
			}
		})
	}
}

// writeOSV writes a reviewed OSV entry affecting module before fixed.
func writeOSV(t *testing.T, dir, id, module, fixed string) {
	t.Helper()
	entry := map[string]any{
		"schema_version": "1.3.1", "id": id, "modified": "2024-01-03T00:00:00Z", "published": "2024-01-02T00:00:00Z",
		"summary": "test entry " + id, "details": "test",
		"affected": []any{map[string]any{
			"package": map[string]any{"name": module, "ecosystem": "Go"},
			"ranges":  []any{map[string]any{"type": "SEMVER", "events": []any{map[string]any{"introduced": "0"}, map[string]any{"fixed": fixed}}}},
		}},
		"database_specific": map[string]any{"review_status": "REVIEWED"},
	}
	data, _ := json.Marshal(entry)
	if err := os.WriteFile(filepath.Join(dir, id+".json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// denyRules reads the denying rules from a 403 body as modgate writes it:
// a headline, then one "rule: reason" line per rule, then fix and note
// lines.
func denyRules(body string) []string {
	var rules []string
	for _, line := range strings.Split(strings.TrimSpace(body), "\n")[1:] {
		line = strings.TrimSpace(line)
		rule, _, ok := strings.Cut(line, ": ")
		if !ok || rule == "fix" || rule == "note" || strings.Contains(rule, " ") {
			continue
		}
		rules = append(rules, rule)
	}
	slices.Sort(rules)
	return rules
}

func (e *enforcing) viaHTTP(t *testing.T, cs []consistencyCase) []verdict {
	out := make([]verdict, len(cs))
	for i, c := range cs {
		resp, err := http.Get(e.url + "/" + c.path + "/@v/" + c.version + ".zip")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			out[i].allowed = true
		case http.StatusForbidden:
			out[i].rules = denyRules(string(body))
		default:
			t.Errorf("GET %s@%s zip = %d %s", c.path, c.version, resp.StatusCode, body)
		}
	}
	return out
}

func (e *enforcing) viaGoCommand(t *testing.T, cs []consistencyCase) []verdict {
	out := make([]verdict, len(cs))
	for i, c := range cs {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/user\n\ngo 1.21\n"), 0o644)
		cmd := exec.Command("go", "mod", "download", c.path+"@"+c.version)
		cmd.Dir, cmd.Env = dir, e.goenv(t)
		text, err := cmd.CombinedOutput()
		if err == nil {
			out[i].allowed = true
			continue
		}
		// The go command prints the body after "server response:".
		_, resp, ok := strings.Cut(string(text), "server response:")
		if !ok || !strings.Contains(string(text), "403 Forbidden") {
			t.Errorf("go mod download %s@%s: %v\n%s", c.path, c.version, err, text)
			continue
		}
		out[i].rules = denyRules(resp)
	}
	return out
}

func (e *enforcing) viaDecisionAPI(t *testing.T, cs []consistencyCase) []verdict {
	c := &api.Client{URL: e.url}
	ds, err := c.Decide(context.Background(), "", mvsOf(cs))
	if err != nil {
		t.Fatal(err)
	}
	return verdictsOf(t, ds)
}

// viaBotGate asks as the update bot does: the module endpoint for listed
// versions (with their facts), the decisions endpoint for the others.
func (e *enforcing) viaBotGate(t *testing.T, cs []consistencyCase) []verdict {
	c := &api.Client{URL: e.url}
	out := make([]verdict, len(cs))
	for i, tc := range cs {
		m, err := c.Module(context.Background(), tc.path, "", "")
		if err != nil {
			t.Fatalf("module %s: %v", tc.path, err)
		}
		found := false
		for _, v := range m.Versions {
			if v.Version == tc.version {
				out[i], found = verdictsOf(t, []api.Decision{v.Decision})[0], true
			}
		}
		if !found {
			ds, err := c.Decide(context.Background(), "", []api.ModuleVersion{{Path: tc.path, Version: tc.version}})
			if err != nil {
				t.Fatal(err)
			}
			out[i] = verdictsOf(t, ds)[0]
		}
	}
	return out
}

func mvsOf(cs []consistencyCase) []api.ModuleVersion {
	mvs := make([]api.ModuleVersion, len(cs))
	for i, c := range cs {
		mvs[i] = api.ModuleVersion{Path: c.path, Version: c.version}
	}
	return mvs
}

func verdictsOf(t *testing.T, ds []api.Decision) []verdict {
	out := make([]verdict, len(ds))
	for i, d := range ds {
		if d.Error != "" {
			t.Errorf("%s@%s: no decision: %s", d.Path, d.Version, d.Error)
		}
		out[i] = verdict{allowed: d.Allowed, rules: d.Rules()}
		slices.Sort(out[i].rules)
	}
	return out
}

// app runs modgate commands in-process at the server's clock, with the go
// command's environment pointing at the server.
func (e *enforcing) app(t *testing.T) (*App, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &App{Stdout: &out, Stderr: &errb, Env: e.goenv(t), Now: e.clock.Now}, &out, &errb
}

func (e *enforcing) viaPolicyEval(t *testing.T, cs []consistencyCase) []verdict {
	out := make([]verdict, len(cs))
	for i, c := range cs {
		app, stdout, stderr := e.app(t)
		code := app.Run(context.Background(), []string{"policy", "eval", "--config", e.cfgFile, c.path + "@" + c.version})
		switch code {
		case 0:
			out[i].allowed = true
		case 1:
			for _, line := range strings.Split(stdout.String(), "\n") {
				if rules, ok := strings.CutPrefix(line, "rules: "); ok {
					out[i].rules = strings.Split(rules, ", ")
					slices.Sort(out[i].rules)
				}
			}
		default:
			t.Errorf("policy eval %s@%s = exit %d\n%s%s", c.path, c.version, code, stdout, stderr)
		}
	}
	return out
}

// viaCheck runs modgate check on a module requiring every row.
func (e *enforcing) viaCheck(t *testing.T, cs []consistencyCase) []verdict {
	dir := t.TempDir()
	var gomod, gosum strings.Builder
	gomod.WriteString("module example.com/consistency\n\ngo 1.21\n\nrequire (\n")
	for _, c := range cs {
		gomod.WriteString("\t" + c.path + " " + c.version + "\n")
		gosum.WriteString(e.up.GoSumLines(c.path, c.version))
	}
	gomod.WriteString(")\n")
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "go.sum"), []byte(gosum.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "c.go"), []byte("package consistency\n"), 0o644)
	report := filepath.Join(t.TempDir(), "report.json")
	app, stdout, stderr := e.app(t)
	code := app.Run(context.Background(), []string{"check", "--skip-repro", "--config", e.cfgFile, "--json", report, dir})
	if code != 0 && code != 1 {
		t.Fatalf("modgate check = exit %d\n%s%s", code, stdout, stderr)
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Findings []struct{ Kind, Rule, Module, Version string }
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	out := make([]verdict, len(cs))
	for i, c := range cs {
		out[i].allowed = true
		for _, f := range rep.Findings {
			if f.Kind == "policy-deny" && f.Module == c.path && f.Version == c.version {
				out[i].allowed = false
				out[i].rules = append(out[i].rules, strings.TrimPrefix(f.Rule, "policy/"))
			}
		}
		slices.Sort(out[i].rules)
	}
	return out
}
