package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"

	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/scanner/govulncheck"
	"github.com/modgate/modgate/scanner/graph"
	"github.com/modgate/modgate/scanner/vulndb"
)

// VulnScanner finds vulnerabilities in one module. Implementations must
// be safe for sequential reuse; an error means the scan did not complete.
type VulnScanner interface {
	Scan(ctx context.Context, dir string, env []string) ([]govulncheck.Vuln, error)
}

// VulnIndex answers module-level vulnerability questions (normally a
// *vulndb.Snapshot). The check uses it for build-list modules govulncheck
// does not report because none of their packages is built.
type VulnIndex interface {
	Affects(module, version string) ([]vulndb.Match, error)
}

// Govulncheck is the [VulnScanner] running govulncheck in-process against
// a given database.
type Govulncheck struct {
	// DB is the database URL (file:// or http(s)://). Required.
	DB string
	// Level is the analysis depth; "" means symbol.
	Level govulncheck.Level
	// Test includes test files.
	Test bool
	// Tags are build tags.
	Tags []string
}

// Scan runs govulncheck on ./... in dir.
func (s *Govulncheck) Scan(ctx context.Context, dir string, env []string) ([]govulncheck.Vuln, error) {
	res, err := govulncheck.Scan(ctx, govulncheck.Options{DB: s.DB, Dir: dir, Level: s.Level, Test: s.Test, Tags: s.Tags, Env: env})
	if err != nil {
		return nil, err
	}
	return res.Vulns(), nil
}

// target is what the policy judges for a build-list module: the
// replacement when there is one, since that is what is downloaded.
func target(m *graph.Module) (path, version string, ok bool) {
	if m.Main || m.Version == "" {
		return "", "", false
	}
	if m.Replace != nil {
		if m.Replace.Local() {
			return "", "", false
		}
		return m.Replace.Path, m.Replace.Version, true
	}
	return m.Path, m.Version, true
}

func (c *checker) units() []*ModuleReport {
	return append(slices.Clip(c.rep.Modules), c.rep.Workspaces...)
}

func (c *checker) evaluatePolicy(ctx context.Context) error {
	if c.opts.Policy == nil {
		c.rep.Notes = append(c.rep.Notes, "policy: not checked (no policy configured; use --policy FILE or --proxy URL)")
		for _, u := range c.units() {
			if u.Graph != nil {
				u.record("policy", StatusSkip, "no policy configured")
			}
		}
		return nil
	}
	// Versions each workspace member already judges are not repeated for
	// the workspace.
	memberVersions := map[string]map[string]bool{}
	for _, m := range c.rep.Modules {
		if m.Workspace == "" || m.Graph == nil {
			continue
		}
		if memberVersions[m.Workspace] == nil {
			memberVersions[m.Workspace] = map[string]bool{}
		}
		for _, gm := range m.Graph.Modules {
			memberVersions[m.Workspace][gm.ID()] = true
		}
	}
	type use struct {
		u *ModuleReport
		m *graph.Module
	}
	uses := map[string][]use{}
	var queries []ModuleQuery
	for _, u := range c.units() {
		if u.Graph == nil {
			continue
		}
		for _, m := range u.Graph.Sorted() {
			if u.wf != nil && memberVersions[u.File][m.ID()] {
				continue
			}
			p, v, ok := target(m)
			if !ok {
				continue
			}
			key := p + "@" + v
			if _, seen := uses[key]; !seen {
				queries = append(queries, ModuleQuery{Path: p, Version: v})
			}
			uses[key] = append(uses[key], use{u, m})
		}
	}
	sort.Slice(queries, func(i, j int) bool {
		if queries[i].Path != queries[j].Path {
			return queries[i].Path < queries[j].Path
		}
		return queries[i].Version < queries[j].Version
	})
	kind := c.opts.PolicyKind
	if kind == "" {
		kind = proxy.KindZip
	}
	c.logger.Info("evaluating policy", "modules", len(queries))
	decisions, err := c.opts.Policy.Evaluate(ctx, kind, queries)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	if len(decisions) != len(queries) {
		return fmt.Errorf("check: policy returned %d decisions for %d modules", len(decisions), len(queries))
	}
	c.rep.PolicyEvaluated = len(queries)
	type tally struct{ n, deny, warn, audit int }
	tallies := map[*ModuleReport]*tally{}
	for _, u := range c.units() {
		tallies[u] = &tally{}
	}
	for i, q := range queries {
		d := decisions[i]
		for _, us := range uses[q.Path+"@"+q.Version] {
			t := tallies[us.u]
			t.n++
			if !d.Allowed() {
				t.deny++
			}
			if len(d.Warn) > 0 {
				t.warn++
			}
			if len(d.Audit) > 0 {
				t.audit++
			}
			c.policyFindings(us.u, us.m, q, d)
		}
	}
	for _, u := range c.units() {
		if u.Graph == nil {
			continue
		}
		t := tallies[u]
		sum := fmt.Sprintf("%d modules: %d denied, %d warned, %d audit", t.n, t.deny, t.warn, t.audit)
		if t.deny > 0 {
			u.record("policy", StatusFail, sum)
		} else {
			u.record("policy", StatusPass, sum)
		}
	}
	return nil
}

