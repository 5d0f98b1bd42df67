package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modgate/modgate/proxy/proxytest"
)

// runPolicyCmd runs `modgate policy args...` in-process.
func runPolicyCmd(t *testing.T, env []string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "HOME=") }) {
		// The cache in the user cache directory stays the test's own.
		env = append(slices.Clone(env), "HOME="+t.TempDir())
	}
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "XDG_CONFIG_HOME=") }) {
		env = append(slices.Clone(env), "XDG_CONFIG_HOME="+goConfigDir)
	}
	code = Run(context.Background(), append([]string{"policy"}, args...), strings.NewReader(stdin), &out, &errb, env)
	return code, out.String(), errb.String()
}

func TestPolicyTestCommand(t *testing.T) {
	code, out, errs := runPolicyCmd(t, nil, "", "test")
	if code != 0 || !strings.Contains(out, "PASS: ") {
		t.Fatalf("policy test = %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	code, out, _ = runPolicyCmd(t, nil, "", "test", "-v", "../../testdata/policy/custom")
	if code != 0 || !strings.Contains(out, "test_internal_pseudo_denied: PASS") || strings.Contains(out, "cooldown") {
		t.Errorf("policy test custom = %d\n%s", code, out)
	}
	// A failing user test fails the command.
	dir := t.TempDir()
	write(t, filepath.Join(dir, "x_test.rego"), "package x_test\n\ntest_fails if {\n\tdata.modgate.rules.pseudo.action == \"deny\"\n}\n")
	code, out, _ = runPolicyCmd(t, nil, "", "test", dir)
	if code != 1 || !strings.Contains(out, "test_fails: FAIL") {
		t.Errorf("failing test: code %d\n%s", code, out)
	}
	// A broken file is reported with its line.
	write(t, filepath.Join(dir, "x_test.rego"), "package x_test\n\ntest_broken if {\n")
	code, _, errs = runPolicyCmd(t, nil, "", "test", dir)
	if code != 1 || !strings.Contains(errs, "x_test.rego:4") {
		t.Errorf("broken test file: code %d, stderr %s", code, errs)
	}
}

func TestPolicyCheckCommand(t *testing.T) {
	code, out, errs := runPolicyCmd(t, nil, "", "check", "--config", "../../testdata/policy/modgate.yaml")
	if code != 0 || !strings.Contains(out, "ok: 10 rules (acme, allowlist, banned, blocklist, cooldown,") {
		t.Errorf("check modgate.yaml = %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	code, _, errs = runPolicyCmd(t, nil, "", "check", "--config", "../../testdata/policy/bad.yaml")
	if code != 1 || !strings.Contains(errs, "bad.yaml:2: policy.mode:") || !strings.Contains(errs, "bad.yaml:15: policy.licences: unknown field") {
		t.Errorf("check bad.yaml = %d\nstderr: %s", code, errs)
	}
	dir := t.TempDir()
	write(t, filepath.Join(dir, "r.rego"), "package modgate.rules.r\n\ndeny contains msg if {\n\tx := 1\n\tmsg := input.module\n}\n")
	if code, out, errs := runPolicyCmd(t, nil, "", "check", dir); code != 0 {
		t.Errorf("check r.rego = %d %s %s", code, out, errs)
	}
	code, _, errs = runPolicyCmd(t, nil, "", "check", "--strict", dir)
	if code != 1 || !strings.Contains(errs, "r.rego:4: rego_compile_error: assigned var x unused") {
		t.Errorf("check --strict = %d\nstderr: %s", code, errs)
	}
	cfg := filepath.Join(dir, "c.yaml")
	write(t, cfg, "waivers:\n  - module: example.com/x\n    reason: r\n    owner: bob\n    expires: 2000-01-01\n")
	code, _, errs = runPolicyCmd(t, []string{"MODGATE_CONFIG=" + cfg}, "", "check")
	if code != 0 || !strings.Contains(errs, "warning: "+cfg+": waivers[0] (example.com/x, owner bob) expired on 2000-01-01") {
		t.Errorf("check expired waiver = %d\nstderr: %s", code, errs)
	}
}

func TestPolicyEvalCommand(t *testing.T) {
	up := proxytest.New(t, proxytest.Fixtures(t))
	env := []string{"GOPROXY=" + up.URL, "GOSUMDB=" + up.GOSUMDB(), "GOFLAGS=-mod=mod", "HOME=" + t.TempDir(), "XDG_CACHE_HOME=" + t.TempDir()}
	osv := "../../testdata/check/osv"
	const now = "2030-01-01T00:00:00Z"

	tests := []struct {
		args     []string
		code     int
		want     []string
		dontWant []string
	}{
		{
			args: []string{"eval", "--now", now, "--vulndb", osv, "example.com/hello@v1.2.0"},
			code: 0,
			want: []string{"example.com/hello@v1.2.0 (zip): ALLOW", "policy sha256:"},
		},
		{
			args: []string{"eval", "--now", now, "--vulndb", osv, "example.com/vulnlib@v1.0.0"},
			code: 1,
			want: []string{"DENY", "deny  vulnerabilities: example.com/vulnlib@v1.0.0 is affected by GO-2099-0101 (CVE-2099-0101); fixed in v1.0.1", "fix: upgrade to v1.0.1 or later"},
		},
		{
			args: []string{"eval", "--now", now, "--explain", "example.com/retracted@v1.0.1"},
			code: 1,
			want: []string{`"retracted": true`, "deny retracted [mode enforce]", "retracted by its author (go.mod of v1.1.0): broken: panics on init"},
		},
		{
			args: []string{"eval", "--now", now, "--kind", "list", "example.com/deprecated@v1.0.0"},
			code: 0,
			want: []string{"ALLOW", "warn  deprecated: module example.com/deprecated is deprecated: use example.com/hello instead."},
		},
		{
			// The cooldown counts from --first-seen, not the old .info time.
			args: []string{"eval", "--now", now, "--config", "cooldown.yaml", "--first-seen", "2029-12-30T00:00:00Z", "example.com/hello@v1.1.0"},
			code: 1,
			want: []string{"deny  cooldown: example.com/hello@v1.1.0 is too new: first seen 2029-12-30T00:00:00Z (2 days ago); the minimum release age for a minor update is 7 days", "valid until 2030-01-06T00:00:00Z"},
		},
		{
			args: []string{"eval", "--now", now, "--config", "cooldown.yaml", "example.com/hello@v1.1.0"},
			code: 0,
			want: []string{"ALLOW"},
		},
	}
	dir := t.TempDir()
	write(t, filepath.Join(dir, "cooldown.yaml"), "policy:\n  cooldown:\n    days: 7\n")
	for _, tt := range tests {
		args := append([]string(nil), tt.args...)
		for i, a := range args {
			if a == "cooldown.yaml" {
				args[i] = filepath.Join(dir, a)
			}
		}
		code, out, errs := runPolicyCmd(t, env, "", args...)
		if code != tt.code {
			t.Errorf("policy %s = exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(tt.args, " "), code, tt.code, out, errs)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("policy %s: stdout lacks %q:\n%s", strings.Join(tt.args, " "), w, out)
			}
		}
	}

	// --json prints the input and result and exits 0 even when denied;
	// the input can be fed back with --input for the same decision.
	code, out, errs := runPolicyCmd(t, env, "", "eval", "--now", now, "--json", "--vulndb", osv, "example.com/vulnlib@v1.0.0")
	if code != 0 {
		t.Fatalf("eval --json = %d: %s", code, errs)
	}
	var doc struct {
		Input  json.RawMessage `json:"input"`
		Result struct {
			Allowed bool `json:"allowed"`
			Deny    []struct{ Rule string }
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Result.Allowed || len(doc.Result.Deny) != 1 {
		t.Fatalf("eval --json output %s: %v", out, err)
	}
	code, out, _ = runPolicyCmd(t, nil, `{"input": `+string(doc.Input)+`}`, "eval", "--input", "-")
	if code != 1 || !strings.Contains(out, "GO-2099-0101") {
		t.Errorf("eval --input (replayed) = %d\n%s", code, out)
	}

	for _, bad := range [][]string{
		{"eval"},
		{"eval", "example.com/hello"},
		{"eval", "example.com/hello@v1.2"},
		{"eval", "--kind", "tarball", "example.com/hello@v1.2.0"},
		{"frobnicate"},
	} {
		if code, _, _ := runPolicyCmd(t, env, "", bad...); code != 2 {
			t.Errorf("policy %v = exit %d, want 2", bad, code)
		}
	}
}

func write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
