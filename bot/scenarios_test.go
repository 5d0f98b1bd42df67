package bot

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modgate/modgate/bot/forge"
	"github.com/modgate/modgate/bot/internal/fakegithub"
)

func TestDryRunWritesNothing(t *testing.T) {
	e := newEnv(t)
	e.addRepo("acme", "svc", e.svcFiles(), fakegithub.Repo{})
	refs := e.git.Refs(t, "acme", "svc")
	var out bytes.Buffer
	b := e.bot(Config{Repositories: []string{"acme/svc"}}, &out)
	b.DryRun = true
	rep := e.run(b)
	if w := e.gh.Writes(); w != 0 {
		t.Errorf("dry run made %d API writes: %+v", w, e.gh.Calls())
	}
	if p := e.git.Pushes(); p != 0 {
		t.Errorf("dry run pushed %d times", p)
	}
	if got := e.git.Refs(t, "acme", "svc"); !slices.Equal(got, refs) {
		t.Errorf("refs changed: %v -> %v", refs, got)
	}
	if rep.Writes() != 3 {
		t.Errorf("planned writes = %d, want 3 (two pull requests and the dashboard)", rep.Writes())
	}
	mustContain(t, "dry-run output", out.String(),
		"acme/svc: would open modgate/example.com-vulnlib: fix(deps): update example.com/vulnlib to v1.0.1",
		"acme/svc: would open modgate/non-major: chore(deps): update non-major dependencies",
		"acme/svc: would create dashboard",
		"----- body -----", "| `example.com/vulnlib` | `v1.0.0` → `v1.0.1` (patch) |", "----- diff -----", "+\texample.com/vulnlib v1.0.1",
		"refused modgate/example.com-hello-v2: verification",
		"- `modgate/non-major` (to be opened) chore(deps): update non-major dependencies")
	mustNotContain(t, "dry-run output", out.String(), "#0", "b/svc differ") // no placeholder numbers, no built executable
	t.Log(out.String())
}

func TestLimitsAndSchedule(t *testing.T) {
	e := newEnv(t) // e.now is Sunday 2025-06-01 12:00 UTC
	withConfig := func(yaml string) map[string]string {
		f := e.svcFiles()
		f[".github/modgate.yaml"] = yaml
		return f
	}
	e.addRepo("acme", "perrun", withConfig("groups:\n  - name: retracted\n    match: [example.com/retracted]\nlimits:\n  prs_per_run: 1\n"), fakegithub.Repo{})
	e.addRepo("acme", "open", withConfig("limits:\n  open_prs: 1\n"), fakegithub.Repo{})
	e.addRepo("acme", "window", withConfig("schedule:\n  timezone: Europe/Berlin\n  days: [mon, tue, wed, thu, fri]\n"), fakegithub.Repo{})
	b := e.bot(Config{Repositories: []string{"acme/perrun", "acme/open", "acme/window"}}, nil)
	e.run(b)

	heads := func(name string) []string {
		var hs []string
		for _, p := range e.gh.Pulls("acme", name) {
			hs = append(hs, p.Head)
		}
		slices.Sort(hs)
		return hs
	}
	tests := []struct {
		repo    string
		want    []string
		pending string
	}{
		{"perrun", []string{"modgate/example.com-vulnlib", "modgate/non-major"}, "limit of 1 new pull requests per run reached"},
		{"open", []string{"modgate/example.com-vulnlib"}, "limit of 1 open pull requests reached"},
		{"window", []string{"modgate/example.com-vulnlib"}, "outside the schedule window"},
	}
	for _, tt := range tests {
		if got := heads(tt.repo); !slices.Equal(got, tt.want) {
			t.Errorf("%s: pull requests %v, want %v (security fixes are exempt)", tt.repo, got, tt.want)
		}
		d := dashboardOf(e, "acme", tt.repo)
		if d == nil {
			t.Errorf("%s: no dashboard", tt.repo)
			continue
		}
		mustContain(t, tt.repo+" dashboard", d.Body, "## Pending", tt.pending)
	}
	// The per-run limit resets: the next run opens the pending group.
	e.run(b)
	if got := heads("perrun"); !slices.Equal(got, []string{"modgate/example.com-vulnlib", "modgate/non-major", "modgate/retracted"}) {
		t.Errorf("perrun after second run: %v", got)
	}
	if got := heads("open"); len(got) != 1 {
		t.Errorf("open after second run: %v, want still 1", got)
	}
	// Ticking a pending update's box opens it despite the limit.
	e.tick("acme", "open", boxCreate, "modgate/non-major")
	e.run(b)
	if got := heads("open"); !slices.Equal(got, []string{"modgate/example.com-vulnlib", "modgate/non-major"}) {
		t.Errorf("open after ticking create: %v", got)
	}
}

