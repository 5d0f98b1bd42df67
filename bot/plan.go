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

// candidate is one proposed update.
type candidate struct {
	gomod.Update
	Type string
	// Time is the new version's .info time (zero when unknown).
	Time time.Time
	// Fixes are the vulnerability IDs affecting From but not To, read
	// from the decision API's "vulnerabilities" findings.
	Fixes []string
	// Unfixed are the IDs affecting From that To still has.
	Unfixed []string
	// Warn are the policy's warnings about To.
	Warn []api.Violation
	// Dirs are the module directories the update changes.
	Dirs []string
}

// security reports whether the candidate is a security fix: it fixes
// vulnerabilities on its own major version. A major upgrade is never
// one (its fixes are shown, but it is proposed like any major).
func (c candidate) security() bool { return len(c.Fixes) > 0 && !c.Major() }

// matchNames are the names module patterns (groups, ignore rules,
// automerge rules) are matched against.
func (c candidate) matchNames() []string {
	switch c.Kind {
	case gomod.KindToolchain, gomod.KindGo:
		return []string{gomod.ToolchainPath}
	}
	return []string{c.Path, c.NewPath}
}

// Refusal kinds shown on the dashboard.
const (
	whyPolicy       = "policy"
	whyVerification = "verification"
	whyLimit        = "limit"
	whySchedule     = "schedule"
	whyApproval     = "approval"
	whyEdited       = "edited"
)

// refusal is an update the bot will not propose now, with the reason.
type refusal struct {
	Path, Version string
	From          string
	Why           string
	Reason        string
	// Branch is the pull request branch the update would use, for
	// dashboard checkboxes ("" when there is none).
	Branch string
}

// ignoredVersion is a version not proposed because a closed pull request
// or a rule said so.
type ignoredVersion struct {
	Path, Version string `json:",omitempty"`
	// PR is the closed pull request that ignored it (0 for a rule).
	PR     int    `json:",omitempty"`
	Reason string `json:",omitempty"`
}

