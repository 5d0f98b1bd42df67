package bot

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/modgate/modgate/internal/yamlconf"
)

// RepoConfigPath is where a repository keeps its bot settings.
const RepoConfigPath = ".github/modgate.yaml"

// RepoConfig is a repository's bot settings (.github/modgate.yaml), also
// used for the organisation-wide defaults. A field left empty in the
// repository's file takes the default's value.
type RepoConfig struct {
	// Disabled turns the bot off for the repository. False means enabled.
	Disabled bool `yaml:"disabled"`
	// Schedule is the window in which pull requests are opened or
	// updated. Security fixes ignore it. Empty means always.
	Schedule *Window `yaml:"schedule"`
	// Groups bundle updates into one pull request each; the first group
	// matching an update takes it. Updates matching no group go to the
	// default groups: one "non-major" pull request for minor and patch
	// updates, one per module for major updates, one per module for
	// security fixes.
	Groups []Group `yaml:"groups"`
	// Ignore lists updates never to propose.
	Ignore []IgnoreRule `yaml:"ignore"`
	// Limits bound how many pull requests the bot keeps open and opens
	// per run. Security fixes are exempt.
	Limits Limits `yaml:"limits"`
	// Labels are added to every pull request. Empty means none.
	Labels []string `yaml:"labels"`
	// Reviewers and TeamReviewers are requested on new pull requests.
	Reviewers     []string `yaml:"reviewers"`
	TeamReviewers []string `yaml:"team_reviewers"`
	// CommitMessage is a text/template for the commit message's first
	// line, also the pull request title (see [TemplateData]). Empty
	// means [DefaultCommitMessage].
	CommitMessage string `yaml:"commit_message"`
	// Test also runs go test ./... before a pull request is opened.
	// Nil means false.
	Test *bool `yaml:"test"`
	// Indirect also updates requirements marked // indirect. Nil means
	// false: indirect requirements move when direct ones need them to.
	Indirect *bool `yaml:"indirect"`
	// Dashboard keeps a dependency dashboard issue. Nil means true.
	Dashboard *bool `yaml:"dashboard"`
	// Security says how security fixes are proposed.
	Security SecurityConfig `yaml:"security"`
	// Toolchain also updates toolchain directives to the newest Go
	// release modgate allows (the golang.org/toolchain module, decided by
	// the policy). Nil means false.
	Toolchain *bool `yaml:"toolchain"`
	// GoDirective also raises go directives to that release's language
	// version (which raises the minimum Go version of the module's
	// users). Nil means false.
	GoDirective *bool `yaml:"go_directive"`
	// Automerge merges the bot's pull requests once their checks pass.
	Automerge Automerge `yaml:"automerge"`
	// RequireApproval lists update types ("major", "minor", "patch")
	// proposed only after someone ticks their box on the dashboard.
	// Security fixes never wait. Empty means none.
	RequireApproval []string `yaml:"require_approval"`
}

// SecurityConfig says how security fixes are proposed.
type SecurityConfig struct {
	// Strategy picks the version: "lowest", the smallest allowed
	// version that fixes the vulnerabilities, or "highest", the newest
	// allowed one on the same major version that does. Either way the
	// version fixing the most of them wins. Empty means lowest.
	Strategy string `yaml:"strategy"`
	// Grouped puts a fix into its module's group (non-major or a
	// configured group, which then is a security update) instead of a
	// pull request of its own. Nil means false.
	Grouped *bool `yaml:"grouped"`
	// Labels are added to security fixes besides Labels. Nil means
	// [security].
	Labels []string `yaml:"labels"`
}

func (s SecurityConfig) strategy() string {
	if s.Strategy == "" {
		return fixLowest
	}
	return s.Strategy
}

func (s SecurityConfig) labels() []string {
	if s.Labels == nil {
		return []string{"security"}
	}
	return s.Labels
}

