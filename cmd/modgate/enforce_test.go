package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modgate/modgate/proxy/proxytest"
)

// gateClock is a settable clock shared by the proxy and the policy engine.
type gateClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *gateClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *gateClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// enforcing is modgate's real server wiring (policy engine, vulnerability
// database, proxy) in front of the hermetic upstream.
type enforcing struct {
	up    *proxytest.Upstream
	url   string
	clock *gateClock
	out   *bytes.Buffer // stdout: the decision log with decision_log "-"
	// cfgFile is the configuration the server runs with; other commands
	// given it decide with the same policy, database and cache.
	cfgFile string
	srv     *server
}

// startEnforcing serves modgate with the given policy YAML (the body of
// the config's policy section) and the fixture vulnerability database.
func startEnforcing(t *testing.T, policyYAML string) *enforcing {
	t.Helper()
	return startEnforcingVia(t, policyYAML, nil)
}

// startEnforcingVia is startEnforcing with the upstream behind wrap.
func startEnforcingVia(t *testing.T, policyYAML string, wrap func(http.Handler) http.Handler) *enforcing {
	t.Helper()
	return startEnforcingOpts(t, enforceOptions{policy: policyYAML, wrap: wrap})
}

// enforceOptions configure startEnforcingOpts.
type enforceOptions struct {
	policy string                          // body of the policy section
	wrap   func(http.Handler) http.Handler // in front of the upstream
	osv    []string                        // more OSV directories
	extra  string                          // more top-level configuration
	up     *proxytest.Upstream             // nil: a new one with the fixtures
}

// startEnforcingOpts is startEnforcing with options.
func startEnforcingOpts(t *testing.T, o enforceOptions) *enforcing {
	t.Helper()
	up := o.up
	if up == nil {
		up = proxytest.New(t, proxytest.Fixtures(t))
	}
	upURL := up.URL
	if o.wrap != nil {
		ws := httptest.NewServer(o.wrap(up))
		t.Cleanup(ws.Close)
		upURL = ws.URL
	}
	osv, err := filepath.Abs(filepath.Join("..", "..", "testdata", "check", "osv"))
	if err != nil {
		t.Fatal(err)
	}
	dirs := append([]string{osv}, o.osv...)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "modgate.yaml")
	yaml := "upstream: " + upURL + "\nsumdb: " + up.SumDBKey + "\nstorage_dir: " + filepath.Join(dir, "cache") +
		"\nlist_ttl: 1ns\naccess_log: false\n" + o.extra + "vulndb:\n  source: none\n  extra: [" + strings.Join(dirs, ", ") + "]\n  refresh: \"off\"\npolicy:\n" + o.policy
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	app, out, errb := testApp()
	ctx := context.Background()
	cfg, ge, _, err := loadServeConfig(ctx, app, "serve", []string{"--config", cfgFile})
	if err != nil {
		t.Fatalf("config: %v\n%s", err, errb)
	}
	clock := &gateClock{t: time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)}
	srv, err := newServerClock(ctx, app, cfg, ge, clock.Now)
	if err != nil {
		t.Fatalf("newServer: %v\n%s", err, errb)
	}
	if err := srv.core.vulns.Refresh(ctx); err != nil {
		t.Fatalf("loading the vulnerability database: %v", err)
	}
	hs := httptest.NewServer(srv.handler)
	t.Cleanup(func() { hs.Close(); srv.core.close() })
	return &enforcing{up: up, url: hs.URL, clock: clock, out: out, cfgFile: cfgFile, srv: srv}
}

// goenv returns a fresh go command environment (empty module cache).
func (e *enforcing) goenv(t *testing.T) []string {
	env := e.up.GoEnv(t, e.url)
	for i, kv := range env {
		if strings.HasPrefix(kv, "GOSUMDB=") {
			env[i] = "GOSUMDB=" + e.up.SumDBKey + " " + e.url + "/sumdb/" + e.up.SumDBName
		}
	}
	return env
}

// run runs the go command in a new module requiring reqs.
func (e *enforcing) run(t *testing.T, gomod string, args ...string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	if gomod == "" {
		gomod = "module example.com/user\n\ngo 1.21\n"
	}
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644)
	cmd := exec.Command("go", args...)
	cmd.Dir, cmd.Env = dir, e.goenv(t)
	out, err := cmd.CombinedOutput()
	if err == nil && args[0] == "get" {
		data, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
		out = append(out, data...)
	}
	return string(out), err
}

