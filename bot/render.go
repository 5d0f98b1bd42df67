package bot

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/modgate/modgate/bot/gomod"
	"github.com/modgate/modgate/proxy/api"
)

// TemplateData is what [RepoConfig.CommitMessage] is executed with.
type TemplateData struct {
	// Subject is "example.com/m to v1.2.3" for one update, else
	// "non-major dependencies" or "<group> group".
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
	case len(g.Updates) == 1:
		td.Subject = g.Updates[0].NewPath + " to " + g.Updates[0].To
	case g.Name == defaultGroup:
		td.Subject = "non-major dependencies"
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
// what the pull request proposes and on which base commit. A later run
// compares it with its plan; a closed, unmerged pull request's Updates
// are ignored from then on.
type prMeta struct {
	V       int            `json:"v"`
	Group   string         `json:"group"`
	Base    string         `json:"base"`
	Updates []gomod.Update `json:"updates"`
}

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

func sameUpdates(a, b []gomod.Update) bool {
	key := func(us []gomod.Update) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.Path+"@"+u.From+">"+u.NewPath+"@"+u.To)
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

func changeCell(c candidate) string {
	if c.Major() {
		return fmt.Sprintf("%s → %s %s (major)", code(c.From), code(c.NewPath), code(c.To))
	}
	return fmt.Sprintf("%s → %s (%s)", code(c.From), code(c.To), c.Type)
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

// prBody renders a pull request description.
func prBody(now time.Time, g *group, v *verification, meta prMeta, gateURL string) string {
	var b strings.Builder
	if g.Security {
		b.WriteString("**Security update.** ")
	}
	fmt.Fprintf(&b, "This pull request updates Go module requirements to versions that the organisation's modgate policy allows. The whole resulting build list was checked against the policy, and the change was verified before the pull request was opened.\n\n")
	b.WriteString("| Module | Change | Age | Vulnerabilities fixed | Policy |\n| --- | --- | --- | --- | --- |\n")
	for _, c := range g.Updates {
		fixes := "—"
		if len(c.Fixes) > 0 {
			fixes = strings.Join(c.Fixes, ", ")
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", code(c.Path), changeCell(c), age(now, c.Time), fixes, policyCell(c.Warn))
	}
	b.WriteString("\n### Build list changes\n\n")
	if len(v.Changes) == 0 {
		b.WriteString("Minimal version selection changes no module other than those above.\n")
	} else {
		b.WriteString("What minimal version selection selects after the update (every added or changed module was checked against the policy):\n\n| Module | Before | After | Policy |\n| --- | --- | --- | --- |\n")
		for _, c := range v.Changes {
			from, to, pol := "(none)", "(removed)", "—"
			if c.From != "" {
				from = code(c.From)
			}
			if c.To != "" {
				to = code(c.To)
				pol = policyCell(c.Decision.Warn)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", code(c.Path), from, to, pol)
		}
	}
	if graph := mermaid(v); graph != "" {
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
	fmt.Fprintf(&b, "\nModules were resolved through modgate (%s). Closing this pull request without merging ignores these versions; a later run updates it when newer versions appear or the base branch moves.\n\n", gateURL)
	b.WriteString(metaComment(prMetaTag, meta))
	b.WriteString("\n")
	return b.String()
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
// the dashboard so an identical attempt is not repeated.
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
		parts = append(parts, u.Path+"@"+u.From+">"+u.NewPath+"@"+u.To)
	}
	slices.Sort(parts)
	h := sha256.Sum256([]byte(base + "\n" + strings.Join(parts, "\n")))
	return hex.EncodeToString(h[:8])
}

// dashMeta is the dashboard issue's hidden state: it caches what closed
// pull requests said (so only newer ones are read) and failed attempts.
type dashMeta struct {
	V int `json:"v"`
	// ClosedScan is the update time of the newest closed pull request
	// already read.
	ClosedScan time.Time        `json:"closed_scan,omitzero"`
	Ignored    []ignoredVersion `json:"ignored,omitempty"`
	Failed     []failure        `json:"failed,omitempty"`
}

// dashboard is what the dashboard issue shows.
type dashboard struct {
	Open     []prLine
	Pending  []refusal
	Refused  []refusal
	Failed   []failure
	Ignored  []ignoredVersion
	Notes    []string
	Errors   []string
	Meta     dashMeta
	Disabled bool
}

type prLine struct {
	Number int
	Title  string
}

// empty reports whether there is nothing worth a new dashboard issue.
func (d *dashboard) empty() bool {
	return len(d.Open) == 0 && len(d.Pending) == 0 && len(d.Refused) == 0 && len(d.Failed) == 0 &&
		len(d.Ignored) == 0 && len(d.Errors) == 0
}

const dashboardTitle = "Dependency dashboard (modgate)"

// DashboardLabel marks the dashboard issue.
const DashboardLabel = "modgate-dashboard"

func (d *dashboard) render() string {
	var b strings.Builder
	b.WriteString("This issue lists the Go module updates modgate's bot found for this repository, and why some are not proposed. The bot keeps it up to date; edit `.github/modgate.yaml` to change its behaviour.\n")
	section := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		b.WriteString("\n## " + title + "\n\n")
		for _, l := range lines {
			b.WriteString("- " + l + "\n")
		}
	}
	var lines []string
	for _, p := range d.Open {
		lines = append(lines, fmt.Sprintf("#%d %s", p.Number, p.Title))
	}
	section("Open pull requests", lines)
	lines = nil
	for _, r := range d.Pending {
		lines = append(lines, fmt.Sprintf("%s %s → %s: %s", code(r.Path), code(r.From), code(r.Version), r.Reason))
	}
	section("Pending", lines)
	lines = nil
	for _, r := range d.Refused {
		lines = append(lines, fmt.Sprintf("%s %s: %s", code(r.Path), code(r.Version), oneLine(r.Reason)))
	}
	section("Refused by policy", lines)
	lines = nil
	for _, f := range d.Failed {
		var us []string
		for _, u := range f.Update {
			us = append(us, code(u.NewPath+"@"+u.To))
		}
		lines = append(lines, fmt.Sprintf("%s (%s): %s", strings.Join(us, ", "), f.Why, oneLine(f.Reason)))
	}
	section("Failed verification or policy", lines)
	lines = nil
	for _, i := range d.Ignored {
		lines = append(lines, fmt.Sprintf("%s %s: %s", code(i.Path), code(i.Version), i.Reason))
	}
	section("Ignored", lines)
	section("Notes", d.Notes)
	section("Errors", d.Errors)
	b.WriteString("\n" + metaComment(dashMetaTag, d.Meta) + "\n")
	return b.String()
}

// oneLine keeps a reason to one line of bounded length for lists.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

func sortRefusals(rs []refusal) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Path != rs[j].Path {
			return rs[i].Path < rs[j].Path
		}
		return rs[i].Version < rs[j].Version
	})
}

func sortIgnored(is []ignoredVersion) []ignoredVersion {
	seen := map[string]bool{}
	var out []ignoredVersion
	for _, i := range is {
		k := i.Path + "@" + i.Version
		if !seen[k] {
			seen[k] = true
			out = append(out, i)
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Path != out[b].Path {
			return out[a].Path < out[b].Path
		}
		return out[a].Version < out[b].Version
	})
	return out
}
