package bot

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/bot/forge"
	"github.com/modgate/modgate/bot/gomod"
	"github.com/modgate/modgate/proxy/api"
)

// fakeReleases is a forge.ReleaseSource with one repository.
type fakeReleases struct {
	host  string
	repos map[string][]forge.Release
	calls int
}

func (f *fakeReleases) ModuleHost() string { return f.host }

func (f *fakeReleases) Repo(_ context.Context, owner, name string) (forge.Repo, error) {
	f.calls++
	if _, ok := f.repos[owner+"/"+name]; !ok {
		return forge.Repo{}, fmt.Errorf("%s/%s: %w", owner, name, forge.ErrNotFound)
	}
	return forge.Repo{Owner: owner, Name: name, HTMLURL: "https://" + f.host + "/" + owner + "/" + name}, nil
}

func (f *fakeReleases) Releases(_ context.Context, r forge.Repo) ([]forge.Release, error) {
	f.calls++
	return f.repos[r.Owner+"/"+r.Name], nil
}

func TestLinks(t *testing.T) {
	src := &fakeReleases{host: "github.com", repos: map[string][]forge.Release{
		"acme/lib": {
			{Tag: "sub/v1.3.0", URL: "u130"}, {Tag: "v2.0.0", URL: "u200"}, {Tag: "sub/v1.2.0", URL: "u120"},
			{Tag: "sub/v1.2.0-rc.1", URL: "urc"}, {Tag: "sub/v1.1.0", URL: "u110"},
		},
		"acme/big": {{Tag: "v2.1.0", URL: "b210"}, {Tag: "v2.0.0", URL: "b200"}, {Tag: "v1.9.0", URL: "b190"}},
	}}
	l := &linker{src: src, repos: map[string]*repoInfo{}}
	up := func(path, from, newPath, to string, kind string) candidate {
		return candidate{Update: gomod.Update{Path: path, From: from, NewPath: newPath, To: to, Kind: kind}}
	}
	tests := []struct {
		name string
		c    candidate
		want links
	}{
		{"api, module in a directory", up("github.com/acme/lib/sub", "v1.1.0", "github.com/acme/lib/sub", "v1.2.0", ""), links{
			Repo: "https://github.com/acme/lib", Compare: "https://github.com/acme/lib/compare/sub/v1.1.0...sub/v1.2.0",
			Releases: []release{{Tag: "sub/v1.2.0", URL: "u120"}}}},
		{"api, major: the new major's releases", up("github.com/acme/big", "v1.8.0", "github.com/acme/big/v2", "v2.1.0", ""), links{
			Repo: "https://github.com/acme/big", Compare: "https://github.com/acme/big/compare/v1.8.0...v2.1.0",
			Releases: []release{{Tag: "v2.1.0", URL: "b210"}, {Tag: "v2.0.0", URL: "b200"}}}},
		{"not on the forge: plain links", up("github.com/other/x", "v0.1.0", "github.com/other/x", "v0.2.0+incompatible", ""), links{
			Repo: "https://github.com/other/x", Compare: "https://github.com/other/x/compare/v0.1.0...v0.2.0",
			ReleaseNotes: "https://github.com/other/x/releases/tag/v0.2.0"}},
		{"pseudo-version", up("github.com/other/x", "v0.0.0-20240101000000-abcdef123456", "github.com/other/x", "v0.1.0", ""), links{
			Repo: "https://github.com/other/x", Compare: "https://github.com/other/x/compare/abcdef123456...v0.1.0",
			ReleaseNotes: "https://github.com/other/x/releases/tag/v0.1.0"}},
		{"gitlab", up("gitlab.com/g/p", "v1.0.0", "gitlab.com/g/p", "v1.1.0", ""), links{
			Repo: "https://gitlab.com/g/p", Compare: "https://gitlab.com/g/p/-/compare/v1.0.0...v1.1.0", ReleaseNotes: "https://gitlab.com/g/p/-/releases/v1.1.0"}},
		{"golang.org/x", up("golang.org/x/net", "v0.1.0", "golang.org/x/net", "v0.2.0", ""), links{
			Repo: "https://go.googlesource.com/net", Compare: "https://go.googlesource.com/net/+log/v0.1.0..v0.2.0"}},
		{"unknown host", up("example.com/m", "v1.0.0", "example.com/m", "v1.1.0", ""), links{}},
		{"toolchain", up(gomod.ToolchainPath, "go1.22.1", gomod.ToolchainPath, "go1.22.3", gomod.KindToolchain), links{ReleaseNotes: "https://go.dev/doc/devel/release#go1.22.3"}},
		{"go directive", up("go", "1.21", "go", "1.22.0", gomod.KindGo), links{ReleaseNotes: "https://go.dev/doc/go1.22"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := l.links(context.Background(), tt.c)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("links(%v) =\n%+v\nwant\n%+v", tt.c.Update, got, tt.want)
			}
		})
	}
	before := src.calls
	l.links(context.Background(), up("github.com/acme/lib/sub", "v1.1.0", "github.com/acme/lib/sub", "v1.3.0", ""))
	if src.calls != before {
		t.Errorf("the forge was asked again about a repository of this pass (%d calls)", src.calls-before)
	}
}

