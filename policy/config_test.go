package policy

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/internal/yamlconf"
)

func TestValidateNamesField(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string // "" for valid
	}{
		{Config{}, ""},
		{Config{Mode: ModeAudit, RuleModes: map[string]Mode{"cooldown": ModeOff, "acme": ModeEnforce}}, ""},
		{Config{Mode: ModeOff}, `mode: "off": want enforce or audit`},
		{Config{RuleModes: map[string]Mode{"cooldown": "loud"}}, `rule_modes.cooldown: "loud"`},
		{Config{Mode: "audti"}, `mode: "audti": want enforce or audit (did you mean "audit"?)`},
		{Config{Pseudo: "wran"}, `pseudo: "wran": want allow, warn or deny (did you mean "warn"?)`},
		{Config{Vulns: VulnConfig{Ignore: []string{"GO-1", " "}}}, "vulns.ignore[1]: empty ID"},
		{Config{Cooldown: CooldownConfig{Days: -1}}, "cooldown.days: -1"},
		{Config{Cooldown: CooldownConfig{Days: 3, Minor: ptr(-2)}}, "cooldown.minor: -2"},
		{Config{Cooldown: CooldownConfig{Days: 3, Patch: ptr(0)}}, ""},
		{Config{Lists: ListsConfig{Blocked: []ListEntry{{Module: "a"}, {Module: "(", Match: MatchRegex}}}}, "lists.blocked[1].module: error parsing regexp"},
		{Config{Lists: ListsConfig{Allowed: []ListEntry{{Module: ""}}}}, "lists.allowed[0].module: required"},
		{Config{Lists: ListsConfig{Allowed: []ListEntry{{Module: "a", Match: "glob"}}}}, `lists.allowed[0].match: "glob"`},
		{Config{Lists: ListsConfig{Blocked: []ListEntry{{Module: "a", Versions: ">= 1.x"}}}}, `lists.blocked[0].versions: constraint ">= 1.x": invalid version "1.x"`},
		{Config{Lists: ListsConfig{Blocked: []ListEntry{{Module: "a", Versions: ">= 1.2, , < 2"}}}}, "lists.blocked[0].versions: constraint"},
		{Config{Licenses: LicenseConfig{Unknown: "maybe"}}, `licenses.unknown: "maybe"`},
		{Config{Licenses: LicenseConfig{Deny: []string{""}}}, "licenses.deny[0]: empty license ID"},
		{Config{Pseudo: "sometimes"}, `pseudo: "sometimes"`},
		{Config{Waivers: []Waiver{{Module: "m", Reason: "r", Owner: "o", Expires: "2025-01-01"}}}, ""},
		{Config{Waivers: []Waiver{{Module: "m", Reason: "r", Owner: "o"}}}, "waivers[0].expires: missing expiry date"},
		{Config{Waivers: []Waiver{{Module: "m", Reason: "r", Owner: "o", Expires: "soon"}}}, `waivers[0].expires: expires "soon"`},
		{Config{Waivers: []Waiver{{Module: "m", Owner: "o", Expires: "2025-01-01"}}}, "waivers[0].reason: required"},
		{Config{Waivers: []Waiver{{Module: "m", Reason: "r", Expires: "2025-01-01"}}}, "waivers[0].owner: required"},
		{Config{Waivers: []Waiver{{Module: "m", Reason: "r", Owner: "o", Expires: "2025-01-01", Rules: []string{""}}}}, "waivers[0].rules[0]: empty rule name"},
		{Config{Paths: []string{""}}, "paths[0]: empty path"},
		{Config{Cache: CacheConfig{Size: -1}}, "cache.size: -1"},
		{Config{DecisionLog: DecisionLogConfig{Path: "d.jsonl", MaxSize: 100 << 20, MaxBackups: 3, SampleAllowed: ptr(0.0)}}, ""},
		{Config{DecisionLog: DecisionLogConfig{Path: "-", SampleAllowed: ptr(1.0)}}, ""},
		{Config{DecisionLog: DecisionLogConfig{Path: "d.jsonl", MaxSize: -1}}, "decision_log.max_size: -1: must not be negative"},
		{Config{DecisionLog: DecisionLogConfig{Path: "d.jsonl", MaxBackups: -2}}, "decision_log.max_backups: -2: must not be negative"},
		{Config{DecisionLog: DecisionLogConfig{Path: "d.jsonl", SampleAllowed: ptr(1.5)}}, "decision_log.sample_allowed: 1.5: want a fraction between 0 and 1"},
		{Config{DecisionLog: DecisionLogConfig{Path: "d.jsonl", SampleAllowed: ptr(-0.1)}}, "decision_log.sample_allowed: -0.1"},
		{Config{DecisionLog: DecisionLogConfig{Path: "d.jsonl", SampleAllowed: ptr(math.NaN())}}, "decision_log.sample_allowed: NaN"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.want == "" {
			if err != nil {
				t.Errorf("Validate(%+v) = %v, want nil", tt.cfg, err)
			}
			continue
		}
		var fe *FieldError
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, &fe) {
			t.Errorf("Validate(%+v) = %v, want a FieldError containing %q", tt.cfg, err, tt.want)
		}
	}
}