func TestInvalidRepoConfigOnDashboard(t *testing.T) {
	e := newEnv(t)
	f := e.svcFiles()
	f[".github/modgate.yaml"] = "labels: [deps]\nlabelz: [x]\n"
	e.addRepo("acme", "bad", f, fakegithub.Repo{})
	f = e.svcFiles()
	f[".github/modgate.yaml"] = "groups:\n  - name: Bad Name\n    match: [x]\n"
	e.addRepo("acme", "bad2", f, fakegithub.Repo{})
	e.run(e.bot(Config{Repositories: []string{"acme/bad", "acme/bad2"}}, nil))
	for repo, want := range map[string]string{
		"bad":  `.github/modgate.yaml:2: labelz: unknown field (did you mean "labels"?)`,
		"bad2": `.github/modgate.yaml:2: groups[0].name: "Bad Name" is not a valid group name`,
	} {
		if n := len(e.gh.Pulls("acme", repo)); n != 0 {
			t.Errorf("%s: %d pull requests despite an invalid config", repo, n)
		}
		d := dashboardOf(e, "acme", repo)
		if d == nil {
			t.Errorf("%s: no dashboard", repo)
			continue
		}
		mustContain(t, repo+" dashboard", d.Body, "## Errors", want)
	}
}

func TestWorkspace(t *testing.T) {
	e := newEnv(t)
	hello := e.gosum("example.com/hello@v1.0.0")
	files := map[string]string{
		"go.work":                  "go 1.21\n\nuse (\n\t./cmd\n\t./lib\n)\n",
		"lib/go.mod":               "module example.com/ws/lib\n\ngo 1.21\n\nrequire example.com/hello v1.0.0\n",
		"lib/go.sum":               hello,
		"lib/lib.go":               "package lib\n\nimport \"example.com/hello\"\n\nfunc Hi() string { return hello.Greet(\"lib\") }\n",
		"cmd/go.mod":               "module example.com/ws/cmd\n\ngo 1.21\n\nrequire (\n\texample.com/deprecated v1.0.0\n\texample.com/hello v1.0.0\n\texample.com/ws/lib v0.0.0-00010101000000-000000000000\n)\n\nreplace example.com/ws/lib => ../lib\n\nreplace example.com/deprecated => ./_deprecated\n",
		"cmd/go.sum":               hello,
		"cmd/main.go":              "package main\n\nimport (\n\t\"example.com/deprecated\"\n\t\"example.com/hello\"\n\t\"example.com/ws/lib\"\n)\n\nfunc main() { println(hello.Greet(lib.Hi()), deprecated.Old()) }\n",
		"cmd/_deprecated/go.mod":   "module example.com/deprecated\n\ngo 1.21\n",
		"cmd/_deprecated/local.go": "package deprecated\n\nfunc Old() int { return 2 }\n",
	}
	e.addRepo("acme", "ws", files, fakegithub.Repo{})
	e.run(e.bot(Config{Repositories: []string{"acme/ws"}}, nil))
	pulls := e.gh.Pulls("acme", "ws")
	nm := pullByHead(pulls, "modgate/non-major")
	if nm == nil {
		t.Fatalf("no non-major pull request; pulls %+v; dashboard %+v", pulls, dashboardOf(e, "acme", "ws"))
	}
	dir := e.git.Clone(t, "acme", "ws", "modgate/non-major")
	for _, m := range []string{"lib", "cmd"} {
		data, _ := os.ReadFile(dir + "/" + m + "/go.mod")
		mustContain(t, m+"/go.mod", string(data), "example.com/hello v1.1.0")
		if out, err := e.goIn(dir+"/"+m, "mod", "tidy", "-diff"); err != nil {
			t.Errorf("%s: go mod tidy -diff: %v\n%s", m, err, out)
		}
	}
	build := exec.Command("go", "build", "-mod=readonly", "./cmd/...", "./lib/...")
	build.Dir = dir
	build.Env = append(slices.Clone(e.goEnv), "GOWORK="+dir+"/go.work")
	if out, err := build.CombinedOutput(); err != nil {
		t.Errorf("workspace build: %v\n%s", err, out)
	}
	d := dashboardOf(e, "acme", "ws")
	if d == nil {
		t.Fatal("no dashboard")
	}
	mustContain(t, "workspace dashboard", d.Body, "## Notes", "example.com/deprecated is replaced in cmd/go.mod; not updated")
	mustNotContain(t, "workspace PR", nm.Body, "v0.0.0-00010101000000-000000000000")
	mustContain(t, "workspace PR", nm.Body, `["example.com/ws/lib"] --> `, `["example.com/ws/cmd"] --> `)
}

