package policy

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/modgate/modgate/internal/yamlconf"
	"gopkg.in/yaml.v3"
)

// Mode says what happens to a rule's deny findings.
type Mode string

// Modes. Config.Mode accepts enforce and audit; Config.RuleModes also
// accepts off.
const (
	// ModeEnforce denies the version.
	ModeEnforce Mode = "enforce"
	// ModeAudit serves the version and records the would-be denial in
	// Result.Audit and the decision log.
	ModeAudit Mode = "audit"
	// ModeOff drops the rule's findings (deny and warn) entirely.
	ModeOff Mode = "off"
)

// Action is what a rule does with a finding it is configured for.
type Action string

// Actions.
const (
	ActionAllow Action = "allow"
	ActionWarn  Action = "warn"
	ActionDeny  Action = "deny"
)

// Match says how a list entry's Module is compared with a module path.
type Match string

// Match kinds, as in gomodguard.
const (
	// MatchExact compares whole module paths.
	MatchExact Match = "exact"
	// MatchPrefix matches the path and every path below it
	// ("example.com/org" matches "example.com/org/x", not
	// "example.com/organic"). A trailing "/" excludes the path itself.
	MatchPrefix Match = "prefix"
	// MatchRegex is an unanchored RE2 match against the module path.
	MatchRegex Match = "regex"
)

// Config configures the policy engine and the built-in rules. The zero
// Config enforces only the vulnerabilities and retracted rules (and warns
// about deprecated modules); every other rule is inert until configured.
// Rego rules read the normalized form of this struct at
// data.modgate.config (see docs/policy.md).
type Config struct {
	// Mode is the global mode, enforce or audit. "" means enforce.
	Mode Mode `yaml:"mode"`
	// RuleModes overrides Mode per rule name (built-in or custom, e.g.
	// "cooldown"): enforce, audit or off. Nil means every rule follows
	// Mode.
	RuleModes map[string]Mode `yaml:"rule_modes"`
	// Vulns configures the vulnerabilities rule.
	Vulns VulnConfig `yaml:"vulns"`
	// Cooldown configures the minimum release age rule.
	Cooldown CooldownConfig `yaml:"cooldown"`
	// Lists holds the allow and block lists.
	Lists ListsConfig `yaml:"lists"`
	// Licenses configures the licenses rule.
	Licenses LicenseConfig `yaml:"licenses"`
	// Pseudo is what to do with pseudo-versions: allow, warn or deny.
	// "" means allow.
	Pseudo Action `yaml:"pseudo"`
	// Waivers turn matching denies into warnings until they expire.
	Waivers []Waiver `yaml:"waivers"`
	// WaiverFiles are YAML files whose top-level waivers: list adds to
	// Waivers (what `modgate policy baseline` writes), relative to the
	// configuration file's directory when loaded with [LoadConfig]. Their
	// problems are reported in their own file. Nil means none.
	WaiverFiles []string `yaml:"waiver_files"`
	// VEX lists OpenVEX documents, or directories of them (searched for
	// *.json), relative to the configuration file's directory when loaded
	// with [LoadConfig]. A not_affected or fixed statement about a module
	// version (its pkg:golang purl as product or subcomponent) excepts that
	// vulnerability of that version from the vulnerabilities rule, with a
	// warning naming the document, until it is VEXMaxAge old. Nil means
	// none.
	VEX []string `yaml:"vex"`
	// VEXMaxAge is how long a VEX statement excepts a vulnerability after
	// its timestamp, so that exceptions are reviewed. Zero means 180
	// days; negative means statements never expire.
	VEXMaxAge Duration `yaml:"vex_max_age"`
	// Paths lists user .rego files, directories of .rego files, or OPA
	// bundle directories (with a .manifest) whose rules combine with the
	// built-ins. Relative paths are relative to the config file's
	// directory when loaded with [LoadConfig]. Nil means built-ins only.
	Paths []string `yaml:"paths"`
	// DecisionLog configures the decision log: where decisions are
	// written as JSON lines, rotation and sampling. In YAML it is either
	// the path alone or a mapping. The zero value writes no log.
	DecisionLog DecisionLogConfig `yaml:"decision_log"`
	// ServeInfoModWhenDenied makes the proxy adapter serve .info and .mod
	// of denied versions (downgrading their denies to warnings), so
	// module graph resolution keeps working and the denial surfaces when
	// the zip is fetched. Nil means true.
	ServeInfoModWhenDenied *bool `yaml:"serve_info_mod_when_denied"`
	// Cache configures the decision cache.
	Cache CacheConfig `yaml:"cache"`

	// src is the document c was parsed from by ParseConfig or LoadConfig,
	// nil otherwise; see [Config.Locate].
	src *yamlconf.Doc
}

