package bot

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/bot/gomod"
	"github.com/modgate/modgate/proxy/api"
)

func TestConfigValidate(t *testing.T) {
	ok := func() Config {
		return Config{Modgate: ModgateConfig{URL: "https://modgate.internal"}, Repositories: []string{"acme/svc"}}
	}
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" means valid
	}{
		{"minimal", func(*Config) {}, ""},
		{"org only", func(c *Config) { c.Repositories = nil; c.Organization.Name = "acme" }, ""},
		{"schedule with zone", func(c *Config) { c.Schedule = "0 6 * * 1-5"; c.TimeZone = "Europe/Berlin" }, ""},
		{"no modgate", func(c *Config) { c.Modgate.URL = "" }, "bot.modgate.url: required"},
		{"bad modgate url", func(c *Config) { c.Modgate.URL = "modgate.internal" }, "bot.modgate.url: \"modgate.internal\" is not an http(s) URL"},
		{"bad schedule", func(c *Config) { c.Schedule = "every day" }, "bot.schedule: cron spec"},
		{"bad zone", func(c *Config) { c.TimeZone = "Mars/Base" }, "bot.timezone: unknown time zone"},
		{"no repos", func(c *Config) { c.Repositories = nil }, "bot.repositories: list repositories"},
		{"bad repo", func(c *Config) { c.Repositories = []string{"acme"} }, "bot.repositories[0]: \"acme\" is not owner/name"},
		{"app without key", func(c *Config) { c.GitHub.App = AppConfig{AppID: 1, InstallationID: 2} }, "bot.github.app.private_key_file: required"},
		{"app without installation", func(c *Config) { c.GitHub.App = AppConfig{AppID: 1} }, "bot.github.app.installation_id: required"},
		{"goproxy in go_env", func(c *Config) { c.GoEnv = []string{"GOPROXY=direct"} }, "bot.go_env[0]: GOPROXY is set by the bot"},
		{"negative concurrency", func(c *Config) { c.Concurrency = -1 }, "bot.concurrency"},
		{"bad default group", func(c *Config) { c.Defaults.Groups = []Group{{Name: "x"}} }, "bot.defaults.groups[0].match: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestParseRepoConfig(t *testing.T) {
	tests := []struct {
		yaml string
		want string // "" means valid
	}{
		{"", ""},
		{"labels: [deps]\nreviewers: [alice]\nlimits:\n  open_prs: 3\n  prs_per_run: 0\ntest: true\n", ""},
		{"groups:\n  - name: aws\n    match: [github.com/aws/...]\n    types: [minor, patch, major]\n", ""},
		{"ignore:\n  - module: example.com/x\n    versions: [v2, v1.4]\n", ""},
		{"schedule:\n  timezone: America/New_York\n  days: [Mon, fri]\n  hours: \"22:00-06:00\"\n", ""},
		{"commit_message: \"deps: bump {{.Subject}}\"\n", ""},
		{"labelz: [x]\n", `.github/modgate.yaml:1: labelz: unknown field (did you mean "labels"?)`},
		{"limits:\n  open_prs: many\n", `.github/modgate.yaml:2: limits.open_prs: want an integer, got "many"`},
		{"groups:\n  - name: Bad\n    match: [x]\n", `.github/modgate.yaml:2: groups[0].name: "Bad" is not a valid group name`},
		{"groups:\n  - name: a\n    match: [x]\n  - name: a\n    match: [y]\n", `.github/modgate.yaml:4: groups[1].name: duplicate group "a"`},
		{"groups:\n  - name: a\n    match: [x]\n    types: [mayor]\n", `groups[0].types[0]: unknown update type "mayor"`},
		{"ignore:\n  - versions: [v1]\n", "ignore[0].module: empty module pattern"},
		{"ignore:\n  - module: x\n    versions: [latest]\n", `ignore[0].versions[0]: "latest" is not a version`},
		{"limits:\n  open_prs: -1\n", "limits.open_prs: -1 is negative"},
		{"schedule:\n  days: [someday]\n", `schedule.days[0]: unknown day "someday"`},
		{"schedule:\n  hours: 9-17\n", `schedule.hours: "9-17" is not HH:MM-HH:MM`},
		{"schedule:\n  timezone: Nowhere/Town\n", "schedule.timezone: unknown time zone"},
		{"commit_message: \"{{.Nope}}\"\n", "commit_message:"},
		{"labels: [\"\"]\n", "labels[0]: empty label"},
		// Every problem at once, by line.
		{"labelz: [x]\nlimits:\n  open_prs: -1\ngroups:\n  - name: Bad\n", ".github/modgate.yaml:1: labelz: unknown field (did you mean \"labels\"?)\n" +
			".github/modgate.yaml:3: limits.open_prs: -1 is negative\n.github/modgate.yaml:5: groups[0].name: \"Bad\" is not a valid group name (lower-case letters, digits, '.', '_', '-')\n" +
			".github/modgate.yaml:5: groups[0].match: required"},
	}
	for _, tt := range tests {
		_, err := ParseRepoConfig([]byte(tt.yaml))
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("ParseRepoConfig(%q) = %v, want nil", tt.yaml, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), RepoConfigPath+":")):
			t.Errorf("ParseRepoConfig(%q) = %v, want %s: ...%s...", tt.yaml, err, RepoConfigPath, tt.want)
		}
	}
}

