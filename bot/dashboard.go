package bot

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// dashMeta is the dashboard issue's hidden state: it caches what closed
// pull requests said (so only newer ones are read), failed attempts, and
// the upgrades approved on the dashboard.
type dashMeta struct {
	V int `json:"v"`
	// ClosedScan is the update time of the newest closed pull request
	// already read.
	ClosedScan time.Time        `json:"closed_scan,omitzero"`
	Ignored    []ignoredVersion `json:"ignored,omitempty"`
	Failed     []failure        `json:"failed,omitempty"`
	// Approved are the branches whose updates were approved on the
	// dashboard (require_approval), kept while they are proposed.
	Approved []string `json:"approved,omitempty"`
}

// Checkbox kinds: what ticking a dashboard (or pull request) checkbox
// asks the next run to do.
const (
	// boxRebase rebuilds a pull request's branch from the base branch,
	// even when someone else pushed to it.
	boxRebase = "rebase"
	// boxRetry retries an update that failed verification or policy.
	boxRetry = "retry"
	// boxApprove approves an update waiting for approval.
	boxApprove = "approve"
	// boxCreate opens a pending pull request now, despite limits and
	// the schedule window.
	boxCreate = "create"
)

// boxMarker is the hidden marker that identifies a checkbox.
func boxMarker(kind, arg string) string {
	if arg == "" {
		return "<!-- modgate:" + kind + " -->"
	}
	return "<!-- modgate:" + kind + " " + arg + " -->"
}

func box(kind, arg, text string) string {
	return "[ ] " + boxMarker(kind, arg) + " " + text
}

var boxRE = regexp.MustCompile(`(?m)^\s*[-*] \[([ xX])\] <!-- modgate:(rebase|retry|approve|create)(?: ([^ ]+))? -->`)

// ticked returns the ticked checkboxes of body as "kind arg" (or "kind"
// for a box without an argument).
func ticked(body string) map[string]bool {
	out := map[string]bool{}
	for _, m := range boxRE.FindAllStringSubmatch(body, -1) {
		if m[1] == "x" || m[1] == "X" {
			out[strings.TrimSpace(m[2]+" "+m[3])] = true
		}
	}
	return out
}

// dashboard is what the dashboard issue shows.
type dashboard struct {
	Open       []prLine
	Approval   []refusal
	Pending    []refusal
	Edited     []edited
	Automerge  []string
	Refused    []refusal
	Failed     []failure
	Vulnerable []vulnerable
	Ignored    []ignoredVersion
	Notes      []string
	Errors     []string
	Meta       dashMeta
}

// prLine is an open (or, in a dry run, planned) pull request.
type prLine struct {
	Number int // 0: not created yet (dry run)
	Title  string
	Branch string
}

// edited is a pull request whose branch has commits the bot did not
// push.
type edited struct {
	Number  int
	Branch  string
	Commits string
}

// empty reports whether there is nothing worth a new dashboard issue.
func (d *dashboard) empty() bool {
	return len(d.Open) == 0 && len(d.Pending) == 0 && len(d.Refused) == 0 && len(d.Failed) == 0 &&
		len(d.Ignored) == 0 && len(d.Errors) == 0 && len(d.Approval) == 0 && len(d.Edited) == 0 &&
		len(d.Vulnerable) == 0
}

const dashboardTitle = "Dependency dashboard (modgate)"

// DashboardLabel marks the dashboard issue.
const DashboardLabel = "modgate-dashboard"

// render renders the issue body within [MaxBody], shortening long
// sections first.
func (d *dashboard) render() string {
	out := ""
	for _, n := range []int{200, 50, 20, 5} {
		if out = d.renderN(n); len(out) <= MaxBody {
			break
		}
	}
	return out
}

// withScan renders the body as if the closed pull requests had been read
// up to scan only.
func (d *dashboard) withScan(scan time.Time) string {
	c := *d
	c.Meta.ClosedScan = scan
	return c.render()
}