// VulnConfig configures the vulnerabilities rule.
type VulnConfig struct {
	// IncludeUnreviewed also denies versions affected only by unreviewed
	// entries. False means reviewed entries only.
	IncludeUnreviewed bool `yaml:"include_unreviewed"`
	// Ignore lists vulnerability IDs or aliases (GO-..., CVE-...,
	// GHSA-...) that never deny. Nil ignores none.
	Ignore []string `yaml:"ignore"`
}

// CooldownConfig configures the minimum release age. Update types are
// relative to the previous allowed version (the highest lower version that
// is not retracted; pre-releases count only for pre-releases).
type CooldownConfig struct {
	// Days is the minimum age in days for any update without an override
	// below, and for a module's first version. 0 disables the cooldown.
	Days int `yaml:"days"`
	// Patch overrides Days for patch updates (and pre-release bumps).
	// Nil means Days.
	Patch *int `yaml:"patch"`
	// Minor overrides Days for minor updates. Nil means Days.
	Minor *int `yaml:"minor"`
	// Major overrides Days for major updates (v1 to v2+incompatible). Nil
	// means Days.
	Major *int `yaml:"major"`
	// UnknownRelease decides versions whose release time cannot be
	// obtained (they existed before modgate first saw the module, and the
	// upstream does not serve their .info): "new" denies them while the
	// cooldown runs from modgate's first contact, "old" allows them. ""
	// means new.
	UnknownRelease string `yaml:"unknown_release"`
}

// ListsConfig holds allow and block lists in gomodguard's vocabulary.
type ListsConfig struct {
	// Allowed, when not empty, denies every module version no entry
	// matches. Nil allows every module.
	Allowed []ListEntry `yaml:"allowed"`
	// Blocked denies every module version an entry matches. Nil blocks
	// nothing.
	Blocked []ListEntry `yaml:"blocked"`
}

// ListEntry is one allow- or block-list entry.
type ListEntry struct {
	// Module is the module path, path prefix or regular expression.
	// Required.
	Module string `yaml:"module"`
	// Match says how Module is compared: exact, prefix or regex. ""
	// means exact.
	Match Match `yaml:"match"`
	// Versions restricts the entry to versions satisfying a constraint
	// such as ">= v1.2.0, < v2" (see [Constraint]). "" means all
	// versions.
	Versions string `yaml:"versions"`
	// Reason explains the entry; it is shown to clients. Optional.
	Reason string `yaml:"reason"`
	// Recommendation names a replacement module (blocked entries). Optional.
	Recommendation string `yaml:"recommendation"`
}

// LicenseConfig configures the licenses rule. IDs are SPDX identifiers,
// compared case-insensitively.
type LicenseConfig struct {
	// Allow, when not empty, denies versions with a detected license
	// outside it. Nil allows any license not in Deny.
	Allow []string `yaml:"allow"`
	// Deny denies versions with any of these licenses. Nil denies none.
	Deny []string `yaml:"deny"`
	// Unknown is what to do when no license is detected: allow, warn or
	// deny. "" means allow.
	Unknown Action `yaml:"unknown"`
}