func TestWindowOpen(t *testing.T) {
	sun := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) // Sunday
	tests := []struct {
		w    *Window
		at   time.Time
		want bool
	}{
		{nil, sun, true},
		{&Window{Days: []string{"sun"}}, sun, true},
		{&Window{Days: []string{"mon"}}, sun, false},
		{&Window{Hours: "09:00-17:00"}, sun, true},
		{&Window{Hours: "13:00-17:00"}, sun, false},
		{&Window{Hours: "13:00-17:00", TimeZone: "Europe/Berlin"}, sun, true}, // 14:00 in Berlin
		{&Window{Hours: "22:00-06:00"}, sun.Add(11 * time.Hour), true},        // 23:00 wraps midnight
		{&Window{Hours: "22:00-06:00"}, sun, false},
		{&Window{Days: []string{"sat"}, TimeZone: "Pacific/Kiritimati"}, sun.Add(-12 * time.Hour), false},
	}
	for _, tt := range tests {
		if got := tt.w.Open(tt.at); got != tt.want {
			t.Errorf("%+v.Open(%v) = %v, want %v", tt.w, tt.at, got, tt.want)
		}
	}
}

func TestLoadConfigFileAndNew(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	full := write("modgate.yaml", "listen: localhost:3000\nbot:\n  schedule: \"0 6 * * 1-5\"\n  timezone: Europe/Berlin\n  modgate:\n    url: https://modgate.internal\n  github:\n    api_url: https://ghe.internal/api/v3/\n    token_env: BOT_TOKEN\n  organization:\n    name: acme\n    topics: [go]\n  defaults:\n    labels: [dependencies]\n")
	cfg, err := LoadConfigFile(full)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Organization.Name != "acme" || cfg.TimeZone != "Europe/Berlin" || cfg.Defaults.Labels[0] != "dependencies" {
		t.Errorf("LoadConfigFile = %+v", cfg)
	}
	if _, err := New(cfg, func(string) string { return "" }, nil); err == nil || !strings.Contains(err.Error(), "$BOT_TOKEN is empty") {
		t.Errorf("New without token = %v", err)
	}
	b, err := New(cfg, func(k string) string { return map[string]string{"BOT_TOKEN": "t0k"}[k] }, nil)
	if err != nil || b.Gate.URL != "https://modgate.internal" {
		t.Errorf("New = %+v, %v", b, err)
	}
	bad := write("bad.yaml", "other: 1\nbot:\n  modgate:\n    url: x\n  repositorys: [a/b]\n")
	if _, err := LoadConfigFile(bad); err == nil || !strings.Contains(err.Error(), `bad.yaml:5: bot.repositorys: unknown field (did you mean "repositories"?)`) {
		t.Errorf("LoadConfigFile(bad) = %v, want line 5", err)
	}
	bare := write("bare.yaml", "modgate:\n  url: https://m\nrepositories: [a/b]\n")
	if cfg, err := LoadConfigFile(bare); err != nil || cfg.Repositories[0] != "a/b" {
		t.Errorf("LoadConfigFile(bare) = %+v, %v", cfg, err)
	}
}

