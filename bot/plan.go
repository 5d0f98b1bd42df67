package bot

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/sync/errgroup"

	"github.com/modgate/modgate/bot/gomod"
	"github.com/modgate/modgate/proxy/api"
)

// Update types.
const (
	typeMajor = "major"
	typeMinor = "minor"
	typePatch = "patch"
)

// candidate is one proposed requirement update.
type candidate struct {
	gomod.Update
	Type string
	// Time is the new version's .info time (zero when unknown).
	Time time.Time
	// Fixes are the vulnerability IDs affecting From but not To, read
	// from the decision API's "vulnerabilities" findings.
	Fixes []string
	// Warn are the policy's warnings about To.
	Warn []api.Violation
	// Dirs are the module directories requiring Path.
	Dirs []string
}

func (c candidate) security() bool { return len(c.Fixes) > 0 }

// Refusal kinds shown on the dashboard.
const (
	whyPolicy       = "policy"
	whyVerification = "verification"
	whyLimit        = "limit"
	whySchedule     = "schedule"
)

// refusal is an update the bot will not propose now, with the reason.
type refusal struct {
	Path, Version string
	From          string
	Why           string
	Reason        string
}

// ignoredVersion is a version not proposed because a closed pull request
// or a rule said so.
type ignoredVersion struct {
	Path, Version string `json:",omitempty"`
	// PR is the closed pull request that ignored it (0 for a rule).
	PR     int    `json:",omitempty"`
	Reason string `json:",omitempty"`
}

// requirement is one module path required by the repository.
type requirement struct {
	Path string
	From string // lowest required version
	Dirs []string
}

// findings is what the planner learned about a repository.
type findings struct {
	Candidates []candidate
	Refused    []refusal
	Ignored    []ignoredVersion
	Notes      []string
}

var vulnID = regexp.MustCompile(`\b(?:GO-\d{4}-\d{4,}|CVE-\d{4}-\d{4,}|GHSA(?:-[0-9a-z]{4}){3})\b`)

