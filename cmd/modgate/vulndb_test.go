package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modgate/modgate/proxy/proxytest"
)

var vulnFixtures = filepath.Join("..", "..", "testdata", "vuln")

func runModgate(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), args, strings.NewReader(""), &out, &errb, []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + goConfigDir})
	return code, out.String(), errb.String()
}

func TestVulnDBBuildAndAffects(t *testing.T) {
	out := t.TempDir()
	extra := filepath.Join(vulnFixtures, "osv")
	code, stdout, stderr := runModgate(t, "vulndb", "build", "--source", "none", "--extra", extra, "--out", out)
	if code != 0 || !strings.Contains(stdout, "wrote 15 entries") {
		t.Fatalf("build: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, f := range []string{"index/db.json", "index/db.json.gz", "index/modules.json.gz", "index/vulns.json", "ID/GO-2099-0001.json.gz"} {
		if _, err := os.Stat(filepath.Join(out, filepath.FromSlash(f))); err != nil {
			t.Errorf("build did not write %s: %v", f, err)
		}
	}

	src := "file://" + filepath.ToSlash(out)
	for _, tc := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"example.com/vulnmod@v1.1.0"}, 0, []string{"example.com/vulnmod@v1.1.0: GO-2099-0001 fixed in v1.2.0 [CVE-2099-0001, GHSA-aaaa-bbbb-cccc]: Simple range"}},
		{[]string{"example.com/vulnmod@v1.2.0"}, 0, []string{"example.com/vulnmod@v1.2.0: no known vulnerabilities"}},
		{[]string{"--withdrawn", "example.com/vulnmod@v1.2.0"}, 0, []string{"GO-2099-0007", "WITHDRAWN"}},
		{[]string{"golang.org/toolchain@v0.0.1-go1.21.1.linux-amd64"}, 0, []string{"GO-2099-0008 (stdlib) fixed in v1.21.2", "GO-2099-0009 (toolchain) fixed in v1.21.4"}},
		{[]string{"example.com/vulnmod"}, 2, []string{"MODULE@VERSION"}},
		{[]string{"example.com/vulnmod@latest"}, 2, []string{"not a valid semantic version"}},
		{nil, 2, []string{"MODULE@VERSION"}},
	} {
		args := append([]string{"vulndb", "affects", "--source", src}, tc.args...)
		code, stdout, stderr := runModgate(t, args...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d\nstderr: %s", tc.args, code, tc.code, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout+stderr, w) {
				t.Errorf("%v: output lacks %q:\n%s%s", tc.args, w, stdout, stderr)
			}
		}
	}

	code, stdout, _ = runModgate(t, "vulndb", "affects", "--source", src, "--json", "example.com/multi@v1.3.0")
	var rep struct {
		Database struct{ ID string }
		Results  []struct {
			Matches []struct {
				ID    string
				Fixed string
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != 0 {
		t.Fatalf("--json: exit %d, %v\n%s", code, err, stdout)
	}
	if len(rep.Database.ID) != 64 || len(rep.Results) != 1 || len(rep.Results[0].Matches) != 2 || rep.Results[0].Matches[1].Fixed != "v1.5.0" {
		t.Errorf("--json report = %+v", rep)
	}
}

func TestVulnDBUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"vulndb"}, "Usage"},
		{[]string{"vulndb", "frob"}, "unknown subcommand"},
		{[]string{"vulndb", "build"}, "--out is required"},
		{[]string{"vulndb", "build", "--out", "x", "--source", "ftp://x"}, "vulndb.source"},
		{[]string{"vulndb", "build", "--out", "x", "--upstream", "a.example"}, "upstream: upstream list: proxy URL \"a.example\" has no scheme"},
	} {
		code, stdout, stderr := runModgate(t, tc.args...)
		if code != 2 || !strings.Contains(stdout+stderr, tc.want) {
			t.Errorf("%v: exit %d, output %q; want 2 and %q", tc.args, code, stdout+stderr, tc.want)
		}
	}
}

// TestVulnDBBuildFromModule: the default source is the vulnerability-DB
// module, fetched as serve fetches it (latest as the go command resolves
// it, verified through the checksum database, cached).
func TestVulnDBBuildFromModule(t *testing.T) {
	up := proxytest.New(t, proxytest.Fixtures(t))
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	env := append(up.GoEnv(t, up.URL), "XDG_CACHE_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+goConfigDir)
	code := Run(context.Background(), []string{"vulndb", "build", "--out", out}, nil, &stdout, &stderr, env)
	if code != 0 || !strings.Contains(stdout.String(), "wrote 1 entries") || !strings.Contains(stdout.String(), "golang.org/x/vulndb@v0.0.0-20240103000000-0123456789ab") {
		t.Fatalf("vulndb build = exit %d\n%s%s", code, &stdout, &stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "ID", "GO-2099-0101.json")); err != nil {
		t.Errorf("the built database lacks the module's entry: %v", err)
	}
	if n := up.Count("/golang.org/x/vulndb/@v/v0.0.0-20240103000000-0123456789ab.zip"); n != 1 {
		t.Errorf("the module zip was fetched %d times, want 1", n)
	}
}