func TestAdvisoryAndNotes(t *testing.T) {
	for id, want := range map[string]string{
		"GO-2024-2571":        "[GO-2024-2571](https://pkg.go.dev/vuln/GO-2024-2571)",
		"CVE-2024-1234":       "[CVE-2024-1234](https://www.cve.org/CVERecord?id=CVE-2024-1234)",
		"GHSA-abcd-efgh-ijkl": "[GHSA-abcd-efgh-ijkl](https://github.com/advisories/GHSA-abcd-efgh-ijkl)",
		unnamedVuln:           unnamedVuln,
	} {
		if got := advisory(id); got != want {
			t.Errorf("advisory(%q) = %q, want %q", id, got, want)
		}
	}
	got := quoteNotes("Thanks @alice and @bob-x (#12, fixes #3). Mail me@example.com, see `@ok` and a/b#4.")
	want := "Thanks @&#8203;alice and @&#8203;bob-x (#&#8203;12, fixes #&#8203;3). Mail me@example.com, see `@ok` and a/b#4."
	if got != want {
		t.Errorf("quoteNotes = %q\nwant       %q", got, want)
	}
}

func TestBodiesStayWithinTheLimit(t *testing.T) {
	g := &group{Name: defaultGroup}
	var lks []links
	for i := range 300 {
		g.Updates = append(g.Updates, candidate{Update: gomod.Update{Path: fmt.Sprintf("example.com/m%03d", i), From: "v1.0.0", NewPath: fmt.Sprintf("example.com/m%03d", i), To: "v1.1.0"}, Type: typeMinor})
		lks = append(lks, links{Repo: "r", Releases: []release{{Tag: "v1.1.0", URL: "u", Body: strings.Repeat("notes ", 1000)}}})
	}
	v := &verification{}
	for i := range 3000 {
		p := fmt.Sprintf("example.com/dep%04d", i)
		v.Changes = append(v.Changes, buildChange{Change: gomod.Change{Path: p, From: "v1.0.0", To: "v1.0.1"}})
		v.Edges = append(v.Edges, gomod.Edge{From: "example.com/svc", To: p + "@v1.0.1"})
	}
	meta := prMeta{V: prMetaVersion, Group: g.Name, Base: "abc", Updates: g.updates(), Head: "def"}
	body := prBody(prInput{Now: time.Now(), Group: g, Verify: v, Meta: meta, GateURL: "https://modgate.example.com", Links: lks})
	if len(body) > MaxBody {
		t.Errorf("pull request body is %d bytes, more than %d", len(body), MaxBody)
	}
	var m prMeta
	if !readMeta(body, prMetaTag, &m) || m.Head != "def" || len(m.Updates) != 300 {
		t.Errorf("the capped body lost its record: %+v", m)
	}
	mustContain(t, "capped body", body, "… and ", "more.", "### Verification")
	mustNotContain(t, "capped body", body, "<details>")

	d := &dashboard{}
	for i := range 5000 {
		d.Refused = append(d.Refused, refusal{Path: fmt.Sprintf("example.com/m%04d", i), Version: "v1.0.0", Reason: strings.Repeat("denied ", 40)})
	}
	if out := d.render(); len(out) > MaxBody || !strings.Contains(out, "- … and ") || !strings.Contains(out, "<!-- modgate:dashboard ") {
		t.Errorf("dashboard is %d bytes (limit %d) or lost its record", len(out), MaxBody)
	}
}