func (c *checker) policyFindings(u *ModuleReport, m *graph.Module, q ModuleQuery, d proxy.Decision) {
	subject := q.Path + "@" + q.Version
	if m.Replace != nil {
		subject = m.Path + "@" + m.Version + " (replaced by " + subject + ")"
	}
	via := u.Graph.Shortest(m.Path)
	line := c.requireLine(u, m.Path, via)
	emit := func(kind Kind, vs []proxy.Violation, verb string) {
		for _, v := range vs {
			c.add(&Finding{Kind: kind, Rule: "policy/" + v.Rule, Module: m.Path, Version: m.Version, File: u.File, Line: line,
				Message: fmt.Sprintf("%s %s by policy rule %s: %s", subject, verb, v.Rule, v.Msg), Fix: v.Fix, Via: via})
		}
	}
	emit(KindPolicyDeny, d.Deny, "is denied")
	emit(KindPolicyWarn, d.Warn, "is warned")
	emit(KindPolicyAudit, d.Audit, "would be denied (audit mode)")
	if len(d.Deny) > 0 {
		u.Graph.Annotate(m.Path, graph.Denied, ruleNames(d.Deny))
	}
	if len(d.Warn) > 0 {
		u.Graph.Annotate(m.Path, graph.Warned, ruleNames(d.Warn))
	}
}

func ruleNames(vs []proxy.Violation) string {
	var names []string
	for _, v := range vs {
		names = append(names, v.Rule)
	}
	return strings.Join(names, ",")
}

// requireLine returns the line of u's go.mod requiring path; for a module
// the go.mod does not list, the line of the direct requirement on the
// shortest path that brings it in; else the module line.
func (c *checker) requireLine(u *ModuleReport, path string, via []string) int {
	if u.mf == nil {
		return 1
	}
	if l := findRequire(u.mf, path); l > 0 {
		return l
	}
	if len(via) >= 2 {
		if l := findRequire(u.mf, via[1]); l > 0 {
			return l
		}
	}
	return moduleLine(u.mf)
}

func findRequire(mf *modfile.File, path string) int {
	for _, r := range mf.Require {
		if r.Mod.Path == path && r.Syntax != nil {
			return r.Syntax.Start.Line
		}
	}
	return 0
}

func (c *checker) scanVulns(ctx context.Context) error {
	if c.opts.Vulns == nil {
		c.rep.Notes = append(c.rep.Notes, "vulnerabilities: not checked (no vulnerability database configured; use --vulndb URL or --proxy URL)")
		for _, m := range c.rep.Modules {
			m.record("vulns", StatusSkip, "no vulnerability database configured")
		}
		return nil
	}
	env := c.opts.Go.Env
	if env == nil {
		env = os.Environ()
	}
	env = append(slices.Clip(env), moduleEnv...)
	for _, m := range c.rep.Modules {
		if m.Graph == nil || m.broken {
			m.record("vulns", StatusSkip, "the module does not build")
			c.rep.Notes = append(c.rep.Notes, fmt.Sprintf("vulnerabilities: %s not scanned because it does not build", m.File))
			continue
		}
		c.logger.Info("scanning for vulnerabilities", "module", m.Path)
		vulns, err := c.opts.Vulns.Scan(ctx, m.dir, env)
		if err != nil {
			var se *govulncheck.ScanError
			if errors.As(err, &se) && se.Stderr != "" {
				return fmt.Errorf("check: govulncheck %s: %v: %s", m.File, se.Err, se.Stderr)
			}
			return fmt.Errorf("check: govulncheck %s: %w", m.File, err)
		}
		counts := map[govulncheck.Depth]int{}
		seen := map[string]bool{}
		for _, v := range vulns {
			counts[v.Depth]++
			seen[v.ID+" "+v.Module] = true
			c.vulnFinding(m, v, "")
		}
		if c.opts.VulnIndex != nil {
			for _, gm := range m.Graph.Sorted() {
				p, ver, ok := target(gm)
				if !ok {
					continue
				}
				matches, err := c.opts.VulnIndex.Affects(p, ver)
				if err != nil {
					return fmt.Errorf("check: vulnerability index: %s@%s: %w", p, ver, err)
				}
				for _, mt := range matches {
					if seen[mt.ID+" "+gm.Path] || seen[mt.ID+" "+p] {
						continue
					}
					seen[mt.ID+" "+gm.Path] = true
					counts[govulncheck.DepthRequired]++
					c.vulnFinding(m, govulncheck.Vuln{ID: mt.ID, OSV: mt.Entry, Module: gm.Path, Version: gm.Version, Fixed: mt.Fixed, Depth: govulncheck.DepthRequired},
						"the module is in the build list, but none of its packages is built")
				}
			}
		}
		sum := fmt.Sprintf("%d called, %d imported, %d required only", counts[govulncheck.DepthCalled], counts[govulncheck.DepthImported], counts[govulncheck.DepthRequired])
		if counts[govulncheck.DepthCalled] > 0 {
			m.record("vulns", StatusFail, sum)
		} else {
			m.record("vulns", StatusPass, sum)
		}
	}
	return nil
}