// Waiver temporarily turns matching denies into warnings.
type Waiver struct {
	// Module is the exact module path. Required.
	Module string `yaml:"module"`
	// Versions is a constraint (see [Constraint]); "" means all versions.
	Versions string `yaml:"versions"`
	// Rules names the rules waived; nil means every rule.
	Rules []string `yaml:"rules"`
	// IDs, when set, scope the waiver to these vulnerability IDs (or
	// aliases): the vulnerabilities rule no longer counts them for the
	// matching versions, while entries found later still deny. Rules must
	// then be empty or [vulnerabilities]. Nil waives whole rules.
	IDs []string `yaml:"ids"`
	// Reason says why; shown in warnings. Required.
	Reason string `yaml:"reason"`
	// Owner is who is accountable for the waiver. Required.
	Owner string `yaml:"owner"`
	// Expires is a date (2006-01-02, the waiver applies through that day
	// UTC) or an RFC 3339 instant. Required: waivers always expire.
	Expires string `yaml:"expires"`
}

// CacheConfig configures the decision cache.
type CacheConfig struct {
	// TTL bounds how long a decision is reused when no time-based rule
	// expires it earlier, so facts outside the cache key (retractions,
	// deprecations, licenses) are re-read. 0 means 10 minutes; a negative
	// value disables the cache.
	TTL time.Duration `yaml:"ttl"`
	// Size caps the number of cached decisions. 0 means 100000.
	Size int `yaml:"size"`
}

// DecisionLogConfig configures the decision log (see docs/decision-log.md).
// In YAML it is either a path alone (decision_log: /var/log/x.jsonl) or a
// mapping of these fields.
type DecisionLogConfig struct {
	// Path is where decisions are written, one JSON line each: a file
	// (appended to), "-" for stdout, or "" for no log.
	Path string `yaml:"path"`
	// MaxSize rotates the file before a record would take it past this
	// size (100MB, 1GiB, or a number of bytes). 0 never rotates.
	// Ignored unless Path is a file.
	MaxSize ByteSize `yaml:"max_size"`
	// MaxBackups is how many rotated files (Path.1 newest ... Path.N
	// oldest) are kept. 0 means 5.
	MaxBackups int `yaml:"max_backups"`
	// SampleAllowed is the fraction, between 0 and 1, of allowed
	// decisions without findings that are recorded; denied, warned,
	// audited and failed decisions always are. Nil means 1: all.
	SampleAllowed *float64 `yaml:"sample_allowed"`
}

// UnmarshalYAML accepts a scalar (the path) or a mapping, whose unknown
// keys it reports.
func (c *DecisionLogConfig) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*c = DecisionLogConfig{}
		return n.Decode(&c.Path)
	case yaml.MappingNode:
	default:
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: decision_log: want a path or a mapping", n.Line)}}
	}
	var msgs []string
	known := yamlNames(reflect.TypeFor[DecisionLogConfig]())
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !slices.Contains(known, k.Value) {
			msgs = append(msgs, fmt.Sprintf("line %d: decision_log.%s: unknown field%s", k.Line, k.Value, yamlconf.DidYouMean(k.Value, known...)))
		}
	}
	type plain DecisionLogConfig // without this method
	if err := n.Decode((*plain)(c)); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return err
		}
		msgs = append(msgs, te.Errors...)
	}
	if len(msgs) > 0 {
		return &yaml.TypeError{Errors: msgs}
	}
	return nil
}

// yamlNames lists the YAML names of struct type t's fields.
func yamlNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// check reports invalid settings through bad.
func (c *DecisionLogConfig) check(bad func(field, format string, args ...any)) {
	if c.MaxSize < 0 {
		bad("decision_log.max_size", "%d: must not be negative", c.MaxSize)
	}
	if c.MaxBackups < 0 {
		bad("decision_log.max_backups", "%d: must not be negative", c.MaxBackups)
	}
	if r := c.SampleAllowed; r != nil && !(*r >= 0 && *r <= 1) {
		bad("decision_log.sample_allowed", "%v: want a fraction between 0 and 1", *r)
	}
}

// ByteSize is a size in bytes. In YAML it is an integer or a number with
// a unit; see [ParseByteSize].
type ByteSize int64

// UnmarshalYAML parses the size with [ParseByteSize].
func (s *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: size %q: want bytes or a number with a unit such as 100MB or 1GiB", n.Line, n.Value)}}
	}
	*s = v
	return nil
}

var byteUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
	"ki": 1 << 10, "kib": 1 << 10, "mi": 1 << 20, "mib": 1 << 20, "gi": 1 << 30, "gib": 1 << 30, "ti": 1 << 40, "tib": 1 << 40,
}

// ParseByteSize parses a size such as "100MB", "1.5 GiB" or "4096": a
// number, optionally signed or fractional, and a case-insensitive unit: B,
// KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024).
// "" is 0.
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' && r != '-' && r != '+' })
	if i < 0 {
		i = len(s)
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	mult, ok := byteUnits[unit]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit %q", s, s[i:])
	}
	if n, err := strconv.ParseInt(num, 10, 64); err == nil && mult == 1 {
		return ByteSize(n), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("size %q: bad number %q", s, num)
	}
	v := math.Round(f * mult)
	if math.Abs(v) >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return ByteSize(v), nil
}

const (
	defaultCacheTTL  = 10 * time.Minute
	defaultCacheSize = 100000
)

// configured reports whether the licenses rule can find anything: it is
// inert while nothing is allowed, denied or flagged when unknown.
func (l *LicenseConfig) configured() bool {
	return len(l.Allow) > 0 || len(l.Deny) > 0 || (l.Unknown != "" && l.Unknown != ActionAllow)
}

// ServeInfoMod reports the effective ServeInfoModWhenDenied.
func (c *Config) ServeInfoMod() bool {
	return c.ServeInfoModWhenDenied == nil || *c.ServeInfoModWhenDenied
}

// ExpiresAt returns the instant the waiver stops applying.
func (w *Waiver) ExpiresAt() (time.Time, error) {
	s := strings.TrimSpace(w.Expires)
	if s == "" {
		return time.Time{}, errors.New("missing expiry date")
	}
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return d.AddDate(0, 0, 1), nil // through the whole day, UTC
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("expires %q: want a date (2006-01-02) or RFC 3339 time", s)
	}
	return t, nil
}

// FieldError is a configuration error in one field, named by its YAML path
// relative to the policy section (for example "lists.blocked[2].versions").
// [Config.Locate] turns it into a [ConfigError] with the file and line.
type FieldError = yamlconf.FieldError

// Validate checks c and returns every problem, each a *FieldError, joined
// with errors.Join; nil when c is valid.
func (c *Config) Validate() error {
	_, err := c.normalize()
	return err
}