// vulnIDs returns the vulnerability IDs of a decision's "vulnerabilities"
// findings (deny, warn or audit), and whether there was any such finding:
// the IDs the policy counted (after its ignore lists and review rules). A
// finding of a custom rule without IDs is read for IDs in its message; one
// naming none counts as one unnamed vulnerability.
func vulnIDs(d api.Decision) ([]string, bool) {
	var ids []string
	found := false
	for _, vs := range [][]api.Violation{d.Deny, d.Warn, d.Audit} {
		for _, v := range vs {
			if v.Rule != "vulnerabilities" {
				continue
			}
			found = true
			if len(v.IDs) > 0 {
				ids = append(ids, v.IDs...)
			} else {
				ids = append(ids, vulnID.FindAllString(v.Msg, -1)...)
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), found
}

// reason summarises why a decision is not a plain allow, or "".
func reason(d api.Decision) string {
	var parts []string
	if d.Error != "" {
		parts = append(parts, "no decision: "+d.Error)
	}
	for _, v := range d.Deny {
		s := v.Rule + ": " + v.Msg
		if v.Fix != "" {
			s += " (" + v.Fix + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// requirements collects the repository's requirements worth updating.
func requirements(r *gomod.Repo, rc *RepoConfig, f *findings) []requirement {
	byPath := map[string]*requirement{}
	for _, m := range r.Modules {
		for _, req := range m.File.Require {
			p, v := req.Mod.Path, req.Mod.Version
			if r.Local(p) {
				continue
			}
			if req.Indirect && !boolOr(rc.Indirect, false) {
				continue
			}
			if m.Replaced(p, v) {
				f.Notes = append(f.Notes, fmt.Sprintf("%s is replaced in %s/go.mod; not updated", p, m.Dir))
				continue
			}
			if module.IsPseudoVersion(v) {
				if t, err := module.PseudoVersionTime(v); err == nil && t.Year() < 2000 {
					f.Notes = append(f.Notes, fmt.Sprintf("%s@%s in %s/go.mod is a placeholder version; not updated", p, v, m.Dir))
					continue
				}
			}
			rq := byPath[p]
			if rq == nil {
				rq = &requirement{Path: p, From: v}
				byPath[p] = rq
			}
			if semver.Compare(v, rq.From) < 0 {
				rq.From = v
			}
			if !slices.Contains(rq.Dirs, m.Dir) {
				rq.Dirs = append(rq.Dirs, m.Dir)
			}
		}
	}
	out := make([]requirement, 0, len(byPath))
	for _, rq := range byPath {
		out = append(out, *rq)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// nextMajorPath returns the module path of the next major version, or ""
// when there is none to look for (gopkg.in paths).
func nextMajorPath(p string) string {
	prefix, pathMajor, ok := module.SplitPathVersion(p)
	if !ok || strings.HasPrefix(p, "gopkg.in/") {
		return ""
	}
	n := 1
	if pathMajor != "" {
		n, _ = strconv.Atoi(strings.TrimPrefix(pathMajor, "/v"))
	}
	return prefix + "/v" + strconv.Itoa(n+1)
}

// track is one module path's candidate versions, newest first, with
// modgate's facts and verdicts on each.
type track struct {
	req     requirement
	newPath string
	// versions are newer than req.From and neither retracted, pre-release
	// nor +incompatible.
	versions []api.Version
}

func updateType(from, newPath, path, to string) string {
	if newPath != path || semver.Major(from) != semver.Major(to) {
		return typeMajor
	}
	if semver.MajorMinor(from) != semver.MajorMinor(to) {
		return typeMinor
	}
	return typePatch
}

// loadTrack asks modgate about newPath's versions above req.From (every
// version, on a new major path) and keeps those worth proposing. Facts
// (retractions, times, vulnerabilities) and verdicts are modgate's: the
// bot computes none of them.
func loadTrack(ctx context.Context, gc *api.Client, req requirement, newPath string) (*track, error) {
	since := ""
	if newPath == req.Path && semver.IsValid(req.From) {
		since = req.From
	}
	m, err := gc.Module(ctx, newPath, since, "")
	if err != nil {
		return nil, err
	}
	t := &track{req: req, newPath: newPath}
	pre := semver.Prerelease(req.From) != "" && newPath == req.Path
	for _, v := range m.Versions {
		switch {
		case newPath == req.Path && semver.Compare(v.Version, req.From) <= 0:
		case semver.Prerelease(v.Version) != "" && !pre:
		case strings.HasSuffix(v.Version, "+incompatible") != strings.HasSuffix(req.From, "+incompatible") && newPath == req.Path:
		case newPath == req.Path && semver.Major(v.Version) != semver.Major(req.From):
			// +incompatible majors of the same path
		case v.Retracted:
		default:
			t.versions = append(t.versions, v)
		}
	}
	slices.Reverse(t.versions)
	return t, nil
}

// plan finds the updates for a repository: for each requirement the
// newest version modgate allows, on the same major version and on the
// next major path, skipping ignored ones.
func (b *Bot) plan(ctx context.Context, r *gomod.Repo, rc *RepoConfig, closed map[string]int) (*findings, error) {
	f := &findings{}
	reqs := requirements(r, rc, f)
	gc := b.gate()

	// Module facts first, concurrently: they are most of the requests.
	tracks := make([][]*track, len(reqs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, rq := range reqs {
		g.Go(func() error {
			same, err := loadTrack(gctx, gc, rq, rq.Path)
			if err != nil {
				return err
			}
			tracks[i] = append(tracks[i], same)
			if np := nextMajorPath(rq.Path); np != "" {
				major, err := loadTrack(gctx, gc, rq, np)
				if err != nil {
					return err
				}
				tracks[i] = append(tracks[i], major)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	current, err := b.currentDecisions(ctx, reqs, tracks)
	if err != nil {
		return nil, err
	}
	for i, rq := range reqs {
		oldIDs, oldVuln := vulnIDs(current[api.ModuleVersion{Path: rq.Path, Version: rq.From}])
		for _, t := range tracks[i] {
			if c, ok := pick(f, t, rq, rc, closed, oldIDs, oldVuln); ok {
				f.Candidates = append(f.Candidates, c)
			}
		}
	}
	return f, nil
}

// currentDecisions asks for the decisions on each current version that
// has an update candidate (for the vulnerabilities it has).
func (b *Bot) currentDecisions(ctx context.Context, reqs []requirement, tracks [][]*track) (map[api.ModuleVersion]api.Decision, error) {
	var ask []api.ModuleVersion
	for i, rq := range reqs {
		for _, t := range tracks[i] {
			if len(t.versions) > 0 && semver.IsValid(rq.From) {
				ask = append(ask, api.ModuleVersion{Path: rq.Path, Version: rq.From})
				break
			}
		}
	}
	out := map[api.ModuleVersion]api.Decision{}
	if len(ask) == 0 {
		return out, nil
	}
	ds, err := b.gate().Decide(ctx, "", ask)
	if err != nil {
		return nil, err
	}
	for i, d := range ds {
		out[ask[i]] = d
	}
	return out, nil
}

// pick returns the candidate of one track: its newest allowed version,
// recording refusals and ignored versions on the way.
func pick(f *findings, t *track, rq requirement, rc *RepoConfig, closed map[string]int, oldIDs []string, oldVuln bool) (candidate, bool) {
	for _, v := range t.versions {
		typ := updateType(rq.From, t.newPath, rq.Path, v.Version)
		if n, ok := closed[t.newPath+"@"+v.Version]; ok {
			f.Ignored = append(f.Ignored, ignoredVersion{Path: t.newPath, Version: v.Version, PR: n, Reason: fmt.Sprintf("pull request #%d was closed without merging", n)})
			continue
		}
		if rule := rc.ignored(t.newPath, v.Version, typ); rule != nil {
			f.Ignored = append(f.Ignored, ignoredVersion{Path: t.newPath, Version: v.Version, Reason: "ignored by " + RepoConfigPath + " (module " + rule.Module + ")"})
			return candidate{}, false // older versions are ignored by the same rule or not wanted
		}
		d := v.Decision
		if !d.Allowed {
			f.Refused = append(f.Refused, refusal{Path: t.newPath, Version: v.Version, From: rq.From, Why: whyPolicy, Reason: reason(d)})
			continue
		}
		c := candidate{
			Update: gomod.Update{Path: rq.Path, From: rq.From, NewPath: t.newPath, To: v.Version},
			Type:   typ, Warn: d.Warn, Dirs: rq.Dirs, Time: v.Time,
		}
		newIDs, newVuln := vulnIDs(d)
		if oldVuln {
			for _, id := range oldIDs {
				if !slices.Contains(newIDs, id) {
					c.Fixes = append(c.Fixes, id)
				}
			}
			if len(oldIDs) == 0 && !newVuln {
				c.Fixes = []string{"vulnerability reported by policy"}
			}
		}
		return c, true
	}
	return candidate{}, false
}

// group is one pull request's worth of updates.
type group struct {
	// Name is the branch suffix: modgate/<Name>.
	Name     string
	Security bool
	Major    bool
	Updates  []candidate
}

func (g *group) branch() string { return "modgate/" + g.Name }

func (g *group) updates() []gomod.Update {
	out := make([]gomod.Update, len(g.Updates))
	for i, c := range g.Updates {
		out[i] = c.Update
	}
	return out
}

// branchSafe turns a module path into a branch name component.
func branchSafe(p string) string {
	p = strings.ToLower(p)
	var b strings.Builder
	for _, r := range p {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-.")
}

// defaultGroup is the group of minor and patch updates matching no
// configured group.
const defaultGroup = "non-major"

// grouping assigns candidates to groups and orders them: security fixes
// first, then configured and non-major groups, then majors.
func grouping(cands []candidate, rc *RepoConfig) []*group {
	byName := map[string]*group{}
	var out []*group
	add := func(name string, c candidate, sec, major bool) {
		g := byName[name]
		if g == nil {
			g = &group{Name: name, Security: sec, Major: major}
			byName[name] = g
			out = append(out, g)
		}
		g.Updates = append(g.Updates, c)
	}
	for _, c := range cands {
		if c.security() {
			add(branchSafe(c.Path), c, true, c.Type == typeMajor)
			continue
		}
		name := ""
		for _, g := range rc.Groups {
			types := g.Types
			if len(types) == 0 {
				types = []string{typeMinor, typePatch}
			}
			if !slices.Contains(types, c.Type) {
				continue
			}
			for _, p := range g.Match {
				if matchPattern(p, c.Path) || matchPattern(p, c.NewPath) {
					name = g.Name
					break
				}
			}
			if name != "" {
				break
			}
		}
		switch {
		case name != "":
			add(name, c, false, c.Type == typeMajor)
		case c.Type == typeMajor:
			add(branchSafe(c.NewPath), c, false, true)
		default:
			add(defaultGroup, c, false, false)
		}
	}
	rank := func(g *group) int {
		switch {
		case g.Security:
			return 0
		case g.Major:
			return 2
		}
		return 1
	}
	sort.SliceStable(out, func(i, j int) bool {
		if ri, rj := rank(out[i]), rank(out[j]); ri != rj {
			return ri < rj
		}
		return out[i].Name < out[j].Name
	})
	return out
}
