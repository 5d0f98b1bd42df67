package report

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/modgate/modgate/scanner/check"
	"github.com/modgate/modgate/scanner/graph"
)

// MaxGraphPaths bounds the shortest paths drawn per flagged module, and
// MaxGraphEdges the edges of one Mermaid graph, so that the job summary
// stays readable (and below GitHub's 1 MiB summary limit).
const (
	MaxGraphPaths = 3
	MaxGraphEdges = 150
)

// WriteMarkdown writes the job summary: verdict, per-module checks,
// findings table, details, and a Mermaid graph of the paths from the main
// module to each flagged (vulnerable, denied, warned) module.
func WriteMarkdown(w io.Writer, r *check.Report, in Info) error {
	var b bytes.Buffer
	icon := "✅"
	if len(r.Failing(in.FailOn)) > 0 {
		icon = "❌"
		if in.WarnOnly {
			icon = "⚠️"
		}
	}
	fmt.Fprintf(&b, "## %s modgate check\n\n%s\n\n", icon, mdEscape(verdict(r, in)))
	b.WriteString("| module | file | tidy | build | verify | vendor | replace | policy | vulnerabilities |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, m := range append(slices.Clip(r.Modules), r.Workspaces...) {
		name := m.Path
		if name == "" {
			name = "workspace"
		}
		fmt.Fprintf(&b, "| %s | %s |", mdCode(name), mdCode(m.File))
		for _, n := range []string{"tidy", "build", "verify", "vendor", "replace", "policy", "vulns"} {
			c, ok := m.Check(n)
			cell := "—"
			if ok {
				cell = map[string]string{check.StatusPass: "✅", check.StatusFail: "❌", check.StatusSkip: "➖"}[c.Status]
				if c.Summary != "" && n != "replace" {
					cell += " " + mdEscape(c.Summary)
				}
			}
			fmt.Fprintf(&b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\n> [!NOTE]\n> %s\n", mdEscape(n))
	}
	if len(r.Findings) > 0 {
		fmt.Fprintf(&b, "\n### Findings (%d)\n\n", len(r.Findings))
		b.WriteString("| | severity | kind | module | location | message |\n| --- | --- | --- | --- | --- | --- |\n")
		for _, f := range r.Findings {
			mark := ""
			if in.FailOn.Fails(f) {
				mark = "❌"
			}
			subject := ""
			if f.Module != "" {
				subject = mdCode(f.Subject())
			}
			msg := mdEscape(f.Message)
			if f.Fix != "" {
				msg += "<br/>**Fix:** " + mdEscape(f.Fix)
			}
			if len(f.Via) > 2 {
				msg += "<br/>via " + mdEscape(strings.Join(f.Via, " → "))
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", mark, f.Severity, mdCode(string(f.Kind)), subject,
				mdCode(fmt.Sprintf("%s:%d", f.File, max(f.Line, 1))), msg)
		}
		var details []*check.Finding
		for _, f := range r.Findings {
			if f.Detail != "" {
				details = append(details, f)
			}
		}
		if len(details) > 0 {
			b.WriteString("\n### Details\n")
			for _, f := range details {
				lang := "text"
				if f.Kind == check.KindUntidy {
					lang = "diff"
				}
				fmt.Fprintf(&b, "\n<details><summary>%s %s (%s:%d)</summary>\n\n%s\n\n</details>\n",
					htmlEscape(string(f.Kind)), htmlEscape(f.Subject()), htmlEscape(f.File), f.Line, fence(lang, f.Detail))
			}
		}
	}
	for _, m := range append(slices.Clip(r.Modules), r.Workspaces...) {
		g := FlaggedGraph(m.Graph)
		if g == nil {
			continue
		}
		fmt.Fprintf(&b, "\n### Dependency paths to flagged modules (%s)\n\n```mermaid\n", mdCode(m.File))
		if err := graph.WriteMermaid(&b, g); err != nil {
			return err
		}
		b.WriteString("```\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}

// FlaggedGraph returns the union of the shortest paths from the main
// module to every denied, vulnerable or warned module of g, nil when none
// is flagged. It is bounded by MaxGraphPaths and MaxGraphEdges.
func FlaggedGraph(g *graph.Graph) *graph.Graph {
	if g == nil {
		return nil
	}
	var paths [][]string
	edges := map[[2]string]bool{}
	for _, m := range g.Sorted() {
		if m.Status&(graph.Denied|graph.Vulnerable|graph.Warned) == 0 {
			continue
		}
		for _, p := range g.Why(m.Path, MaxGraphPaths) {
			added := 0
			for i := 0; i+1 < len(p); i++ {
				if !edges[[2]string{p[i], p[i+1]}] {
					added++
				}
			}
			if len(edges)+added > MaxGraphEdges {
				break
			}
			for i := 0; i+1 < len(p); i++ {
				edges[[2]string{p[i], p[i+1]}] = true
			}
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return nil
	}
	return g.PathsGraph(paths)
}

func mdCode(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.NewReplacer("`", "'", "|", "\\|", "\n", " ").Replace(s) + "`"
}

// mdEscape makes s safe in a table cell: pipes escaped, newlines joined,
// HTML special characters escaped.
func mdEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "\r", "", "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// fence wraps s in a code fence longer than any backtick run inside it.
func fence(lang, s string) string {
	n := 3
	for run, i := 0, 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			if run >= n {
				n = run + 1
			}
		} else {
			run = 0
		}
	}
	f := strings.Repeat("`", n)
	return f + lang + "\n" + strings.TrimRight(s, "\n") + "\n" + f
}