const blockNewVulnlib = `  lists:
    blocked:
      - module: example.com/vulnlib
        versions: ">= v1.1.0"
        reason: v1.1.x is under review
        recommendation: example.com/vulnlib@v1.0.1
`

func TestEnforceWithGoCommand(t *testing.T) {
	e := startEnforcing(t, blockNewVulnlib)

	// A vulnerable version: the go command prints modgate's reason.
	out, err := e.run(t, "", "get", "example.com/vulnlib@v1.0.0")
	if err == nil {
		t.Fatalf("go get example.com/vulnlib@v1.0.0 succeeded:\n%s", out)
	}
	for _, want := range []string{"403 Forbidden", "GO-2099-0101", "CVE-2099-0101", "v1.0.1"} {
		if !strings.Contains(out, want) {
			t.Errorf("go get output lacks %q:\n%s", want, out)
		}
	}
	t.Logf("denied go get output:\n%s", out)

	// @latest lands on the newest allowed version: v1.1.0 is blocked,
	// v1.0.0 is vulnerable.
	out, err = e.run(t, "", "get", "example.com/vulnlib@latest")
	if err != nil || !strings.Contains(out, "example.com/vulnlib v1.0.1") {
		t.Errorf("go get @latest = %v, want v1.0.1:\n%s", err, out)
	}
	// go get -u from a denied version moves to the newest allowed one.
	out, err = e.run(t, "module example.com/user\n\ngo 1.21\n\nrequire example.com/vulnlib v1.0.0\n", "get", "-u", "example.com/vulnlib")
	if err != nil || !strings.Contains(out, "example.com/vulnlib v1.0.1") {
		t.Errorf("go get -u = %v, want v1.0.1:\n%s", err, out)
	}
	// Lists offer only allowed versions.
	out, err = e.run(t, "", "list", "-m", "-versions", "example.com/vulnlib")
	if err != nil || strings.TrimSpace(out) != "example.com/vulnlib v1.0.1" {
		t.Errorf("go list -m -versions = %v %q, want only v1.0.1", err, out)
	}
	// The block list's reason and recommendation reach the user.
	out, _ = e.run(t, "", "get", "example.com/vulnlib@v1.1.0")
	if !strings.Contains(out, "under review") || !strings.Contains(out, "example.com/vulnlib@v1.0.1") {
		t.Errorf("blocked version output lacks the reason or recommendation:\n%s", out)
	}

	// A retracted latest is skipped by @latest.
	e.up.Add(proxytest.Module{Path: "example.com/retracted", Version: "v1.2.0",
		GoMod: []byte("module example.com/retracted\n\ngo 1.21\n\nretract v1.2.0 // published by mistake\n"),
		Files: map[string]string{"r.go": "package retracted\n"}})
	out, err = e.run(t, "", "get", "example.com/retracted@latest")
	if err != nil || !strings.Contains(out, "example.com/retracted v1.1.0") {
		t.Errorf("go get retracted@latest = %v, want v1.1.0:\n%s", err, out)
	}
}

func TestWaiverUntilExpiry(t *testing.T) {
	e := startEnforcing(t, `  waivers:
    - module: example.com/vulnlib
      versions: "v1.0.0"
      rules: [vulnerabilities]
      reason: patched in our fork of the caller
      owner: platform-team
      expires: 2025-06-01
`)
	out, err := e.run(t, "", "get", "example.com/vulnlib@v1.0.0")
	if err != nil {
		t.Fatalf("go get with an active waiver failed:\n%s", out)
	}
	e.clock.Set(time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC))
	out, err = e.run(t, "", "get", "example.com/vulnlib@v1.0.0")
	if err == nil || !strings.Contains(out, "GO-2099-0101") {
		t.Errorf("go get after the waiver expired = %v, want denial:\n%s", err, out)
	}
}

