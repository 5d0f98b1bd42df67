package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/internal/yamlconf"
	"github.com/modgate/modgate/policy"
	"github.com/modgate/modgate/proxy/proxytest"
)

func testApp(env ...string) (*App, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "GOPROXY=http://127.0.0.1:1/from-goenv", "GOSUMDB=off"}
	return &App{Stdout: &out, Stderr: &errb, Env: append(base, env...)}, &out, &errb
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "modgate.yaml")
	os.WriteFile(cfgFile, []byte("listen: 127.0.0.1:4000\nupstream: http://127.0.0.1:1/from-file\nlist_ttl: 5m\nstorage_dir: "+dir+"/file\n"), 0o644)
	tests := []struct {
		name       string
		env        []string
		args       []string
		wantListen string
		wantUp     string
		wantTTL    time.Duration
	}{
		{"defaults from go env", nil, nil, "localhost:3000", "http://127.0.0.1:1/from-goenv", time.Minute},
		{"file", nil, []string{"--config", cfgFile}, "127.0.0.1:4000", "http://127.0.0.1:1/from-file", 5 * time.Minute},
		{"file via env", []string{"MODGATE_CONFIG=" + cfgFile}, nil, "127.0.0.1:4000", "http://127.0.0.1:1/from-file", 5 * time.Minute},
		{"env over file", []string{"MODGATE_UPSTREAM=http://127.0.0.1:1/from-env", "MODGATE_LIST_TTL=7s"}, []string{"--config=" + cfgFile}, "127.0.0.1:4000", "http://127.0.0.1:1/from-env", 7 * time.Second},
		{"flag over env", []string{"MODGATE_UPSTREAM=http://127.0.0.1:1/from-env", "MODGATE_LISTEN=127.0.0.1:5000"}, []string{"--config", cfgFile, "--upstream", "http://127.0.0.1:1/from-flag"}, "127.0.0.1:5000", "http://127.0.0.1:1/from-flag", 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, _, errb := testApp(tt.env...)
			cfg, _, _, err := loadServeConfig(context.Background(), app, "serve", tt.args)
			if err != nil {
				t.Fatalf("loadServeConfig(%q) = %v\n%s", tt.args, err, errb)
			}
			if cfg.Listen != tt.wantListen || cfg.Upstream != tt.wantUp || cfg.ListTTL != tt.wantTTL {
				t.Errorf("config = listen %q upstream %q ttl %v; want %q %q %v", cfg.Listen, cfg.Upstream, cfg.ListTTL, tt.wantListen, tt.wantUp, tt.wantTTL)
			}
		})
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	write("p.yaml", "mode: strict\ncooldown:\n  dayz: 1\n")
	tests := []struct {
		name string
		env  []string
		args []string
		want string
		not  string // must not appear
	}{
		{"unknown key", nil, []string{"--config", write("a.yaml", "listen: x\nupstreem: y\n")}, `a.yaml:2: upstreem: unknown field (did you mean "upstream"?)`, ""},
		{"every problem", nil, []string{"--config", write("all.yaml", "listen: \"\"\nlist_ttl: soon\nlog_format: xml\n")},
			"invalid configuration:\n" + filepath.Join(dir, "all.yaml") + ":1: listen: must not be empty\n" +
				filepath.Join(dir, "all.yaml") + `:2: list_ttl: want a duration such as 90s, 5m or 1h30m, got "soon"` + "\n" +
				filepath.Join(dir, "all.yaml") + `:3: log_format: "xml" is not text or json`, ""},
		{"flag not blamed on the file", nil, []string{"--config", write("f.yaml", "listen: x\nlist_ttl: 5m\n"), "--list-ttl", "-1s"}, "\nlist_ttl: must be positive, got -1s", "f.yaml:2"},
		{"env not blamed on the file", []string{"MODGATE_LOG_FORMAT=xml"}, []string{"--config", write("g.yaml", "log_format: json\n")}, "\nlog_format: \"xml\" is not text or json", "g.yaml:1"},
		{"policy_file problems in that file", nil, []string{"--config", write("e.yaml", "policy_file: p.yaml\nlisten: \"\"\n")},
			filepath.Join(dir, "e.yaml") + ":2: listen: must not be empty\n" + filepath.Join(dir, "p.yaml") + `:1: mode: "strict": want enforce or audit` + "\n" +
				filepath.Join(dir, "p.yaml") + `:3: cooldown.dayz: unknown field (did you mean "days"?)`, ""},
		{"missing policy_file", nil, []string{"--config", write("m.yaml", "listen: x\npolicy_file: nope.yaml\n")}, "m.yaml:2: policy_file: open ", ""},
		{"bad yaml", nil, []string{"--config", write("b.yaml", "listen: [\n")}, "b.yaml:1: did not find expected node content", ""},
		{"missing file", nil, []string{"--config", filepath.Join(dir, "nope.yaml")}, "no such file", ""},
		{"bad upstream", nil, []string{"--upstream", "ftp://x"}, "upstream: ", ""},
		{"no scheme", nil, []string{"--upstream", "example.com"}, "has no scheme", ""},
		{"bad duration env", []string{"MODGATE_LIST_TTL=soon"}, nil, "MODGATE_LIST_TTL", ""},
		{"negative ttl", nil, []string{"--list-ttl", "-1s"}, "list_ttl: must be positive", ""},
		{"bad log format", nil, []string{"--log-format", "xml"}, "log_format", ""},
		{"bad prefix", nil, []string{"--path-prefix", "proxy/"}, "path_prefix", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, _, errb := testApp(tt.env...)
			_, _, _, err := loadServeConfig(context.Background(), app, "serve", tt.args)
			if err == nil {
				t.Fatalf("loadServeConfig(%q) = nil, want error containing %q", tt.args, tt.want)
			}
			if !strings.Contains(err.Error()+errb.String(), tt.want) {
				t.Errorf("loadServeConfig(%q) = %v, want error containing %q", tt.args, err, tt.want)
			}
			if tt.not != "" && strings.Contains(err.Error(), tt.not) {
				t.Errorf("loadServeConfig(%q) = %v, want no %q", tt.args, err, tt.not)
			}
			var ee *exitError
			if e, ok := err.(*exitError); ok {
				ee = e
			}
			if ee == nil || ee.code != 2 {
				t.Errorf("error %v is not a usage error (exit 2)", err)
			}
		})
	}
}

func TestRunUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Commands:"},
		{[]string{"--help"}, 0, "serve"},
		{[]string{"nosuch"}, 2, `unknown command "nosuch"`},
		{[]string{"version"}, 0, "modgate "},
		{[]string{"serve", "--help"}, 0, "-storage-dir"},
		{[]string{"serve", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"cache"}, 2, "modgate cache verify"},
	}
	for _, tt := range tests {
		app, out, errb := testApp()
		code := Run(context.Background(), tt.args, nil, app.Stdout, app.Stderr, app.Env)
		if code != tt.code || !strings.Contains(out.String()+errb.String(), tt.want) {
			t.Errorf("modgate %q = exit %d, output %q; want exit %d containing %q", tt.args, code, out.String()+errb.String(), tt.code, tt.want)
		}
	}
}

// TestBotConfigErrors: `modgate bot` reports every problem of its bot:
// section at once, located, except values its flags gave.
func TestBotConfigErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "modgate.yaml")
	write(t, file, "bot:\n  modgate:\n    url: ftp://m\n  repositorys: [a/b]\n  concurrency: -1\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"file", nil, "modgate bot: invalid configuration:\n" +
			"modgate.yaml:1: bot.repositories: list repositories or set bot.organization.name\n" +
			"modgate.yaml:3: bot.modgate.url: \"ftp://m\" is not an http(s) URL\n" +
			"modgate.yaml:4: bot.repositorys: unknown field (did you mean \"repositories\"?)\n" +
			"modgate.yaml:5: bot.concurrency: -1 is negative\n"},
		{"flags", []string{"--modgate", "ftp://flag", "--repo", "acme/svc"}, "modgate bot: invalid configuration:\n" +
			"modgate.yaml:4: bot.repositorys: unknown field (did you mean \"repositories\"?)\n" +
			"modgate.yaml:5: bot.concurrency: -1 is negative\n" +
			"bot.modgate.url: \"ftp://flag\" is not an http(s) URL\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, _, errb := testApp()
			args := append([]string{"bot", "--once", "--config", file}, tt.args...)
			code := Run(context.Background(), args, nil, app.Stdout, app.Stderr, app.Env)
			if got := strings.ReplaceAll(errb.String(), dir+string(filepath.Separator), ""); code != 2 || got != tt.want {
				t.Errorf("modgate %q = exit %d\n%s\nwant exit 2\n%s", args, code, got, tt.want)
			}
		})
	}
}

