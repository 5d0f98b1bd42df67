package bot

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/modgate/modgate/bot/internal/fakegithub"
	"github.com/modgate/modgate/proxy/proxytest"
)

// The scenarios of issue 14: the bot on real-looking repositories, with
// the fake GitHub validating every call against GitHub's OpenAPI
// description and a real git server.

// TestSecurityFixBeforeMajor: with jwt/v4 at a vulnerable version and
// code using StandardClaims (gone in v5), the bot opens the smallest
// allowed v4 fix in a pull request of its own and, separately, reports
// the v5 upgrade that does not build on the dashboard.
func TestSecurityFixBeforeMajor(t *testing.T) {
	e := newEnv(t)
	e.addRepo("acme", "auth", map[string]string{
		"go.mod":  "module example.com/auth\n\ngo 1.21\n\nrequire github.com/golang-jwt/jwt/v4 v4.4.2\n",
		"go.sum":  e.gosum("github.com/golang-jwt/jwt/v4@v4.4.2"),
		"main.go": "package main\n\nimport \"github.com/golang-jwt/jwt/v4\"\n\nfunc main() {\n\tc := jwt.StandardClaims{Subject: \"me\"}\n\t_ = c.Valid()\n}\n",
	}, fakegithub.Repo{})
	// The library's repository on the forge, for links.
	e.gh.AddRepo(fakegithub.Repo{Owner: "golang-jwt", Name: "jwt", Releases: []fakegithub.Release{
		{Tag: "v5.2.0", Body: "v5"}, {Tag: "v4.5.3"}, {Tag: "v4.5.2", Body: "Fixes GO-2099-0042. Thanks @alice (#123)."}, {Tag: "v4.5.1"}, {Tag: "v4.4.3"}, {Tag: "v4.4.2"},
	}})
	b := e.bot(Config{Repositories: []string{"acme/auth"}}, nil)
	e.run(b)

	pulls := e.gh.Pulls("acme", "auth")
	if len(pulls) != 1 {
		t.Fatalf("%d pull requests, want the v4 fix only: %+v\n%s", len(pulls), pulls, dashboardOf(e, "acme", "auth").Body)
	}
	fix := pulls[0]
	if fix.Head != "modgate/github.com-golang-jwt-jwt-v4" || fix.Title != "fix(deps): update github.com/golang-jwt/jwt/v4 to v4.5.2" {
		t.Errorf("fix pull request = %s %q", fix.Head, fix.Title)
	}
	mustContain(t, "fix body", fix.Body,
		"**Security update.**",
		"| `github.com/golang-jwt/jwt/v4` | `v4.4.2` → `v4.5.2` (minor) |",
		"[GO-2099-0042](https://pkg.go.dev/vuln/GO-2099-0042)",
		"[compare v4.4.2…v4.5.2](https://github.example.invalid/golang-jwt/jwt/compare/v4.4.2...v4.5.2)",
		"release notes: [v4.5.2](https://github.example.invalid/golang-jwt/jwt/releases/tag/v4.5.2), [v4.5.1](", "[v4.4.3](",
		"<details><summary>v4.5.2</summary>", "Thanks @&#8203;alice (#&#8203;123).")
	mustNotContain(t, "fix body", fix.Body, "jwt/v5", "[v4.5.3]", "[v4.4.2]")
	if !slices.Contains(fix.Labels, "security") {
		t.Errorf("labels = %v", fix.Labels)
	}
	gomod := e.checkBranch("acme", "auth", fix.Head)
	mustContain(t, "fix go.mod", gomod, "github.com/golang-jwt/jwt/v4 v4.5.2")
	mustNotContain(t, "fix go.mod", gomod, "jwt/v5")
	if ref := e.git.Ref(t, "acme", "auth", "modgate/github.com-golang-jwt-jwt-v5"); ref != "" {
		t.Errorf("the v5 upgrade that breaks the build was pushed")
	}
	d := dashboardOf(e, "acme", "auth")
	mustContain(t, "dashboard", d.Body,
		"`github.com/golang-jwt/jwt/v5@v5.2.0` (verification): go build -mod=readonly ./... (in .): exit status 1:", "undefined: jwt.StandardClaims",
		"`github.com/golang-jwt/jwt/v4` `v4.5.1`: blocklist: github.com/golang-jwt/jwt/v4@v4.5.1 is on the organisation's blocklist: broken release",
		"## Vulnerable modules", "`github.com/golang-jwt/jwt/v4` `v4.4.2`: [GO-2099-0042](https://pkg.go.dev/vuln/GO-2099-0042) — fix `v4.5.2` proposed")

	e.noWrites(b, "second run")
}

