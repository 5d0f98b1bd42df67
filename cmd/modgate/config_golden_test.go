package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// update rewrites the golden files of this package's tests (testdata/config/*.txtar, testdata/report/*.txtar) from the current output.
var update = flag.Bool("update", false, "rewrite the golden files in testdata from the current output")

// TestConfigErrorsGolden: each testdata/config/NAME.txtar holds a broken
// modgate.yaml (and any file it names, such as its policy_file) and, in
// its want file, every problem modgate reports, one a line, sorted by
// line. `modgate serve --config` at start-up, `modgate policy check
// --config`, and a running serve reloading the file on SIGHUP must all
// print exactly that text.
func TestConfigErrorsGolden(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("..", "..", "testdata", "config", "*.txtar"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no testdata/config cases: %v", err)
	}
	for _, file := range cases {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			t.Parallel()
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			want := extractCase(t, ar, dir)
			cfgFile := filepath.Join(dir, "modgate.yaml")
			// Paths are printed as given; the case's directory is dropped.
			clean := func(s string) string { return strings.ReplaceAll(s, dir+string(filepath.Separator), "") }

			serveOut := clean(serveConfigErrors(t, cfgFile))
			code, stdout, stderr := runPolicyCmd(t, testAppEnv(), "", "check", "--config", cfgFile)
			if code != 1 || stdout != "" {
				t.Errorf("policy check --config %s = exit %d, stdout %q; want exit 1 and nothing", filepath.Base(file), code, stdout)
			}
			if *update {
				setWant(t, file, ar, serveOut)
				return
			}
			if serveOut != want {
				t.Errorf("serve --config: got\n%s\nwant\n%s", serveOut, want)
			}
			if got := clean(stderr); got != serveOut {
				t.Errorf("policy check --config: got\n%s\nwant what serve prints:\n%s", got, serveOut)
			}
			if got := clean(reloadErrors(t, cfgFile)); got != serveOut {
				t.Errorf("SIGHUP reload: got\n%s\nwant what serve prints at start-up:\n%s", got, serveOut)
			}
		})
	}
}

// extractCase writes ar's files but want into dir and returns want.
func extractCase(t *testing.T, ar *txtar.Archive, dir string) string {
	t.Helper()
	want := ""
	for _, f := range ar.Files {
		if f.Name == "want" {
			want = string(f.Data)
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, p, string(f.Data))
	}
	return want
}

// serveConfigErrors returns the problems serve's start-up reports for
// cfgFile, one a line, resolving the configuration in-process (no
// listener).
func serveConfigErrors(t *testing.T, cfgFile string) string {
	t.Helper()
	app, _, _ := testApp()
	_, _, _, err := loadServeConfig(context.Background(), app, "serve", []string{"--config", cfgFile})
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("serve --config: %v, want a usage error (exit 2)", err)
	}
	out, ok := strings.CutPrefix(err.Error(), "invalid configuration:\n")
	if !ok {
		t.Errorf("serve --config: %q does not start with \"invalid configuration:\"", err)
	}
	return out + "\n"
}

// reloadErrors starts a server on a valid configuration at cfgFile's
// place, then puts the broken file back and reloads it as SIGHUP does,
// returning the problems reported. The policy in force must stay.
func reloadErrors(t *testing.T, cfgFile string) string {
	t.Helper()
	broken, err := os.ReadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	good := "upstream: http://127.0.0.1:1\nstorage_dir: " + filepath.Join(t.TempDir(), "cache") +
		"\nsumdb: \"off\"\nvulndb:\n  source: none\n  refresh: \"off\"\n"
	write(t, cfgFile, good)
	app, _, _ := testApp()
	args := []string{"--config", cfgFile}
	ctx := context.Background()
	cfg, ge, _, err := loadServeConfig(ctx, app, "serve", args)
	if err != nil {
		t.Fatalf("valid configuration: %v", err)
	}
	srv, err := newServer(ctx, app, cfg, ge)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.core.close()
	digest := srv.core.engine.Digest()
	write(t, cfgFile, string(broken))
	err = srv.reloadPolicy(ctx, app, args)
	if err == nil {
		t.Fatal("the reload accepted the broken configuration")
	}
	if d := srv.core.engine.Digest(); d != digest {
		t.Errorf("a failed reload changed the policy in force: %s, was %s", d, digest)
	}
	out, ok := strings.CutPrefix(err.Error(), "invalid configuration:\n")
	if !ok {
		t.Errorf("reload: %q does not start with \"invalid configuration:\"", err)
	}
	return out + "\n"
}

func testAppEnv() []string {
	app, _, _ := testApp()
	return app.Env
}

// setWant rewrites file with want as its want section (-update).
func setWant(t *testing.T, file string, ar *txtar.Archive, want string) {
	t.Helper()
	found := false
	for i := range ar.Files {
		if ar.Files[i].Name == "want" {
			ar.Files[i].Data, found = []byte(want), true
		}
	}
	if !found {
		ar.Files = append(ar.Files, txtar.File{Name: "want", Data: []byte(want)})
	}
	if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
		t.Fatal(err)
	}
}
