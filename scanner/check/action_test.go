package check_test

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/modgate/modgate/scanner/check/checktest"
)

// repoRoot is the modgate repository (where action.yml lives).
func repoRoot(t *testing.T) string {
	t.Helper()
	return filepath.Dir(filepath.Dir(checktest.Testdata(t)))
}

// action is the subset of action.yml the tests read.
type action struct {
	Name   string
	Inputs map[string]struct {
		Description string
		Required    bool
		Default     string
	}
	Outputs map[string]struct {
		Description string
		Value       string
	}
	Runs struct {
		Using string
		Steps []struct {
			Name             string
			ID               string
			Shell            string
			WorkingDirectory string `yaml:"working-directory"`
			Env              map[string]string
			Run              string
			Uses             string
		}
	}
}

func loadAction(t *testing.T) *action {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a action
	if err := yaml.Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	return &a
}

// TestActionContract: the inputs and outputs the documentation promises.
func TestActionContract(t *testing.T) {
	a := loadAction(t)
	if a.Runs.Using != "composite" {
		t.Errorf("runs.using = %q, want composite", a.Runs.Using)
	}
	for _, in := range []string{"proxy-url", "policy", "fail-on", "warn-only", "working-directory", "sarif-file"} {
		if _, ok := a.Inputs[in]; !ok {
			t.Errorf("input %s missing", in)
		}
	}
	for _, out := range []string{"sarif-file", "findings"} {
		if o, ok := a.Outputs[out]; !ok || !strings.Contains(o.Value, "steps.check.outputs."+out) {
			t.Errorf("output %s = %+v", out, o)
		}
	}
	for _, s := range a.Runs.Steps {
		if strings.Contains(s.Run, "${{") {
			t.Errorf("step %q splices an expression into its script; pass it through env", s.Name)
		}
	}
}

// findActionlint locates actionlint, failing under CI (where .ci/run
// installs it) and skipping elsewhere.
func findActionlint(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("actionlint"); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "actionlint")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("actionlint is required under CI (go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12)")
	}
	t.Skip("actionlint not installed")
	return ""
}

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestActionlint lints the documented workflows, with the action used as
// a local action so actionlint checks the inputs against action.yml.
func TestActionlint(t *testing.T) {
	bin := findActionlint(t)
	root := repoRoot(t)
	const page = "docs/check.md"
	doc, err := os.ReadFile(filepath.Join(root, page))
	if err != nil {
		t.Fatal(err)
	}
	// The page's first yaml block using the action is the workflow; the
	// next one is the dependency-graph job.
	all := yamlBlock.FindAllStringSubmatch(string(doc), -1)
	var blocks [][]string
	for i, b := range all {
		if strings.Contains(b[1], "uses: modgate/modgate@v1") {
			blocks = all[i:]
			break
		}
	}
	if len(blocks) < 2 {
		t.Fatalf("%s has no workflow using modgate/modgate@v1 followed by the dependency-graph job", page)
	}
	act, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	lint := func(t *testing.T, workflows map[string]string) (string, error) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, ".github", "workflows"), 0o755)
		os.WriteFile(filepath.Join(dir, "action.yml"), act, 0o644)
		for name, wf := range workflows {
			os.WriteFile(filepath.Join(dir, ".github", "workflows", name), []byte(wf), 0o644)
		}
		// actionlint looks for the project from the git repository.
		if out, err := exec.Command("git", "init", "-q", dir).CombinedOutput(); err != nil {
			t.Fatalf("git init: %v\n%s", err, out)
		}
		cmd := exec.Command(bin, "-no-color")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	main := strings.ReplaceAll(blocks[0][1], "uses: modgate/modgate@v1", "uses: ./")
	if main == blocks[0][1] {
		t.Fatal("the documented workflow does not use modgate/modgate@v1")
	}
	graphJob := "name: graph\non: push\njobs:\n" + blocks[1][1]
	if out, err := lint(t, map[string]string{"ci.yml": main, "graph.yml": graphJob}); err != nil {
		t.Errorf("actionlint rejects the documented workflows: %v\n%s", err, out)
	}
	// The linter is live: an input the action does not define is an
	// error.
	bad := strings.Replace(main, "fail-on: error", "fail-on: error\n          fail-fast: true", 1)
	out, err := lint(t, map[string]string{"ci.yml": bad})
	if err == nil || !strings.Contains(out, `"fail-fast" is not defined`) {
		t.Errorf("actionlint accepted an undefined input: %v\n%s", err, out)
	}
}