// TestHumanCommitOnBotBranch: a commit someone pushes to a bot branch is
// kept, the branch is left alone (one comment, a dashboard entry) even
// when a newer version appears, until someone ticks its rebase box.
func TestHumanCommitOnBotBranch(t *testing.T) {
	e := newEnv(t)
	e.addRepo("acme", "svc", e.svcFiles(), fakegithub.Repo{})
	b := e.bot(Config{Repositories: []string{"acme/svc"}}, nil)
	e.run(b)
	nm := pullByHead(e.gh.Pulls("acme", "svc"), "modgate/non-major")
	if nm == nil {
		t.Fatal("no non-major pull request")
	}
	human := e.git.Commit(t, "acme", "svc", "modgate/non-major", "fix the build by hand", map[string]string{"NOTES.md": "by hand\n"})
	e.newHello("v1.1.5")

	e.run(b)
	if ref := e.git.Ref(t, "acme", "svc", "modgate/non-major"); ref != human {
		t.Fatalf("the bot moved the branch with a human commit: %s, want %s", ref, human)
	}
	p := pullByNumber(e.gh.Pulls("acme", "svc"), nm.Number)
	if len(p.Comments) != 1 {
		t.Fatalf("comments = %q, want one", p.Comments)
	}
	mustContain(t, "hands-off comment", p.Comments[0], "1 commit modgate did not push", `"fix the build by hand" by test <test@example.invalid>`, "will not update this branch")
	mustContain(t, "dashboard", dashboardOf(e, "acme", "svc").Body, "## Edited by someone else", "[ ] <!-- modgate:rebase modgate/non-major --> #"+fmt.Sprint(nm.Number))
	e.noWrites(b, "run after the comment")

	e.tick("acme", "svc", boxRebase, "modgate/non-major")
	e.run(b)
	if ref := e.git.Ref(t, "acme", "svc", "modgate/non-major"); ref == human {
		t.Fatal("the rebase box did not rebuild the branch")
	}
	gomod := e.checkBranch("acme", "svc", "modgate/non-major")
	mustContain(t, "rebuilt go.mod", gomod, "example.com/hello v1.1.5")
	if _, err := exec.Command("git", "-C", e.git.Root+"/acme/svc.git", "cat-file", "-e", "modgate/non-major:NOTES.md").Output(); err == nil {
		t.Error("the rebuilt branch still has the human commit's file")
	}
	p = pullByNumber(e.gh.Pulls("acme", "svc"), nm.Number)
	mustContain(t, "rebuild comment", p.Comments[len(p.Comments)-1], "rebuilt on", "as requested")
	mustNotContain(t, "dashboard after rebuild", dashboardOf(e, "acme", "svc").Body, "## Edited by someone else", "[x]")
	e.noWrites(b, "run after the rebuild")
}

// TestPushRaceKeepsHumanCommit: a commit pushed between the bot's read
// of the pull request and its push is kept: the push's lease is the
// commit the bot recorded, and the refusal makes the branch hands-off.
func TestPushRaceKeepsHumanCommit(t *testing.T) {
	e := newEnv(t)
	e.addRepo("acme", "svc", e.svcFiles(), fakegithub.Repo{})
	b := e.bot(Config{Repositories: []string{"acme/svc"}}, nil)
	e.run(b)
	e.newHello("v1.1.5")
	var human string
	e.gh.Before("pulls/list", func() {
		human = e.git.Commit(t, "acme", "svc", "modgate/non-major", "racing commit", map[string]string{"RACE": "1\n"})
	})
	e.run(b)
	if ref := e.git.Ref(t, "acme", "svc", "modgate/non-major"); ref != human {
		t.Fatalf("branch = %s, want the racing commit %s", ref, human)
	}
	p := pullByHead(e.gh.Pulls("acme", "svc"), "modgate/non-major")
	if len(p.Comments) != 1 || !strings.Contains(p.Comments[0], "will not update this branch") {
		t.Errorf("comments = %q", p.Comments)
	}
	// The rebase box in the pull request itself works too.
	e.gh.EditPullBody("acme", "svc", p.Number, func(s string) string {
		return strings.Replace(s, "[ ] "+boxMarker(boxRebase, ""), "[x] "+boxMarker(boxRebase, ""), 1)
	})
	e.run(b)
	mustContain(t, "rebuilt go.mod", e.checkBranch("acme", "svc", "modgate/non-major"), "example.com/hello v1.1.5")
}

