package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBaselineRollout: a baseline written from a repository's go.sum lets
// `go mod download all` succeed in enforce mode, while versions outside the
// baseline, and advisories published after it, are still refused.
func TestBaselineRollout(t *testing.T) {
	osv := t.TempDir()
	writeOSV(t, osv, "GO-2099-0301", "example.com/hello", "1.2.0")
	waivers := filepath.Join(t.TempDir(), "baseline.yaml")
	os.WriteFile(waivers, []byte("waivers: []\n"), 0o644)
	e := startEnforcingOpts(t, enforceOptions{policy: "  waiver_files: [" + waivers + "]\n", osv: []string{osv}})

	repo := t.TempDir()
	reqs := [][2]string{{"example.com/vulnlib", "v1.0.0"}, {"example.com/retracted", "v1.0.1"}, {"example.com/hello", "v1.1.0"}}
	gomod, gosum := "module example.com/svc\n\ngo 1.21\n\nrequire (\n", ""
	for _, r := range reqs {
		gomod += "\t" + r[0] + " " + r[1] + "\n"
		gosum += e.up.GoSumLines(r[0], r[1])
	}
	os.WriteFile(filepath.Join(repo, "go.mod"), []byte(gomod+")\n"), 0o644)
	os.WriteFile(filepath.Join(repo, "go.sum"), []byte(gosum), 0o644)
	download := func() (string, error) {
		cmd := exec.Command("go", "mod", "download", "all")
		cmd.Dir, cmd.Env = repo, e.goenv(t)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := download(); err == nil || !strings.Contains(out, "403 Forbidden") {
		t.Fatalf("go mod download all before the baseline = %v, want denials:\n%s", err, out)
	}

	app, stdout, stderr := e.app(t)
	if code := app.Run(context.Background(), []string{"policy", "baseline", "--config", e.cfgFile, "--owner", "platform-team", "--expires", "30d", repo}); code != 0 {
		t.Fatalf("policy baseline = exit %d\n%s", code, stderr)
	}
	text := stdout.String()
	for _, want := range []string{
		"(3 of 3 from 1 go.sum files)",
		"  - module: example.com/vulnlib\n    versions: \"= v1.0.0\"\n    rules: [vulnerabilities]\n    ids: [GO-2099-0101]\n    reason: \"baseline 2025-05-01\"\n    owner: \"platform-team\"\n    expires: 2025-05-31\n",
		"  - module: example.com/retracted\n    versions: \"= v1.0.1\"\n    rules: [retracted]\n",
		"  - module: example.com/hello\n    versions: \"= v1.1.0\"\n    rules: [vulnerabilities]\n    ids: [GO-2099-0301]\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("baseline lacks %q:\n%s", want, text)
		}
	}
	os.WriteFile(waivers, stdout.Bytes(), 0o644)
	if err := e.srv.core.engine.Reload(context.Background(), nil); err != nil {
		t.Fatalf("reloading with the baseline: %v", err)
	}
	if out, err := download(); err != nil {
		t.Fatalf("go mod download all with the baseline = %v:\n%s", err, out)
	}

	// A version outside the baseline is still refused.
	if out, err := e.run(t, "", "get", "example.com/hello@v1.0.0"); err == nil || !strings.Contains(out, "GO-2099-0301") {
		t.Errorf("go get of a vulnerable version outside the baseline = %v:\n%s", err, out)
	}
	// An advisory published after the baseline denies a baselined version.
	writeOSV(t, osv, "GO-2099-0302", "example.com/hello", "1.1.1")
	if err := e.srv.core.vulns.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	out, err := e.run(t, "module example.com/user\n\ngo 1.21\n\nrequire example.com/hello v1.1.0\n", "mod", "download", "example.com/hello")
	if err == nil || !strings.Contains(out, "vulnerabilities: example.com/hello@v1.1.0 is affected by GO-2099-0302; fixed in v1.2.0") ||
		!strings.Contains(out, "note: GO-2099-0301 in example.com/hello@v1.1.0 waived until 2025-05-31 by platform-team") {
		t.Errorf("a baselined version with a new advisory = %v, want a denial naming only the new one, and the waiver applied:\n%s", err, out)
	}
}
