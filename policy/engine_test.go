package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/module"

	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/facts"
	"github.com/modgate/modgate/proxy/facts/factstest"
)

func TestInputFacts(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t)
	addModM(env.src, old)
	// v1.3.0 was released yesterday, inside the cooldown, so its fix
	// exception is computed.
	env.src.Add(modM, "v1.3.0", t0.Add(-day), latestGoMod)
	env.setVulns(t, "snap1", factstest.Vuln{ID: "GO-1", Module: modM, Fixed: "v1.3.0"})
	env.licensed(modM, "v1.2.0", "MIT")
	env.licensed(modM, "v1.3.0")
	e := env.engine(t, Options{Config: &Config{Cooldown: CooldownConfig{Days: 7}}})

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
			if len(in.Vulns) != 1 || in.Vulns[0].ID != "GO-1" || in.Vulns[0].Fixed != "v1.3.0" || !in.Vulns[0].Reviewed || in.VulnDB != "snap1" {
				return "want GO-1 (reviewed, fixed in v1.3.0) from snap1"
			}
			// In modgate's first listing, released long ago.
			if !in.Initial || in.ReleaseBasis != facts.BasisInfo || !in.Released.Equal(old) || !in.Time.Equal(old) {
				return "want an initial version released at its .info time"
			}
			return ""
		}},
		{Request{Module: modM, Version: "v1.3.0", Kind: proxy.KindZip}, func(in Input) string {
			// The release skips the pre-release when finding the previous version.
			if in.Update != (Update{Previous: "v1.2.0", Type: "minor"}) {
				return "want minor update from v1.2.0"
			}
			if in.ReleaseBasis != facts.BasisInfo || !in.Released.Equal(t0.Add(-day)) || !in.FirstSeen.Equal(t0) {
				return "want released yesterday by its .info time, first seen now"
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
			// Never listed and no .info: new to modgate.
			if in.Initial || in.ReleaseBasis != facts.BasisFirstSeen || !in.Released.Equal(t0) {
				return "want a pseudo-version first seen now"
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

// TestFixesNotComputedOutsideCooldown: the cooldown fix exception reads
// the entries of older versions only while the version is young enough
// for a cooldown to apply.
func TestFixesNotComputedOutsideCooldown(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		released  time.Time // v1.3.0's .info time
		wantFixes bool
	}{
		{"inside the cooldown", t0.Add(-day), true},
		{"past the cooldown", t0.Add(-8 * day), false},
	}
	for _, tt := range tests {
		env := newEnv(t)
		addModM(env.src, old)
		env.src.Add(modM, "v1.3.0", tt.released, latestGoMod)
		env.setVulns(t, "s", factstest.Vuln{ID: "GO-1", Module: modM, Fixed: "v1.3.0"})
		db := &countingDB{VulnDB: env.db}
		env.svc.VulnDB = db
		e := env.engine(t, Options{Config: &Config{Cooldown: CooldownConfig{Days: 7}}})
		// v1.0.0 has no older version: its reads are the baseline of a
		// decision that looks at its own entries only.
		if _, err := e.Input(ctx, Request{Module: modM, Version: "v1.0.0", Kind: proxy.KindZip}); err != nil {
			t.Fatal(err)
		}
		base := db.n.Swap(0)
		in, err := e.Input(ctx, Request{Module: modM, Version: "v1.3.0", Kind: proxy.KindZip})
		if err != nil {
			t.Fatal(err)
		}
		reads := db.n.Load()
		if got := len(in.Fixes) > 0; got != tt.wantFixes {
			t.Errorf("%s: Input(v1.3.0).Fixes = %v, want fixes %v", tt.name, in.Fixes, tt.wantFixes)
		}
		if tt.wantFixes && reads <= base || !tt.wantFixes && reads != base {
			t.Errorf("%s: %d vulnerability DB reads for v1.3.0, %d for a version with nothing older; want the older versions read only inside the cooldown", tt.name, reads, base)
		}
	}
}

func TestDecideCooldownFlipsAndCaches(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t)
	addModM(env.src, old)
	// modgate first saw the module 30 days ago, without v1.2.0, and saw
	// v1.2.0 listed two days ago.
	env.src.SeenAt(modM, t0.Add(-30*day), without(modMVersions, "v1.2.0")...)
	env.clk.set(t0.Add(-2 * day))
	m0 := env.contact(t, modM)
	env.clk.set(t0)
	// A long TTL, so that only the cooldown's end expires the entry.
	cfg := &Config{Cooldown: CooldownConfig{Days: 7}, Cache: CacheConfig{TTL: 30 * day}}
	e := env.engine(t, Options{Config: cfg})
	req := Request{Module: modM, Version: "v1.2.0", Kind: proxy.KindZip}

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
	env.clk.advance(5*day - 1)
	if r, _ := e.Decide(ctx, req); !r.Cached || r.Allowed() {
		t.Errorf("just before the end: cached=%v allowed=%v, want cached deny", r.Cached, r.Allowed())
	}
	env.clk.advance(1)
	r3, err := e.Decide(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if r3.Cached || !r3.Allowed() {
		t.Errorf("at the cooldown's end: cached=%v deny=%v, want a fresh allow", r3.Cached, r3.Deny)
	}
	if m := env.contact(t, modM); m != m0 {
		t.Error("module facts were recomputed although the module's list did not change")
	}
	// Aged from first sight, the version never needed its .info time.
	if n := env.src.Times.Load(); n != 0 {
		t.Errorf("%d .info fetches, want 0 for a version that appeared after first contact", n)
	}
}

func TestDecideInvalidation(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t)
	addModM(env.src, old)
	env.setVulns(t, "db-1", factstest.Vuln{ID: "GO-8", Module: "example.com/other"})
	e := env.engine(t, Options{})
	req := Request{Module: modM, Version: "v1.2.0", Kind: proxy.KindZip}
	if r, _ := e.Decide(ctx, req); !r.Allowed() || r.VulnDB != "db-1" {
		t.Fatalf("first Decide: %+v", r)
	}
	// A new DB snapshot with an entry for the version: the cached allow
	// must not be reused.
	env.setVulns(t, "db-2", factstest.Vuln{ID: "GO-9", Module: modM, Introduced: "v1.2.0", Fixed: "v1.3.0"})
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
	// A new latest version whose go.mod retracts v1.2.0 changes the
	// module's facts: the cached decision is not reused.
	if r, _ := e.Decide(ctx, req); !r.Cached {
		t.Error("want cached before the module's facts change")
	}
	env.src.Add(modM, "v1.4.0", old, latestGoMod+"retract v1.2.0 // oops\n")
	r, _ = e.Decide(ctx, req)
	if r.Cached || rulesOf(r.Deny) != "retracted,vulnerabilities" {
		t.Errorf("after a new latest version: cached=%v deny=%v, want fresh retracted+vulnerabilities", r.Cached, r.Deny)
	}
	// Reload with another config changes the digest and drops the cache.
	prev := e.Digest()
	if err := e.Reload(ctx, &Config{RuleModes: map[string]Mode{"vulnerabilities": ModeAudit}}); err != nil {
		t.Fatal(err)
	}
	r, _ = e.Decide(ctx, req)
	if e.Digest() == prev || r.Cached || r.Digest != e.Digest() || rulesOf(r.Audit) != "vulnerabilities" {
		t.Errorf("after Reload: digest %s (old %s), cached=%v audit=%v", e.Digest(), prev, r.Cached, r.Audit)
	}
}

func TestDecideFailsClosed(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("upstream unavailable")
	tests := []struct {
		name  string
		setup func(*env) *Config
		want  string // in the error
		is    error  // matched by the error
	}{
		{"list outage", func(env *env) *Config {
			env.src.Err = boom
			return nil
		}, "example.com/m: ", boom},
		{"vulnerability DB not loaded", func(env *env) *Config {
			env.svc.VulnDB = &factstest.DB{}
			return nil
		}, "example.com/m@v1.0.0: ", facts.ErrNoVulnDB},
		{".info outage", func(env *env) *Config {
			env.src.InfoErr = boom
			return &Config{Cooldown: CooldownConfig{Days: 7}}
		}, "example.com/m@v1.0.0: ", boom},
		{"broken latest go.mod", func(env *env) *Config {
			env.src.Add(modM, "v1.0.0", old, "module example.com/m\nretract (\n")
			return nil
		}, "example.com/m@v1.0.0: parsing go.mod", nil},
	}
	for _, tt := range tests {
		env := newEnv(t)
		env.src.Add(modM, "v1.0.0", old, "")
		e := env.engine(t, Options{Config: tt.setup(env)})
		_, err := e.Decide(ctx, Request{Module: modM, Version: "v1.0.0", Kind: proxy.KindZip})
		if err == nil || !strings.Contains(err.Error(), tt.want) || tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("%s: Decide error = %v, want one containing %q (matching %v)", tt.name, err, tt.want, tt.is)
		}
		if n := counterValue(e.metrics.errors); n != 1 {
			t.Errorf("%s: errors counted %v, want 1", tt.name, n)
		}
	}
}

func TestDecider(t *testing.T) {
	ctx := context.Background()
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
		env := newEnv(t)
		addModM(env.src, old)
		e := env.engine(t, Options{Config: &Config{ServeInfoModWhenDenied: ptr(tt.serve)}})
		q := proxy.Query{Module: modM, Version: "v1.0.1", Kind: tt.kind}
		if !tt.deny {
			// Cold: module facts not loaded yet. A decision that can
			// only warn is answered at once, without waiting for them.
			d, err := e.Decider().Decide(ctx, q)
			if err != nil || !d.Allowed() || len(d.Warn) != 0 {
				t.Errorf("serve=%v kind=%s cold: %+v, %v; want an immediate allow", tt.serve, tt.kind, d, err)
			}
			env.contact(t, modM)
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
	env := newEnv(t)
	addModM(env.src, old)
	e := env.engine(t, Options{
		Config:      &Config{Pseudo: ActionWarn},
		DecisionLog: &buf,
		Registerer:  reg,
	})
	for _, req := range []Request{
		{Module: modM, Version: "v1.0.1", Kind: proxy.KindZip, Client: proxy.Client{Name: "alice"}},
		{Module: modM, Version: "v1.0.1", Kind: proxy.KindZip, Client: proxy.Client{Name: "bob"}},
		{Module: modM, Version: "v1.2.1-0.20250101000000-abcdefabcdef", Kind: proxy.KindZip},
	} {
		if _, err := e.Decide(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	lines := logLines(t, buf.Bytes())
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
	env := newEnv(t)
	// Versions released 60 days ago, past every cooldown, and MIT
	// licensed; the pseudo-version is unknown to the upstream's list and
	// new to modgate.
	for _, mv := range []struct{ mod, v string }{
		{"acme.example/x", "v0.0.0-20250101000000-abcdefabcdef"},
		{"example.com/left-pad", "v1.0.0"},
		{"github.com/pkg/errors", "v0.9.1"},
		{"example.com/old/sub", "v1.3.9"},
		{"example.com/old/sub", "v1.4.0"},
		{"example.com/y", "v1.0.0-rc.1"},
	} {
		if !module.IsPseudoVersion(mv.v) {
			env.src.Add(mv.mod, mv.v, t0.Add(-60*day), "")
		}
		env.licensed(mv.mod, mv.v, "MIT")
	}
	e := env.engine(t, Options{Config: cfg})
	tests := []struct {
		req        Request
		deny, warn string
	}{
		{Request{Module: "acme.example/x", Version: "v0.0.0-20250101000000-abcdefabcdef", Kind: proxy.KindZip}, "acme,cooldown", "pseudo"},
		{Request{Module: "example.com/left-pad", Version: "v1.0.0", Kind: proxy.KindZip}, "banned", ""},
		{Request{Module: "github.com/pkg/errors", Version: "v0.9.1", Kind: proxy.KindZip}, "blocklist", ""},
		{Request{Module: "example.com/old/sub", Version: "v1.3.9", Kind: proxy.KindZip}, "blocklist", ""},
		{Request{Module: "example.com/old/sub", Version: "v1.4.0", Kind: proxy.KindZip}, "", ""},
		// Custom rules that read input.client make the cache per client.
		{Request{Module: "example.com/y", Version: "v1.0.0-rc.1", Kind: proxy.KindZip, Client: proxy.Client{Name: "ci-bot"}}, "", "acme.prerelease"},
		{Request{Module: "example.com/y", Version: "v1.0.0-rc.1", Kind: proxy.KindZip, Client: proxy.Client{Name: "alice"}}, "", ""},
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
	e := newEnv(t).engine(t, Options{Config: &Config{Paths: []string{dir}}})
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

// TestReadmeExample keeps the custom rule documented in docs/policy.md
// (copied to testdata/policy/readme) verbatim, compiling, passing its test
// and deciding as documented.
func TestReadmeExample(t *testing.T) {
	ctx := context.Background()
	dir := "../testdata/policy/readme"
	const page = "../docs/policy.md"
	doc, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"internal.rego", "internal_test.rego"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(doc, b) {
			t.Errorf("%s does not contain %s verbatim", page, name)
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
		t.Errorf("documented example: warn %v valid until %v", r.Warn, r.ValidUntil)
	}
}

// TestConcurrentDecide runs decisions, list filtering, @latest, reloads
// and changes of the module's facts and of the vulnerability DB at once;
// run with -race.
func TestConcurrentDecide(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t)
	addModM(env.src, old)
	env.setVulns(t, "s1", factstest.Vuln{ID: "GO-1", Module: modM, Fixed: "v1.2.0"})
	var logBuf syncBuffer
	e := env.engine(t, Options{Config: &Config{Cooldown: CooldownConfig{Days: 3}}, DecisionLog: &logBuf, Registerer: prometheus.NewRegistry()})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				v := modMVersions[(i+g)%len(modMVersions)]
				r, err := e.Decider().Decide(ctx, proxy.Query{Module: modM, Version: v, Kind: proxy.KindList})
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
	const listings = 10
	wg.Go(func() {
		for range listings {
			l, err := e.Decider().List(ctx, proxy.Query{Module: modM, Kind: proxy.KindList})
			if err != nil {
				t.Error(err)
				return
			}
			if slices.Contains(l.Allowed, "v1.0.1") {
				t.Errorf("List allowed retracted v1.0.1: %v", l.Allowed)
				return
			}
			if _, err := e.Decider().Latest(ctx, proxy.Query{Module: modM, Kind: proxy.KindLatest}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Go(func() {
		for i := range 20 {
			// A new version (each with the latest go.mod's retractions)
			// changes the module's facts.
			env.src.Add(modM, fmt.Sprintf("v1.4.%d", i), old, latestGoMod)
			env.setVulns(t, fmt.Sprintf("s%d", i), factstest.Vuln{ID: "GO-1", Module: modM, Fixed: "v1.2.0"})
			days := 3 + i%2
			if err := e.Reload(ctx, &Config{Cooldown: CooldownConfig{Days: days}}); err != nil {
				t.Error(err)
			}
			env.clk.advance(time.Hour)
		}
	})
	wg.Wait()
	if n, want := bytes.Count(logBuf.bytes(), []byte("\n")), 800+2*listings; n != want {
		t.Errorf("decision log has %d lines, want %d (one per decision and listing)", n, want)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex // protects buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}