// renderN renders the body with at most n entries per section.
func (d *dashboard) renderN(n int) string {
	var b strings.Builder
	b.WriteString("This issue lists the Go module updates modgate's bot found for this repository, and why some are not proposed. The bot keeps it up to date; edit `.github/modgate.yaml` to change its behaviour. Tick a box to have the next run act on it.\n")
	section := func(title, intro string, lines []string) {
		if len(lines) == 0 {
			return
		}
		b.WriteString("\n## " + title + "\n\n")
		if intro != "" {
			b.WriteString(intro + "\n\n")
		}
		for i, l := range lines {
			if i == n {
				fmt.Fprintf(&b, "- … and %d more\n", len(lines)-n)
				break
			}
			b.WriteString("- " + l + "\n")
		}
	}
	var lines []string
	for _, p := range d.Open {
		if p.Number == 0 {
			lines = append(lines, fmt.Sprintf("%s (to be opened) %s", code(p.Branch), p.Title))
			continue
		}
		lines = append(lines, box(boxRebase, p.Branch, fmt.Sprintf("#%d %s", p.Number, p.Title)))
	}
	section("Open pull requests", "Tick a box to rebuild that branch from the base branch.", lines)
	lines = nil
	for _, r := range d.Approval {
		lines = append(lines, box(boxApprove, r.Branch, fmt.Sprintf("%s %s → %s", code(r.Path), code(r.From), code(r.Version))))
	}
	section("Awaiting approval", "These updates are proposed once approved: tick a box.", lines)
	lines = nil
	for _, r := range d.Pending {
		text := fmt.Sprintf("%s %s → %s: %s", code(r.Path), code(r.From), code(r.Version), r.Reason)
		if r.Branch != "" {
			lines = append(lines, box(boxCreate, r.Branch, text))
		} else {
			lines = append(lines, text)
		}
	}
	section("Pending", "Tick a box to open that pull request now, despite limits and the schedule.", lines)
	lines = nil
	for _, e := range d.Edited {
		lines = append(lines, box(boxRebase, e.Branch, fmt.Sprintf("#%d %s: %s", e.Number, code(e.Branch), oneLine(e.Commits))))
	}
	section("Edited by someone else", "modgate no longer updates these branches. Tick a box to let it rebuild one, discarding the commits it did not push.", lines)
	section("Automerge", "", d.Automerge)
	lines = nil
	for _, r := range d.Refused {
		lines = append(lines, fmt.Sprintf("%s %s: %s", code(r.Path), code(r.Version), oneLine(r.Reason)))
	}
	section("Refused by policy", "", lines)
	lines = nil
	for _, f := range d.Failed {
		var us []string
		for _, u := range f.Update {
			us = append(us, code(u.NewPath+"@"+u.To))
		}
		lines = append(lines, box(boxRetry, f.Key, fmt.Sprintf("%s (%s): %s", strings.Join(us, ", "), f.Why, oneLine(f.Reason))))
	}
	section("Failed verification or policy", "Not retried until the base branch or the versions change; tick a box to retry now.", lines)
	lines = nil
	for _, v := range d.Vulnerable {
		var ids []string
		for _, id := range v.IDs {
			ids = append(ids, advisory(id))
		}
		l := fmt.Sprintf("%s %s: %s", code(v.Path), code(v.Version), strings.Join(ids, ", "))
		switch {
		case v.Fix != "" && v.Status != "":
			l += fmt.Sprintf(" — fix %s proposed; %s", code(v.Fix), v.Status)
		case v.Fix != "":
			l += fmt.Sprintf(" — fix %s proposed", code(v.Fix))
		case v.Status != "":
			l += " — " + v.Status
		}
		lines = append(lines, l)
	}
	section("Vulnerable modules", "Modules of the build list that modgate reports vulnerable.", lines)
	lines = nil
	for _, i := range d.Ignored {
		lines = append(lines, fmt.Sprintf("%s %s: %s", code(i.Path), code(i.Version), i.Reason))
	}
	section("Ignored", "", lines)
	section("Notes", "", d.Notes)
	section("Errors", "", d.Errors)
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

// sortRefusals sorts by module and version and drops repeats (the
// latest-version and fix searches may both refuse one version).
func sortRefusals(rs []refusal) []refusal {
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].Path != rs[j].Path {
			return rs[i].Path < rs[j].Path
		}
		return rs[i].Version < rs[j].Version
	})
	return slices.CompactFunc(rs, func(a, b refusal) bool { return a == b })
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

func sortVulnerable(vs []vulnerable) {
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].Path < vs[j].Path })
}

// approved reports whether branch was approved before or is ticked now.
func (d *dashMeta) approved(branch string) bool { return slices.Contains(d.Approved, branch) }