func TestAuditModeServesAndLogs(t *testing.T) {
	e := startEnforcing(t, "  mode: audit\n  decision_log: \"-\"\n")
	out, err := e.run(t, "", "get", "example.com/vulnlib@v1.0.0")
	if err != nil {
		t.Fatalf("go get in audit mode failed:\n%s", out)
	}
	found := false
	for _, line := range strings.Split(e.out.String(), "\n") {
		var entry struct {
			DecisionID string `json:"decision_id"`
			Input      struct {
				Module, Version, Kind string
			} `json:"input"`
			Result struct {
				Deny  []any                        `json:"deny"`
				Audit []struct{ Rule, Msg string } `json:"audit"`
			} `json:"result"`
		}
		if json.Unmarshal([]byte(line), &entry) != nil || entry.DecisionID == "" {
			continue
		}
		if len(entry.Result.Deny) != 0 {
			t.Errorf("audit mode denied: %s", line)
		}
		for _, a := range entry.Result.Audit {
			if a.Rule == "vulnerabilities" && strings.Contains(a.Msg, "GO-2099-0101") && strings.Contains(line, "v1.0.0") && strings.Contains(line, `"zip"`) {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("decision log has no would-deny record for the vulnlib v1.0.0 zip:\n%s", e.out.String())
	}
}

// TestUpstreamRefusingListsStillServes: an upstream that answers 403 for a
// module's list (as some do) while serving its versions must not make the
// policy fail closed on every version of that module.
func TestUpstreamRefusingListsStillServes(t *testing.T) {
	e := startEnforcingVia(t, "", func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/example.com/hello/@v/list" {
				http.Error(w, "This module version is not available.", http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	out, err := e.run(t, "", "mod", "download", "-json", "example.com/hello@v1.1.0")
	if err != nil {
		t.Fatalf("go mod download with a list-refusing upstream: %v\n%s", err, out)
	}
}

// TestCooldownFromColdCache: with a cooldown on a fresh proxy, versions
// that already existed when modgate first saw a module are aged by their
// .info time (so a year-old release is served at once), a version that
// appears later is aged from when modgate first saw it (whatever its .info
// time says), and @latest resolves to the newest version old enough.
func TestCooldownFromColdCache(t *testing.T) {
	e := startEnforcing(t, "  cooldown:\n    days: 7\n")
	now := e.clock.Now()
	// example.com/fresh: v0.9.0 is old, v1.0.0 was released yesterday,
	// both before modgate ever saw the module.
	for _, m := range []struct {
		v string
		t time.Time
	}{{"v0.9.0", now.AddDate(0, -6, 0)}, {"v1.0.0", now.Add(-24 * time.Hour)}} {
		e.up.Add(proxytest.Module{Path: "example.com/fresh", Version: m.v, Time: m.t,
			GoMod: []byte("module example.com/fresh\n\ngo 1.21\n"), Files: map[string]string{"f.go": "package fresh\n"}})
	}

	out, err := e.run(t, "", "list", "-m", "-versions", "example.com/hello")
	if err != nil || strings.TrimSpace(out) != "example.com/hello v1.0.0 v1.1.0 v1.2.0 v1.3.0-pre" {
		t.Errorf("cold go list -m -versions hello = %v %q, want every (old) version", err, out)
	}
	out, err = e.run(t, "", "get", "example.com/hello@v1.1.0")
	if err != nil {
		t.Errorf("go get of a year-old release from a cold cache = %v:\n%s", err, out)
	}

	// A version released yesterday, already there at first contact: aged
	// by its .info time.
	out, err = e.run(t, "", "get", "example.com/fresh@v1.0.0")
	if err == nil || !strings.Contains(out, "cooldown: example.com/fresh@v1.0.0 is too new: released") || !strings.Contains(out, "fix: go get example.com/fresh@v0.9.0") {
		t.Errorf("go get of a day-old version = %v, want a cooldown denial naming v0.9.0:\n%s", err, out)
	}
	e.up.ResetCounts()
	out, err = e.run(t, "", "get", "example.com/fresh@latest")
	if err != nil || !strings.Contains(out, "example.com/fresh v0.9.0") {
		t.Errorf("go get fresh@latest = %v, want v0.9.0 (the newest old enough):\n%s", err, out)
	}

	// A version published after modgate listed the module, backdated by
	// its author: aged from when modgate first saw it.
	e.up.Add(proxytest.Module{Path: "example.com/hello", Version: "v1.4.0", Time: now.AddDate(-3, 0, 0),
		GoMod: []byte("module example.com/hello\n\ngo 1.21\n"), Files: map[string]string{"hello.go": "package hello\n"}})
	out, err = e.run(t, "", "get", "example.com/hello@v1.4.0")
	if err == nil || !strings.Contains(out, "first seen") {
		t.Errorf("go get of a backdated new version = %v, want a cooldown denial from first sight:\n%s", err, out)
	}
	if out, _ := e.run(t, "", "list", "-m", "-versions", "example.com/hello"); strings.Contains(out, "v1.4.0") {
		t.Errorf("list offers the cooling v1.4.0: %q", out)
	}
	e.clock.Set(now.Add(8 * 24 * time.Hour))
	out, err = e.run(t, "", "get", "example.com/hello@latest")
	if err != nil || !strings.Contains(out, "example.com/hello v1.4.0") {
		t.Errorf("after the cooldown, go get hello@latest = %v, want v1.4.0:\n%s", err, out)
	}
}

// TestCooldownUnknownRelease: a version whose .info the upstream refuses
// is decided as configured, and the message says so.
func TestCooldownUnknownRelease(t *testing.T) {
	for _, tc := range []struct {
		mode  string
		allow bool
	}{{"new", false}, {"old", true}} {
		t.Run(tc.mode, func(t *testing.T) {
			e := startEnforcingVia(t, "  cooldown:\n    days: 7\n    unknown_release: "+tc.mode+"\n", func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/example.com/hello/@v/v1.1.0.info" {
						http.Error(w, "not available", http.StatusForbidden)
						return
					}
					h.ServeHTTP(w, r)
				})
			})
			q := "/api/v1/decisions"
			body := `{"modules":[{"path":"example.com/hello","version":"v1.1.0"}]}`
			resp, err := http.Post(e.url+q, "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var dr struct {
				Decisions []struct {
					Allowed bool
					Deny    []struct{ Rule, Msg string }
				}
			}
			if err := json.NewDecoder(resp.Body).Decode(&dr); err != nil || len(dr.Decisions) != 1 {
				t.Fatalf("decision API: %v %+v", err, dr)
			}
			d := dr.Decisions[0]
			if d.Allowed != tc.allow {
				t.Errorf("unknown_release %s: allowed = %v, want %v (%+v)", tc.mode, d.Allowed, tc.allow, d)
			}
			if !tc.allow && (len(d.Deny) != 1 || !strings.Contains(d.Deny[0].Msg, "treated as new (cooldown.unknown_release: new)")) {
				t.Errorf("unknown_release new: deny = %+v, want the reason", d.Deny)
			}
		})
	}
}