// newHello publishes a new release of example.com/hello (a copy of
// v1.1.0) and makes modgate see it.
func (e *env) newHello(v string) {
	e.t.Helper()
	m := findFixture(e.t, "example.com/hello", "v1.1.0")
	m.Version = v
	e.up.Add(m)
	e.primeList("example.com/hello")
}

// TestManualUpgradeClosesPR: updates applied on the base branch by hand
// close their pull request with a comment and delete its branch; the
// versions are not ignored (nobody refused them).
func TestManualUpgradeClosesPR(t *testing.T) {
	e := newEnv(t)
	e.addRepo("acme", "svc", e.svcFiles(), fakegithub.Repo{})
	b := e.bot(Config{Repositories: []string{"acme/svc"}}, nil)
	e.run(b)
	nm := pullByHead(e.gh.Pulls("acme", "svc"), "modgate/non-major")
	if nm == nil {
		t.Fatal("no non-major pull request")
	}
	files := e.svcFiles()
	files["go.mod"] = strings.NewReplacer("hello v1.0.0", "hello v1.1.0", "retracted v1.0.0", "retracted v1.1.0").Replace(files["go.mod"])
	files["go.sum"] = e.gosum("example.com/hello@v1.1.0", "example.com/retracted@v1.1.0", "example.com/vulnlib@v1.0.0")
	e.git.Commit(t, "acme", "svc", "main", "upgrade by hand", files)

	e.run(b)
	p := pullByNumber(e.gh.Pulls("acme", "svc"), nm.Number)
	if p.State != "closed" || p.Merged {
		t.Fatalf("non-major after the manual upgrade: state %s merged %v", p.State, p.Merged)
	}
	mustContain(t, "closing comment", p.Comments[len(p.Comments)-1], "modgate closed this pull request: its updates are already on main", "Its branch is deleted.")
	if ref := e.git.Ref(t, "acme", "svc", "modgate/non-major"); ref != "" {
		t.Errorf("branch modgate/non-major still exists")
	}
	var m prMeta
	if !readMeta(p.Body, prMetaTag, &m) || m.Closed != closedApplied {
		t.Errorf("closed pull request's record = %+v", m)
	}
	if got := openPulls(e, "acme", "svc"); !slices.Equal(got, []string{"modgate/example.com-vulnlib"}) {
		t.Errorf("open pull requests = %v", got)
	}
	d := dashboardOf(e, "acme", "svc")
	mustNotContain(t, "dashboard", d.Body, "## Ignored", "#"+fmt.Sprint(nm.Number))
	e.noWrites(b, "run after closing")
}