// Automerge selects the pull requests the bot merges itself.
type Automerge struct {
	// Rules select them: a pull request is merged automatically when
	// every update in it matches a rule. Empty means none is.
	Rules []AutomergeRule `yaml:"rules"`
	// Method is "squash", "merge" or "rebase". Empty means squash.
	Method string `yaml:"method"`
	// RequiredChecks must pass besides the checks the base branch's
	// protection and rulesets require. When neither names a check,
	// every check reported on the pull request must pass and there must
	// be one besides the bot's own modgate/verify (list modgate/verify
	// here to rely on the bot's verification alone).
	RequiredChecks []string `yaml:"required_checks"`
}

// AutomergeRule matches updates to merge automatically.
type AutomergeRule struct {
	// Match lists module path patterns (as in [Group.Match];
	// golang.org/toolchain for toolchain and go directive updates).
	// Empty means any module.
	Match []string `yaml:"match"`
	// Types lists update types. Empty means any.
	Types []string `yaml:"types"`
	// Security matches security fixes only. False means any update.
	Security bool `yaml:"security"`
}

// DefaultCommitMessage is a semantic commit message: fix(deps) for
// security fixes, chore(deps) otherwise.
const DefaultCommitMessage = `{{if .Security}}fix{{else}}chore{{end}}(deps): update {{.Subject}}`

// Window is a weekly time window.
type Window struct {
	// TimeZone is the IANA zone of Days and Hours. Empty means UTC.
	TimeZone string `yaml:"timezone"`
	// Days are the weekdays ("mon".."sun"). Empty means every day.
	Days []string `yaml:"days"`
	// Hours is "HH:MM-HH:MM" (end exclusive, may wrap midnight). Empty
	// means all day.
	Hours string `yaml:"hours"`
}

// Group is a named bundle of updates.
type Group struct {
	// Name names the group and its branch modgate/<name>. Required:
	// lower-case letters, digits, '.', '_' and '-'.
	Name string `yaml:"name"`
	// Match lists module path patterns (path.Match syntax, or a prefix
	// ending in "/..."). Required.
	Match []string `yaml:"match"`
	// Types are the update types taken: "major", "minor", "patch". Empty
	// means minor and patch.
	Types []string `yaml:"types"`
}

// IgnoreRule excludes updates.
type IgnoreRule struct {
	// Module is a module path pattern (as in [Group.Match]). Required.
	Module string `yaml:"module"`
	// Versions lists target versions or version prefixes ("v2",
	// "v1.4", "v1.4.2"). Empty means any version.
	Versions []string `yaml:"versions"`
	// Types lists update types to ignore. Empty means any type.
	Types []string `yaml:"types"`
}

// Limits bound the bot's pull requests. Nil fields take the default's
// value; zero means unlimited.
type Limits struct {
	// OpenPRs caps open modgate pull requests in the repository.
	OpenPRs *int `yaml:"open_prs"`
	// PRsPerRun caps pull requests opened by one run.
	PRsPerRun *int `yaml:"prs_per_run"`
}

var groupName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

func checkTypes(field string, types []string) []error {
	var errs []error
	for i, t := range types {
		switch t {
		case "major", "minor", "patch":
		default:
			errs = append(errs, yamlconf.Errorf(fmt.Sprintf("%s[%d]", field, i), "unknown update type %q (want major, minor or patch)", t))
		}
	}
	return errs
}

func checkPattern(field, p string) []error {
	if p == "" {
		return []error{yamlconf.Errorf(field, "empty module pattern")}
	}
	if _, err := path.Match(strings.TrimSuffix(p, "/..."), "x"); err != nil {
		return []error{yamlconf.Errorf(field, "bad pattern %q: %v", p, err)}
	}
	return nil
}

