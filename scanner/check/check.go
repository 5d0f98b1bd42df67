// Package check owns `modgate check`: the CI gate that tells a team,
// before merge, whether a repository's go.mod/go.sum files are
// reproducible, whether any module in its build lists breaks the
// organisation's policy, and whether vulnerable code is reachable.
//
// [Run] discovers every go.mod under a directory (skipping vendor,
// testdata, and directories the go command ignores) and every go.work, and
// checks each module on its own (GOWORK=off, as its consumers build it):
//
//   - reproducibility: `go mod tidy -diff`, `go build -mod=readonly ./...`,
//     `go mod verify`, vendor/ against `go mod vendor`, and replace
//     directives pointing at directories (allowed only by
//     Options.AllowLocalReplace);
//   - policy: each module of the build list (`go list -m -json all`) is
//     judged by a [Policy] — the proxy's engine in-process ([DeciderPolicy])
//     or a running modgate's decision API ([RemotePolicy]) — as a zip
//     download, i.e. exactly as the proxy would judge the build's download;
//   - vulnerabilities: govulncheck at symbol level, graded called (error),
//     imported (warning) or required only (note).
//
// A workspace (go.work) adds its combined build list: module versions that
// only the workspace selects are judged too, anchored at the go.work file.
//
// Invariants: findings are anchored at the go.mod line of the offending
// requirement (the direct requirement that brings an indirect module in
// when the module itself is not listed); a check that cannot conclude —
// the policy or vulnerability database unreachable, no go command — is an
// error, never a clean report; the package decides nothing about exit
// codes beyond [FailOn].
package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/scanner/graph"
)