func TestTicked(t *testing.T) {
	body := "## Open\n\n- [x] <!-- modgate:rebase modgate/non-major --> #3 x\n- [ ] <!-- modgate:rebase modgate/other --> #4 y\n" +
		"* [X] <!-- modgate:retry 0123abcd --> z\n- [x] <!-- modgate:approve modgate/m-v2 --> w\n- [x] <!-- modgate:rebase --> in a pull request\n" +
		"- [x] <!-- modgate:unknown a --> ignored\n"
	got := ticked(body)
	for _, want := range []string{"rebase modgate/non-major", "retry 0123abcd", "approve modgate/m-v2", "rebase"} {
		if !got[want] {
			t.Errorf("ticked() lacks %q: %v", want, got)
		}
	}
	if len(got) != 4 {
		t.Errorf("ticked() = %v, want 4 boxes", got)
	}
}

func TestChecksReady(t *testing.T) {
	ck := func(name, state string) forge.Check { return forge.Check{Name: name, State: state} }
	verify := ck(verifyContext, "success")
	tests := []struct {
		name     string
		required []string
		checks   []forge.Check
		ok       bool
		why      string
	}{
		{"required passed", []string{"ci"}, []forge.Check{verify, ck("ci", "success")}, true, ""},
		{"required missing", []string{"ci"}, []forge.Check{verify}, false, "waiting for `ci`"},
		{"required pending", []string{"ci", "lint"}, []forge.Check{ck("ci", "pending"), ck("lint", "success")}, false, "waiting for `ci`"},
		{"a failing check blocks", []string{"ci"}, []forge.Check{ck("ci", "success"), ck("e2e", "failure")}, false, "check `e2e` failed"},
		{"none required: all must pass", nil, []forge.Check{verify, ck("ci", "pending")}, false, "waiting for `ci`"},
		{"none required: all passed", nil, []forge.Check{verify, ck("ci", "success")}, true, ""},
		{"none required, only the bot's own", nil, []forge.Check{verify}, false, "no check besides"},
		{"the bot's own, explicitly", []string{verifyContext}, []forge.Check{verify}, true, ""},
	}
	for _, tt := range tests {
		ok, why := checksReady(tt.required, tt.checks)
		if ok != tt.ok || !strings.Contains(why, tt.why) {
			t.Errorf("%s: checksReady = %v, %q; want %v, %q", tt.name, ok, why, tt.ok, tt.why)
		}
	}
}

func TestAutomergeRules(t *testing.T) {
	rc := &RepoConfig{Automerge: Automerge{Rules: []AutomergeRule{
		{Types: []string{typePatch}, Match: []string{"golang.org/x/..."}},
		{Security: true},
		{Match: []string{gomod.ToolchainPath}},
	}}}
	c := func(path, typ string, fixes ...string) candidate {
		return candidate{Update: gomod.Update{Path: path, From: "v1.0.0", NewPath: path, To: "v1.0.1"}, Type: typ, Fixes: fixes}
	}
	tc := candidate{Update: gomod.Update{Path: gomod.ToolchainPath, NewPath: gomod.ToolchainPath, Kind: gomod.KindToolchain}, Type: typeMinor}
	tests := []struct {
		name string
		us   []candidate
		want int
	}{
		{"patch of x/net", []candidate{c("golang.org/x/net", typePatch)}, 0},
		{"minor of x/net", []candidate{c("golang.org/x/net", typeMinor)}, -1},
		{"security fix", []candidate{c("example.com/m", typeMinor, "GO-1")}, 1},
		{"one member unmatched", []candidate{c("golang.org/x/net", typePatch), c("example.com/m", typePatch)}, -1},
		{"toolchain", []candidate{tc}, 2},
	}
	for _, tt := range tests {
		if got := rc.automerge(&group{Updates: tt.us}); got != tt.want {
			t.Errorf("%s: automerge = %d, want %d", tt.name, got, tt.want)
		}
	}
	if s := rc.Automerge.Rules[0].String(); s != "patch updates of golang.org/x/..." {
		t.Errorf("rule String() = %q", s)
	}
}