// vulnFinding records v; how, when set, replaces the reachability
// explanation.
func (c *checker) vulnFinding(m *ModuleReport, v govulncheck.Vuln, how string) {
	var kind Kind
	switch v.Depth {
	case govulncheck.DepthCalled:
		kind = KindVulnCalled
	case govulncheck.DepthImported:
		kind = KindVulnImported
	default:
		kind = KindVulnRequired
	}
	f := &Finding{Kind: kind, Rule: v.ID, Module: v.Module, Version: v.Version, File: m.File}
	summary := ""
	if v.OSV != nil {
		summary = v.OSV.Summary
		f.Aliases = v.OSV.Aliases
		if v.OSV.DatabaseSpecific != nil && v.OSV.DatabaseSpecific.URL != "" {
			f.URL = v.OSV.DatabaseSpecific.URL
		} else if len(v.OSV.References) > 0 {
			f.URL = v.OSV.References[0].URL
		}
	}
	if v.Module == "stdlib" || v.Module == "toolchain" {
		f.Line = moduleLine(m.mf)
		if m.mf != nil && m.mf.Go != nil && m.mf.Go.Syntax != nil {
			f.Line = m.mf.Go.Syntax.Start.Line
		}
	} else {
		f.Via = m.Graph.Shortest(v.Module)
		f.Line = c.requireLine(m, v.Module, f.Via)
		m.Graph.Annotate(v.Module, graph.Vulnerable, v.ID)
	}
	switch {
	case how != "":
	case kind == KindVulnCalled:
		how = "vulnerable code is called"
		if len(v.Traces) > 0 {
			how += ": " + traceSummary(v.Traces[0])
		}
	case kind == KindVulnImported:
		how = "vulnerable package " + strings.Join(v.Packages, ", ") + " is imported, but no vulnerable symbol is called"
	default:
		how = "the module is required, but no vulnerable package is imported"
	}
	subject := v.Module + "@" + v.Version
	if summary != "" {
		f.Message = fmt.Sprintf("%s in %s: %s (%s)", v.ID, subject, summary, how)
	} else {
		f.Message = fmt.Sprintf("%s in %s (%s)", v.ID, subject, how)
	}
	f.Fixed = v.Fixed
	if v.Fixed != "" {
		f.Fix = fmt.Sprintf("upgrade %s to %s or later", v.Module, v.Fixed)
	} else {
		f.Fix = "no fixed version is known"
	}
	var traces []string
	for _, tr := range v.Traces {
		traces = append(traces, traceText(tr))
	}
	f.Detail = strings.Join(traces, "\n\n")
	c.add(f)
}

// traceSummary names the vulnerable symbol and the entry point calling it.
func traceSummary(tr []govulncheck.Frame) string {
	if len(tr) == 0 {
		return ""
	}
	sym := tr[0].Package + "." + tr[0].Symbol()
	entry := tr[len(tr)-1]
	s := sym + " called from " + entry.Package + "." + entry.Symbol()
	if entry.Position != nil && entry.Position.Filename != "" {
		s += fmt.Sprintf(" (%s:%d)", entry.Position.Filename, entry.Position.Line)
	}
	return s
}

// traceText renders a trace from the entry point down to the symbol.
func traceText(tr []govulncheck.Frame) string {
	var b strings.Builder
	for i := len(tr) - 1; i >= 0; i-- {
		fr := tr[i]
		b.WriteString(strings.Repeat("  ", len(tr)-1-i))
		b.WriteString(fr.Package + "." + fr.Symbol())
		if fr.Position != nil && fr.Position.Filename != "" {
			fmt.Fprintf(&b, " (%s:%d)", fr.Position.Filename, fr.Position.Line)
		}
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n")
}