// vulnerable is a module version of the build list that the policy
// reports vulnerable, and what the bot does about it.
type vulnerable struct {
	Path, Version string
	IDs           []string
	// Fix is the version proposed ("" when there is none), Status says
	// why there is none or what remains unfixed.
	Fix    string
	Status string
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
	Vulnerable []vulnerable
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

// unnamedVuln stands for a vulnerability finding that names no ID.
const unnamedVuln = "vulnerability reported by policy"

// fixes returns which of the vulnerabilities old (and oldVuln, a finding
// without IDs) the version v no longer has, by its verdict and by
// modgate's facts, and which remain.
func fixes(old []string, oldVuln bool, v api.Version) (fixed, remain []string) {
	if !oldVuln {
		return nil, nil
	}
	ids, found := vulnIDs(v.Decision)
	if len(old) == 0 {
		if found {
			return nil, []string{unnamedVuln}
		}
		return []string{unnamedVuln}, nil
	}
	for _, id := range old {
		if slices.Contains(ids, id) || slices.Contains(v.Vulns, id) {
			remain = append(remain, id)
		} else {
			fixed = append(fixed, id)
		}
	}
	return fixed, remain
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
				continue // moved by direct updates, or by a transitive fix
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

// keep reports whether v of newPath is worth proposing to req.
func (req requirement) keep(newPath string, v api.Version) bool {
	pre := semver.Prerelease(req.From) != "" && newPath == req.Path
	switch {
	case newPath == req.Path && semver.Compare(v.Version, req.From) <= 0:
	case semver.Prerelease(v.Version) != "" && !pre:
	case strings.HasSuffix(v.Version, "+incompatible") != strings.HasSuffix(req.From, "+incompatible") && newPath == req.Path:
	case newPath == req.Path && semver.Major(v.Version) != semver.Major(req.From):
		// +incompatible majors of the same path
	case v.Retracted:
	default:
		return true
	}
	return false
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
	for _, v := range m.Versions {
		if req.keep(newPath, v) {
			t.versions = append(t.versions, v)
		}
	}
	slices.Reverse(t.versions)
	return t, nil
}

// addSuggested adds the policy's suggestion for a version it reports
// vulnerable (the nearest allowed version) to the same-path track when
// the module answer left it out (it lists at most the newest
// [api.MaxModuleVersions]).
func (b *Bot) addSuggested(ctx context.Context, tracks []*track, current map[api.ModuleVersion]api.Decision) error {
	var ask []api.ModuleVersion
	var into []*track
	for _, t := range tracks {
		d := current[api.ModuleVersion{Path: t.req.Path, Version: t.req.From}]
		s := d.Suggest
		if t.newPath != t.req.Path || s == "" || !semver.IsValid(s) || slices.ContainsFunc(t.versions, func(v api.Version) bool { return v.Version == s }) {
			continue
		}
		if _, vuln := vulnIDs(d); !vuln || !t.req.keep(t.newPath, api.Version{Version: s}) {
			continue
		}
		ask = append(ask, api.ModuleVersion{Path: t.newPath, Version: s})
		into = append(into, t)
	}
	if len(ask) == 0 {
		return nil
	}
	ds, err := b.gate().Decide(ctx, "", ask)
	if err != nil {
		return err
	}
	for i, t := range into {
		t.versions = append(t.versions, api.Version{Version: ask[i].Version, Decision: ds[i]})
		slices.SortFunc(t.versions, func(a, b api.Version) int { return semver.Compare(b.Version, a.Version) })
	}
	return nil
}

// plan finds the updates for a repository: for each requirement the
// newest version modgate allows on its major version and on the next
// major path, and for each vulnerable module of the build list
// (required directly or not) the allowed version that fixes it; then the
// toolchain and go directives when configured. Closed pull requests'
// versions and ignore rules are skipped. bls are the module build lists
// of the base branch.
func (b *Bot) plan(ctx context.Context, r *gomod.Repo, bls map[string]gomod.BuildList, rc *RepoConfig, closed map[string]int) (*findings, error) {
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
	trans := transitives(r, bls, reqs)
	current, err := b.currentDecisions(ctx, reqs, trans)
	if err != nil {
		return nil, err
	}
	var same []*track
	for i := range reqs {
		same = append(same, tracks[i][0])
	}
	if err := b.addSuggested(ctx, same, current); err != nil {
		return nil, err
	}
	strategy := rc.Security.strategy()
	for i, rq := range reqs {
		d := current[api.ModuleVersion{Path: rq.Path, Version: rq.From}]
		oldIDs, oldVuln := vulnIDs(d)
		t := tracks[i][0]
		latest, hasLatest := pickLatest(f, t, rq, rc, closed)
		if oldVuln {
			fix, ok := pickFix(f, t, rq, rc, closed, oldIDs, strategy)
			f.Vulnerable = append(f.Vulnerable, vulnStatus(rq, oldIDs, fix, ok))
			if ok {
				f.Candidates = append(f.Candidates, fix)
				hasLatest = false // one proposal per module path: the fix
			}
		}
		if hasLatest {
			f.Candidates = append(f.Candidates, latest)
		}
		if len(tracks[i]) > 1 {
			if c, ok := pickLatest(f, tracks[i][1], rq, rc, closed); ok {
				c.Fixes, c.Unfixed = nil, nil
				if oldVuln {
					c.Fixes, c.Unfixed = fixes(oldIDs, oldVuln, versionOf(tracks[i][1], c.To))
				}
				f.Candidates = append(f.Candidates, c)
			}
		}
	}
	if err := b.planTransitive(ctx, f, trans, current, rc, closed, strategy); err != nil {
		return nil, err
	}
	if err := b.planToolchain(ctx, f, r, rc, closed); err != nil {
		return nil, err
	}
	return f, nil
}

func versionOf(t *track, v string) api.Version {
	for _, x := range t.versions {
		if x.Version == v {
			return x
		}
	}
	return api.Version{Version: v}
}

// vulnStatus describes a vulnerable requirement for the dashboard.
func vulnStatus(rq requirement, ids []string, fix candidate, ok bool) vulnerable {
	v := vulnerable{Path: rq.Path, Version: rq.From, IDs: ids}
	switch {
	case !ok:
		v.Status = "no version that modgate allows fixes it"
	case len(fix.Unfixed) > 0:
		v.Fix = fix.To
		v.Status = fmt.Sprintf("%s fixes %s; no allowed version fixes %s", fix.To, strings.Join(fix.Fixes, ", "), strings.Join(fix.Unfixed, ", "))
	default:
		v.Fix = fix.To
	}
	if len(v.IDs) == 0 {
		v.IDs = []string{unnamedVuln}
	}
	return v
}

// currentDecisions asks for the decisions on each current requirement
// and each module of the build list that is not one (for the
// vulnerabilities they have), in one request.
func (b *Bot) currentDecisions(ctx context.Context, reqs []requirement, trans []requirement) (map[api.ModuleVersion]api.Decision, error) {
	var ask []api.ModuleVersion
	for _, rq := range append(slices.Clone(reqs), trans...) {
		if semver.IsValid(rq.From) {
			ask = append(ask, api.ModuleVersion{Path: rq.Path, Version: rq.From})
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

// candidateOf builds the candidate for version v of track t.
func candidateOf(t *track, rq requirement, v api.Version) candidate {
	return candidate{
		Update: gomod.Update{Path: rq.Path, From: rq.From, NewPath: t.newPath, To: v.Version},
		Type:   updateType(rq.From, t.newPath, rq.Path, v.Version),
		Warn:   v.Decision.Warn, Dirs: rq.Dirs, Time: v.Time,
	}
}

// skip reports whether version v of track t is not to be proposed
// (closed without merging, ignored by a rule, or denied), recording why
// when record is set.
func skip(f *findings, t *track, rq requirement, rc *RepoConfig, closed map[string]int, v api.Version, record bool) bool {
	typ := updateType(rq.From, t.newPath, rq.Path, v.Version)
	if n, ok := closed[t.newPath+"@"+v.Version]; ok {
		f.Ignored = append(f.Ignored, ignoredVersion{Path: t.newPath, Version: v.Version, PR: n, Reason: fmt.Sprintf("pull request #%d was closed without merging", n)})
		return true
	}
	if rule := rc.ignored(t.newPath, v.Version, typ); rule != nil {
		if record {
			f.Ignored = append(f.Ignored, ignoredVersion{Path: t.newPath, Version: v.Version, Reason: "ignored by " + RepoConfigPath + " (module " + rule.Module + ")"})
		}
		return true
	}
	if d := v.Decision; !d.Allowed {
		if record {
			f.Refused = append(f.Refused, refusal{Path: t.newPath, Version: v.Version, From: rq.From, Why: whyPolicy, Reason: reason(d)})
		}
		return true
	}
	return false
}

// pickLatest returns the newest version of a track worth proposing,
// recording the refused and the first ignored version above it. A
// version whose pull request was closed without merging stops the
// search: older ones are not proposed instead.
func pickLatest(f *findings, t *track, rq requirement, rc *RepoConfig, closed map[string]int) (candidate, bool) {
	ruleIgnored := false
	for _, v := range t.versions {
		if _, ok := closed[t.newPath+"@"+v.Version]; ok {
			skip(f, t, rq, rc, closed, v, true)
			return candidate{}, false
		}
		typ := updateType(rq.From, t.newPath, rq.Path, v.Version)
		rule := rc.ignored(t.newPath, v.Version, typ) != nil
		if skip(f, t, rq, rc, closed, v, !(rule && ruleIgnored)) {
			ruleIgnored = ruleIgnored || rule
			continue
		}
		return candidateOf(t, rq, v), true
	}
	return candidate{}, false
}

// Fix strategies.
const (
	fixLowest  = "lowest"
	fixHighest = "highest"
)

// pickFix returns the version of a same-path track that fixes the most
// of the current version's vulnerabilities: the lowest such version
// (strategy fixLowest) or the highest. Versions are skipped as by
// pickLatest, without recording policy refusals again.
func pickFix(f *findings, t *track, rq requirement, rc *RepoConfig, closed map[string]int, oldIDs []string, strategy string) (candidate, bool) {
	var best candidate
	bestN := 0
	asc := slices.Clone(t.versions)
	slices.Reverse(asc)
	want := max(len(oldIDs), 1)
	floor := "" // the newest version whose pull request was closed
	for _, v := range asc {
		if _, ok := closed[t.newPath+"@"+v.Version]; ok {
			floor = v.Version
		}
	}
	var denied []api.Version // fixing versions the policy denies
	for _, v := range asc {
		if semver.Compare(v.Version, floor) < 0 || skip(f, t, rq, rc, closed, v, false) {
			if fixed, _ := fixes(oldIDs, true, v); len(fixed) > 0 && !v.Decision.Allowed {
				denied = append(denied, v)
			}
			continue
		}
		fixed, remain := fixes(oldIDs, true, v)
		n := len(fixed)
		if n == 0 || n < bestN || (n == bestN && strategy != fixHighest) {
			continue
		}
		best, bestN = candidateOf(t, rq, v), n
		best.Fixes, best.Unfixed = fixed, remain
		if strategy != fixHighest && n == want {
			break
		}
	}
	// Say why a lower fix is not the one proposed.
	for _, v := range denied {
		if bestN == 0 || semver.Compare(v.Version, best.To) < 0 {
			f.Refused = append(f.Refused, refusal{Path: t.newPath, Version: v.Version, From: rq.From, Why: whyPolicy, Reason: reason(v.Decision)})
		}
	}
	return best, bestN > 0
}

// transitives returns the modules of the build lists that no planned
// requirement covers (indirect requirements included, unless they are
// planned), each at its lowest selected version, with the module
// directories whose build lists hold it.
func transitives(r *gomod.Repo, bls map[string]gomod.BuildList, reqs []requirement) []requirement {
	planned := map[string]bool{}
	for _, rq := range reqs {
		planned[rq.Path] = true
	}
	byPath := map[string]*requirement{}
	for _, m := range r.Modules {
		for p, v := range bls[m.Dir] {
			if planned[p] || r.Local(p) || m.Replaced(p, v) || !semver.IsValid(v) {
				continue
			}
			rq := byPath[p]
			if rq == nil {
				rq = &requirement{Path: p, From: v}
				byPath[p] = rq
			}
			if semver.Compare(v, rq.From) < 0 {
				rq.From = v
			}
			rq.Dirs = append(rq.Dirs, m.Dir)
		}
	}
	out := make([]requirement, 0, len(byPath))
	for _, rq := range byPath {
		out = append(out, *rq)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// planTransitive proposes fixes for the vulnerable modules of the build
// list that are not requirements the plan already covers: raising them
// (go get module@fix) makes minimal version selection pick the fix.
func (b *Bot) planTransitive(ctx context.Context, f *findings, trans []requirement, current map[api.ModuleVersion]api.Decision, rc *RepoConfig, closed map[string]int, strategy string) error {
	type vuln struct {
		rq  requirement
		ids []string
	}
	var vs []vuln
	for _, rq := range trans {
		if ids, ok := vulnIDs(current[api.ModuleVersion{Path: rq.Path, Version: rq.From}]); ok {
			vs = append(vs, vuln{rq, ids})
		}
	}
	tracks := make([]*track, len(vs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, v := range vs {
		g.Go(func() error {
			t, err := loadTrack(gctx, b.gate(), v.rq, v.rq.Path)
			tracks[i] = t
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := b.addSuggested(ctx, tracks, current); err != nil {
		return err
	}
	for i, v := range vs {
		fix, ok := pickFix(f, tracks[i], v.rq, rc, closed, v.ids, strategy)
		st := vulnStatus(v.rq, v.ids, fix, ok)
		st.Status = strings.TrimSpace("not required directly; " + st.Status)
		if st.Status == "not required directly;" {
			st.Status = "not required directly"
		}
		f.Vulnerable = append(f.Vulnerable, st)
		if ok {
			fix.Kind = gomod.KindTransitive
			f.Candidates = append(f.Candidates, fix)
		}
	}
	return nil
}

// group is one pull request's worth of updates.
type group struct {
	// Name is the branch suffix: modgate/<Name>.
	Name     string
	Security bool
	Major    bool
	Updates  []candidate
	// Parent is the group a member was split from after the group
	// failed (nil for a planned group).
	Parent *group
}

func (g *group) branch() string { return BranchPrefix + g.Name }

func (g *group) updates() []gomod.Update {
	out := make([]gomod.Update, len(g.Updates))
	for i, c := range g.Updates {
		out[i] = c.Update
	}
	return out
}

// members splits a group into one group per update, named
// <group>-<module>, for the fallback after the group failed.
func (g *group) members() []*group {
	var out []*group
	for _, c := range g.Updates {
		out = append(out, &group{Name: g.Name + "-" + branchSafe(c.NewPath), Security: c.security(), Major: c.Major(), Updates: []candidate{c}, Parent: g})
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

// Default group names.
const (
	// defaultGroup is the group of minor and patch updates matching no
	// configured group.
	defaultGroup = "non-major"
	// toolchainGroup holds the toolchain and go directive updates.
	toolchainGroup = "go-toolchain"
)

// grouping assigns candidates to groups and orders them: security fixes
// first, then configured and non-major groups, then majors. A security
// fix has a pull request of its own unless security.grouped is set;
// then it joins its module's group, which becomes a security update.
func grouping(cands []candidate, rc *RepoConfig) []*group {
	byName := map[string]*group{}
	var out []*group
	add := func(name string, c candidate, major bool) {
		g := byName[name]
		if g == nil {
			g = &group{Name: name, Major: major}
			byName[name] = g
			out = append(out, g)
		}
		g.Security = g.Security || c.security()
		g.Updates = append(g.Updates, c)
	}
	grouped := boolOr(rc.Security.Grouped, false)
	for _, c := range cands {
		switch {
		case c.Kind == gomod.KindToolchain || c.Kind == gomod.KindGo:
			add(toolchainGroup, c, false)
			continue
		case c.security() && !grouped:
			add(branchSafe(c.Path), c, false)
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
			if slices.ContainsFunc(g.Match, func(p string) bool {
				return slices.ContainsFunc(c.matchNames(), func(n string) bool { return matchPattern(p, n) })
			}) {
				name = g.Name
				break
			}
		}
		switch {
		case name != "":
			add(name, c, c.Type == typeMajor)
		case c.Type == typeMajor:
			add(branchSafe(c.NewPath), c, true)
		default:
			add(defaultGroup, c, false)
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