// TestGroupFallback: a group refused because one member pulls in a
// denied module is retried member by member, and the others get pull
// requests; once the policy allows the module and someone ticks the
// group's retry box, the group's pull request supersedes the members'.
func TestGroupFallback(t *testing.T) {
	e := newEnv(t)
	files := map[string]string{
		"go.mod": "module example.com/svc\n\ngo 1.21\n\nrequire (\n\texample.com/hello v1.0.0\n\texample.com/netuser v1.0.0\n\texample.com/retracted v1.0.0\n)\n",
		"go.sum": e.gosum("example.com/hello@v1.0.0", "example.com/netuser@v1.0.0", "example.com/retracted@v1.0.0"),
		"main.go": "package main\n\nimport (\n\t\"example.com/hello\"\n\t\"example.com/netuser\"\n\t\"example.com/retracted\"\n)\n\n" +
			"func main() { println(hello.Greet(netuser.Dial()), retracted.Version) }\n",
	}
	e.addRepo("acme", "svc", files, fakegithub.Repo{})
	b := e.bot(Config{Repositories: []string{"acme/svc"}}, nil)
	e.run(b)
	want := []string{"modgate/non-major-example.com-hello", "modgate/non-major-example.com-retracted"}
	if got := openPulls(e, "acme", "svc"); !slices.Equal(got, want) {
		t.Fatalf("pull requests %v, want %v\n%s", got, want, dashboardOf(e, "acme", "svc").Body)
	}
	for _, h := range want {
		e.checkBranch("acme", "svc", h)
	}
	d := dashboardOf(e, "acme", "svc")
	mustContain(t, "dashboard", d.Body,
		"`example.com/hello@v1.1.0`, `example.com/netuser@v1.1.0`, `example.com/retracted@v1.1.0` (policy): the build list would contain denied modules: example.com/badnet@v1.1.0: blocklist",
		"`example.com/netuser@v1.1.0` (policy): the build list would contain denied modules: example.com/badnet@v1.1.0: blocklist: example.com/badnet@v1.1.0 is on the organisation's blocklist: phones home")
	e.noWrites(b, "second run")

	// The policy changes: the failure is remembered until the base
	// moves, or until someone asks for a retry.
	e.dec.set(func(d *denyDecider) { delete(d.denyZip, "example.com/badnet@v1.1.0") })
	e.noWrites(b, "run after the policy change")
	var dm dashMeta
	readMeta(dashboardOf(e, "acme", "svc").Body, dashMetaTag, &dm)
	i := slices.IndexFunc(dm.Failed, func(f failure) bool { return f.Group == defaultGroup })
	if i < 0 {
		t.Fatalf("no recorded failure of the non-major group: %+v", dm.Failed)
	}
	e.tick("acme", "svc", boxRetry, dm.Failed[i].Key)
	e.run(b)
	if got := openPulls(e, "acme", "svc"); !slices.Equal(got, []string{"modgate/non-major"}) {
		t.Fatalf("after the retry: pull requests %v, want the group's alone", got)
	}
	group := pullByHead(e.gh.Pulls("acme", "svc"), "modgate/non-major")
	for _, h := range want {
		p := pullByHead(e.gh.Pulls("acme", "svc"), h)
		if p.State != "closed" {
			t.Errorf("%s is %s", h, p.State)
			continue
		}
		mustContain(t, h+" closing comment", p.Comments[len(p.Comments)-1], fmt.Sprintf("superseded by #%d (`modgate/non-major`)", group.Number))
		if e.git.Ref(t, "acme", "svc", h) != "" {
			t.Errorf("branch %s not deleted", h)
		}
	}
	mustContain(t, "group go.mod", e.checkBranch("acme", "svc", "modgate/non-major"), "example.com/netuser v1.1.0")
	e.noWrites(b, "run after the group opened")
}

// TestTransitiveFix: a vulnerable module that no go.mod requires
// directly (an // indirect requirement, or, in an unpruned go 1.16
// module, not even that) gets a fix pull request raising it.
func TestTransitiveFix(t *testing.T) {
	e := newEnv(t)
	main := "package main\n\nimport \"example.com/app\"\n\nfunc main() { println(app.Run(\"x\")) }\n"
	sum := e.gosum("example.com/app@v1.0.0", "example.com/hello@v1.1.0", "example.com/vulnlib@v1.0.0")
	e.addRepo("acme", "pruned", map[string]string{
		"go.mod":  "module example.com/pruned\n\ngo 1.21\n\nrequire example.com/app v1.0.0\n\nrequire (\n\texample.com/hello v1.1.0 // indirect\n\texample.com/vulnlib v1.0.0 // indirect\n)\n",
		"go.sum":  sum,
		"main.go": main,
	}, fakegithub.Repo{})
	e.addRepo("acme", "unpruned", map[string]string{
		"go.mod":  "module example.com/unpruned\n\ngo 1.16\n\nrequire example.com/app v1.0.0\n",
		"go.sum":  sum,
		"main.go": main,
	}, fakegithub.Repo{})
	e.run(e.bot(Config{Repositories: []string{"acme/pruned", "acme/unpruned"}}, nil))
	for _, repo := range []string{"pruned", "unpruned"} {
		pulls := e.gh.Pulls("acme", repo)
		if len(pulls) != 1 || pulls[0].Head != "modgate/example.com-vulnlib" {
			t.Errorf("%s: pull requests %+v, want the vulnlib fix", repo, pulls)
			continue
		}
		p := pulls[0]
		if p.Title != "fix(deps): update example.com/vulnlib to v1.0.1" {
			t.Errorf("%s: title %q", repo, p.Title)
		}
		mustContain(t, repo+" body", p.Body, "| `example.com/vulnlib` | `v1.0.0` → `v1.0.1` (patch, not required directly) |", "GO-2099-0001")
		mustContain(t, repo+" go.mod", e.checkBranch("acme", repo, p.Head), "example.com/vulnlib v1.0.1 // indirect")
		mustContain(t, repo+" dashboard", dashboardOf(e, "acme", repo).Body, "`example.com/vulnlib` `v1.0.0`: [GO-2099-0001](https://pkg.go.dev/vuln/GO-2099-0001) — fix `v1.0.1` proposed; not required directly")
	}
}

