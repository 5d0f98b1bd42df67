package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown key", nil, []string{"--config", write("a.yaml", "listen: x\nupstreem: y\n")}, "line 2: field upstreem not found"},
		{"bad yaml", nil, []string{"--config", write("b.yaml", "listen: [\n")}, "b.yaml"},
		{"missing file", nil, []string{"--config", filepath.Join(dir, "nope.yaml")}, "no such file"},
		{"bad upstream", nil, []string{"--upstream", "ftp://x"}, "upstream: "},
		{"no scheme", nil, []string{"--upstream", "example.com"}, "has no scheme"},
		{"bad duration env", []string{"MODGATE_LIST_TTL=soon"}, nil, "MODGATE_LIST_TTL"},
		{"negative ttl", nil, []string{"--list-ttl", "-1s"}, "list_ttl: must be positive"},
		{"bad log format", nil, []string{"--log-format", "xml"}, "log_format"},
		{"bad prefix", nil, []string{"--path-prefix", "proxy/"}, "path_prefix"},
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
		{"policy:\n  decision_log:\n    path: d.jsonl\n    max_sise: 1MB\n", "line 4: field max_sise not found in type policy.DecisionLogConfig"},
		{"policy:\n  decision_log:\n    path: d.jsonl\n    sample_allowed: 3\n", "policy: decision_log.sample_allowed: 3: want a fraction between 0 and 1"},
	} {
		app, _, errb := testApp()
		_, _, _, err := loadServeConfig(context.Background(), app, "serve", []string{"--config", write("bad.yaml", bad.src)})
		if err == nil || !strings.Contains(err.Error()+errb.String(), bad.want) {
			t.Errorf("config %q: error %v, want %q", bad.src, err, bad.want)
		}
	}
}