// Validate checks c and returns every problem, each a *yamlconf.FieldError
// naming its key ("groups[0].name"), joined with errors.Join; nil when c
// is valid.
func (c *RepoConfig) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, yamlconf.Errorf(field, format, args...))
	}
	if w := c.Schedule; w != nil {
		if _, err := time.LoadLocation(w.TimeZone); err != nil {
			bad("schedule.timezone", "unknown time zone %q", w.TimeZone)
		}
		for i, d := range w.Days {
			if _, ok := weekdays[strings.ToLower(d)]; !ok {
				bad(fmt.Sprintf("schedule.days[%d]", i), "unknown day %q (want mon, tue, wed, thu, fri, sat or sun)", d)
			}
		}
		if w.Hours != "" {
			if _, _, err := parseHours(w.Hours); err != nil {
				bad("schedule.hours", "%w", err)
			}
		}
	}
	seen := map[string]bool{}
	for i, g := range c.Groups {
		field := fmt.Sprintf("groups[%d]", i)
		switch {
		case !groupName.MatchString(g.Name):
			bad(field+".name", "%q is not a valid group name (lower-case letters, digits, '.', '_', '-')", g.Name)
		case seen[g.Name]:
			bad(field+".name", "duplicate group %q", g.Name)
		}
		seen[g.Name] = true
		if len(g.Match) == 0 {
			bad(field+".match", "required")
		}
		for j, p := range g.Match {
			errs = append(errs, checkPattern(fmt.Sprintf("%s.match[%d]", field, j), p)...)
		}
		errs = append(errs, checkTypes(field+".types", g.Types)...)
	}
	for i, r := range c.Ignore {
		field := fmt.Sprintf("ignore[%d]", i)
		errs = append(errs, checkPattern(field+".module", r.Module)...)
		for j, v := range r.Versions {
			if !semver.IsValid(v) {
				bad(fmt.Sprintf("%s.versions[%d]", field, j), "%q is not a version or version prefix", v)
			}
		}
		errs = append(errs, checkTypes(field+".types", r.Types)...)
	}
	if l := c.Limits.OpenPRs; l != nil && *l < 0 {
		bad("limits.open_prs", "%d is negative", *l)
	}
	if l := c.Limits.PRsPerRun; l != nil && *l < 0 {
		bad("limits.prs_per_run", "%d is negative", *l)
	}
	for i, l := range c.Labels {
		if strings.TrimSpace(l) == "" {
			bad(fmt.Sprintf("labels[%d]", i), "empty label")
		}
	}
	if c.CommitMessage != "" {
		if err := checkCommitMessage(c.CommitMessage); err != nil {
			bad("commit_message", "%w", err)
		}
	}
	switch c.Security.Strategy {
	case "", fixLowest, fixHighest:
	default:
		bad("security.strategy", "unknown strategy %q (want lowest or highest)", c.Security.Strategy)
	}
	for i, l := range c.Security.Labels {
		if strings.TrimSpace(l) == "" {
			bad(fmt.Sprintf("security.labels[%d]", i), "empty label")
		}
	}
	switch c.Automerge.Method {
	case "", "merge", "squash", "rebase":
	default:
		bad("automerge.method", "unknown merge method %q (want squash, merge or rebase)", c.Automerge.Method)
	}
	for i, r := range c.Automerge.Rules {
		field := fmt.Sprintf("automerge.rules[%d]", i)
		for j, p := range r.Match {
			errs = append(errs, checkPattern(fmt.Sprintf("%s.match[%d]", field, j), p)...)
		}
		errs = append(errs, checkTypes(field+".types", r.Types)...)
	}
	for i, ch := range c.Automerge.RequiredChecks {
		if strings.TrimSpace(ch) == "" {
			bad(fmt.Sprintf("automerge.required_checks[%d]", i), "empty check name")
		}
	}
	errs = append(errs, checkTypes("require_approval", c.RequireApproval)...)
	return errors.Join(errs...)
}

// checkCommitMessage parses and renders a commit message template.
func checkCommitMessage(msg string) error {
	t, err := template.New("commit_message").Option("missingkey=error").Parse(msg)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, TemplateData{Subject: "example.com/m to v1.2.3", Type: "minor"}); err != nil {
		return err
	}
	if strings.TrimSpace(b.String()) == "" {
		return errors.New("renders empty")
	}
	return nil
}