// Options configures [Run].
type Options struct {
	// Dir is the repository (or subdirectory) to check. Required.
	Dir string
	// Base is the directory finding files are relative to (the repository
	// root, for SARIF and annotations). "" means the git top-level
	// directory of Dir, or Dir outside a git repository.
	Base string
	// Go runs the go command; its Env is the environment of every go
	// command and of govulncheck (nil: the process environment).
	Go graph.GoCmd
	// Policy judges the build lists. Nil skips the policy check (the
	// report says so).
	Policy Policy
	// PolicyKind is the artifact kind decisions are asked for. "" means
	// zip: what a build downloads.
	PolicyKind proxy.Kind
	// Vulns scans for vulnerabilities. Nil skips the scan (the report
	// says so).
	Vulns VulnScanner
	// VulnIndex, when set with Vulns, also reports vulnerable build-list
	// modules of which no package is built (govulncheck only sees
	// modules providing packages) as "required only". Nil skips them.
	VulnIndex VulnIndex
	// AllowLocalReplace lists module path patterns (GOPRIVATE syntax:
	// comma-separated globs matching path prefixes; "*" matches every
	// module) whose replace directives may point at directories. Empty
	// allows none.
	AllowLocalReplace string
	// SkipRepro skips the reproducibility checks (tidy, build, verify,
	// vendor); local replace directives are still reported.
	SkipRepro bool
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Validate reports the first invalid field.
func (o *Options) Validate() error {
	if o.Dir == "" {
		return errors.New("check: Dir is required")
	}
	switch o.PolicyKind {
	case "", proxy.KindZip, proxy.KindMod, proxy.KindInfo, proxy.KindList, proxy.KindLatest:
	default:
		return fmt.Errorf("check: PolicyKind %q is not a proxy artifact kind", o.PolicyKind)
	}
	return nil
}

// Report is the outcome of a check.
type Report struct {
	// Root is the absolute directory checked; Base the directory file
	// paths are relative to.
	Root string `json:"root"`
	Base string `json:"base"`
	// Modules are the modules checked, in directory order.
	Modules []*ModuleReport `json:"modules"`
	// Workspaces are the go.work files found.
	Workspaces []*ModuleReport `json:"workspaces,omitempty"`
	// Findings are sorted by severity (highest first), then file and
	// line.
	Findings []*Finding `json:"findings"`
	// Notes say what was not checked and why.
	Notes []string `json:"notes,omitempty"`
	// PolicyEvaluated counts the module versions judged by the policy.
	PolicyEvaluated int `json:"policy_evaluated"`
	// Started and Duration time the run.
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
}

// ModuleReport is one module (or workspace) checked.
type ModuleReport struct {
	// Path is the module path ("" for a workspace).
	Path string `json:"path,omitempty"`
	// File is the go.mod or go.work, relative to Base, slash-separated.
	File string `json:"file"`
	// Workspace is the go.work (relative to Base) listing this module.
	Workspace string `json:"workspace,omitempty"`
	// Checks are the individual checks run, in order.
	Checks []CheckResult `json:"checks"`
	// BuildList is the number of modules in the build list (main
	// modules included).
	BuildList int `json:"build_list"`
	// Graph is the module graph (nil when it could not be loaded).
	Graph *graph.Graph `json:"-"`

	dir    string        // absolute directory
	mf     *modfile.File // parsed go.mod (nil for workspaces / parse errors)
	wf     *modfile.WorkFile
	broken bool // the build failed: govulncheck failures are expected
}

// Dir returns the module's absolute directory.
func (m *ModuleReport) Dir() string { return m.dir }

// CheckResult is the outcome of one check on one module.
type CheckResult struct {
	Name string `json:"name"` // tidy, build, verify, vendor, replace, buildlist, policy, vulns
	// Status is "pass", "fail" or "skip".
	Status string `json:"status"`
	// Summary is a short explanation ("no vendor directory", "3 denied").
	Summary string `json:"summary,omitempty"`
}

// Check statuses.
const (
	StatusPass = "pass"
	StatusFail = "fail"
	StatusSkip = "skip"
)

func (m *ModuleReport) record(name, status, summary string) {
	m.Checks = append(m.Checks, CheckResult{Name: name, Status: status, Summary: summary})
}

// Check returns the result of the named check, if it ran.
func (m *ModuleReport) Check(name string) (CheckResult, bool) {
	for _, c := range m.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return CheckResult{}, false
}

// Failing returns the findings that fail under f.
func (r *Report) Failing(f FailOn) []*Finding {
	var out []*Finding
	for _, fd := range r.Findings {
		if f.Fails(fd) {
			out = append(out, fd)
		}
	}
	return out
}

// Count returns the number of findings per severity.
func (r *Report) Count() map[Severity]int {
	c := map[Severity]int{}
	for _, f := range r.Findings {
		c[f.Severity]++
	}
	return c
}

// Run checks opts.Dir. The error is for checks that could not conclude
// (exit 2); problems in the repository are findings in the report.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	root, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("check: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("check: %s is not a directory", root)
	}
	base := opts.Base
	if base == "" {
		base = gitTop(ctx, root)
	}
	if base == "" {
		base = root
	}
	if base, err = filepath.Abs(base); err != nil {
		return nil, err
	}
	// git prints resolved paths; resolve both so relative paths work.
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	if r, err := filepath.EvalSymlinks(base); err == nil {
		base = r
	}
	c := &checker{opts: opts, logger: logger, base: base, rep: &Report{Root: root, Base: base, Started: now()}}
	if err := c.discover(root); err != nil {
		return nil, err
	}
	if len(c.rep.Modules) == 0 {
		return nil, fmt.Errorf("check: no go.mod found in %s", root)
	}
	for _, m := range c.rep.Modules {
		if err := c.checkModule(ctx, m); err != nil {
			return nil, err
		}
	}
	for _, w := range c.rep.Workspaces {
		c.checkWorkspace(ctx, w)
	}
	if err := c.evaluatePolicy(ctx); err != nil {
		return nil, err
	}
	if err := c.scanVulns(ctx); err != nil {
		return nil, err
	}
	sortFindings(c.rep.Findings)
	if c.rep.Findings == nil {
		c.rep.Findings = []*Finding{}
	}
	c.rep.Duration = now().Sub(c.rep.Started)
	return c.rep, nil
}

type checker struct {
	opts   Options
	logger *slog.Logger
	base   string
	rep    *Report
}

func (c *checker) rel(abs string) string {
	r, err := filepath.Rel(c.base, abs)
	if err != nil || strings.HasPrefix(r, "..") {
		return filepath.ToSlash(abs)
	}
	return filepath.ToSlash(r)
}

func (c *checker) add(f *Finding) {
	if f.Severity == 0 {
		f.Severity = f.Kind.DefaultSeverity()
	}
	if f.Rule == "" {
		f.Rule = "modgate/" + string(f.Kind)
	}
	c.rep.Findings = append(c.rep.Findings, f)
}