// TestAutomerge: a security fix selected by an automerge rule is merged
// through the API only after the required check turned green, and its
// branch is deleted; other pull requests stay.
func TestAutomerge(t *testing.T) {
	e := newEnv(t)
	f := e.svcFiles()
	f[".github/modgate.yaml"] = "automerge:\n  rules:\n    - security: true\n"
	e.addRepo("acme", "svc", f, fakegithub.Repo{RequiredChecks: []string{"ci"}})
	b := e.bot(Config{Repositories: []string{"acme/svc"}}, nil)
	merges := func() int {
		n := 0
		for _, c := range e.gh.Calls() {
			if c.Op == "pulls/merge" {
				n++
			}
		}
		return n
	}
	e.run(b)
	sec := pullByHead(e.gh.Pulls("acme", "svc"), "modgate/example.com-vulnlib")
	mustContain(t, "security body", sec.Body, "**Automerge:** modgate merges this pull request (squash) once its required checks pass (rule: security fixes).")
	e.run(b) // no ci status yet
	mustContain(t, "dashboard", dashboardOf(e, "acme", "svc").Body, "## Automerge", fmt.Sprintf("#%d fix(deps): update example.com/vulnlib to v1.0.1: waiting for `ci`", sec.Number))
	e.gh.SetStatus("acme", "svc", sec.HeadSHA, "ci", "pending")
	e.run(b)
	if n := merges(); n != 0 {
		t.Fatalf("%d merge calls before ci passed", n)
	}
	if p := pullByNumber(e.gh.Pulls("acme", "svc"), sec.Number); p.State != "open" {
		t.Fatalf("merged before ci passed: %+v", p)
	}
	e.gh.SetStatus("acme", "svc", sec.HeadSHA, "ci", "success")
	e.run(b)
	p := pullByNumber(e.gh.Pulls("acme", "svc"), sec.Number)
	if !p.Merged || p.MergeMethod != "squash" || merges() != 1 {
		t.Fatalf("after ci passed: %+v, %d merge calls", p, merges())
	}
	if e.git.Ref(t, "acme", "svc", sec.Head) != "" {
		t.Error("merged branch not deleted")
	}
	mustContain(t, "main go.mod", e.git.Show(t, "acme", "svc", "main", "go.mod"), "example.com/vulnlib v1.0.1")
	if nm := pullByHead(e.gh.Pulls("acme", "svc"), "modgate/non-major"); nm.State != "open" {
		t.Errorf("non-major pull request (no automerge rule) is %s", nm.State)
	}
	mustNotContain(t, "dashboard after merge", dashboardOf(e, "acme", "svc").Body, "## Automerge")
}

// TestMajorApproval: with require_approval: [major], a major upgrade
// waits on the dashboard until its box is ticked.
func TestMajorApproval(t *testing.T) {
	e := newEnv(t)
	e.addRepo("acme", "maj", map[string]string{
		".github/modgate.yaml": "require_approval: [major]\n",
		"go.mod":               "module example.com/maj\n\ngo 1.21\n\nrequire example.com/hello v1.1.0\n",
		"go.sum":               e.gosum("example.com/hello@v1.1.0"),
		"main.go":              "package main\n\nimport \"example.com/hello\"\n\nvar greet = hello.Greet\n\nfunc main() { _ = greet }\n",
	}, fakegithub.Repo{})
	b := e.bot(Config{Repositories: []string{"acme/maj"}}, nil)
	e.run(b)
	if n := len(e.gh.Pulls("acme", "maj")); n != 0 {
		t.Fatalf("%d pull requests before approval", n)
	}
	mustContain(t, "dashboard", dashboardOf(e, "acme", "maj").Body, "## Awaiting approval", "[ ] <!-- modgate:approve modgate/example.com-hello-v2 --> `example.com/hello/v2` `v1.1.0` → `v2.0.0`")
	e.noWrites(b, "second run")
	e.tick("acme", "maj", boxApprove, "modgate/example.com-hello-v2")
	e.run(b)
	if got := openPulls(e, "acme", "maj"); !slices.Equal(got, []string{"modgate/example.com-hello-v2"}) {
		t.Fatalf("after approval: %v\n%s", got, dashboardOf(e, "acme", "maj").Body)
	}
	mustContain(t, "major go.mod", e.checkBranch("acme", "maj", "modgate/example.com-hello-v2"), "example.com/hello/v2 v2.0.0")
	e.noWrites(b, "run after approval")
}