// parseHours parses "HH:MM-HH:MM" into minutes after midnight.
func parseHours(s string) (from, to int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not HH:MM-HH:MM", s)
	}
	parse := func(x string) (int, error) {
		t, err := time.Parse("15:04", strings.TrimSpace(x))
		if err != nil {
			return 0, fmt.Errorf("%q is not HH:MM-HH:MM", s)
		}
		return t.Hour()*60 + t.Minute(), nil
	}
	if from, err = parse(a); err != nil {
		return
	}
	if to, err = parse(b); err != nil {
		return
	}
	if from == to {
		return 0, 0, fmt.Errorf("%q is an empty window", s)
	}
	return from, to, nil
}

// Open reports whether t falls in the window (a nil window is always
// open).
func (w *Window) Open(t time.Time) bool {
	if w == nil {
		return true
	}
	loc := time.UTC
	if w.TimeZone != "" {
		if l, err := time.LoadLocation(w.TimeZone); err == nil {
			loc = l
		}
	}
	t = t.In(loc)
	if len(w.Days) > 0 {
		ok := false
		for _, d := range w.Days {
			if weekdays[strings.ToLower(d)] == t.Weekday() {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if w.Hours != "" {
		from, to, err := parseHours(w.Hours)
		if err != nil {
			return false
		}
		m := t.Hour()*60 + t.Minute()
		if from < to {
			return from <= m && m < to
		}
		return m >= from || m < to
	}
	return true
}

// ParseRepoConfig reads a repository's .github/modgate.yaml and
// validates it. It reports every problem at once, each as
// ".github/modgate.yaml:line: field: message", sorted by line.
func ParseRepoConfig(data []byte) (*RepoConfig, error) {
	return ParseRepoConfigFile(RepoConfigPath, data)
}

// ParseRepoConfigFile is [ParseRepoConfig] for a file read from name,
// which its problems are located in.
func ParseRepoConfigFile(name string, data []byte) (*RepoConfig, error) {
	var c RepoConfig
	doc, err := yamlconf.Decode(name, data, &c)
	if doc == nil {
		return nil, err // syntax: nothing decoded
	}
	if err := doc.Locate(errors.Join(err, c.Validate())); err != nil {
		return nil, err
	}
	return &c, nil
}

// merge returns c with empty fields taken from def.
func (c RepoConfig) merge(def RepoConfig) RepoConfig {
	out := c
	if out.Schedule == nil {
		out.Schedule = def.Schedule
	}
	if out.Groups == nil {
		out.Groups = def.Groups
	}
	out.Ignore = append(append([]IgnoreRule(nil), def.Ignore...), c.Ignore...)
	if out.Limits.OpenPRs == nil {
		out.Limits.OpenPRs = def.Limits.OpenPRs
	}
	if out.Limits.PRsPerRun == nil {
		out.Limits.PRsPerRun = def.Limits.PRsPerRun
	}
	if out.Labels == nil {
		out.Labels = def.Labels
	}
	if out.Reviewers == nil {
		out.Reviewers = def.Reviewers
	}
	if out.TeamReviewers == nil {
		out.TeamReviewers = def.TeamReviewers
	}
	if out.CommitMessage == "" {
		out.CommitMessage = def.CommitMessage
	}
	if out.CommitMessage == "" {
		out.CommitMessage = DefaultCommitMessage
	}
	if out.Test == nil {
		out.Test = def.Test
	}
	if out.Indirect == nil {
		out.Indirect = def.Indirect
	}
	if out.Dashboard == nil {
		out.Dashboard = def.Dashboard
	}
	if out.Security.Strategy == "" {
		out.Security.Strategy = def.Security.Strategy
	}
	if out.Security.Grouped == nil {
		out.Security.Grouped = def.Security.Grouped
	}
	if out.Security.Labels == nil {
		out.Security.Labels = def.Security.Labels
	}
	if out.Toolchain == nil {
		out.Toolchain = def.Toolchain
	}
	if out.GoDirective == nil {
		out.GoDirective = def.GoDirective
	}
	if out.Automerge.Rules == nil {
		out.Automerge.Rules = def.Automerge.Rules
	}
	if out.Automerge.Method == "" {
		out.Automerge.Method = def.Automerge.Method
	}
	if out.Automerge.RequiredChecks == nil {
		out.Automerge.RequiredChecks = def.Automerge.RequiredChecks
	}
	if out.RequireApproval == nil {
		out.RequireApproval = def.RequireApproval
	}
	out.Disabled = c.Disabled || def.Disabled
	return out
}

// matchPattern matches a module path against a Group.Match pattern.
func matchPattern(pattern, p string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "/..."); ok {
		return p == prefix || strings.HasPrefix(p, prefix+"/")
	}
	ok, _ := path.Match(pattern, p)
	return ok
}

// versionMatches reports whether v equals or extends prefix ("v1.4"
// matches v1.4.2 but not v1.40.0).
func versionMatches(prefix, v string) bool {
	return v == prefix || strings.HasPrefix(v, prefix+".") || strings.HasPrefix(v, prefix+"-") || strings.HasPrefix(v, prefix+"+")
}

// ignored returns the rule ignoring an update of p to v of type typ.
func (c *RepoConfig) ignored(p, v, typ string) *IgnoreRule {
	for i, r := range c.Ignore {
		prefix, _, _ := module.SplitPathVersion(p)
		if !matchPattern(r.Module, p) && !matchPattern(r.Module, prefix) {
			continue
		}
		if len(r.Versions) > 0 {
			ok := false
			for _, pv := range r.Versions {
				if versionMatches(pv, v) {
					ok = true
				}
			}
			if !ok {
				continue
			}
		}
		if len(r.Types) > 0 {
			ok := false
			for _, t := range r.Types {
				if t == typ {
					ok = true
				}
			}
			if !ok {
				continue
			}
		}
		return &c.Ignore[i]
	}
	return nil
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// automerge returns the index of the first rule matching every update of
// g, or -1 when g is not merged automatically.
func (c *RepoConfig) automerge(g *group) int {
	if len(g.Updates) == 0 {
		return -1
	}
	for i, r := range c.Automerge.Rules {
		if !slices.ContainsFunc(g.Updates, func(u candidate) bool { return !r.matches(u) }) {
			return i
		}
	}
	return -1
}

func (r AutomergeRule) matches(c candidate) bool {
	if r.Security && !c.security() {
		return false
	}
	if len(r.Types) > 0 && !slices.Contains(r.Types, c.Type) {
		return false
	}
	if len(r.Match) == 0 {
		return true
	}
	return slices.ContainsFunc(r.Match, func(p string) bool {
		return slices.ContainsFunc(c.matchNames(), func(n string) bool { return matchPattern(p, n) })
	})
}

// String describes the rule for pull request bodies.
func (r AutomergeRule) String() string {
	var parts []string
	if r.Security {
		parts = append(parts, "security fixes")
	}
	if len(r.Types) > 0 {
		parts = append(parts, strings.Join(r.Types, "/")+" updates")
	}
	if len(r.Match) > 0 {
		parts = append(parts, "of "+strings.Join(r.Match, ", "))
	}
	if len(parts) == 0 {
		return "any update"
	}
	return strings.Join(parts, " ")
}

func (c *RepoConfig) mergeMethod() string {
	if c.Automerge.Method == "" {
		return "squash"
	}
	return c.Automerge.Method
}

// needsApproval reports whether g waits for a dashboard approval.
func (c *RepoConfig) needsApproval(g *group) bool {
	if g.Security || len(c.RequireApproval) == 0 {
		return false
	}
	return slices.ContainsFunc(g.Updates, func(u candidate) bool { return slices.Contains(c.RequireApproval, u.Type) })
}