// normalize validates c and returns the document stored at
// data.modgate.config.
func (c *Config) normalize() (map[string]any, error) {
	var errs []error
	bad := func(field string, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Err: fmt.Errorf(format, args...)})
	}
	mode := c.Mode
	switch mode {
	case "":
		mode = ModeEnforce
	case ModeEnforce, ModeAudit:
	default:
		bad("mode", "%q: want enforce or audit%s", c.Mode, yamlconf.DidYouMean(string(c.Mode), "enforce", "audit"))
	}
	ruleModes := map[string]any{}
	for _, r := range sortedKeys(c.RuleModes) {
		m := c.RuleModes[r]
		switch m {
		case ModeEnforce, ModeAudit, ModeOff:
		default:
			bad("rule_modes."+r, "%q: want enforce, audit or off%s", m, yamlconf.DidYouMean(string(m), "enforce", "audit", "off"))
		}
		if strings.TrimSpace(r) == "" {
			bad("rule_modes", "empty rule name")
		}
		ruleModes[r] = string(m)
	}

	ignore := make([]any, 0, len(c.Vulns.Ignore))
	for i, id := range c.Vulns.Ignore {
		if strings.TrimSpace(id) == "" {
			bad(fmt.Sprintf("vulns.ignore[%d]", i), "empty ID")
		}
		ignore = append(ignore, strings.TrimSpace(id))
	}

	// Every update type gets its number of days, so the rule needs one
	// lookup.
	days := map[string]any{"initial": c.Cooldown.Days, "patch": c.Cooldown.Days, "minor": c.Cooldown.Days, "major": c.Cooldown.Days}
	if c.Cooldown.Days < 0 {
		bad("cooldown.days", "%d: must not be negative", c.Cooldown.Days)
	}
	for _, o := range []struct {
		name string
		v    *int
	}{{"patch", c.Cooldown.Patch}, {"minor", c.Cooldown.Minor}, {"major", c.Cooldown.Major}} {
		if o.v == nil {
			continue
		}
		if *o.v < 0 {
			bad("cooldown."+o.name, "%d: must not be negative", *o.v)
		}
		days[o.name] = *o.v
	}

	unknownRelease := c.Cooldown.UnknownRelease
	switch unknownRelease {
	case "":
		unknownRelease = "new"
	case "new", "old":
	default:
		bad("cooldown.unknown_release", "%q: want new or old", c.Cooldown.UnknownRelease)
	}

	lists := map[string]any{}
	for _, l := range []struct {
		name    string
		entries []ListEntry
	}{{"allowed", c.Lists.Allowed}, {"blocked", c.Lists.Blocked}} {
		out := make([]any, 0, len(l.entries))
		for i, e := range l.entries {
			field := fmt.Sprintf("lists.%s[%d]", l.name, i)
			m := e.Match
			switch m {
			case "":
				m = MatchExact
			case MatchExact, MatchPrefix, MatchRegex:
			default:
				bad(field+".match", "%q: want exact, prefix or regex%s", e.Match, yamlconf.DidYouMean(string(e.Match), "exact", "prefix", "regex"))
			}
			if strings.TrimSpace(e.Module) == "" {
				bad(field+".module", "required")
			} else if m == MatchRegex {
				if _, err := regexp.Compile(e.Module); err != nil {
					bad(field+".module", "%v", err)
				}
			}
			vc, err := ParseConstraint(e.Versions)
			if err != nil {
				bad(field+".versions", "%v", err)
			}
			out = append(out, map[string]any{
				"module":         e.Module,
				"match":          string(m),
				"versions":       vc.regoValue(),
				"versions_text":  vc.String(),
				"reason":         e.Reason,
				"recommendation": e.Recommendation,
			})
		}
		lists[l.name] = out
	}

	lower := func(field string, ids []string) []any {
		out := make([]any, 0, len(ids))
		for i, id := range ids {
			if strings.TrimSpace(id) == "" {
				bad(fmt.Sprintf("%s[%d]", field, i), "empty license ID")
			}
			out = append(out, strings.ToLower(strings.TrimSpace(id)))
		}
		return out
	}
	checkAction := func(field string, a Action) string {
		switch a {
		case "":
			return string(ActionAllow)
		case ActionAllow, ActionWarn, ActionDeny:
			return string(a)
		}
		bad(field, "%q: want allow, warn or deny%s", a, yamlconf.DidYouMean(string(a), "allow", "warn", "deny"))
		return string(ActionAllow)
	}
	licenses := map[string]any{
		"allow":   lower("licenses.allow", c.Licenses.Allow),
		"deny":    lower("licenses.deny", c.Licenses.Deny),
		"unknown": checkAction("licenses.unknown", c.Licenses.Unknown),
	}
	pseudo := checkAction("pseudo", c.Pseudo)

	waivers := make([]any, 0, len(c.Waivers))
	for i, w := range c.Waivers {
		field := fmt.Sprintf("waivers[%d]", i)
		if strings.TrimSpace(w.Module) == "" {
			bad(field+".module", "required")
		}
		if strings.TrimSpace(w.Reason) == "" {
			bad(field+".reason", "required")
		}
		if strings.TrimSpace(w.Owner) == "" {
			bad(field+".owner", "required")
		}
		exp, err := w.ExpiresAt()
		if err != nil {
			bad(field+".expires", "%v", err)
		}
		vc, err := ParseConstraint(w.Versions)
		if err != nil {
			bad(field+".versions", "%v", err)
		}
		rules := make([]any, 0, len(w.Rules))
		for j, r := range w.Rules {
			if strings.TrimSpace(r) == "" {
				bad(fmt.Sprintf("%s.rules[%d]", field, j), "empty rule name")
			}
			rules = append(rules, r)
		}
		ids := make([]any, 0, len(w.IDs))
		for j, id := range w.IDs {
			if strings.TrimSpace(id) == "" {
				bad(fmt.Sprintf("%s.ids[%d]", field, j), "empty vulnerability ID")
			}
			ids = append(ids, strings.TrimSpace(id))
		}
		if len(w.IDs) > 0 && (len(w.Rules) > 1 || len(w.Rules) == 1 && w.Rules[0] != "vulnerabilities") {
			bad(field+".rules", "%q: a waiver with ids waives vulnerabilities only", w.Rules)
		}
		waivers = append(waivers, map[string]any{
			"module":        w.Module,
			"versions":      vc.regoValue(),
			"versions_text": vc.String(),
			"rules":         rules,
			"ids":           ids,
			"reason":        w.Reason,
			"owner":         w.Owner,
			"expires":       strings.TrimSpace(w.Expires),
			"expires_ns":    exp.UnixNano(),
		})
	}
	for i, p := range c.WaiverFiles {
		if strings.TrimSpace(p) == "" {
			bad(fmt.Sprintf("waiver_files[%d]", i), "empty path")
		}
	}
	for i, p := range c.VEX {
		if strings.TrimSpace(p) == "" {
			bad(fmt.Sprintf("vex[%d]", i), "empty path")
		}
	}

	for i, p := range c.Paths {
		if strings.TrimSpace(p) == "" {
			bad(fmt.Sprintf("paths[%d]", i), "empty path")
		}
	}
	if c.Cache.Size < 0 {
		bad("cache.size", "%d: must not be negative", c.Cache.Size)
	}
	c.DecisionLog.check(bad)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return map[string]any{
		"mode":       string(mode),
		"rule_modes": ruleModes,
		"vulns": map[string]any{
			"include_unreviewed": c.Vulns.IncludeUnreviewed,
			"ignore":             ignore,
		},
		"cooldown": map[string]any{
			"default_days":    c.Cooldown.Days,
			"days":            days,
			"unknown_release": unknownRelease,
		},
		"lists":    lists,
		"licenses": licenses,
		"pseudo":   pseudo,
		"waivers":  waivers,
	}, nil
}

