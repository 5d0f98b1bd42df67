// Package report owns the outputs of `modgate check`: human text, JSON
// (a versioned document), SARIF 2.1.0 for code scanning, a Markdown job
// summary with a Mermaid graph of the paths to flagged modules, GitHub
// Actions workflow commands and step outputs, and an OpenVEX document of
// the vulnerability findings.
//
// Every writer takes the same [Info] besides the [check.Report], so all
// outputs agree on the verdict. SARIF results are anchored at the go.mod
// line of the offending requirement, with paths relative to the
// repository root (the report's Base), as code scanning expects.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/modgate/modgate/scanner/check"
)

// Info is what the writers need beyond the report.
type Info struct {
	// FailOn decides the verdict.
	FailOn check.FailOn
	// WarnOnly reports failing findings without failing.
	WarnOnly bool
	// ToolVersion is modgate's version.
	ToolVersion string
	// ToolURI is where modgate is documented (SARIF informationUri);
	// "" omits it.
	ToolURI string
}

// Failed reports whether the check fails (exit 1).
func (in Info) Failed(r *check.Report) bool {
	return !in.WarnOnly && len(r.Failing(in.FailOn)) > 0
}

// ExitCode is 0 or 1 as Failed says.
func (in Info) ExitCode(r *check.Report) int {
	if in.Failed(r) {
		return 1
	}
	return 0
}

// JSONVersion is the version of the JSON document.
const JSONVersion = 1

// JSONReport is the JSON document.
type JSONReport struct {
	Version int `json:"version"`
	*check.Report
	FailOn   string         `json:"fail_on"`
	WarnOnly bool           `json:"warn_only"`
	Failing  int            `json:"failing"`
	Counts   map[string]int `json:"counts"`
	ExitCode int            `json:"exit_code"`
}

// WriteJSON writes the report as one indented JSON document.
func WriteJSON(w io.Writer, r *check.Report, in Info) error {
	counts := map[string]int{"error": 0, "warning": 0, "note": 0}
	for s, n := range r.Count() {
		counts[s.String()] = n
	}
	doc := JSONReport{Version: JSONVersion, Report: r, FailOn: in.FailOn.String(), WarnOnly: in.WarnOnly,
		Failing: len(r.Failing(in.FailOn)), Counts: counts, ExitCode: in.ExitCode(r)}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

var checkOrder = []string{"tidy", "build", "verify", "vendor", "replace", "buildlist", "policy", "vulns"}

// WriteText writes the report for people.
func WriteText(w io.Writer, r *check.Report, in Info) error {
	var b strings.Builder
	for _, m := range append(slices.Clip(r.Modules), r.Workspaces...) {
		name := m.Path
		if name == "" {
			name = "workspace"
		}
		fmt.Fprintf(&b, "%s (%s)\n", m.File, name)
		for _, n := range checkOrder {
			c, ok := m.Check(n)
			if !ok {
				continue
			}
			mark := map[string]string{check.StatusPass: "ok  ", check.StatusFail: "FAIL", check.StatusSkip: "skip"}[c.Status]
			fmt.Fprintf(&b, "%s\n", strings.TrimRight(fmt.Sprintf("  %s %-9s %s", mark, n, c.Summary), " "))
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if len(r.Findings) > 0 {
		fmt.Fprintf(&b, "\nfindings:\n")
	}
	for _, f := range r.Findings {
		fail := " "
		if in.FailOn.Fails(f) {
			fail = "*"
		}
		fmt.Fprintf(&b, "%s %-7s %s:%d: [%s] %s\n", fail, strings.ToUpper(f.Severity.String()), f.File, f.Line, f.Kind, f.Message)
		if len(f.Via) > 2 {
			fmt.Fprintf(&b, "          via %s\n", strings.Join(f.Via, " → "))
		}
		if f.Fix != "" {
			fmt.Fprintf(&b, "          fix: %s\n", f.Fix)
		}
		if f.Detail != "" {
			for _, ln := range strings.Split(strings.TrimRight(f.Detail, "\n"), "\n") {
				fmt.Fprintf(&b, "          | %s\n", ln)
			}
		}
	}
	fmt.Fprintf(&b, "\n%s\n", verdict(r, in))
	_, err := io.WriteString(w, b.String())
	return err
}

// verdict is the one-line conclusion shared by text and Markdown.
func verdict(r *check.Report, in Info) string {
	c := r.Count()
	failing := len(r.Failing(in.FailOn))
	counts := fmt.Sprintf("%d error(s), %d warning(s), %d note(s)", c[check.SeverityError], c[check.SeverityWarning], c[check.SeverityNote])
	switch {
	case failing == 0:
		return fmt.Sprintf("PASS: %d module(s) checked, %s; nothing at or above --fail-on %s", len(r.Modules), counts, in.FailOn)
	case in.WarnOnly:
		return fmt.Sprintf("WARN: %d finding(s) at or above --fail-on %s (%s); not failing because of --warn-only", failing, in.FailOn, counts)
	}
	return fmt.Sprintf("FAIL: %d finding(s) at or above --fail-on %s (%s)", failing, in.FailOn, counts)
}
