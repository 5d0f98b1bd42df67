package policy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/modgate/modgate/internal/yamlconf"
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
// data.modgate.config (see the repository README).
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
	// Paths lists user .rego files, directories of .rego files, or OPA
	// bundle directories (with a .manifest) whose rules combine with the
	// built-ins. Relative paths are relative to the config file's
	// directory when loaded with [LoadConfig]. Nil means built-ins only.
	Paths []string `yaml:"paths"`
	// DecisionLog is where every decision is written as one JSON line: a
	// file path (appended to), "-" for stdout, or "" for no log.
	DecisionLog string `yaml:"decision_log"`
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

const (
	defaultCacheTTL  = 10 * time.Minute
	defaultCacheSize = 100000
)

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
		waivers = append(waivers, map[string]any{
			"module":        w.Module,
			"versions":      vc.regoValue(),
			"versions_text": vc.String(),
			"rules":         rules,
			"reason":        w.Reason,
			"owner":         w.Owner,
			"expires":       strings.TrimSpace(w.Expires),
			"expires_ns":    exp.UnixNano(),
		})
	}

	for i, p := range c.Paths {
		if strings.TrimSpace(p) == "" {
			bad(fmt.Sprintf("paths[%d]", i), "empty path")
		}
	}
	if c.Cache.Size < 0 {
		bad("cache.size", "%d: must not be negative", c.Cache.Size)
	}
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
			"default_days": c.Cooldown.Days,
			"days":         days,
		},
		"lists":    lists,
		"licenses": licenses,
		"pseudo":   pseudo,
		"waivers":  waivers,
	}, nil
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