// checkRuleNames reports rule names in rule_modes and waivers that name
// no loaded rule, with the nearest one as a suggestion: a typo there would
// otherwise silently do nothing.
func (c *Config) checkRuleNames(known []string) error {
	var errs []error
	for _, r := range sortedKeys(c.RuleModes) {
		errs = append(errs, unknownRule("rule_modes."+r, r, known))
	}
	errs = append(errs, waiverRuleErrors(c.Waivers, known))
	return errors.Join(errs...)
}

// knownRules are the names rule_modes and waivers may use.
func knownRules(loaded []string) []string { return append(slices.Clone(loaded), pseudoRules...) }

// waiverRuleErrors reports waivers' rule names that name no known rule.
func waiverRuleErrors(ws []Waiver, known []string) error {
	var errs []error
	for i, w := range ws {
		for j, r := range w.Rules {
			errs = append(errs, unknownRule(fmt.Sprintf("waivers[%d].rules[%d]", i, j), r, known))
		}
	}
	return errors.Join(errs...)
}

func unknownRule(field, name string, known []string) error {
	if name == "" || slices.Contains(known, name) {
		return nil
	}
	return yamlconf.Errorf(field, "unknown rule %q%s", name, yamlconf.DidYouMean(name, known...))
}

// vexMaxAge is the effective VEXMaxAge.
func (c *Config) vexMaxAge() time.Duration {
	switch {
	case c.VEXMaxAge == 0:
		return defaultVEXMaxAge
	case c.VEXMaxAge < 0:
		return -1
	}
	return time.Duration(c.VEXMaxAge)
}

// maxCooldown returns the longest configured cooldown.
func (c *Config) maxCooldown() time.Duration {
	d := c.Cooldown.Days
	for _, o := range []*int{c.Cooldown.Patch, c.Cooldown.Minor, c.Cooldown.Major} {
		if o != nil && *o > d {
			d = *o
		}
	}
	return time.Duration(d) * 24 * time.Hour
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