var exprRE = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

// runner executes the composite action's steps the way the Actions
// runner does for `shell: bash`: expressions substituted, each step a
// script run with `bash --noprofile --norc -eo pipefail`, a fresh
// $GITHUB_OUTPUT file per step whose lines become the step's outputs.
type runner struct {
	t       *testing.T
	a       *action
	inputs  map[string]string
	ctx     map[string]string // github.*, runner.*
	env     []string          // the job's environment
	outputs map[string]map[string]string
}

func (r *runner) eval(s string) string {
	return exprRE.ReplaceAllStringFunc(s, func(m string) string {
		expr := exprRE.FindStringSubmatch(m)[1]
		if name, ok := strings.CutPrefix(expr, "inputs."); ok {
			if v, set := r.inputs[name]; set {
				return v
			}
			in, ok := r.a.Inputs[name]
			if !ok {
				r.t.Fatalf("expression %s: no such input", expr)
			}
			return in.Default
		}
		if v, ok := r.ctx[expr]; ok {
			return v
		}
		if rest, ok := strings.CutPrefix(expr, "steps."); ok {
			id, out, _ := strings.Cut(rest, ".outputs.")
			return r.outputs[id][out]
		}
		r.t.Fatalf("unsupported expression %s", expr)
		return ""
	})
}

// run executes every step and returns the exit code of the first failing
// step (0 if none), the combined stdout and the action's outputs.
func (r *runner) run() (int, string, map[string]string) {
	var stdout strings.Builder
	r.outputs = map[string]map[string]string{}
	for i, s := range r.a.Runs.Steps {
		if s.Shell != "bash" || s.Run == "" {
			r.t.Fatalf("step %q: only run steps with shell bash are supported", s.Name)
		}
		script := filepath.Join(r.t.TempDir(), "step.sh")
		os.WriteFile(script, []byte(r.eval(s.Run)), 0o644)
		outFile := filepath.Join(r.t.TempDir(), "output")
		os.WriteFile(outFile, nil, 0o644)
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
		cmd.Dir = r.eval(s.WorkingDirectory)
		if !filepath.IsAbs(cmd.Dir) {
			cmd.Dir = filepath.Join(r.ctx["github.workspace"], cmd.Dir)
		}
		cmd.Env = append(slices.Clip(r.env), "GITHUB_OUTPUT="+outFile)
		for k, v := range s.Env {
			cmd.Env = append(cmd.Env, k+"="+r.eval(v))
		}
		out, err := cmd.Output()
		stdout.Write(out)
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			r.t.Fatal(err)
		}
		if s.ID != "" {
			r.outputs[s.ID] = parseOutputs(r.t, outFile)
		}
		if err != nil {
			r.t.Logf("step %d (%s) failed: %v\n%s", i, s.Name, err, ee.Stderr)
			return ee.ExitCode(), stdout.String(), r.actionOutputs()
		}
	}
	return 0, stdout.String(), r.actionOutputs()
}

func (r *runner) actionOutputs() map[string]string {
	out := map[string]string{}
	for name, o := range r.a.Outputs {
		out[name] = r.eval(o.Value)
	}
	return out
}

// parseOutputs reads a $GITHUB_OUTPUT file (name=value and
// name<<DELIMITER blocks).
func parseOutputs(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ln := sc.Text()
		if name, delim, ok := strings.Cut(ln, "<<"); ok && !strings.Contains(name, "=") {
			var val []string
			for sc.Scan() && sc.Text() != delim {
				val = append(val, sc.Text())
			}
			out[name] = strings.Join(val, "\n")
			continue
		}
		name, val, ok := strings.Cut(ln, "=")
		if !ok {
			t.Fatalf("malformed output line %q", ln)
		}
		out[name] = val
	}
	return out
}

