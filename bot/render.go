package bot

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/modgate/modgate/bot/gomod"
	"github.com/modgate/modgate/proxy/api"
)

// TemplateData is what [RepoConfig.CommitMessage] is executed with.
type TemplateData struct {
	// Subject is "example.com/m to v1.2.3" for one update, "Go toolchain
	// to go1.22.3" for the toolchain group, else "non-major
	// dependencies" or "<group> group".
	Subject string
	// Type is the largest update type: "major", "minor" or "patch".
	Type string
	// Security is set when the pull request fixes vulnerabilities.
	Security bool
	// Group is the branch suffix (modgate/<Group>).
	Group string
	// Updates are the requirement changes.
	Updates []gomod.Update
}

func templateData(g *group) TemplateData {
	td := TemplateData{Type: typePatch, Security: g.Security, Group: g.Name, Updates: g.updates()}
	for _, c := range g.Updates {
		switch {
		case c.Type == typeMajor:
			td.Type = typeMajor
		case c.Type == typeMinor && td.Type == typePatch:
			td.Type = typeMinor
		}
	}
	switch {
	case len(g.Updates) == 1 && g.Updates[0].Kind == gomod.KindToolchain:
		td.Subject = "Go toolchain to " + g.Updates[0].To
	case len(g.Updates) == 1 && g.Updates[0].Kind == gomod.KindGo:
		td.Subject = "go directive to " + g.Updates[0].To
	case len(g.Updates) == 1:
		td.Subject = g.Updates[0].NewPath + " to " + g.Updates[0].To
	case g.Name == defaultGroup:
		td.Subject = "non-major dependencies"
	case g.Name == toolchainGroup:
		td.Subject = "Go toolchain and go directive"
	default:
		td.Subject = g.Name + " group"
	}
	return td
}

// title renders the commit message's first line (also the pull request
// title).
func title(rc *RepoConfig, g *group) (string, error) {
	t, err := template.New("commit_message").Option("missingkey=error").Parse(rc.CommitMessage)
	if err != nil {
		return "", fmt.Errorf("commit_message: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, templateData(g)); err != nil {
		return "", fmt.Errorf("commit_message: %w", err)
	}
	s, _, _ := strings.Cut(strings.TrimSpace(b.String()), "\n")
	return s, nil
}

// prMeta is the machine-readable record hidden in a pull request body:
// what the pull request proposes, on which base commit, and which commit
// the bot last pushed. A later run compares it with its plan; a closed,
// unmerged pull request's Updates are ignored from then on, unless the
// bot closed it itself (Closed).
type prMeta struct {
	V       int            `json:"v"`
	Group   string         `json:"group"`
	Base    string         `json:"base"`
	Updates []gomod.Update `json:"updates"`
	// Head is the commit the bot last pushed to the branch: the lease of
	// its next push. A branch head elsewhere has commits by someone
	// else.
	Head string `json:"head,omitempty"`
	// Edited is the branch head at which the bot found commits it did
	// not push (and said so in a comment); it leaves the branch alone.
	Edited string `json:"edited,omitempty"`
	// Closed says why the bot closed the pull request: "applied" or
	// "superseded" (versions a person did not refuse).
	Closed string `json:"closed,omitempty"`
}

// prMetaVersion is the version of prMeta the bot writes.
const prMetaVersion = 2

const (
	prMetaTag   = "modgate:pr"
	dashMetaTag = "modgate:dashboard"
)

func metaComment(tag string, v any) string {
	b, _ := json.Marshal(v)
	// "--" cannot appear in JSON outside strings, and module paths and
	// versions never hold "-->", but escape it anyway.
	return "<!-- " + tag + " " + strings.ReplaceAll(string(b), "-->", `--\u003e`) + " -->"
}

var metaRE = regexp.MustCompile(`<!-- (modgate:[a-z]+) (\{.*?\}) -->`)

func readMeta(body, tag string, v any) bool {
	for _, m := range metaRE.FindAllStringSubmatch(body, -1) {
		if m[1] == tag {
			return json.Unmarshal([]byte(m[2]), v) == nil
		}
	}
	return false
}

// replaceMeta replaces the tag's metadata in body with v's (appending it
// when there is none).
func replaceMeta(body, tag string, v any) string {
	done := false
	out := metaRE.ReplaceAllStringFunc(body, func(s string) string {
		if m := metaRE.FindStringSubmatch(s); m[1] == tag && !done {
			done = true
			return metaComment(tag, v)
		}
		return s
	})
	if !done {
		out = strings.TrimRight(out, "\n") + "\n\n" + metaComment(tag, v) + "\n"
	}
	return out
}

func sameUpdates(a, b []gomod.Update) bool {
	key := func(us []gomod.Update) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.Key())
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}

