package bot

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modgate/modgate/bot/forge"
	"github.com/modgate/modgate/bot/internal/fakegithub"
	"github.com/modgate/modgate/bot/internal/gitserver"
	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/api"
	"github.com/modgate/modgate/proxy/gatetest"
	"github.com/modgate/modgate/proxy/proxytest"
)

const testToken = "ghs_testtoken0123456789"

// denyDecider denies chosen versions for every kind of request (so they
// are hidden from lists too) or for zips only (what a build downloads,
// and what the decision API decides by default), and warns about
// vulnerable ones, the way the vulnerabilities rule reports them.
type denyDecider struct {
	mu      sync.Mutex        // protects the maps
	deny    map[string]string // "path@version" -> message
	denyZip map[string]string
	// warn holds a finding naming its ID in the message only; vulns
	// the IDs of findings that carry them.
	warn  map[string]string
	vulns map[string][]string
}

func (d *denyDecider) Decide(_ context.Context, q proxy.Query) (proxy.Decision, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var dec proxy.Decision
	mv := q.Module + "@" + q.Version
	if msg, ok := d.deny[mv]; ok {
		dec.Deny = append(dec.Deny, proxy.Violation{Rule: "blocklist", Msg: msg, Fix: "use another version"})
	}
	if msg, ok := d.denyZip[mv]; ok && q.Kind == proxy.KindZip {
		dec.Deny = append(dec.Deny, proxy.Violation{Rule: "blocklist", Msg: msg})
	}
	if msg, ok := d.warn[mv]; ok {
		dec.Warn = append(dec.Warn, proxy.Violation{Rule: "vulnerabilities", Msg: msg, Fix: "upgrade to v1.0.1 or later"})
	}
	if ids, ok := d.vulns[mv]; ok {
		dec.Warn = append(dec.Warn, proxy.Violation{Rule: "vulnerabilities", Msg: mv + " is affected by " + strings.Join(ids, ", "), IDs: ids})
	}
	return dec, nil
}

// set changes the decider's maps under its lock.
func (d *denyDecider) set(f func(d *denyDecider)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(d)
}