// TestPickFix: the fix is the lowest (or, with strategy highest, the
// newest) allowed version fixing the most vulnerabilities; denied lower
// fixes are reported.
func TestPickFix(t *testing.T) {
	v := func(ver string, allowed bool, ids ...string) api.Version {
		d := api.Decision{Allowed: allowed}
		if !allowed {
			d.Deny = []api.Violation{{Rule: "blocklist", Msg: "no"}}
		}
		if len(ids) > 0 {
			d.Warn = []api.Violation{{Rule: "vulnerabilities", IDs: ids}}
		}
		return api.Version{Version: ver, Decision: d}
	}
	rq := requirement{Path: "example.com/m", From: "v1.0.0"}
	versions := []api.Version{ // newest first
		v("v1.4.0", true), v("v1.3.0", true), v("v1.2.1", true, "GO-2"), v("v1.2.0", false), v("v1.1.0", true, "GO-1", "GO-2"),
	}
	tests := []struct {
		name     string
		strategy string
		closed   map[string]int
		want     string
		fixes    string
	}{
		{"lowest", fixLowest, nil, "v1.3.0", "[GO-1 GO-2]"},
		{"highest", fixHighest, nil, "v1.4.0", "[GO-1 GO-2]"},
		{"closed fix", fixLowest, map[string]int{"example.com/m@v1.3.0": 7}, "v1.4.0", "[GO-1 GO-2]"},
	}
	for _, tt := range tests {
		f := &findings{}
		tr := &track{req: rq, newPath: rq.Path, versions: versions}
		c, ok := pickFix(f, tr, rq, &RepoConfig{}, tt.closed, []string{"GO-1", "GO-2"}, tt.strategy)
		if !ok || c.To != tt.want || fmt.Sprint(c.Fixes) != tt.fixes {
			t.Errorf("%s: pickFix = %s %v %v, want %s %s", tt.name, c.To, c.Fixes, ok, tt.want, tt.fixes)
		}
		if tt.strategy == fixLowest && tt.closed == nil && (len(f.Refused) != 1 || f.Refused[0].Version != "v1.2.0") {
			t.Errorf("%s: refused = %+v, want the denied v1.2.0 fix", tt.name, f.Refused)
		}
	}
	// Only partial fixes: the one fixing the most wins.
	tr := &track{req: rq, newPath: rq.Path, versions: []api.Version{v("v1.2.0", true, "GO-2"), v("v1.1.0", true, "GO-1", "GO-2")}}
	c, ok := pickFix(&findings{}, tr, rq, &RepoConfig{}, nil, []string{"GO-1", "GO-2"}, fixLowest)
	if !ok || c.To != "v1.2.0" || fmt.Sprint(c.Unfixed) != "[GO-2]" {
		t.Errorf("partial: pickFix = %s fixes %v unfixed %v", c.To, c.Fixes, c.Unfixed)
	}
}

func TestParseToolchain(t *testing.T) {
	for _, tt := range []struct{ v, goV, plat string }{
		{"v0.0.1-go1.22.3.linux-amd64", "go1.22.3", "linux-amd64"},
		{"v0.0.1-go1.23rc1.darwin-arm64", "go1.23rc1", "darwin-arm64"},
		{"v0.0.1-go1.21.0.linux-armv6l", "go1.21.0", "linux-armv6l"},
	} {
		g, p, ok := parseToolchain(tt.v)
		if !ok || g != tt.goV || p != tt.plat {
			t.Errorf("parseToolchain(%s) = %s %s %v", tt.v, g, p, ok)
		}
	}
	if _, _, ok := parseToolchain("v1.0.0"); ok {
		t.Error("parseToolchain(v1.0.0) ok")
	}
	if stableRelease("go1.23rc1") || !stableRelease("go1.23.0") || goSemver("go1.22") != "v1.22.0" || goSemver("1.22.3") != "v1.22.3" {
		t.Error("stableRelease or goSemver wrong")
	}
}