// age renders how long ago t was, coarsely.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	d := now.Sub(t)
	switch {
	case d < 48*time.Hour:
		return "1 day"
	case d < 60*24*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d < 2*365*24*time.Hour:
		return fmt.Sprintf("%d months", int(d.Hours()/24/30))
	}
	return fmt.Sprintf("%d years", int(d.Hours()/24/365))
}

func policyCell(warn []api.Violation) string {
	if len(warn) == 0 {
		return "allowed"
	}
	var rules []string
	for _, w := range warn {
		rules = append(rules, w.Rule)
	}
	slices.Sort(rules)
	return "allowed (warnings: " + strings.Join(slices.Compact(rules), ", ") + ")"
}

func code(s string) string { return "`" + s + "`" }

// subject names what an update changes, for tables and lists.
func subject(u gomod.Update) string {
	switch u.Kind {
	case gomod.KindToolchain:
		return "Go toolchain"
	case gomod.KindGo:
		return "go directive"
	}
	return code(u.Path)
}

func changeCell(c candidate) string {
	switch {
	case c.Major():
		return fmt.Sprintf("%s → %s %s (major)", code(c.From), code(c.NewPath), code(c.To))
	case c.Kind == gomod.KindTransitive:
		return fmt.Sprintf("%s → %s (%s, not required directly)", code(c.From), code(c.To), c.Type)
	}
	return fmt.Sprintf("%s → %s (%s)", code(c.From), code(c.To), c.Type)
}

func fixesCell(c candidate) string {
	if len(c.Fixes) == 0 {
		return "—"
	}
	var out []string
	for _, id := range c.Fixes {
		out = append(out, advisory(id))
	}
	s := strings.Join(out, ", ")
	if len(c.Unfixed) > 0 {
		s += " (still affected by " + strings.Join(c.Unfixed, ", ") + ")"
	}
	return s
}

// buildChange is a build-list change with its policy decision.
type buildChange struct {
	gomod.Change
	Decision api.Decision
}

// verification is the outcome of applying and verifying a group.
type verification struct {
	Steps   []gomod.Step
	Changes []buildChange
	Edges   []gomod.Edge
}

// prInput is what a pull request body shows.
type prInput struct {
	Now     time.Time
	Group   *group
	Verify  *verification
	Meta    prMeta
	GateURL string
	// Links are the group's updates' links, in order.
	Links []links
	// Automerge is the matching automerge rule's description and the
	// merge method ("" when the pull request is not merged
	// automatically).
	Automerge, Method string
}

// MaxBody bounds a pull request or dashboard body: GitHub refuses more
// than 65536 characters. Longer bodies lose release notes, the graph,
// then table rows, in that order.
const MaxBody = 60000

// bodyParts says how much of a body to render.
type bodyParts struct {
	notes, graph bool
	rows         int // table rows per table; < 0 means all
}

// fit renders with the most parts that keep the result within max.
func fit(max int, render func(bodyParts) string) string {
	tries := []bodyParts{{true, true, -1}, {false, true, -1}, {false, false, -1}, {false, false, 200}, {false, false, 50}, {false, false, 10}}
	var s string
	for _, p := range tries {
		if s = render(p); len(s) <= max {
			return s
		}
	}
	return s
}