func TestWaiverExpiresAt(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2025-06-30", time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)},
		{"2025-06-30T12:00:00+02:00", time.Date(2025, 6, 30, 10, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := (&Waiver{Expires: tt.in}).ExpiresAt()
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ExpiresAt(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestConstraint(t *testing.T) {
	tests := []struct {
		c, v string
		want bool
	}{
		{"", "v0.0.1", true},
		{">= v1.2.0, < v2", "v1.2.0", true},
		{">= v1.2.0, < v2", "v1.1.9", false},
		{">= v1.2.0, < v2", "v2.0.0+incompatible", false},
		{">=1.2.0,<2", "v1.9.0", true},
		{"v1.4.1 || >= v1.6", "v1.4.1", true},
		{"v1.4.1 || >= v1.6", "v1.5.0", false},
		{"v1.4.1 || >= v1.6", "v1.6.0", true},
		{"!= v1.0.0", "v1.0.0", false},
		{"<= 1.1.0", "v1.1.0", true},
		{"< v1.0.0", "v1.0.0-rc.1", true},
		{"== v1.0.0", "v1.0.0", true},
	}
	for _, tt := range tests {
		c, err := ParseConstraint(tt.c)
		if err != nil {
			t.Errorf("ParseConstraint(%q): %v", tt.c, err)
			continue
		}
		if got := c.Match(tt.v); got != tt.want {
			t.Errorf("ParseConstraint(%q).Match(%q) = %v, want %v", tt.c, tt.v, got, tt.want)
		}
	}
	for _, bad := range []string{">=", "v1 ||", "~> 1.2", "latest", ">= v1.2.0,"} {
		if _, err := ParseConstraint(bad); err == nil {
			t.Errorf("ParseConstraint(%q) succeeded, want an error", bad)
		}
	}
}

// TestConstraintMatchesRego checks Constraint.Match (Go) and
// lib.version_in (Rego) agree.
func TestConstraintMatchesRego(t *testing.T) {
	ctx := context.Background()
	versions := []string{"v0.9.0", "v1.0.0-rc.1", "v1.0.0", "v1.2.0", "v1.5.3", "v2.0.0+incompatible", "v1.3.0-0.20240101000000-abcdefabcdef"}
	for _, cs := range []string{">= v1.2.0, < v2", "v1.0.0 || > v1.4", "< v1.0.0", "!= v1.2.0"} {
		c, err := ParseConstraint(cs)
		if err != nil {
			t.Fatal(err)
		}
		cfg := &Config{Lists: ListsConfig{Blocked: []ListEntry{{Module: modM, Versions: cs}}}}
		e := mustEngine(ctx, Options{Config: cfg})
		for _, v := range versions {
			r, err := e.Evaluate(ctx, Input{Module: modM, Version: v, Kind: "zip", Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			if rego := !r.Allowed(); rego != c.Match(v) {
				t.Errorf("constraint %q, version %s: Go match %v, Rego match %v", cs, v, c.Match(v), rego)
			}
		}
	}
}

func TestParseConfigFiles(t *testing.T) {
	cfg, err := LoadConfig("../testdata/policy/modgate.yaml")
	if err != nil {
		t.Fatalf("LoadConfig(modgate.yaml): %v", err)
	}
	if cfg.Cooldown.Days != 7 || *cfg.Cooldown.Patch != 2 || cfg.Cooldown.Minor != nil || len(cfg.Waivers) != 1 || cfg.RuleModes["licenses"] != ModeAudit {
		t.Errorf("LoadConfig(modgate.yaml) = %+v", cfg)
	}
	if want := filepath.Join("..", "testdata", "policy", "custom"); cfg.Paths[0] != want {
		t.Errorf("Paths[0] = %q, want %q (relative to the file)", cfg.Paths[0], want)
	}

	_, err = LoadConfig("../testdata/policy/bad.yaml")
	if err == nil {
		t.Fatal("LoadConfig(bad.yaml) succeeded")
	}
	want := []string{
		`bad.yaml:2: policy.mode: "strict": want enforce or audit`,
		`bad.yaml:4: policy.cooldown.days: -1: must not be negative`,
		`bad.yaml:7: policy.lists.blocked[0].module: error parsing regexp`,
		`bad.yaml:10: policy.lists.blocked[1].versions: constraint ">= banana"`,
		`bad.yaml:14: policy.waivers[0].expires: expires "next week"`,
		`bad.yaml:12: policy.waivers[0].owner: required`,
		`bad.yaml:15: policy.licences: unknown field (did you mean "licenses"?)`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("LoadConfig(bad.yaml) error lacks %q; got:\n%v", w, err)
		}
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		src, want string
	}{
		{"", ""},
		{"policy:\n", ""},
		{"server:\n  listen: :8080\npolicy:\n  pseudo: warn\n", ""},
		{"mode: audit\n", ""},
		{"mode: [a, b]\n", "c.yaml:1: mode: want a string, got a list"},
		{"cooldown:\n  days: seven\n", `c.yaml:2: cooldown.days: want an integer, got "seven"`},
		{"cooldown: {days: 1\n", "c.yaml:1: did not find expected ',' or '}'"},
		{"\tmode: audit\n", "c.yaml:1: found character that cannot start any token"},
		{"waivers:\n  - modul: x\n", "c.yaml:2: waivers[0].modul: unknown field"},
		{"cache:\n  ttl: 5 minutes\n", `c.yaml:2: cache.ttl: want a duration such as 90s, 5m or 1h30m, got "5 minutes"`},
		{"just a string\n", `c.yaml:1: want a mapping, got "just a string"`},
		{"policy:\n  rule_modez: {x: off}\n", `c.yaml:2: policy.rule_modez: unknown field (did you mean "rule_modes"?)`},
		{"policy: [x]\n", "c.yaml:1: policy: want a mapping, got a list"},
		{"policy:\n  rule_modes:\n    cooldown: sometimes\n", `c.yaml:3: policy.rule_modes.cooldown: "sometimes"`},
	}
	for _, tt := range tests {
		_, err := ParseConfig("c.yaml", []byte(tt.src))
		if tt.want == "" {
			if err != nil {
				t.Errorf("ParseConfig(%q) = %v, want nil", tt.src, err)
			}
			continue
		}
		var ce *ConfigError
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, &ce) {
			t.Errorf("ParseConfig(%q) = %v, want a ConfigError containing %q", tt.src, err, tt.want)
		}
	}
	cfg, err := ParseConfig("c.yaml", []byte("cache:\n  ttl: 90s\n"))
	if err != nil || cfg.Cache.TTL != 90*time.Second {
		t.Errorf("ParseConfig(ttl: 90s) = %+v, %v", cfg, err)
	}
}

// TestParseConfigSortsByLine: every problem of bad.yaml, decoding and
// validation alike, in file order.
func TestParseConfigSortsByLine(t *testing.T) {
	_, err := LoadConfig("../testdata/policy/bad.yaml")
	var last int
	for _, e := range yamlconf.Split(err) {
		var ce *ConfigError
		if !errors.As(e, &ce) {
			t.Fatalf("LoadConfig(bad.yaml): %v is not a ConfigError", e)
		}
		if ce.Line < last {
			t.Errorf("LoadConfig(bad.yaml): line %d after line %d:\n%v", ce.Line, last, err)
		}
		last = ce.Line
	}
}

// TestConfigLocate: an error found after parsing (as the engine will find
// unknown rule names) is located in the file the config came from.
func TestConfigLocate(t *testing.T) {
	later := errors.Join(
		&FieldError{Field: "rule_modes.licences", Err: errors.New(`unknown rule "licences" (did you mean "licenses"?)`)},
		&FieldError{Field: "waivers[0].rules[0]", Err: errors.New(`unknown rule "vulns"`)},
	)
	src := "policy:\n  rule_modes:\n    licences: audit\n  waivers:\n    - module: m\n      rules: [vulns]\n      reason: r\n      owner: o\n      expires: 2099-01-01\n"
	cfg, err := ParseConfig("modgate.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := "modgate.yaml:3: policy.rule_modes.licences: unknown rule \"licences\" (did you mean \"licenses\"?)\n" +
		"modgate.yaml:6: policy.waivers[0].rules[0]: unknown rule \"vulns\""
	if got := cfg.Locate(later); got == nil || got.Error() != want {
		t.Errorf("Locate =\n%v\nwant\n%s", got, want)
	}
	if got := (&Config{}).Locate(later); got != later {
		t.Errorf("Locate on a Config built in Go = %v, want the error unchanged", got)
	}
}

// FuzzParseConfig: any input yields a config or an error, never a panic,
// and every accepted config builds an engine.
func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{"modgate.yaml", "bad.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "policy", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("waivers: [{module: m, reason: r, owner: o, expires: 2025-01-01, versions: '>= v1'}]"))
	f.Add([]byte("lists: {blocked: [{module: 'a+', match: regex, versions: 'v1 || v2'}]}"))
	f.Add([]byte("cooldown: {days: 3, major: 9}\nrule_modes: {cooldown: off}"))
	f.Add([]byte("rule_modes: {licences: audit}"))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig("fuzz.yaml", data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		cfg.Paths = nil // keep the fuzzer off the file system
		cfg.DecisionLog.Path = ""
		// Rule names are known only once the rules are loaded: the
		// engine may refuse them, and only them, with a suggestion.
		if _, err := NewEngine(ctx, Options{Config: cfg}); err != nil {
			for _, e := range yamlconf.Split(err) {
				if !strings.Contains(e.Error(), "unknown rule ") {
					t.Fatalf("valid config %q: NewEngine: %v", data, err)
				}
			}
		}
	})
}

// FuzzRegoModule: any user module either compiles into an engine or is
// rejected with an error; evaluation of an accepted one never panics.
func FuzzRegoModule(f *testing.F) {
	f.Add("package modgate.rules.x\n\ndeny contains msg if {\n\tinput.pseudo\n\tmsg := \"p\"\n}\n")
	f.Add("package modgate.rules.x\n\nwarn contains {\"msg\": input.module, \"fix\": 3}\n")
	f.Add("package modgate.rules.x\n\nchanges_at_ns contains \"soon\"\n")
	f.Add("package modgate.rules.x\n\ndeny contains 1\n")
	f.Add("package modgate.rules.x\n\ndeny := \"oops\"\n")
	f.Add("package modgate.rules.x\n\ndeny contains x if { x := 1 / 0 }\n")
	f.Add("package x\n\nimport rego.v1\n")
	f.Add("package modgate.rules.x\ndeny[msg] { msg := \"v0\" }")
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, src string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "x.rego"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		e, err := NewEngine(ctx, Options{Config: &Config{Paths: []string{dir}}})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		_, _ = e.Evaluate(ctx, Input{Module: modM, Version: "v1.0.0", Kind: "zip", Now: t0})
	})
}

// TestMalformedRuleOutput: user rules that produce odd values make
// decisions fail (closed) or degrade, with a message, never a panic.
func TestMalformedRuleOutput(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		src      string
		wantErr  string
		wantDeny string
	}{
		{"deny contains 1\n", "", "x"},
		{"deny contains {\"msg\": 3}\n", "", "x"},
		{"changes_at_ns contains \"soon\"\n", "", ""},
		{"deny contains x if { x := 1 / 0 }\n", "", ""},
		{"v := 1 if input.pseudo == false\nv := 2 if input.kind == \"zip\"\ndeny contains \"c\" if v\n", "conflict", ""},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "x.rego"), []byte("package modgate.rules.x\n\n"+tt.src), 0o644); err != nil {
			t.Fatal(err)
		}
		e, err := NewEngine(ctx, Options{Config: &Config{Paths: []string{dir}}})
		if err != nil {
			t.Errorf("%q: NewEngine: %v", tt.src, err)
			continue
		}
		r, err := e.Evaluate(ctx, Input{Module: modM, Version: "v1.0.0", Kind: "zip", Now: t0})
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "example.com/m@v1.0.0") {
				t.Errorf("%q: Evaluate error = %v, want %q", tt.src, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: Evaluate: %v", tt.src, err)
			continue
		}
		if rulesOf(r.Deny) != tt.wantDeny {
			t.Errorf("%q: deny = %v, want rules %q", tt.src, r.Deny, tt.wantDeny)
		}
	}
}

