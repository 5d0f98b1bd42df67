package bot

import (
	"bytes"
	"strings"
	"testing"

	"github.com/modgate/modgate/bot/internal/fakegithub"
	"github.com/modgate/modgate/proxy/proxytest"
)

// TestLifecycle walks one repository through the bot's life: the first
// run opens the expected pull requests, a second run changes nothing, a
// new upstream release updates the existing pull request, and closing a
// pull request ignores its versions.
func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	e.addRepo("acme", "svc", e.svcFiles(), fakegithub.Repo{})
	cfg := Config{Repositories: []string{"acme/svc"}, Defaults: RepoConfig{Labels: []string{"dependencies"}, Reviewers: []string{"alice"}}}
	var out bytes.Buffer
	b := e.bot(cfg, &out)

	// Run 1.
	e.run(b)
	t.Logf("run 1:\n%s", out.String())
	pulls := e.gh.Pulls("acme", "svc")
	if len(pulls) != 2 {
		if d := dashboardOf(e, "acme", "svc"); d != nil {
			t.Log(d.Body)
		}
		t.Fatalf("run 1 opened %d pull requests, want 2 (security vulnlib, non-major): %+v", len(pulls), pulls)
	}
	sec := pullByHead(pulls, "modgate/example.com-vulnlib")
	nonMajor := pullByHead(pulls, "modgate/non-major")
	if sec == nil || nonMajor == nil {
		t.Fatalf("pull request branches = %v, want modgate/example.com-vulnlib and modgate/non-major", []string{pulls[0].Head, pulls[1].Head})
	}
	if sec.Title != "fix(deps): update example.com/vulnlib to v1.0.1" {
		t.Errorf("security title = %q", sec.Title)
	}
	if nonMajor.Title != "chore(deps): update non-major dependencies" {
		t.Errorf("non-major title = %q", nonMajor.Title)
	}
	mustContain(t, "security PR body", sec.Body,
		"| Module | Change | Age | Vulnerabilities fixed | Policy |",
		"| `example.com/vulnlib` | `v1.0.0` → `v1.0.1` (patch) |", "[GO-2099-0001](https://pkg.go.dev/vuln/GO-2099-0001)",
		"### Build list changes", "### Verification", "✅ `go build -mod=readonly ./...`", "<!-- modgate:pr ")
	mustContain(t, "non-major PR body", nonMajor.Body, "`example.com/hello`", "`v1.0.0` → `v1.1.0`", "`example.com/retracted`", "```mermaid", "graph LR")
	for _, p := range pulls {
		mustNotContain(t, "PR body", p.Body, "`example.com/retracted` | `v1.0.0` → `v1.0.1`", "v1.2.0", "v1.3.0-pre")
		if len(p.Reviewers) != 1 || p.Reviewers[0] != "alice" {
			t.Errorf("%s reviewers = %v, want [alice]", p.Head, p.Reviewers)
		}
		if sts := e.gh.StatusesOf("acme", "svc", p.HeadSHA); len(sts) != 1 || sts[0].State != "success" || sts[0].Context != "modgate/verify" {
			t.Errorf("%s statuses on %s = %+v, want one modgate/verify success", p.Head, p.HeadSHA, sts)
		}
	}
	if !strings.Contains(strings.Join(sec.Labels, ","), "security") || !strings.Contains(strings.Join(sec.Labels, ","), "dependencies") {
		t.Errorf("security labels = %v", sec.Labels)
	}
	gomod := e.checkBranch("acme", "svc", "modgate/non-major")
	mustContain(t, "non-major go.mod", gomod, "example.com/hello v1.1.0", "example.com/retracted v1.1.0", "example.com/vulnlib v1.0.0")
	gomod = e.checkBranch("acme", "svc", "modgate/example.com-vulnlib")
	mustContain(t, "security go.mod", gomod, "example.com/vulnlib v1.0.1", "example.com/hello v1.0.0")
	if ref := e.git.Ref(t, "acme", "svc", "modgate/example.com-hello-v2"); ref != "" {
		t.Errorf("the major update breaking the build was pushed: %s", ref)
	}
	dash := dashboardOf(e, "acme", "svc")
	if dash == nil {
		t.Fatal("no dashboard issue")
	}
	mustContain(t, "dashboard", dash.Body,
		"## Open pull requests", "## Refused by policy",
		"`example.com/hello` `v1.2.0`: blocklist: example.com/hello@v1.2.0 is on the organisation's blocklist: relicensed",
		"## Failed verification or policy", "`example.com/hello/v2@v2.0.0` (verification): go build -mod=readonly ./...")
	mustNotContain(t, "dashboard", dash.Body, "`example.com/retracted` `v1.0.1`")
	mustContain(t, "dashboard", dash.Body, "## Vulnerable modules", "`example.com/vulnlib` `v1.0.0`: [GO-2099-0001](https://pkg.go.dev/vuln/GO-2099-0001) — fix `v1.0.1` proposed")

	// Run 2: nothing new, nothing written.
	e.gh.ResetCalls()
	pushes := e.git.Pushes()
	out.Reset()
	rep := e.run(b)
	if w := e.gh.Writes(); w != 0 || rep.Writes() != 0 || e.git.Pushes() != pushes {
		t.Errorf("run 2 wrote: %d API writes, report %d, %d pushes\n%s", w, rep.Writes(), e.git.Pushes()-pushes, out.String())
	}

	// Run 3: a new hello release updates the non-major pull request.
	hello := findFixture(t, "example.com/hello", "v1.1.0")
	hello.Version = "v1.1.5"
	e.up.Add(hello)
	e.primeList("example.com/hello")
	e.run(b)
	pulls = e.gh.Pulls("acme", "svc")
	if len(pulls) != 2 {
		t.Fatalf("run 3: %d pull requests, want the same 2", len(pulls))
	}
	nm := pullByHead(pulls, "modgate/non-major")
	if nm.Number != nonMajor.Number {
		t.Errorf("run 3 opened #%d instead of updating #%d", nm.Number, nonMajor.Number)
	}
	mustContain(t, "updated body", nm.Body, "`v1.0.0` → `v1.1.5`")
	if len(nm.Comments) != 1 || !strings.Contains(nm.Comments[0], "v1.1.0 → v1.1.5") {
		t.Errorf("update comments = %q", nm.Comments)
	}
	gomod = e.checkBranch("acme", "svc", "modgate/non-major")
	mustContain(t, "updated go.mod", gomod, "example.com/hello v1.1.5")

	// Run 3b: the base branch moves; both pull requests are rebuilt on it.
	base := e.git.Commit(t, "acme", "svc", "main", "docs", map[string]string{"README.md": "svc\n"})
	e.run(b)
	for _, p := range e.gh.Pulls("acme", "svc") {
		var m prMeta
		if !readMeta(p.Body, prMetaTag, &m) || m.Base != base {
			t.Errorf("%s after the base moved: metadata base %q, want %s", p.Head, m.Base, base)
		}
		if last := p.Comments[len(p.Comments)-1]; !strings.Contains(last, "onto the new base commit "+base[:12]) {
			t.Errorf("%s comment = %q", p.Head, last)
		}
	}
	mustContain(t, "rebased branch", e.git.Show(t, "acme", "svc", "modgate/non-major", "README.md"), "svc")

	// Run 4: the non-major pull request is closed without merging; its
	// versions (and older ones: hello v1.1.0) are not proposed again, and
	// its branch, holding only the bot's commit, is deleted.
	e.gh.ClosePull("acme", "svc", nm.Number)
	e.gh.ResetCalls()
	e.run(b)
	pulls = e.gh.Pulls("acme", "svc")
	if len(pulls) != 2 {
		t.Errorf("run 4: %d pull requests, want 2 (nothing reopened)", len(pulls))
	}
	if ref := e.git.Ref(t, "acme", "svc", "modgate/non-major"); ref != "" {
		t.Errorf("run 4: the closed pull request's branch was kept")
	}
	dash = dashboardOf(e, "acme", "svc")
	mustContain(t, "dashboard after close", dash.Body, "## Ignored",
		"`example.com/hello` `v1.1.5`: pull request #", "`example.com/retracted` `v1.1.0`: pull request #")
	// Run 5: stable again.
	e.gh.ResetCalls()
	e.run(b)
	if w := e.gh.Writes(); w != 0 {
		t.Errorf("run 5 made %d writes: %+v", w, e.gh.Calls())
	}
}

func findFixture(t *testing.T, path, version string) proxytest.Module {
	for _, m := range proxytest.Fixtures(t) {
		if m.Path == path && m.Version == version {
			return m
		}
	}
	t.Fatalf("no fixture %s@%s", path, version)
	return proxytest.Module{}
}