// prBody renders a pull request description.
func prBody(in prInput) string {
	return fit(MaxBody, func(p bodyParts) string { return renderBody(in, p) })
}

// rows caps a table's rows, noting the rest.
func rows(lines []string, n int) string {
	var b strings.Builder
	for i, l := range lines {
		if n >= 0 && i >= n {
			fmt.Fprintf(&b, "\n… and %d more.\n", len(lines)-n)
			break
		}
		b.WriteString(l)
	}
	return b.String()
}

func renderBody(in prInput, p bodyParts) string {
	g, v := in.Group, in.Verify
	var b strings.Builder
	if g.Security {
		b.WriteString("**Security update.** ")
	}
	fmt.Fprintf(&b, "This pull request updates Go module requirements to versions that the organisation's modgate policy allows. The whole resulting build list was checked against the policy, and the change was verified before the pull request was opened.\n\n")
	b.WriteString("| Module | Change | Age | Vulnerabilities fixed | Policy |\n| --- | --- | --- | --- | --- |\n")
	var lines []string
	for _, c := range g.Updates {
		lines = append(lines, fmt.Sprintf("| %s | %s | %s | %s | %s |\n", subject(c.Update), changeCell(c), age(in.Now, c.Time), fixesCell(c), policyCell(c.Warn)))
	}
	b.WriteString(rows(lines, p.rows))
	b.WriteString(renderLinks(in, p))
	b.WriteString("\n### Build list changes\n\n")
	if len(v.Changes) == 0 {
		b.WriteString("Minimal version selection changes no module other than those above.\n")
	} else {
		b.WriteString("What minimal version selection selects after the update (every added or changed module was checked against the policy):\n\n| Module | Before | After | Policy |\n| --- | --- | --- | --- |\n")
		lines = nil
		for _, c := range v.Changes {
			from, to, pol := "(none)", "(removed)", "—"
			if c.From != "" {
				from = code(c.From)
			}
			if c.To != "" {
				to = code(c.To)
				pol = policyCell(c.Decision.Warn)
			}
			lines = append(lines, fmt.Sprintf("| %s | %s | %s | %s |\n", code(c.Path), from, to, pol))
		}
		b.WriteString(rows(lines, p.rows))
	}
	if graph := mermaid(v); graph != "" && p.graph {
		b.WriteString("\n### What changed\n\n```mermaid\n" + graph + "```\n")
	}
	b.WriteString("\n### Verification\n\n")
	for _, s := range v.Steps {
		mark := "✅"
		if !s.OK {
			mark = "❌"
		}
		fmt.Fprintf(&b, "- %s %s in %s\n", mark, code(s.Name), code(s.Dir))
	}
	if in.Automerge != "" {
		fmt.Fprintf(&b, "\n**Automerge:** modgate merges this pull request (%s) once its required checks pass (rule: %s).\n", in.Method, in.Automerge)
	}
	fmt.Fprintf(&b, "\nModules were resolved through modgate (%s). Closing this pull request without merging ignores these versions; a later run updates it when newer versions appear or the base branch moves. modgate stops updating this branch once someone else pushes to it.\n\n", in.GateURL)
	b.WriteString("- [ ] " + boxMarker(boxRebase, "") + " Rebuild this branch from the base branch on the next run (discarding commits modgate did not push).\n\n")
	b.WriteString(metaComment(prMetaTag, in.Meta))
	b.WriteString("\n")
	return b.String()
}