// TestConfigLocate: Validate reports every problem, and Locate places them
// in the file, whether it has a bot: section or is a bare bot config.
func TestConfigLocate(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, src, want string }{
		{"section", "listen: x\nbot:\n  modgate:\n    url: ftp://m\n  concurrency: -1\n",
			"s.yaml:2: bot.repositories: list repositories or set bot.organization.name\n" +
				"s.yaml:4: bot.modgate.url: \"ftp://m\" is not an http(s) URL\n" +
				"s.yaml:5: bot.concurrency: -1 is negative"},
		{"bare", "modgate:\n  url: ftp://m\nrepositories: [a/b]\ndefaults:\n  labels: [\"\"]\n",
			"s.yaml:2: modgate.url: \"ftp://m\" is not an http(s) URL\n" +
				"s.yaml:5: defaults.labels[0]: empty label"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, "s.yaml")
			if err := os.WriteFile(p, []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := LoadConfigFile(p)
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Locate(cfg.Validate())
			if got := strings.ReplaceAll(fmt.Sprint(err), dir+string(filepath.Separator), ""); got != tt.want {
				t.Errorf("Locate(Validate()) =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestVulnIDs(t *testing.T) {
	d := api.Decision{
		Deny:  []api.Violation{{Rule: "vulnerabilities", Msg: "x@v1 is affected by GO-2099-0002, GHSA-abcd-efgh-ijkl; fixed in v1.2"}},
		Warn:  []api.Violation{{Rule: "licenses", Msg: "CVE-2020-1234 is not a vuln rule"}},
		Audit: []api.Violation{{Rule: "vulnerabilities", Msg: "x@v1 is affected by CVE-2024-12345"}},
	}
	ids, found := vulnIDs(d)
	if !found || strings.Join(ids, ",") != "CVE-2024-12345,GHSA-abcd-efgh-ijkl,GO-2099-0002" {
		t.Errorf("vulnIDs = %v, %v", ids, found)
	}
	if ids, found := vulnIDs(api.Decision{}); found || len(ids) != 0 {
		t.Errorf("vulnIDs(empty) = %v, %v", ids, found)
	}
}

func TestPathsAndTypes(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"example.com/m", "example.com/m/v2"},
		{"example.com/m/v2", "example.com/m/v3"},
		{"example.com/m/v9", "example.com/m/v10"},
		{"gopkg.in/yaml.v3", ""},
	} {
		if got := nextMajorPath(tt.in); got != tt.want {
			t.Errorf("nextMajorPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, tt := range []struct{ from, newPath, path, to, want string }{
		{"v1.0.0", "m", "m", "v1.0.1", typePatch},
		{"v1.0.0", "m", "m", "v1.1.0", typeMinor},
		{"v1.0.0", "m/v2", "m", "v2.0.0", typeMajor},
		{"v0.1.0", "m", "m", "v0.2.0", typeMinor},
	} {
		if got := updateType(tt.from, tt.newPath, tt.path, tt.to); got != tt.want {
			t.Errorf("updateType(%s, %s, %s, %s) = %s, want %s", tt.from, tt.newPath, tt.path, tt.to, got, tt.want)
		}
	}
	if got := branchSafe("Example.com/Foo_Bar/v2"); got != "example.com-foo_bar-v2" {
		t.Errorf("branchSafe = %q", got)
	}
}

func TestGroupingAndIgnore(t *testing.T) {
	c := func(path, newPath, typ string, sec bool) candidate {
		cd := candidate{Update: gomod.Update{Path: path, From: "v1.0.0", NewPath: newPath, To: "v1.1.0"}, Type: typ}
		if sec {
			cd.Fixes = []string{"GO-2099-0001"}
		}
		return cd
	}
	rc := &RepoConfig{Groups: []Group{{Name: "cloud", Match: []string{"cloud.example/..."}}}}
	gs := grouping([]candidate{
		c("a.example/x", "a.example/x/v2", typeMajor, false),
		c("cloud.example/s3", "cloud.example/s3", typeMinor, false),
		c("b.example/y", "b.example/y", typePatch, false),
		c("cloud.example/ec2", "cloud.example/ec2", typePatch, true),
		c("d.example/z", "d.example/z", typeMinor, false),
	}, rc)
	var names []string
	for _, g := range gs {
		names = append(names, g.Name+"="+strconv.Itoa(len(g.Updates)))
	}
	if got := strings.Join(names, " "); got != "cloud.example-ec2=1 cloud=1 non-major=2 a.example-x-v2=1" {
		t.Errorf("groups = %s", got)
	}
	grouped := &RepoConfig{Security: SecurityConfig{Grouped: boolPtr(true)}}
	gs = grouping([]candidate{c("cloud.example/ec2", "cloud.example/ec2", typePatch, true), c("b.example/y", "b.example/y", typePatch, false)}, grouped)
	if len(gs) != 1 || gs[0].Name != defaultGroup || !gs[0].Security || len(gs[0].Updates) != 2 {
		t.Errorf("grouped security fix: %+v, want one non-major security group", gs)
	}
	ig := &RepoConfig{Ignore: []IgnoreRule{{Module: "example.com/m", Versions: []string{"v1.4"}}, {Module: "example.com/*", Types: []string{"major"}}}}
	for _, tt := range []struct {
		p, v, typ string
		want      bool
	}{
		{"example.com/m", "v1.4.2", typePatch, true},
		{"example.com/m", "v1.40.0", typeMinor, false},
		{"example.com/q/v3", "v3.0.0", typeMajor, true},
		{"example.com/q", "v1.1.0", typeMinor, false},
	} {
		if got := ig.ignored(tt.p, tt.v, tt.typ) != nil; got != tt.want {
			t.Errorf("ignored(%s, %s, %s) = %v, want %v", tt.p, tt.v, tt.typ, got, tt.want)
		}
	}
}

func TestMetaRoundTrip(t *testing.T) {
	m := prMeta{V: 1, Group: "non-major", Base: "abc", Updates: []gomod.Update{{Path: "a", From: "v1.0.0", NewPath: "a", To: "v1.1.0"}}}
	body := "text\n\n" + metaComment(prMetaTag, m) + "\n" + metaComment(dashMetaTag, dashMeta{V: 1})
	var got prMeta
	if !readMeta(body, prMetaTag, &got) || got.Base != "abc" || !sameUpdates(got.Updates, m.Updates) {
		t.Errorf("readMeta = %+v", got)
	}
	var none prMeta
	if readMeta("no metadata here", prMetaTag, &none) {
		t.Error("readMeta found metadata in plain text")
	}
	if got := age(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)); got != "3 months" {
		t.Errorf("age = %q", got)
	}
}

func TestRepoConfigSecurityAutomergeToolchain(t *testing.T) {
	tests := []struct {
		yaml string
		want string // "" means valid
	}{
		{"security:\n  strategy: highest\n  grouped: true\n  labels: [sec, deps]\n", ""},
		{"automerge:\n  method: rebase\n  required_checks: [ci]\n  rules:\n    - types: [patch]\n    - security: true\n    - match: [golang.org/toolchain]\n", ""},
		{"toolchain: true\ngo_directive: true\nrequire_approval: [major]\n", ""},
		{"security:\n  strategy: newest\n", `security.strategy: unknown strategy "newest" (want lowest or highest)`},
		{"security:\n  labels: [\"\"]\n", "security.labels[0]: empty label"},
		{"automerge:\n  method: ff\n", `automerge.method: unknown merge method "ff"`},
		{"automerge:\n  rules:\n    - types: [mayor]\n", `automerge.rules[0].types[0]: unknown update type "mayor"`},
		{"automerge:\n  rules:\n    - match: [\"\"]\n", "automerge.rules[0].match[0]: empty module pattern"},
		{"automerge:\n  required_checks: [\" \"]\n", "automerge.required_checks[0]: empty check name"},
		{"require_approval: [big]\n", `require_approval[0]: unknown update type "big"`},
		{"automerge:\n  rulez: []\n", `automerge.rulez: unknown field (did you mean "rules"?)`},
	}
	for _, tt := range tests {
		_, err := ParseRepoConfig([]byte(tt.yaml))
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("ParseRepoConfig(%q) = %v, want nil", tt.yaml, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("ParseRepoConfig(%q) = %v, want an error containing %q", tt.yaml, err, tt.want)
		}
	}
	def := RepoConfig{Security: SecurityConfig{Strategy: fixHighest}, Automerge: Automerge{Method: "merge", Rules: []AutomergeRule{{Security: true}}}, Toolchain: boolPtr(true)}
	m := RepoConfig{Automerge: Automerge{RequiredChecks: []string{"ci"}}}.merge(def)
	if m.Security.strategy() != fixHighest || m.mergeMethod() != "merge" || len(m.Automerge.Rules) != 1 || m.Automerge.RequiredChecks[0] != "ci" || !boolOr(m.Toolchain, false) {
		t.Errorf("merge = %+v", m)
	}
	if got := (RepoConfig{}).merge(RepoConfig{}); got.Security.strategy() != fixLowest || got.mergeMethod() != "squash" || len(got.Security.labels()) != 1 {
		t.Errorf("defaults = %+v", got)
	}
}

func boolPtr(b bool) *bool { return &b }