// skipDir reports directories the go command ignores in ./... or that
// hold copies of other modules.
func skipDir(name string) bool {
	return name == "vendor" || name == "testdata" || name == "node_modules" ||
		strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

func (c *checker) discover(root string) error {
	var works []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		switch d.Name() {
		case "go.mod":
			c.rep.Modules = append(c.rep.Modules, &ModuleReport{File: c.rel(p), dir: filepath.Dir(p)})
		case "go.work":
			works = append(works, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	for _, w := range works {
		data, err := os.ReadFile(w)
		if err != nil {
			return fmt.Errorf("check: %w", err)
		}
		wr := &ModuleReport{File: c.rel(w), dir: filepath.Dir(w)}
		c.rep.Workspaces = append(c.rep.Workspaces, wr)
		wf, err := modfile.ParseWork(w, data, nil)
		if err != nil {
			wr.record("buildlist", StatusFail, "go.work does not parse")
			c.add(&Finding{Kind: KindBuildList, File: wr.File, Line: 1, Message: "go.work does not parse", Detail: err.Error()})
			continue
		}
		wr.wf = wf
		for _, u := range wf.Use {
			dir := filepath.Clean(filepath.Join(wr.dir, filepath.FromSlash(u.Path)))
			found := false
			for _, m := range c.rep.Modules {
				if m.dir == dir {
					m.Workspace = wr.File
					found = true
				}
			}
			if !found {
				if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
					c.add(&Finding{Kind: KindBuildList, File: wr.File, Line: u.Syntax.Start.Line,
						Message: fmt.Sprintf("go.work uses %s, which has no go.mod", u.Path)})
				}
			}
		}
	}
	return nil
}

// moduleEnv is the per-module environment: each module is checked on its
// own, as its consumers build it.
var moduleEnv = []string{"GOWORK=off"}

func (c *checker) checkModule(ctx context.Context, m *ModuleReport) error {
	gomod := filepath.Join(m.dir, "go.mod")
	data, err := os.ReadFile(gomod)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	mf, err := modfile.Parse(gomod, data, nil)
	if err != nil {
		m.record("buildlist", StatusFail, "go.mod does not parse")
		c.add(&Finding{Kind: KindBuildList, File: m.File, Line: 1, Message: "go.mod does not parse", Detail: err.Error()})
		m.broken = true
		return nil
	}
	m.mf = mf
	if mf.Module != nil {
		m.Path = mf.Module.Mod.Path
	}
	c.logger.Info("checking module", "module", m.Path, "file", m.File)
	c.checkReplaces(m, mf.Replace, m.File)
	if c.opts.SkipRepro {
		for _, n := range []string{"tidy", "build", "verify", "vendor"} {
			m.record(n, StatusSkip, "reproducibility checks disabled")
		}
	} else {
		if err := c.checkTidy(ctx, m); err != nil {
			return err
		}
		if err := c.checkBuild(ctx, m); err != nil {
			return err
		}
		if err := c.checkVerify(ctx, m); err != nil {
			return err
		}
		if err := c.checkVendor(ctx, m); err != nil {
			return err
		}
	}
	g, err := graph.Load(ctx, m.dir, graph.LoadOptions{Go: c.opts.Go, Env: moduleEnv})
	if err != nil {
		if isExecError(err) {
			return fmt.Errorf("check: %w", err)
		}
		m.record("buildlist", StatusFail, "go list -m all failed")
		c.add(&Finding{Kind: KindBuildList, File: m.File, Line: moduleLine(mf), Module: m.Path,
			Message: "the build list cannot be loaded", Detail: goErrText(err)})
		m.broken = true
		return nil
	}
	m.Graph = g
	m.BuildList = len(g.Modules)
	m.record("buildlist", StatusPass, fmt.Sprintf("%d modules", len(g.Modules)))
	return nil
}

// isExecError reports a go command that did not run to an exit status
// (not found, not executable, cancelled): an infrastructure problem, not
// a finding.
func isExecError(err error) bool {
	var ee *exec.ExitError
	return !errors.As(err, &ee)
}

func goErrText(err error) string {
	var ge *graph.GoCmdError
	if errors.As(err, &ge) {
		return truncate(ge.Stderr, 8000)
	}
	return err.Error()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "\n… (truncated)"
}

func moduleLine(mf *modfile.File) int {
	if mf != nil && mf.Module != nil && mf.Module.Syntax != nil {
		return mf.Module.Syntax.Start.Line
	}
	return 1
}

func (c *checker) checkReplaces(m *ModuleReport, reps []*modfile.Replace, file string) {
	var bad []string
	for _, r := range reps {
		if r.New.Version != "" {
			continue
		}
		if c.opts.AllowLocalReplace != "" && module.MatchPrefixPatterns(c.opts.AllowLocalReplace, r.Old.Path) {
			continue
		}
		old := r.Old.Path
		if r.Old.Version != "" {
			old += "@" + r.Old.Version
		}
		bad = append(bad, old)
		c.add(&Finding{Kind: KindLocalReplace, File: file, Line: r.Syntax.Start.Line, Module: r.Old.Path, Version: r.Old.Version,
			Message: fmt.Sprintf("replace %s => %s points at a local directory: builds outside this checkout cannot reproduce it", old, r.New.Path),
			Fix:     "replace with a published module version, or allow it with --allow-local-replace " + r.Old.Path})
	}
	if len(bad) > 0 {
		m.record("replace", StatusFail, fmt.Sprintf("%d local replace directive(s)", len(bad)))
	} else {
		m.record("replace", StatusPass, "")
	}
}

func (c *checker) checkTidy(ctx context.Context, m *ModuleReport) error {
	out, err := c.opts.Go.Run(ctx, m.dir, moduleEnv, "mod", "tidy", "-diff")
	if err == nil {
		m.record("tidy", StatusPass, "")
		return nil
	}
	if isExecError(err) {
		return fmt.Errorf("check: %w", err)
	}
	var ge *graph.GoCmdError
	if errors.As(err, &ge) && ge.ExitCode() == 1 && len(out) > 0 {
		m.record("tidy", StatusFail, "go.mod/go.sum are not tidy")
		file, line := m.File, firstChangedLine(out, "go.mod")
		if line == 0 {
			// Only go.sum differs.
			line = moduleLine(m.mf)
		}
		c.add(&Finding{Kind: KindUntidy, File: file, Line: line, Module: m.Path,
			Message: "go.mod/go.sum are not tidy: `go mod tidy` would change them",
			Detail:  truncate(string(out), 16000), Fix: "run `go mod tidy` and commit the result"})
		return nil
	}
	m.record("tidy", StatusFail, "go mod tidy failed")
	m.broken = true
	c.add(&Finding{Kind: KindTidy, File: m.File, Line: moduleLine(m.mf), Module: m.Path,
		Message: "go mod tidy -diff failed", Detail: goErrText(err)})
	return nil
}

// firstChangedLine returns the first line of file (the old side) that a
// unified diff changes, 0 if the diff does not touch it.
func firstChangedLine(diff []byte, file string) int {
	inFile := false
	old := 0
	for _, ln := range strings.Split(string(diff), "\n") {
		switch {
		case strings.HasPrefix(ln, "--- "):
			name := strings.TrimSpace(strings.TrimPrefix(ln, "--- "))
			if i := strings.IndexByte(name, '\t'); i >= 0 {
				name = name[:i]
			}
			inFile = name == file || strings.HasSuffix(name, "/"+file)
		case strings.HasPrefix(ln, "+++ "):
		case inFile && strings.HasPrefix(ln, "@@ "):
			var a, b, cc, d int
			if n, _ := fmt.Sscanf(ln, "@@ -%d,%d +%d,%d @@", &a, &b, &cc, &d); n >= 1 {
				old = a
			} else if n, _ := fmt.Sscanf(ln, "@@ -%d +%d", &a, &cc); n >= 1 {
				old = a
			}
		case inFile && old > 0 && strings.HasPrefix(ln, " "):
			old++
		case inFile && old > 0 && (strings.HasPrefix(ln, "-") || strings.HasPrefix(ln, "+")):
			return old
		}
	}
	return 0
}

func (c *checker) checkBuild(ctx context.Context, m *ModuleReport) error {
	_, err := c.opts.Go.Run(ctx, m.dir, moduleEnv, "build", "-mod=readonly", "./...")
	if err == nil {
		m.record("build", StatusPass, "")
		return nil
	}
	if isExecError(err) {
		return fmt.Errorf("check: %w", err)
	}
	m.record("build", StatusFail, "go build -mod=readonly ./... failed")
	m.broken = true
	c.add(&Finding{Kind: KindBuild, File: m.File, Line: moduleLine(m.mf), Module: m.Path,
		Message: "`go build -mod=readonly ./...` fails: the build needs changes to go.mod/go.sum or does not compile",
		Detail:  goErrText(err)})
	return nil
}

func (c *checker) checkVerify(ctx context.Context, m *ModuleReport) error {
	_, err := c.opts.Go.Run(ctx, m.dir, moduleEnv, "mod", "verify")
	if err == nil {
		m.record("verify", StatusPass, "")
		return nil
	}
	if isExecError(err) {
		return fmt.Errorf("check: %w", err)
	}
	m.record("verify", StatusFail, "go mod verify failed")
	c.add(&Finding{Kind: KindVerify, File: m.File, Line: moduleLine(m.mf), Module: m.Path,
		Message: "`go mod verify` fails: downloaded modules do not match go.sum", Detail: goErrText(err)})
	return nil
}

func (c *checker) checkVendor(ctx context.Context, m *ModuleReport) error {
	vdir := filepath.Join(m.dir, "vendor")
	if st, err := os.Stat(vdir); err != nil || !st.IsDir() {
		m.record("vendor", StatusSkip, "no vendor directory")
		return nil
	}
	tmp, err := os.MkdirTemp("", "modgate-vendor-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	want := filepath.Join(tmp, "vendor")
	if _, err := c.opts.Go.Run(ctx, m.dir, moduleEnv, "mod", "vendor", "-o", want); err != nil {
		if isExecError(err) {
			return fmt.Errorf("check: %w", err)
		}
		m.record("vendor", StatusFail, "go mod vendor failed")
		c.add(&Finding{Kind: KindVendor, File: m.File, Line: moduleLine(m.mf), Module: m.Path,
			Message: "`go mod vendor` fails, so vendor/ cannot be checked", Detail: goErrText(err)})
		return nil
	}
	diffs, err := diffTrees(vdir, want)
	if err != nil {
		return fmt.Errorf("check: comparing vendor: %w", err)
	}
	if len(diffs) == 0 {
		m.record("vendor", StatusPass, "")
		return nil
	}
	m.record("vendor", StatusFail, fmt.Sprintf("%d file(s) differ", len(diffs)))
	rel := c.rel(vdir)
	for i := range diffs {
		diffs[i] = rel + "/" + diffs[i]
	}
	c.add(&Finding{Kind: KindVendor, File: m.File, Line: moduleLine(m.mf), Module: m.Path,
		Message: fmt.Sprintf("vendor/ is inconsistent with go.mod: %d file(s) differ from `go mod vendor`", len(diffs)),
		Detail:  truncate(strings.Join(diffs, "\n"), 8000), Fix: "run `go mod vendor` and commit the result"})
	return nil
}

// diffTrees lists the files that differ between two directory trees
// ("+ f": only in want, "- f": only in have, "~ f": different content).
func diffTrees(have, want string) ([]string, error) {
	read := func(root string) (map[string][]byte, error) {
		files := map[string][]byte{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			r, _ := filepath.Rel(root, p)
			files[filepath.ToSlash(r)] = data
			return nil
		})
		return files, err
	}
	h, err := read(have)
	if err != nil {
		return nil, err
	}
	w, err := read(want)
	if err != nil {
		return nil, err
	}
	var out []string
	for f, wd := range w {
		hd, ok := h[f]
		switch {
		case !ok:
			out = append(out, "+ "+f)
		case !bytes.Equal(hd, wd):
			out = append(out, "~ "+f)
		}
	}
	for f := range h {
		if _, ok := w[f]; !ok {
			out = append(out, "- "+f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][2:] < out[j][2:] })
	return out, nil
}

func (c *checker) checkWorkspace(ctx context.Context, w *ModuleReport) {
	if w.wf == nil {
		return
	}
	c.checkReplaces(w, w.wf.Replace, w.File)
	g, err := graph.Load(ctx, w.dir, graph.LoadOptions{Go: c.opts.Go, Env: []string{"GOWORK=" + filepath.Join(w.dir, "go.work")}})
	if err != nil {
		w.record("buildlist", StatusFail, "go list -m all failed in the workspace")
		c.add(&Finding{Kind: KindBuildList, File: w.File, Line: 1, Message: "the workspace build list cannot be loaded", Detail: goErrText(err)})
		w.broken = true
		return
	}
	w.Graph = g
	w.BuildList = len(g.Modules)
	w.record("buildlist", StatusPass, fmt.Sprintf("%d modules", len(g.Modules)))
}

// gitTop returns the top-level directory of the git repository holding
// dir, "" if none.
func gitTop(ctx context.Context, dir string) string {
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "--show-toplevel")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func sortFindings(fs []*Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Subject() != b.Subject() {
			return a.Subject() < b.Subject()
		}
		return a.Rule < b.Rule
	})
}