// TestDecisionLogOneRecordPerList: `go list -m -versions` writes one
// decision log record for the list, naming its candidates, not one per
// version (the go command's other requests, the latest version's .info
// and .mod, get one each).
func TestDecisionLogOneRecordPerList(t *testing.T) {
	e := startEnforcing(t, "  decision_log: \"-\"\n")
	if out, err := e.run(t, "", "list", "-m", "-versions", "example.com/hello"); err != nil {
		t.Fatalf("go list -m -versions: %v\n%s", err, out)
	}
	e.srv.logs.Flush()
	var lists, others int
	for _, line := range strings.Split(strings.TrimSpace(e.out.String()), "\n") {
		var rec struct {
			Kind       string `json:"kind"`
			Module     string `json:"module"`
			Candidates struct {
				Allowed []string `json:"allowed"`
			} `json:"candidates"`
			Input struct{ Kind string } `json:"input"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("decision log line %q: %v", line, err)
		}
		switch {
		case rec.Kind == "list" && rec.Module == "example.com/hello":
			lists++
			if len(rec.Candidates.Allowed) != 4 {
				t.Errorf("list record allows %v, want the 4 listed versions", rec.Candidates.Allowed)
			}
		case rec.Input.Kind == "list":
			others++ // a record per candidate
		}
	}
	if lists != 1 || others != 0 {
		t.Errorf("decision log has %d list records and %d per-candidate records for one go list -m -versions, want 1 and 0:\n%s", lists, others, e.out)
	}
}

// TestDecisionsForUnknownModules: one decision-API call for modules the
// upstream does not know costs one upstream request per module (its
// list), and each gets a verdict saying so.
func TestDecisionsForUnknownModules(t *testing.T) {
	e := startEnforcing(t, "")
	const n = 50
	var mods []string
	for i := range n {
		mods = append(mods, fmt.Sprintf(`{"path":"example.com/unknown/m%d","version":"v1.0.0"}`, i))
	}
	resp, err := http.Post(e.url+"/api/v1/decisions", "application/json", strings.NewReader(`{"modules":[`+strings.Join(mods, ",")+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var dr struct{ Decisions []json.RawMessage }
	if err := json.NewDecoder(resp.Body).Decode(&dr); err != nil || len(dr.Decisions) != n {
		t.Fatalf("decision API: %d %v, %d decisions", resp.StatusCode, err, len(dr.Decisions))
	}
	total := 0
	for p, c := range e.up.Counts() {
		if strings.Contains(p, "/unknown/") {
			total += c
			if !strings.HasSuffix(p, "/@v/list") {
				t.Errorf("upstream asked %s (%d times); only the list is needed for an unknown module", p, c)
			}
		}
	}
	if total != n {
		t.Errorf("upstream requests for %d unknown modules = %d, want %d", n, total, n)
	}
	t.Logf("first decision: %s", dr.Decisions[0])
}