func TestParseConfigDecisionLog(t *testing.T) {
	tests := []struct {
		name, src string
		want      DecisionLogConfig
	}{
		{"absent", "mode: audit\n", DecisionLogConfig{}},
		{"scalar", "decision_log: /var/log/modgate/decisions.jsonl\n", DecisionLogConfig{Path: "/var/log/modgate/decisions.jsonl"}},
		{"stdout", "decision_log: \"-\"\n", DecisionLogConfig{Path: "-"}},
		{"empty", "decision_log: \"\"\n", DecisionLogConfig{}},
		{"null", "decision_log:\n", DecisionLogConfig{}},
		{"mapping", "decision_log:\n  path: /var/log/d.jsonl\n  max_size: 100MB\n  max_backups: 5\n  sample_allowed: 0.1\n",
			DecisionLogConfig{Path: "/var/log/d.jsonl", MaxSize: 100_000_000, MaxBackups: 5, SampleAllowed: ptr(0.1)}},
		{"mapping in modgate config", "policy:\n  decision_log: {path: d.jsonl, max_size: 1GiB, sample_allowed: 0}\n",
			DecisionLogConfig{Path: "d.jsonl", MaxSize: 1 << 30, SampleAllowed: ptr(0.0)}},
		{"bytes", "decision_log: {path: d.jsonl, max_size: 4096}\n", DecisionLogConfig{Path: "d.jsonl", MaxSize: 4096}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig("c.yaml", []byte(tt.src))
			if err != nil {
				t.Fatalf("ParseConfig(%q) = %v", tt.src, err)
			}
			got := cfg.DecisionLog
			if got.Path != tt.want.Path || got.MaxSize != tt.want.MaxSize || got.MaxBackups != tt.want.MaxBackups ||
				(got.SampleAllowed == nil) != (tt.want.SampleAllowed == nil) || got.SampleAllowed != nil && *got.SampleAllowed != *tt.want.SampleAllowed {
				t.Errorf("ParseConfig(%q).DecisionLog = %+v, want %+v", tt.src, got, tt.want)
			}
		})
	}
}

