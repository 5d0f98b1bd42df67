package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modgate/modgate/proxy/gatetest"
	"github.com/modgate/modgate/proxy/proxytest"
)

// TestBotHelp: `modgate bot --help` names each flag's argument (not a
// word of its description) and the three ways to run the bot.
func TestBotHelp(t *testing.T) {
	app, out, errb := testApp()
	if code := app.Run(context.Background(), []string{"bot", "--help"}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	help := out.String() + errb.String()
	for _, want := range []string{
		"Usage: modgate bot [--config FILE] (--once | --schedule SPEC)",
		"modgate bot --local DIR", "modgate bot --check-config",
		"-config FILE\n", "-local DIR\n", "-modgate URL\n", "-repo OWNER/NAME\n", "-check-config\n",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	if strings.Contains(help, "-config bot:") {
		t.Errorf("help shows a word of the description as the argument:\n%s", help)
	}
}

// TestBotCheckConfig: --check-config accepts the documented samples and
// reports every problem of a bad file and a bad repository file at once,
// located.
func TestBotCheckConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "modgate.yaml")
	write(t, bad, "bot:\n  modgate:\n    url: https://m\n  repositories: [acme]\n  defaults:\n    automerge:\n      method: ff\n")
	badRepo := filepath.Join(dir, "repo.yaml")
	write(t, badRepo, "security:\n  strategy: newest\nlabelz: [x]\n")
	samples := filepath.Join("..", "..", "testdata", "bot")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"samples", []string{"--config", filepath.Join(samples, "modgate.yaml"), filepath.Join(samples, "repo-modgate.yaml")}, 0,
			"modgate.yaml: bot configuration OK\n" + filepath.Join(samples, "repo-modgate.yaml") + ": repository settings OK\n"},
		{"bad", []string{"--config", bad, badRepo}, 2, "modgate bot: invalid configuration:\n" +
			"modgate.yaml:4: bot.repositories[0]: \"acme\" is not owner/name\n" +
			"modgate.yaml:7: bot.defaults.automerge.method: unknown merge method \"ff\" (want squash, merge or rebase)\n" +
			"repo.yaml:2: security.strategy: unknown strategy \"newest\" (want lowest or highest)\n" +
			"repo.yaml:3: labelz: unknown field (did you mean \"labels\"?)\n"},
		{"nothing", nil, 2, "--check-config: nothing to check"},
		{"with --once", []string{"--once", "--config", bad}, 2, "--check-config only checks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, out, errb := testApp()
			code := app.Run(context.Background(), append([]string{"bot", "--check-config"}, tt.args...))
			got := strings.ReplaceAll(out.String()+errb.String(), dir+string(filepath.Separator), "")
			got = strings.ReplaceAll(got, filepath.Join(samples, "modgate.yaml"), "modgate.yaml")
			if code != tt.code || !strings.Contains(got, tt.want) {
				t.Errorf("exit %d, output\n%s\nwant exit %d with\n%s", code, got, tt.code, tt.want)
			}
		})
	}
}

// TestBotLocal: `modgate bot --local DIR` plans against a checkout
// through a real modgate, with no code host and no token, and prints the
// pull requests with their bodies and diffs.
func TestBotLocal(t *testing.T) {
	up := proxytest.New(t, proxytest.Fixtures(t))
	g := gatetest.Start(t, up, nil)
	env := g.GoEnv(t)
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":  "module example.com/svc\n\ngo 1.21\n\nrequire example.com/hello v1.0.0\n",
		"go.sum":  up.GoSumLines("example.com/hello", "v1.0.0"),
		"main.go": "package main\n\nimport \"example.com/hello\"\n\nfunc main() { println(hello.Greet(\"x\")) }\n",
	}
	for name, content := range files {
		write(t, filepath.Join(dir, name), content)
	}
	for _, args := range [][]string{{"init", "--quiet"}, {"add", "."}, {"-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "--quiet", "-m", "initial"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	var out, errb bytes.Buffer
	app := &App{Stdout: &out, Stderr: &errb, Env: env}
	code := app.Run(context.Background(), []string{"bot", "--local", dir, "--modgate", g.URL})
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	name := "local/" + filepath.Base(dir)
	for _, want := range []string{
		name + ": would open modgate/non-major: chore(deps): update example.com/hello to v1.2.0",
		"----- body -----", "| `example.com/hello` | `v1.0.0` → `v1.2.0` (minor) |",
		"----- diff -----", "+require example.com/hello v1.2.0",
		name + ": would create dashboard",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".git", "refs", "heads", "modgate")); err == nil {
		t.Error("--local created branches in the checkout")
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"bot", "--local", dir}, "bot.modgate.url: required"},
		{[]string{"bot", "--local", dir, "--modgate", g.URL, "--repo", "a/b"}, "--local plans one checkout once"},
		{[]string{"bot", "--local", t.TempDir(), "--modgate", g.URL}, "is not in a git work tree"},
	} {
		app, _, errb := testApp()
		if code := app.Run(context.Background(), tt.args); code != 2 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("modgate %q = exit %d, %s; want 2 with %q", tt.args, code, errb.String(), tt.want)
		}
	}
}