// TestLocatePolicy: an error the policy engine finds later about a policy
// field is located under policy: in the main file, or in the policy_file.
func TestLocatePolicy(t *testing.T) {
	dir := t.TempDir()
	p := func(name, content string) string {
		f := filepath.Join(dir, name)
		write(t, f, content)
		return f
	}
	p("policy.yaml", "mode: audit\nrule_modes:\n  licences: audit\n")
	later := &yamlconf.FieldError{Field: "rule_modes.licences", Err: errors.New(`unknown rule "licences" (did you mean "licenses"?)`)}
	tests := []struct{ name, file, want string }{
		{"section", p("a.yaml", "listen: x\npolicy:\n  rule_modes:\n    licences: audit\n"), `a.yaml:4: policy.rule_modes.licences: unknown rule "licences" (did you mean "licenses"?)`},
		{"policy_file", p("b.yaml", "listen: x\npolicy_file: policy.yaml\n"), `policy.yaml:3: rule_modes.licences: unknown rule "licences" (did you mean "licenses"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, _, _ := testApp()
			cfg, _, err := loadConfig(context.Background(), app, tt.file, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.ReplaceAll(cfg.LocatePolicy(later).Error(), dir+string(filepath.Separator), "")
			if got != tt.want {
				t.Errorf("LocatePolicy = %s, want %s", got, tt.want)
			}
		})
	}
}

// testCore builds the core every deciding command uses, in front of the
// hermetic upstream up, with policyYAML as the body of the policy section
// and the OSV files of osvDir (if any) as the vulnerability database.
func testCore(t testing.TB, up *proxytest.Upstream, policyYAML, osvDir string) *core {
	t.Helper()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "modgate.yaml")
	vdb := "vulndb:\n  source: none\n  refresh: \"off\"\n"
	if osvDir != "" {
		vdb += "  extra: [" + osvDir + "]\n"
	}
	data := "upstream: " + up.URL + "\nsumdb: " + up.SumDBKey + "\nstorage_dir: " + filepath.Join(dir, "cache") +
		"\nlist_ttl: 1ns\naccess_log: false\n" + vdb + "policy:\n" + policyYAML
	if err := os.WriteFile(cfgFile, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	app, _, errb := testApp()
	ctx := context.Background()
	cfg, ge, _, err := loadServeConfig(ctx, app, "serve", []string{"--config", cfgFile})
	if err != nil {
		t.Fatalf("config: %v\n%s", err, errb)
	}
	c, err := newCore(ctx, cfg, ge, coreOptions{logger: app.Logger(false, slog.LevelError), oneShot: true, noVulns: osvDir == "", stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.loadVulns(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return c
}

func TestConfigDecisionLog(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	mapping := write("m.yaml", "policy:\n  decision_log:\n    path: /var/log/d.jsonl\n    max_size: 10MiB\n    max_backups: 3\n    sample_allowed: 0.25\n")
	scalar := write("s.yaml", "policy:\n  decision_log: /var/log/s.jsonl\n")
	policyFile := write("p.yaml", "cooldown:\n  days: 1\n")
	withPolicyFile := write("pf.yaml", "policy_file: "+policyFile+"\npolicy:\n  decision_log: {path: /var/log/pf.jsonl, max_backups: 2}\n")
	tests := []struct {
		name        string
		env, args   []string
		wantPath    string
		wantSize    policy.ByteSize
		wantBackups int
		wantSample  float64 // -1: nil
	}{
		{"mapping", nil, []string{"--config", mapping}, "/var/log/d.jsonl", 10 << 20, 3, 0.25},
		{"scalar", nil, []string{"--config", scalar}, "/var/log/s.jsonl", 0, 0, -1},
		{"flag over mapping", nil, []string{"--config", mapping, "--decision-log", "-"}, "-", 10 << 20, 3, 0.25},
		{"env", []string{"MODGATE_DECISION_LOG=/tmp/e.jsonl"}, []string{"--config", scalar}, "/tmp/e.jsonl", 0, 0, -1},
		{"policy_file keeps the main file's log", nil, []string{"--config", withPolicyFile}, "/var/log/pf.jsonl", 0, 2, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, _, errb := testApp(tt.env...)
			cfg, _, _, err := loadServeConfig(context.Background(), app, "serve", tt.args)
			if err != nil {
				t.Fatalf("loadServeConfig(%q) = %v\n%s", tt.args, err, errb)
			}
			dl := cfg.Policy.DecisionLog
			sample := -1.0
			if dl.SampleAllowed != nil {
				sample = *dl.SampleAllowed
			}
			if dl.Path != tt.wantPath || dl.MaxSize != tt.wantSize || dl.MaxBackups != tt.wantBackups || sample != tt.wantSample {
				t.Errorf("decision_log = %+v (sample %v), want path %q size %d backups %d sample %v", dl, sample, tt.wantPath, tt.wantSize, tt.wantBackups, tt.wantSample)
			}
		})
	}

	for _, bad := range []struct{ src, want string }{
		{"policy:\n  decision_log:\n    path: d.jsonl\n    max_sise: 1MB\n", "bad.yaml:4: decision_log.max_sise: unknown field (did you mean \"max_size\"?)"},
		{"policy:\n  decision_log:\n    path: d.jsonl\n    sample_allowed: 3\n", "bad.yaml:4: policy.decision_log.sample_allowed: 3: want a fraction between 0 and 1"},
	} {
		app, _, errb := testApp()
		_, _, _, err := loadServeConfig(context.Background(), app, "serve", []string{"--config", write("bad.yaml", bad.src)})
		if err == nil || !strings.Contains(err.Error()+errb.String(), bad.want) {
			t.Errorf("config %q: error %v, want %q", bad.src, err, bad.want)
		}
	}
}