// TestNothingToDoIsCheap is the performance check: a pass over 20
// up-to-date repositories of an organisation makes no writes, a bounded
// number of API calls per repository, and finishes quickly.
func TestNothingToDoIsCheap(t *testing.T) {
	e := newEnv(t)
	files := map[string]string{
		"go.mod":  "module example.com/fine\n\ngo 1.21\n\nrequire (\n\texample.com/deprecated v1.1.0\n\texample.com/hello/v2 v2.0.0\n)\n",
		"go.sum":  e.gosum("example.com/deprecated@v1.1.0", "example.com/hello/v2@v2.0.0"),
		"main.go": "package main\n\nimport (\n\t\"example.com/deprecated\"\n\thello \"example.com/hello/v2\"\n)\n\nfunc main() { println(hello.Greet(\"en\", \"x\"), deprecated.Old()) }\n",
	}
	const n = 20
	for i := range n {
		e.addRepo("perf", fmt.Sprintf("svc%02d", i), files, fakegithub.Repo{Topics: []string{"go", "service"}})
	}
	e.addRepo("perf", "archived", files, fakegithub.Repo{Topics: []string{"go"}, Archived: true})
	e.addRepo("perf", "docs", files, fakegithub.Repo{Topics: []string{"docs"}})
	b := e.bot(Config{Organization: OrgConfig{Name: "perf", Topics: []string{"go"}}, Concurrency: 4}, nil)
	start := time.Now()
	rep := e.run(b)
	elapsed := time.Since(start)
	if len(rep.Repos) != n {
		t.Errorf("processed %d repositories, want %d (archived and off-topic ones filtered)", len(rep.Repos), n)
	}
	calls := e.gh.Calls()
	perRepo := map[string]int{}
	for _, c := range calls {
		if parts := strings.Split(c.Path, "/"); len(parts) > 3 && parts[1] == "repos" {
			perRepo[parts[3]]++
		}
	}
	maxCalls, total := 0, 0
	for _, c := range perRepo {
		maxCalls = max(maxCalls, c)
		total += c
	}
	t.Logf("PERF: %d repositories with nothing to update: %v, %d API calls in all (at most %d per repository, plus %d organisation listing), %d writes, %d pushes",
		n, elapsed.Round(time.Millisecond), len(calls), maxCalls, len(calls)-total, e.gh.Writes(), e.git.Pushes())
	if w := e.gh.Writes(); w != 0 || e.git.Pushes() != 0 || rep.Writes() != 0 {
		t.Errorf("nothing to do, yet %d API writes and %d pushes", w, e.git.Pushes())
	}
	if maxCalls > 3 {
		t.Errorf("%d API calls for a repository with nothing to do, want at most 3: %+v", maxCalls, calls)
	}
	if elapsed > 30*time.Second {
		t.Errorf("pass took %v, want under 30s", elapsed)
	}
}