func TestParseConfigDecisionLogErrors(t *testing.T) {
	tests := []struct {
		src  string
		want []string
	}{
		{"decision_log:\n  path: d.jsonl\n  max_size: -5MB\n", []string{"c.yaml:3: decision_log.max_size: -5000000: must not be negative"}},
		{"policy:\n  decision_log:\n    path: d.jsonl\n    sample_allowed: 2\n", []string{"c.yaml:4: policy.decision_log.sample_allowed: 2: want a fraction between 0 and 1"}},
		{"decision_log:\n  path: d.jsonl\n  max_backups: -1\n  sample_allowed: -1\n", []string{"c.yaml:3: decision_log.max_backups: -1", "c.yaml:4: decision_log.sample_allowed: -1"}},
		{"decision_log:\n  path: d.jsonl\n  max_size: lots\n", []string{`c.yaml:3: size "lots": want bytes or a number with a unit such as 100MB or 1GiB`}},
		{"decision_log:\n  path: d.jsonl\n  max_sise: 1MB\n  max_backups: many\n", []string{"c.yaml:3: decision_log.max_sise: unknown field (did you mean \"max_size\"?)", "c.yaml:4: cannot unmarshal !!str `many` into int"}},
		{"decision_log: [a, b]\n", []string{"c.yaml:1: decision_log: want a path or a mapping"}},
	}
	for _, tt := range tests {
		_, err := ParseConfig("c.yaml", []byte(tt.src))
		var ce *ConfigError
		if err == nil || !errors.As(err, &ce) {
			t.Errorf("ParseConfig(%q) = %v, want ConfigErrors", tt.src, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParseConfig(%q) = %v\nwant an error containing %q", tt.src, err, w)
			}
		}
		if n := len(yamlconf.Split(err)); n != len(tt.want) {
			t.Errorf("ParseConfig(%q) has %d errors, want %d:\n%v", tt.src, n, len(tt.want), err)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		err  bool
	}{
		{"", 0, false},
		{"0", 0, false},
		{"4096", 4096, false},
		{"100B", 100, false},
		{"100KB", 100_000, false},
		{"100MB", 100_000_000, false},
		{"2GB", 2_000_000_000, false},
		{"1TB", 1_000_000_000_000, false},
		{"64KiB", 64 << 10, false},
		{"100MiB", 100 << 20, false},
		{"1GiB", 1 << 30, false},
		{"1.5GiB", 3 << 29, false},
		{" 10 mb ", 10_000_000, false},
		{"10mib", 10 << 20, false},
		{"-5MB", -5_000_000, false},
		{"5XB", 0, true},
		{"MB", 0, true},
		{"1.2.3MB", 0, true},
		{"lots", 0, true},
		{"99999999999TiB", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}