// TestActionSteps runs the action's steps on the denied fixture: it
// builds modgate from this checkout, runs the check against a running
// modgate's decision API, and must leave the summary, the annotations,
// the SARIF file and the outputs.
func TestActionSteps(t *testing.T) {
	if testing.Short() {
		t.Skip("builds modgate and runs the go command")
	}
	w := checktest.NewWorld(t)
	fx := w.Repo(t, "denied")
	// The job's environment. Modgate's own build needs its dependencies,
	// which only the machine's module cache holds (no network): the job
	// uses that cache, and the fixture modules the check downloads into
	// it are removed afterwards.
	hostCache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	cache := strings.TrimSpace(string(hostCache))
	t.Cleanup(func() {
		for _, p := range []string{filepath.Join(cache, "example.com"), filepath.Join(cache, "cache", "download", "example.com"),
			filepath.Join(cache, "cache", "download", "sumdb", w.Up.SumDBName)} {
			os.RemoveAll(p)
		}
	})
	var env []string
	for _, kv := range w.GoEnv {
		if !strings.HasPrefix(kv, "GOMODCACHE=") {
			env = append(env, kv)
		}
	}
	tmp := t.TempDir()
	summary := filepath.Join(tmp, "summary.md")
	env = append(env, "GOMODCACHE="+cache, "GITHUB_ACTIONS=true", "GITHUB_WORKSPACE="+fx.Dir, "GITHUB_STEP_SUMMARY="+summary, "RUNNER_TEMP="+tmp)

	a := loadAction(t)
	for _, tc := range []struct {
		warnOnly string
		code     int
		result   string
	}{
		{"false", 1, "fail"},
		{"true", 0, "warn"},
	} {
		os.WriteFile(summary, nil, 0o644)
		r := &runner{t: t, a: a, env: env,
			inputs: map[string]string{"proxy-url": w.PolicyGate.URL, "vulndb": w.VulnDB, "warn-only": tc.warnOnly},
			ctx:    map[string]string{"github.action_path": repoRoot(t), "github.workspace": fx.Dir, "runner.temp": tmp}}
		code, stdout, outputs := r.run()
		if code != tc.code {
			t.Fatalf("warn-only=%s: exit %d, want %d\n%s", tc.warnOnly, code, tc.code, stdout)
		}
		sarif := filepath.Join(fx.Dir, "modgate.sarif")
		if outputs["findings"] != "2" || outputs["result"] != tc.result || outputs["sarif-file"] != sarif || outputs["failing"] != "1" {
			t.Errorf("warn-only=%s: outputs = %v", tc.warnOnly, outputs)
		}
		if _, err := os.Stat(sarif); err != nil {
			t.Errorf("SARIF file: %v", err)
		} else {
			data, _ := os.ReadFile(sarif)
			validateSARIF(t, sarifSchema(t), data)
		}
		if !strings.Contains(stdout, "::error file=go.mod,line=7,title=modgate policy-deny policy/blocked::") ||
			!strings.Contains(stdout, "::warning file=go.mod,line=5,title=modgate policy-warn policy/cooldown::") {
			t.Errorf("annotations missing from the step output:\n%s", stdout)
		}
		md, _ := os.ReadFile(summary)
		if !strings.Contains(string(md), "modgate check") || !strings.Contains(string(md), "```mermaid") || !strings.Contains(string(md), "| `policy-deny` |") {
			t.Errorf("job summary:\n%s", md)
		}
		os.Remove(sarif)
	}
	// A bad input fails the step with a usage error.
	r := &runner{t: t, a: a, env: env, inputs: map[string]string{"warn-only": "maybe", "vulndb": w.VulnDB},
		ctx: map[string]string{"github.action_path": repoRoot(t), "github.workspace": fx.Dir, "runner.temp": tmp}}
	if code, stdout, _ := r.run(); code != 2 || !strings.Contains(stdout, "warn-only must be true or false") {
		t.Errorf("warn-only=maybe: exit %d\n%s", code, stdout)
	}
}