// env is one hermetic world: fixture modules behind a real modgate, a
// git server, a fake GitHub, and the go environment.
type env struct {
	t     *testing.T
	up    *proxytest.Upstream
	dec   *denyDecider
	gate  *gatetest.Gate
	git   *gitserver.Server
	gh    *fakegithub.Server
	goEnv []string
	now   time.Time
	// forgeOpts, if set, adjusts the forge client's options.
	forgeOpts func(*forge.Options)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("the go command is required: %v", err)
	}
	up := proxytest.New(t, append(proxytest.Fixtures(t), botFixtures(t)...))
	dec := &denyDecider{
		deny: map[string]string{
			"example.com/hello@v1.2.0":            "example.com/hello@v1.2.0 is on the organisation's blocklist: relicensed",
			"github.com/golang-jwt/jwt/v4@v4.5.1": "github.com/golang-jwt/jwt/v4@v4.5.1 is on the organisation's blocklist: broken release",
		},
		denyZip: map[string]string{"example.com/badnet@v1.1.0": "example.com/badnet@v1.1.0 is on the organisation's blocklist: phones home"},
		warn:    map[string]string{"example.com/vulnlib@v1.0.0": "example.com/vulnlib@v1.0.0 is affected by GO-2099-0001; fixed in v1.0.1"},
		vulns: map[string][]string{
			"github.com/golang-jwt/jwt/v4@v4.4.2": {"GO-2099-0042"},
			"github.com/golang-jwt/jwt/v4@v4.4.3": {"GO-2099-0042"},
		},
	}
	g := gatetest.Start(t, up, dec.Decide)
	gs := gitserver.Start(t, testToken)
	gh := fakegithub.Start(t, testToken, gs)
	return &env{t: t, up: up, dec: dec, gate: g, git: gs, gh: gh, goEnv: g.GoEnv(t), now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

// botFixtures are the modules only the bot's tests serve
// (bot/testdata/modules).
func botFixtures(t *testing.T) []proxytest.Module {
	t.Helper()
	mods, err := proxytest.LoadDir(filepath.Join("testdata", "modules"))
	if err != nil {
		t.Fatal(err)
	}
	return mods
}

// gosum returns go.sum lines for the module versions.
func (e *env) gosum(mvs ...string) string {
	var b strings.Builder
	for _, mv := range mvs {
		p, v, _ := strings.Cut(mv, "@")
		l := e.up.GoSumLines(p, v)
		if l == "" {
			e.t.Fatalf("no fixture %s", mv)
		}
		b.WriteString(l)
	}
	return b.String()
}

// svcFiles is a service requiring hello, retracted and vulnlib at their
// oldest versions.
func (e *env) svcFiles() map[string]string {
	return map[string]string{
		"go.mod": "module example.com/svc\n\ngo 1.21\n\nrequire (\n\texample.com/hello v1.0.0\n\texample.com/retracted v1.0.0\n\texample.com/vulnlib v1.0.0\n)\n",
		"go.sum": e.gosum("example.com/hello@v1.0.0", "example.com/retracted@v1.0.0", "example.com/vulnlib@v1.0.0"),
		"main.go": `package main

import (
	"fmt"

	"example.com/hello"
	"example.com/retracted"
	"example.com/vulnlib"
)

func main() {
	s, err := vulnlib.Parse("world")
	if err != nil {
		panic(err)
	}
	fmt.Println(hello.Greet(s), retracted.Version)
}
`,
	}
}

// addRepo creates owner/name on the git server and the fake GitHub.
func (e *env) addRepo(owner, name string, files map[string]string, r fakegithub.Repo) {
	e.t.Helper()
	e.git.CreateRepo(e.t, owner, name, files)
	r.Owner, r.Name = owner, name
	e.gh.AddRepo(r)
}

// bot returns a bot for cfg (Modgate and the clock filled in).
func (e *env) bot(cfg Config, out io.Writer) *Bot {
	e.t.Helper()
	cfg.Modgate.URL = e.gate.URL
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 4
	}
	if err := cfg.Validate(); err != nil {
		e.t.Fatalf("Validate: %v", err)
	}
	// Modules on github.com are looked up in the fake (links).
	fo := forge.Options{BaseURL: e.gh.URL, Token: testToken, ModuleHost: "github.com"}
	if e.forgeOpts != nil {
		e.forgeOpts(&fo)
	}
	gh, err := forge.NewGitHub(fo)
	if err != nil {
		e.t.Fatal(err)
	}
	return &Bot{
		Config: cfg,
		Forge:  gh,
		Gate:   &api.Client{URL: e.gate.URL},
		Env:    e.goEnv,
		Now:    func() time.Time { return e.now },
		Logger: slog.New(slog.NewTextHandler(testWriter{e.t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Out:    out,
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (e *env) run(b *Bot) *Report {
	e.t.Helper()
	rep, err := b.RunOnce(context.Background())
	if err != nil {
		e.t.Fatalf("RunOnce: %v", err)
	}
	for _, rr := range rep.Repos {
		if rr.Err != nil {
			e.t.Errorf("%s: %v", rr.Repo, rr.Err)
		}
	}
	return rep
}

// primeList makes modgate refresh its cached list of path, as it does
// within a minute of a release (it serves the stale list while it
// refreshes).
func (e *env) primeList(path string) {
	e.t.Helper()
	resp, err := http.Get(e.gate.URL + "/" + path + "/@v/list")
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	e.gate.Cache.Wait()
}

// goIn runs the go command in dir with the hermetic environment.
func (e *env) goIn(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(slices.Clone(e.goEnv), "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// checkBranch clones branch and checks it the way CI would.
func (e *env) checkBranch(owner, name, branch string) string {
	e.t.Helper()
	dir := e.git.Clone(e.t, owner, name, branch)
	for _, args := range [][]string{{"mod", "tidy", "-diff"}, {"build", "-mod=readonly", "./..."}, {"mod", "verify"}} {
		if out, err := e.goIn(dir, args...); err != nil {
			e.t.Errorf("%s: go %s: %v\n%s", branch, strings.Join(args, " "), err, out)
		}
	}
	data, err := os.ReadFile(dir + "/go.mod")
	if err != nil {
		e.t.Fatal(err)
	}
	return string(data)
}

func pullByHead(ps []fakegithub.Pull, head string) *fakegithub.Pull {
	for i := range ps {
		if ps[i].Head == head {
			return &ps[i]
		}
	}
	return nil
}

func dashboardOf(e *env, owner, name string) *fakegithub.Issue {
	for _, i := range e.gh.Issues(owner, name) {
		if slices.Contains(i.Labels, DashboardLabel) {
			return &i
		}
	}
	return nil
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s does not contain %q:\n%s", what, sub, s)
		}
	}
}

func mustNotContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			t.Errorf("%s contains %q:\n%s", what, sub, s)
		}
	}
}

// pullByNumber returns pull request n.
func pullByNumber(ps []fakegithub.Pull, n int) *fakegithub.Pull {
	for i := range ps {
		if ps[i].Number == n {
			return &ps[i]
		}
	}
	return nil
}

// openPulls returns the open pull requests' head branches, sorted.
func openPulls(e *env, owner, name string) []string {
	var hs []string
	for _, p := range e.gh.Pulls(owner, name) {
		if p.State == "open" {
			hs = append(hs, p.Head)
		}
	}
	slices.Sort(hs)
	return hs
}

// tick ticks the checkbox with the marker's kind and argument in the
// dashboard, as a person would.
func (e *env) tick(owner, name, kind, arg string) {
	e.t.Helper()
	d := dashboardOf(e, owner, name)
	if d == nil {
		e.t.Fatal("no dashboard to tick a box in")
	}
	marker := "[ ] " + boxMarker(kind, arg)
	if !strings.Contains(d.Body, marker) {
		e.t.Fatalf("dashboard has no box %q:\n%s", marker, d.Body)
	}
	e.gh.EditIssueBody(owner, name, d.Number, func(s string) string {
		return strings.Replace(s, marker, "[x] "+boxMarker(kind, arg), 1)
	})
}

// noWrites runs b and fails when the pass wrote anything.
func (e *env) noWrites(b *Bot, what string) {
	e.t.Helper()
	e.gh.ResetCalls()
	pushes := e.git.Pushes()
	rep := e.run(b)
	if w := e.gh.Writes(); w != 0 || rep.Writes() != 0 || e.git.Pushes() != pushes {
		e.t.Errorf("%s: %d API writes, report %d, %d pushes: %+v", what, w, rep.Writes(), e.git.Pushes()-pushes, e.gh.Calls())
	}
}

var _ = fmt.Sprint