// renderLinks renders the "Release notes and advisories" section.
func renderLinks(in prInput, p bodyParts) string {
	var b strings.Builder
	started := false
	for i, c := range in.Group.Updates {
		if i >= len(in.Links) {
			break
		}
		l := in.Links[i]
		var parts []string
		if l.Compare != "" {
			parts = append(parts, fmt.Sprintf("[compare %s…%s](%s)", c.From, c.To, l.Compare))
		} else if l.Repo != "" {
			parts = append(parts, fmt.Sprintf("[source](%s)", l.Repo))
		}
		var rels []string
		for j, r := range l.Releases {
			if j == 10 {
				rels = append(rels, fmt.Sprintf("and %d more", len(l.Releases)-10))
				break
			}
			rels = append(rels, fmt.Sprintf("[%s](%s)", r.Tag, r.URL))
		}
		if len(rels) > 0 {
			parts = append(parts, "release notes: "+strings.Join(rels, ", "))
		} else if l.ReleaseNotes != "" {
			parts = append(parts, fmt.Sprintf("[release notes](%s)", l.ReleaseNotes))
		}
		if len(c.Fixes) > 0 {
			var adv []string
			for _, id := range append(slices.Clone(c.Fixes), c.Unfixed...) {
				if id != unnamedVuln {
					adv = append(adv, advisory(id))
				}
			}
			if len(adv) > 0 {
				parts = append(parts, "advisories: "+strings.Join(adv, ", "))
			}
		}
		if len(parts) == 0 {
			continue
		}
		if !started {
			b.WriteString("\n### Release notes and advisories\n\n")
			started = true
		}
		fmt.Fprintf(&b, "- %s %s → %s: %s\n", subject(c.Update), code(c.From), code(c.To), strings.Join(parts, " · "))
		if p.notes {
			for j, r := range l.Releases {
				if j == 3 || strings.TrimSpace(r.Body) == "" {
					break
				}
				notes := strings.TrimSpace(r.Body)
				if len(notes) > 2000 {
					notes = notes[:2000] + "\n\n… (truncated)"
				}
				fmt.Fprintf(&b, "\n  <details><summary>%s</summary>\n\n%s\n\n  </details>\n\n", r.Tag, indent(quoteNotes(notes), "  "))
			}
		}
	}
	return b.String()
}

func indent(s, by string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = by + l
		}
	}
	return strings.Join(lines, "\n")
}

// mermaid draws who requires each added or changed module.
func mermaid(v *verification) string {
	changed := map[string]gomod.Change{}
	for _, c := range v.Changes {
		if c.To != "" {
			changed[c.Path+"@"+c.To] = c.Change
		}
	}
	if len(changed) == 0 {
		return ""
	}
	ids := map[string]string{}
	id := func(n string) string {
		if s, ok := ids[n]; ok {
			return s
		}
		s := fmt.Sprintf("n%d", len(ids))
		ids[n] = s
		return s
	}
	var lines []string
	for _, e := range v.Edges {
		c, ok := changed[e.To]
		if !ok {
			continue
		}
		label := c.Path + " " + c.To
		if c.From != "" {
			label = c.Path + " " + c.From + " → " + c.To
		} else {
			label += " (new)"
		}
		lines = append(lines, fmt.Sprintf("  %s[%q] --> %s[%q]", id(e.From), e.From, id(e.To), label))
		if len(lines) >= 60 {
			break
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return "graph LR\n" + strings.Join(lines, "\n") + "\n"
}

// failure is a group that failed verification or policy, remembered on
// the dashboard so an identical attempt is not repeated (until someone
// ticks its retry box).
type failure struct {
	Key    string         `json:"key"`
	Why    string         `json:"why"`
	Reason string         `json:"reason"`
	Group  string         `json:"group"`
	Update []gomod.Update `json:"updates"`
}

// failureKey identifies an attempt: the same updates on the same base.
func failureKey(base string, us []gomod.Update) string {
	var parts []string
	for _, u := range us {
		parts = append(parts, u.Key())
	}
	slices.Sort(parts)
	h := sha256.Sum256([]byte(base + "\n" + strings.Join(parts, "\n")))
	return hex.EncodeToString(h[:8])
}