func upToDate(e *env) map[string]string {
	return map[string]string{
		"go.mod": "module example.com/fine\n\ngo 1.21\n\nrequire example.com/hello/v2 v2.0.0\n",
		"go.sum": e.gosum("example.com/hello/v2@v2.0.0"),
	}
}

func TestAppInstallationAuth(t *testing.T) {
	e := newEnv(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	// The installation token is what git and the API accept; the fake
	// rejects the personal token.
	e.gh.App = &fakegithub.App{ID: 4242, InstallationID: 77, Key: &key.PublicKey, Token: testToken}
	e.gh.Token = "not-the-pat"
	e.addRepo("acme", "fine", upToDate(e), fakegithub.Repo{})
	e.forgeOpts = func(o *forge.Options) {
		o.Token = ""
		o.App = &forge.AppAuth{AppID: 4242, InstallationID: 77, PrivateKey: pemKey}
	}
	e.run(e.bot(Config{Repositories: []string{"acme/fine"}}, nil))
	var ops []string
	for _, c := range e.gh.Calls() {
		ops = append(ops, c.Op)
		if c.Status == http.StatusUnauthorized {
			t.Errorf("%s %s: 401", c.Method, c.Path)
		}
	}
	if len(ops) == 0 || ops[0] != "apps/create-installation-access-token" {
		t.Errorf("calls %v, want an installation token first", ops)
	}
}

func TestRateLimitBackoff(t *testing.T) {
	e := newEnv(t)
	e.addRepo("acme", "fine", upToDate(e), fakegithub.Repo{})
	reset := time.Now().Add(time.Second).Unix()
	e.gh.AddFault(fakegithub.Fault{Op: "repos/get", Status: http.StatusForbidden, N: 1, Body: "API rate limit exceeded",
		Header: http.Header{"X-Ratelimit-Limit": {"5000"}, "X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {strconv.FormatInt(reset, 10)}}})
	e.gh.AddFault(fakegithub.Fault{Op: "pulls/list", Status: http.StatusTooManyRequests, N: 1, Body: "secondary rate limit",
		Header: http.Header{"Retry-After": {"1"}}})
	var mu sync.Mutex
	var waits []time.Duration
	e.forgeOpts = func(o *forge.Options) {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			waits = append(waits, d)
			mu.Unlock()
			time.Sleep(d) // go-github also remembers the reset time
			return nil
		}
	}
	e.run(e.bot(Config{Repositories: []string{"acme/fine"}}, nil))
	if len(waits) != 2 {
		t.Fatalf("waits = %v, want two back-offs", waits)
	}
	if waits[0] <= 0 || waits[0] > 2*time.Second || waits[1] != time.Second {
		t.Errorf("waits = %v, want until the reset (<= 2s) and Retry-After (1s)", waits)
	}
	n := 0
	for _, c := range e.gh.Calls() {
		if c.Op == "repos/get" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("repos/get called %d times, want 2 (limited, then retried)", n)
	}
}

func TestServeRunsOnSchedule(t *testing.T) {
	e := newEnv(t)
	e.addRepo("acme", "fine", upToDate(e), fakegithub.Repo{})
	b := e.bot(Config{Repositories: []string{"acme/fine"}}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	if err := b.Serve(ctx, "@every 1s", "Europe/Berlin"); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range e.gh.Calls() {
		if c.Op == "repos/get" {
			n++
		}
	}
	if n < 2 {
		t.Errorf("Serve ran %d passes in 2.5s with @every 1s, want at least 2", n)
	}
}
