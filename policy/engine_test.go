package policy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/modgate/modgate/proxy"
)

const modM = "example.com/m"

const latestGoMod = `// Deprecated: use example.com/m/v2 instead.
module example.com/m

go 1.22

retract (
	v1.0.1 // published by mistake
	[v1.1.0, v1.1.2] // data race in the cache
)
`

func newFacts() *fakeFacts {
	return &fakeFacts{
		versions: map[string][]string{
			modM: {"v1.0.0", "v1.0.1", "v1.1.0", "v1.1.1", "v1.1.2", "v1.2.0", "v1.3.0-rc.1", "v1.3.0", "v2.0.0+incompatible"},
		},
		gomod: map[string]string{modM: latestGoMod},
		licenses: map[string][]License{
			modM + "@v1.2.0": {{ID: "MIT", File: "LICENSE"}},
			modM + "@v1.3.0": {},
		},
	}
}

func TestInputFacts(t *testing.T) {
	ctx := context.Background()
	vulns := &fakeVulns{}
	vulns.set("snap1", modM+"@v1.2.0", Vuln{ID: "GO-1", Reviewed: true, Fixed: "v1.3.0"})
	vulns.set("snap1", modM+"@v1.0.0", Vuln{ID: "GO-1", Reviewed: true, Fixed: "v1.3.0"})
	clk := &clock{t: t0}
	e := mustEngine(ctx, Options{Config: &Config{Cooldown: CooldownConfig{Days: 7}}, Facts: newFacts(), Vulns: vulns, Now: clk.now})

	tests := []struct {
		req  Request
		want func(Input) string // "" when fine
	}{
		{Request{Module: modM, Version: "v1.0.1", Kind: proxy.KindZip}, func(in Input) string {
			if !in.Retracted || in.RetractionRationale != "published by mistake" || in.Latest != "v1.3.0" {
				return "want retracted v1.0.1 with rationale from the v1.3.0 go.mod"
			}
			return ""
		}},
		{Request{Module: modM, Version: "v1.1.1", Kind: proxy.KindZip}, func(in Input) string {
			if !in.Retracted || in.RetractionRationale != "data race in the cache" {
				return "want v1.1.1 retracted by the range"
			}
			return ""
		}},
		{Request{Module: modM, Version: "v1.2.0", Kind: proxy.KindZip}, func(in Input) string {
			if in.Retracted || !in.Deprecated || in.Deprecation != "use example.com/m/v2 instead." {
				return "want not retracted, deprecated"
			}
			// v1.1.x are retracted, so the previous allowed version is v1.0.0.
			if in.Update != (Update{Previous: "v1.0.0", Type: "minor"}) {
				return "want minor update from v1.0.0"
			}
			if in.LicenseStatus != LicensesDetected || !reflect.DeepEqual(in.Licenses, []string{"MIT"}) {
				return "want MIT detected"
			}
			if len(in.Vulns) != 1 || in.VulnDB != "snap1" {
				return "want GO-1 from snap1"
			}
			return ""
		}},
		{Request{Module: modM, Version: "v1.3.0", Kind: proxy.KindZip}, func(in Input) string {
			// The release skips the pre-release when finding the previous version.
			if in.Update != (Update{Previous: "v1.2.0", Type: "minor"}) {
				return "want minor update from v1.2.0"
			}
			// GO-1 affects every older allowed version (v1.0.0, v1.2.0), not v1.3.0.
			if len(in.Fixes) != 1 || in.Fixes[0].ID != "GO-1" {
				return "want v1.3.0 to fix GO-1"
			}
			if in.LicenseStatus != LicensesNone {
				return "want no license detected"
			}
			return ""
		}},
		{Request{Module: modM, Version: "v1.3.0-rc.1", Kind: proxy.KindList}, func(in Input) string {
			if !in.Prerelease || in.Update != (Update{Previous: "v1.2.0", Type: "minor"}) || in.LicenseStatus != LicensesUnavailable {
				return "want a pre-release minor update, licenses unavailable"
			}
			return ""
		}},
		{Request{Module: modM, Version: "v2.0.0+incompatible", Kind: proxy.KindZip}, func(in Input) string {
			if !in.Incompatible || in.Update.Type != "major" {
				return "want +incompatible major update"
			}
			return ""
		}},
		{Request{Module: modM, Version: "v1.2.1-0.20250101000000-abcdefabcdef", Kind: proxy.KindZip}, func(in Input) string {
			if !in.Pseudo || in.Update != (Update{Previous: "v1.2.0", Type: "patch"}) {
				return "want pseudo-version patch update from v1.2.0"
			}
			return ""
		}},
		{Request{Module: "example.com/new", Version: "v0.1.0", Kind: proxy.KindZip}, func(in Input) string {
			if in.Update.Type != "initial" || in.Latest != "" || in.Retracted {
				return "want an initial version with no go.mod facts"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		in, err := e.Input(ctx, tt.req)
		if err != nil {
			t.Errorf("Input(%s@%s): %v", tt.req.Module, tt.req.Version, err)
			continue
		}
		if msg := tt.want(in); msg != "" {
			b, _ := json.MarshalIndent(in, "", "  ")
			t.Errorf("Input(%s@%s): %s; got\n%s", tt.req.Module, tt.req.Version, msg, b)
		}
	}
}

func TestFixesNotComputedOutsideCooldown(t *testing.T) {
	ctx := context.Background()
	vulns := &fakeVulns{snap: "s"}
	e := mustEngine(ctx, Options{Config: &Config{Cooldown: CooldownConfig{Days: 7}}, Facts: newFacts(), Vulns: vulns, Now: func() time.Time { return t0 }})
	if _, err := e.Input(ctx, Request{Module: modM, Version: "v1.3.0", FirstSeen: t0.Add(-8 * day)}); err != nil {
		t.Fatal(err)
	}
	if vulns.calls != 1 {
		t.Errorf("Vulns called %d times for a version past its cooldown, want 1 (its own)", vulns.calls)
	}
}

func TestDecideCooldownFlipsAndCaches(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	facts := newFacts()
	// A long TTL, so that only the cooldown's end expires the entry.
	cfg := &Config{Cooldown: CooldownConfig{Days: 7}, Cache: CacheConfig{TTL: 30 * day}}
	e := mustEngine(ctx, Options{Config: cfg, Facts: facts, Now: clk.now})
	req := Request{Module: modM, Version: "v1.2.0", Kind: proxy.KindZip, FirstSeen: t0.Add(-2 * day)}

	r1, err := e.Decide(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if rulesOf(r1.Deny) != "cooldown" || r1.Cached {
		t.Fatalf("Decide = deny %v cached %v, want a fresh cooldown deny", r1.Deny, r1.Cached)
	}
	if want := t0.Add(5 * day); !r1.ValidUntil.Equal(want) {
		t.Errorf("ValidUntil = %v, want %v", r1.ValidUntil, want)
	}
	// Without a decision log, cache hits carry no decision ID (IDs name
	// log lines; the proxy's hottest path skips making them).
	if r2, _ := e.Decide(ctx, req); !r2.Cached || rulesOf(r2.Deny) != "cooldown" || r2.DecisionID != "" {
		t.Errorf("second Decide: cached=%v deny=%v id=%q, want a cached deny without an ID", r2.Cached, r2.Deny, r2.DecisionID)
	}
	// One nanosecond before the cooldown ends, still cached and denied;
	// at the end, re-evaluated and allowed.
	clk.advance(5*day - 1)
	if r, _ := e.Decide(ctx, req); !r.Cached || r.Allowed() {
		t.Errorf("just before the end: cached=%v allowed=%v, want cached deny", r.Cached, r.Allowed())
	}
	clk.advance(1)
	r3, err := e.Decide(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if r3.Cached || !r3.Allowed() {
		t.Errorf("at the cooldown's end: cached=%v deny=%v, want a fresh allow", r3.Cached, r3.Deny)
	}
	if got := facts.loads.Load(); got != 1 {
		t.Errorf("module facts loaded %d times, want 1 (cached per module)", got)
	}
}

func TestDecideInvalidation(t *testing.T) {
	ctx := context.Background()
	vulns := &fakeVulns{}
	vulns.set("db-1", "x", Vuln{})
	facts := newFacts()
	e := mustEngine(ctx, Options{Facts: facts, Vulns: vulns, Now: func() time.Time { return t0 }})
	req := Request{Module: modM, Version: "v1.2.0", Kind: proxy.KindZip}
	if r, _ := e.Decide(ctx, req); !r.Allowed() || r.VulnDB != "db-1" {
		t.Fatalf("first Decide: %+v", r)
	}
	// A new DB snapshot with an entry for the version: the cached allow
	// must not be reused.
	vulns.set("db-2", modM+"@v1.2.0", Vuln{ID: "GO-9", Reviewed: true, Fixed: "v1.3.0"})
	r, err := e.Decide(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if r.Cached || rulesOf(r.Deny) != "vulnerabilities" || r.VulnDB != "db-2" {
		t.Fatalf("after snapshot change: cached=%v deny=%v db=%s", r.Cached, r.Deny, r.VulnDB)
	}
	// Kind is part of the key.
	if r, _ := e.Decide(ctx, Request{Module: modM, Version: "v1.2.0", Kind: proxy.KindInfo}); r.Cached {
		t.Error("info decision served from the zip decision's cache entry")
	}
	// Invalidate drops the module's decisions and facts: a new retraction
	// in the latest go.mod is seen.
	facts.gomod[modM] = latestGoMod + "retract v1.2.0 // oops\n"
	if r, _ := e.Decide(ctx, req); !r.Cached {
		t.Error("want cached before Invalidate")
	}
	e.Invalidate(modM)
	r, _ = e.Decide(ctx, req)
	if r.Cached || rulesOf(r.Deny) != "retracted,vulnerabilities" {
		t.Errorf("after Invalidate: cached=%v deny=%v, want fresh retracted+vulnerabilities", r.Cached, r.Deny)
	}
	// Reload with another config changes the digest and drops the cache.
	old := e.Digest()
	if err := e.Reload(ctx, &Config{RuleModes: map[string]Mode{"vulnerabilities": ModeAudit}}); err != nil {
		t.Fatal(err)
	}
	r, _ = e.Decide(ctx, req)
	if e.Digest() == old || r.Cached || r.Digest != e.Digest() || rulesOf(r.Audit) != "vulnerabilities" {
		t.Errorf("after Reload: digest %s (old %s), cached=%v audit=%v", e.Digest(), old, r.Cached, r.Audit)
	}
}

func TestDecideFailsClosed(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("upstream unavailable")
	tests := []struct {
		name string
		opts Options
	}{
		{"facts", Options{Facts: &fakeFacts{err: boom}}},
		{"vulns", Options{Vulns: &fakeVulns{err: boom}}},
		{"gomod", Options{Facts: &fakeFacts{versions: map[string][]string{modM: {"v1.0.0"}}, gomod: map[string]string{modM: "module example.com/m\nretract (\n"}}}},
	}
	for _, tt := range tests {
		e := mustEngine(ctx, tt.opts)
		_, err := e.Decide(ctx, Request{Module: modM, Version: "v1.0.0", Kind: proxy.KindZip})
		if err == nil || !strings.Contains(err.Error(), "example.com/m@v1.0.0: ") {
			t.Errorf("%s: Decide error = %v, want one naming example.com/m@v1.0.0", tt.name, err)
		}
	}
}

func TestDecider(t *testing.T) {
	ctx := context.Background()
	facts := newFacts()
	tests := []struct {
		serve bool
		kind  proxy.Kind
		deny  bool
	}{
		{true, proxy.KindInfo, false},
		{true, proxy.KindMod, false},
		{true, proxy.KindZip, true},
		{true, proxy.KindList, true},
		{false, proxy.KindInfo, true},
		{false, proxy.KindMod, true},
	}
	for _, tt := range tests {
		e := mustEngine(ctx, Options{Config: &Config{ServeInfoModWhenDenied: ptr(tt.serve)}, Facts: facts})
		q := proxy.Query{Module: modM, Version: "v1.0.1", Kind: tt.kind}
		if !tt.deny {
			// Cold: module facts not loaded yet. A decision that can
			// only warn is answered at once, without waiting for them.
			d, err := e.Decider().Decide(ctx, q)
			if err != nil || !d.Allowed() || len(d.Warn) != 0 {
				t.Errorf("serve=%v kind=%s cold: %+v, %v; want an immediate allow", tt.serve, tt.kind, d, err)
			}
			if _, err := e.facts.get(ctx, modM); err != nil {
				t.Fatal(err)
			}
		}
		d, err := e.Decider().Decide(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed() == tt.deny {
			t.Errorf("serve=%v kind=%s: allowed=%v, want %v", tt.serve, tt.kind, d.Allowed(), !tt.deny)
		}
		if !tt.deny && (len(d.Warn) != 2 || d.Warn[1].Rule != "retracted" || !strings.HasPrefix(d.Warn[1].Msg, "denied for download: ")) {
			t.Errorf("serve=%v kind=%s: warn=%v, want the deny as a warning", tt.serve, tt.kind, d.Warn)
		}
	}
}

func TestDecisionLogAndMetrics(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	reg := prometheus.NewRegistry()
	e := mustEngine(ctx, Options{
		Config:      &Config{Pseudo: ActionWarn},
		Facts:       newFacts(),
		DecisionLog: &buf,
		Registerer:  reg,
		Now:         func() time.Time { return t0 },
	})
	for _, req := range []Request{
		{Module: modM, Version: "v1.0.1", Kind: proxy.KindZip, Client: "alice"},
		{Module: modM, Version: "v1.0.1", Kind: proxy.KindZip, Client: "bob"},
		{Module: modM, Version: "v1.2.1-0.20250101000000-abcdefabcdef", Kind: proxy.KindZip},
	} {
		if _, err := e.Decide(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	var lines []map[string]any
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("decision log line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 3 {
		t.Fatalf("decision log has %d lines, want 3", len(lines))
	}
	for _, k := range []string{"decision_id", "path", "input", "result", "bundles", "timestamp", "requested_by", "vulndb_snapshot"} {
		if _, ok := lines[0][k]; !ok {
			t.Errorf("decision log line lacks %q: %v", k, lines[0])
		}
	}
	if lines[0]["requested_by"] != "alice" || lines[1]["requested_by"] != "bob" || lines[1]["cached"] != true {
		t.Errorf("requested_by/cached wrong: %v / %v", lines[0]["requested_by"], lines[1])
	}
	if rev := lines[0]["bundles"].(map[string]any)["modgate"].(map[string]any)["revision"]; rev != e.Digest() {
		t.Errorf("bundle revision %v, want %s", rev, e.Digest())
	}
	res := lines[0]["result"].(map[string]any)
	if res["allowed"] != false || len(res["deny"].([]any)) != 1 {
		t.Errorf("result = %v, want one deny", res)
	}
	if in := lines[0]["input"].(map[string]any); in["version"] != "v1.0.1" || in["retracted"] != true {
		t.Errorf("input = %v", in)
	}

	if got := counterValue(e.metrics.decisions.WithLabelValues("zip", "deny")); got != 2 {
		t.Errorf("deny decisions = %v, want 2", got)
	}
	if got := counterValue(e.metrics.violations.WithLabelValues("retracted", "deny")); got != 2 {
		t.Errorf("retracted denies = %v, want 2 (one cached)", got)
	}
	if got := counterValue(e.metrics.violations.WithLabelValues("pseudo", "warn")); got != 1 {
		t.Errorf("pseudo warns = %v, want 1", got)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]int{}
	for _, mf := range mfs {
		found[mf.GetName()] = len(mf.GetMetric())
	}
	if found["modgate_policy_cache_lookups_total"] != 2 || found["modgate_policy_decisions_total"] == 0 || found["modgate_policy_evaluation_seconds"] != 1 {
		t.Errorf("registered metrics = %v", found)
	}
}

func TestCustomRulesAndBundle(t *testing.T) {
	ctx := context.Background()
	cfg, err := LoadConfig("../testdata/policy/modgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	facts := &fakeFacts{anyLicense: []License{{ID: "MIT"}}}
	e := mustEngine(ctx, Options{Config: cfg, Facts: facts, Now: func() time.Time { return t0 }})
	tests := []struct {
		req        Request
		deny, warn string
	}{
		{Request{Module: "acme.example/x", Version: "v0.0.0-20250101000000-abcdefabcdef", Kind: proxy.KindZip}, "acme,cooldown", "pseudo"},
		{Request{Module: "example.com/left-pad", Version: "v1.0.0", Kind: proxy.KindZip, FirstSeen: t0.Add(-60 * day)}, "banned", ""},
		{Request{Module: "github.com/pkg/errors", Version: "v0.9.1", Kind: proxy.KindZip, FirstSeen: t0.Add(-60 * day)}, "blocklist", ""},
		{Request{Module: "example.com/old/sub", Version: "v1.3.9", Kind: proxy.KindZip, FirstSeen: t0.Add(-60 * day)}, "blocklist", ""},
		{Request{Module: "example.com/old/sub", Version: "v1.4.0", Kind: proxy.KindZip, FirstSeen: t0.Add(-60 * day)}, "", ""},
		// Custom rules that read input.client make the cache per client.
		{Request{Module: "example.com/y", Version: "v1.0.0-rc.1", Kind: proxy.KindZip, FirstSeen: t0.Add(-60 * day), Client: "ci-bot"}, "", "acme.prerelease"},
		{Request{Module: "example.com/y", Version: "v1.0.0-rc.1", Kind: proxy.KindZip, FirstSeen: t0.Add(-60 * day), Client: "alice"}, "", ""},
	}
	for _, tt := range tests {
		r, err := e.Decide(ctx, tt.req)
		if err != nil {
			t.Fatal(err)
		}
		if rulesOf(r.Deny) != tt.deny || rulesOf(r.Warn) != tt.warn {
			t.Errorf("Decide(%s@%s) = deny %v warn %v, want rules deny %q warn %q", tt.req.Module, tt.req.Version, r.Deny, r.Warn, tt.deny, tt.warn)
		}
	}
	if !e.state.Load().byClient {
		t.Error("custom rule reads input.client but the cache is not per client")
	}
	if rev := e.state.Load().bundles["../testdata/policy/bundle"]; rev != "banned-2025-01" {
		t.Errorf("bundle revision = %q, want banned-2025-01", rev)
	}
	plain := mustEngine(ctx, Options{})
	if plain.state.Load().byClient {
		t.Error("built-in rules do not read input.client, yet the cache is per client")
	}
}

func TestUserRegoTests(t *testing.T) {
	sum, err := RunTests(context.Background(), TestOptions{Paths: []string{"../testdata/policy/custom"}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Pass != 2 || !sum.OK() {
		t.Errorf("RunTests(custom) = %+v, want 2 passing", sum)
	}
}

func TestInvalidPolicyRefused(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, src, want string
	}{
		{"syntax", "package modgate.rules.x\n\ndeny contains msg if {\n", "x.rego:4: rego_parse_error"},
		{"undefined ref", "package modgate.rules.x\n\ndeny contains msg if {\n\tmsg := nosuchfunc(input.module)\n}\n", "x.rego:4: rego_type_error: undefined function nosuchfunc"},
		{"clock", "package modgate.rules.x\n\ndeny contains \"late\" if time.now_ns() > 0\n", "undefined function time.now_ns"},
		{"http", "package modgate.rules.x\n\ndeny contains \"x\" if http.send({\"method\": \"GET\", \"url\": \"http://127.0.0.1\"})\n", "undefined function http.send"},
		{"aggregator", "package modgate\n\ndeny contains {\"rule\": \"x\", \"msg\": \"m\"}\n", "package data.modgate is reserved"},
		{"lib", "package modgate.lib\n\nx := 1\n", "reserved"},
		{"wrong package", "package main\n\ndeny contains \"x\" if input.pseudo\n", "x.rego:3: rego_compile_error: rule deny in package data.main is never evaluated"},
		{"nested package", "package modgate.rules.acme.sub\n\nwarn contains \"x\" if true\n", "never evaluated"},
		{"type", "package modgate.rules.x\n\nv := 1 + \"a\"\n", "x.rego:3: rego_type_error"},
		{"complete deny", "package modgate.rules.x\n\ndeny := \"oops\"\n", "x.rego:3: rego_compile_error: rule deny in package data.modgate.rules.x must be a partial set"},
		{"recursion", "package modgate.rules.x\n\ndeny contains m if { some m in data.modgate.decision.deny }\n", "recursion"},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "x.rego"), []byte(tt.src), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := NewEngine(ctx, Options{Config: &Config{Paths: []string{dir}}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: NewEngine error = %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
	if _, err := NewEngine(ctx, Options{Config: &Config{Paths: []string{"/nonexistent/policy"}}}); err == nil {
		t.Error("NewEngine with a missing policy path succeeded")
	}
	if _, err := NewEngine(ctx, Options{Config: &Config{Mode: "strict"}}); err == nil || !strings.Contains(err.Error(), "mode:") {
		t.Errorf("NewEngine with a bad mode: %v", err)
	}
}

func TestReloadKeepsPolicyOnError(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	file := filepath.Join(dir, "x.rego")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("package modgate.rules.x\n\ndeny contains \"no\" if input.module == \"example.com/no\"\n")
	e := mustEngine(ctx, Options{Config: &Config{Paths: []string{dir}}, Now: func() time.Time { return t0 }})
	req := Request{Module: "example.com/no", Version: "v1.0.0", Kind: proxy.KindZip}
	if r, _ := e.Decide(ctx, req); rulesOf(r.Deny) != "x" {
		t.Fatalf("deny = %v", r.Deny)
	}
	d := e.Digest()
	write("package modgate.rules.x\n\ndeny contains \"no\" if {\n")
	if err := e.Reload(ctx, nil); err == nil {
		t.Fatal("Reload of a broken policy succeeded")
	}
	if e.Digest() != d {
		t.Error("failed Reload replaced the policy")
	}
	write("package modgate.rules.x\n\nwarn contains \"no\" if input.module == \"example.com/no\"\n")
	if err := e.Reload(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.Decide(ctx, req); !r.Allowed() || rulesOf(r.Warn) != "x" || r.Cached {
		t.Errorf("after reload: %+v", r)
	}
}

// TestInputValueMatchesJSON keeps the hand-built OPA value in step with
// the documented JSON form.
func TestInputValueMatchesJSON(t *testing.T) {
	in := Input{
		Module: modM, Version: "v1.2.3-rc.1", Kind: proxy.KindZip,
		Time: t0.Add(-time.Hour), FirstSeen: t0.Add(-time.Minute), Now: t0,
		Prerelease: true, Update: Update{"v1.2.2", "patch"}, Latest: "v1.3.0",
		Retracted: true, RetractionRationale: "r", Deprecated: true, Deprecation: "d",
		Vulns:    []Vuln{{ID: "GO-1", Aliases: []string{"CVE-1"}, Summary: "s", Reviewed: true, Fixed: "v1.2.4"}, {ID: "GO-2"}},
		Licenses: []string{"MIT"}, LicenseStatus: LicensesDetected, Client: "c", VulnDB: "db",
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ast.ValueFromReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got := in.value(); got.Compare(want) != 0 {
		t.Errorf("value() = %v\nwant      %v", got, want)
	}
	var back Input
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if b2, _ := json.Marshal(back); !bytes.Equal(b, b2) {
		t.Errorf("JSON round trip changed the input:\n%s\n%s", b, b2)
	}
}

// TestRegoFixturesMatchGo keeps the Rego tests' zero configuration in step
// with what Config.normalize stores.
func TestRegoFixturesMatchGo(t *testing.T) {
	ctx := context.Background()
	set, err := loadPolicies(nil, true, true)
	if err != nil {
		t.Fatal(err)
	}
	var mods []func(*rego.Rego)
	for _, f := range set.files {
		mods = append(mods, rego.ParsedModule(f.parsed))
	}
	rs, err := rego.New(append(mods, rego.Query("data.modgate_test.fixtures.cfg_base"))...).Eval(ctx)
	if err != nil || len(rs) != 1 {
		t.Fatalf("eval cfg_base: %v %v", rs, err)
	}
	doc, err := (&Config{}).normalize()
	if err != nil {
		t.Fatal(err)
	}
	var want any
	b, _ := json.Marshal(doc)
	_ = json.Unmarshal(b, &want)
	var got any
	b, _ = json.Marshal(rs[0].Expressions[0].Value)
	_ = json.Unmarshal(b, &got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fixtures cfg_base = %v\nnormalize()      = %v", got, want)
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// TestReadmeExample keeps the custom rule in README.md (copied to
// testdata/policy/readme) compiling, passing its test and deciding as
// documented.
func TestReadmeExample(t *testing.T) {
	ctx := context.Background()
	dir := "../testdata/policy/readme"
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"internal.rego", "internal_test.rego"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(readme, b) {
			t.Errorf("README.md does not contain %s verbatim", name)
		}
	}
	sum, err := RunTests(ctx, TestOptions{Paths: []string{dir}})
	if err != nil || sum.Pass != 1 || !sum.OK() {
		t.Fatalf("RunTests(readme) = %+v, %v", sum, err)
	}
	e := mustEngine(ctx, Options{Config: &Config{Paths: []string{dir}}, Now: func() time.Time { return t0 }})
	in := Input{Module: "git.example.com/x", Version: "v2.0.0", Kind: proxy.KindZip, Now: t0, FirstSeen: t0.Add(-10 * day), Update: Update{"v1.9.0", "major"}}
	r, err := e.Evaluate(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if rulesOf(r.Warn) != "internal" || !r.ValidUntil.Equal(t0.Add(50*day)) {
		t.Errorf("README example: warn %v valid until %v", r.Warn, r.ValidUntil)
	}
}

// TestConcurrentDecide runs decisions, reloads and invalidations at once;
// run with -race.
func TestConcurrentDecide(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	vulns := &fakeVulns{}
	vulns.set("s1", modM+"@v1.0.0", Vuln{ID: "GO-1", Reviewed: true, Fixed: "v1.2.0"})
	var logBuf bytes.Buffer
	e := mustEngine(ctx, Options{Config: &Config{Cooldown: CooldownConfig{Days: 3}}, Facts: newFacts(), Vulns: vulns, Now: clk.now, DecisionLog: &logBuf, Registerer: prometheus.NewRegistry()})
	versions := newFacts().versions[modM]
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				v := versions[(i+g)%len(versions)]
				r, err := e.Decider().Decide(ctx, proxy.Query{Module: modM, Version: v, Kind: proxy.KindList, FirstSeen: t0.Add(-time.Duration(i%5) * day)})
				if err != nil {
					t.Error(err)
					return
				}
				if v == "v1.0.1" && r.Allowed() {
					t.Errorf("retracted %s allowed", v)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			e.Invalidate(modM)
			vulns.set(fmt.Sprintf("s%d", i), "x")
			days := 3 + i%2
			if err := e.Reload(ctx, &Config{Cooldown: CooldownConfig{Days: days}}); err != nil {
				t.Error(err)
			}
			clk.advance(time.Hour)
		}
	})
	wg.Wait()
	if n := bytes.Count(logBuf.Bytes(), []byte("\n")); n != 800 {
		t.Errorf("decision log has %d lines, want 800", n)
	}
}