// TestToolchainUpdate: toolchain and go directive updates follow
// modgate's verdicts on golang.org/toolchain for the bot's platform.
func TestToolchainUpdate(t *testing.T) {
	e := newEnv(t)
	plat := runtime.GOOS + "-" + runtime.GOARCH
	other := "plan9-386"
	for _, v := range []string{"go1.25.0." + plat, "go1.25.3." + plat, "go1.26.0." + plat, "go1.26.1." + plat, "go1.26rc1." + plat, "go1.26.5." + other} {
		e.up.Add(proxytest.Module{Path: "golang.org/toolchain", Version: "v0.0.1-" + v, GoMod: []byte("module golang.org/toolchain\n"), Files: map[string]string{"README": "toolchain\n"}})
	}
	e.dec.set(func(d *denyDecider) {
		d.deny["golang.org/toolchain@v0.0.1-go1.26.1."+plat] = "go1.26.1 is not approved yet"
	})
	e.addRepo("acme", "tc", map[string]string{
		".github/modgate.yaml": "toolchain: true\ngo_directive: true\n",
		"go.mod":               "module example.com/tc\n\ngo 1.21\n\ntoolchain go1.25.0\n",
		"main.go":              "package main\n\nfunc main() {}\n",
	}, fakegithub.Repo{})
	b := e.bot(Config{Repositories: []string{"acme/tc"}}, nil)
	e.run(b)
	pulls := e.gh.Pulls("acme", "tc")
	if len(pulls) != 1 || pulls[0].Head != "modgate/go-toolchain" {
		t.Fatalf("pull requests %+v\n%s", pulls, dashboardOf(e, "acme", "tc").Body)
	}
	p := pulls[0]
	if p.Title != "chore(deps): update Go toolchain and go directive" {
		t.Errorf("title %q", p.Title)
	}
	mustContain(t, "toolchain body", p.Body,
		"| Go toolchain | `go1.25.0` → `go1.26.0` (minor) |", "| go directive | `1.21` → `1.26` (minor) |",
		"[release notes](https://go.dev/doc/devel/release#go1.26.0)")
	gomod := e.checkBranch("acme", "tc", p.Head)
	mustContain(t, "toolchain go.mod", gomod, "go 1.26\n", "toolchain go1.26.0")
	mustContain(t, "dashboard", dashboardOf(e, "acme", "tc").Body, "`golang.org/toolchain` `go1.26.1`: blocklist: go1.26.1 is not approved yet")
	e.noWrites(b, "second run")
}

// TestLocalMatchesDryRun: `--local DIR --dry-run` prints the same plan
// (titles, bodies, diffs, dashboard) as a dry run against GitHub for the
// same repository.
func TestLocalMatchesDryRun(t *testing.T) {
	e := newEnv(t)
	e.addRepo("acme", "svc", e.svcFiles(), fakegithub.Repo{})
	var remote bytes.Buffer
	b := e.bot(Config{Repositories: []string{"acme/svc"}}, &remote)
	b.DryRun = true
	e.run(b)

	dir := e.git.Clone(t, "acme", "svc", "main")
	cfg := Config{Modgate: ModgateConfig{URL: e.gate.URL}, Concurrency: 4}
	lb, err := NewLocal(cfg, dir, func(string) string { return "" }, e.goEnv)
	if err != nil {
		t.Fatal(err)
	}
	var local bytes.Buffer
	lb.Out, lb.Now, lb.Logger = &local, b.Now, b.Logger
	rep, err := lb.RunOnce(context.Background())
	if err != nil || rep.Repos[0].Err != nil {
		t.Fatalf("local run: %v %+v", err, rep)
	}
	if local.String() != remote.String() {
		t.Errorf("local plan differs from the dry run against GitHub:\n--- local\n%s\n--- dry run\n%s", local.String(), remote.String())
	}
	mustContain(t, "local plan", local.String(), "acme/svc: would open modgate/non-major: chore(deps): update non-major dependencies", "----- diff -----")
	mustNotContain(t, "local plan", local.String(), "#0")
	if _, err := os.Stat(filepath.Join(dir, ".git", "refs", "heads", "modgate")); err == nil {
		t.Error("the local run created branches in the checkout")
	}
}
