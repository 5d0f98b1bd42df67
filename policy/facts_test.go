package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/facts"
	"github.com/modgate/modgate/proxy/facts/factstest"
)

// TestCooldownFromColdCache: with nothing cached, the cooldown ages a
// version by what modgate can establish about its release: the .info time
// of a version that existed at first contact, first sight for one that
// appeared later, and unknown_release for one whose .info is refused.
func TestCooldownFromColdCache(t *testing.T) {
	ctx := context.Background()
	const (
		mod    = "example.com/c"
		pseudo = "v1.0.1-0.20241201000000-abcdefabcdef"
	)
	// firstContact has modgate list mod at t, then sets the clock to t0.
	firstContact := func(t *testing.T, env *env, at time.Time) {
		env.clk.set(at)
		env.contact(t, mod)
		env.clk.set(t0)
	}
	tests := []struct {
		name    string
		setup   func(*testing.T, *env)
		unknown string // cooldown.unknown_release
		patch   *int   // cooldown.patch
		version string
		// The release facts in the input.
		basis    string
		initial  bool
		released time.Time // zero: unknown
		fetches  int32     // .info fetches gathering them
		// deny is in the cooldown deny's message; "" means allowed.
		deny string
	}{
		{
			name:    "listed at first contact, released long ago",
			setup:   func(t *testing.T, env *env) { env.src.Add(mod, "v1.0.0", old, "") },
			version: "v1.0.0", basis: facts.BasisInfo, initial: true, released: old, fetches: 1,
		},
		{
			name:    "listed at first contact, released two days ago",
			setup:   func(t *testing.T, env *env) { env.src.Add(mod, "v1.0.0", t0.Add(-2*day), "") },
			version: "v1.0.0", basis: facts.BasisInfo, initial: true, released: t0.Add(-2 * day), fetches: 1,
			deny: "example.com/c@v1.0.0 is too new: released 2024-12-30T00:00:00Z (2 days ago, its .info time)",
		},
		{
			// A backdated .info time does not make a new version old.
			name: "listed after first contact, .info long ago",
			setup: func(t *testing.T, env *env) {
				env.src.Add(mod, "v1.0.0", old, "")
				firstContact(t, env, t0.Add(-10*day))
				env.src.Add(mod, "v1.1.0", old, "")
				firstContact(t, env, t0.Add(-day))
			},
			version: "v1.1.0", basis: facts.BasisFirstSeen, released: t0.Add(-day), fetches: 0,
			deny: "example.com/c@v1.1.0 is too new: first seen 2024-12-31T00:00:00Z (24 hours ago)",
		},
		{
			name: "pseudo-version committed before first contact",
			setup: func(t *testing.T, env *env) {
				env.src.Add(mod, "v1.0.0", old, "")
				env.src.AddUnlisted(mod, pseudo, t0.Add(-30*day), "")
				firstContact(t, env, t0.Add(-day))
			},
			version: pseudo, basis: facts.BasisInfo, initial: true, released: t0.Add(-30 * day), fetches: 1,
		},
		{
			name: "pseudo-version committed after first contact",
			setup: func(t *testing.T, env *env) {
				env.src.Add(mod, "v1.0.0", old, "")
				firstContact(t, env, t0.Add(-10*day))
				env.src.AddUnlisted(mod, pseudo, t0.Add(-5*day), "")
			},
			version: pseudo, basis: facts.BasisFirstSeen, released: t0, fetches: 1,
			deny: "is too new: first seen 2025-01-01T00:00:00Z (0 hours ago)",
		},
		{
			// Untagged at first contact: the first tag, listed later, is
			// new, however old the first contact.
			name: "first tag listed after an untagged first contact",
			setup: func(t *testing.T, env *env) {
				env.src.AddUnlisted(mod, pseudo, t0.Add(-70*day), "")
				env.src.SetLatest(mod, pseudo, t0.Add(-70*day))
				firstContact(t, env, t0.Add(-60*day))
				env.src.Add(mod, "v1.0.0", old, "")
			},
			version: "v1.0.0", basis: facts.BasisFirstSeen, released: t0, fetches: 0,
			deny: "example.com/c@v1.0.0 is too new: first seen 2025-01-01T00:00:00Z (0 hours ago)",
		},
		{
			// Served by name an hour ago, before the upstream listed it:
			// it stays new once listed.
			name: "tag requested before it was listed",
			setup: func(t *testing.T, env *env) {
				env.src.AddUnlisted(mod, pseudo, t0.Add(-70*day), "")
				env.src.SetLatest(mod, pseudo, t0.Add(-70*day))
				firstContact(t, env, t0.Add(-10*day))
				env.src.AddUnlisted(mod, "v1.0.0", t0.Add(-time.Hour), "")
				env.clk.set(t0.Add(-time.Hour))
				if _, err := env.svc.Release(context.Background(), env.contact(t, mod), "v1.0.0", 7*day); err != nil {
					t.Fatal(err)
				}
				env.clk.set(t0)
				env.src.Add(mod, "v1.0.0", t0.Add(-time.Hour), "")
			},
			version: "v1.0.0", basis: facts.BasisFirstSeen, released: t0.Add(-time.Hour), fetches: 0,
			deny: "example.com/c@v1.0.0 is too new: first seen 2024-12-31T23:00:00Z (1 hours ago)",
		},
		{
			name: "never-listed tag released before first contact",
			setup: func(t *testing.T, env *env) {
				env.src.Add(mod, "v1.0.0", old, "")
				env.src.AddUnlisted(mod, "v0.9.0", t0.Add(-30*day), "")
			},
			version: "v0.9.0", basis: facts.BasisInfo, initial: true, released: t0.Add(-30 * day), fetches: 1,
		},
		{
			name:    ".info refused, unknown_release new",
			setup:   func(t *testing.T, env *env) { env.src.Add(mod, "v1.0.0", time.Time{}, "") },
			version: "v1.0.0", basis: facts.BasisUnknown, initial: true, fetches: 1,
			deny: "example.com/c@v1.0.0: its release time cannot be obtained (the upstream does not serve its .info), so it is treated as new (cooldown.unknown_release: new)",
		},
		{
			name:    ".info refused, unknown_release old",
			setup:   func(t *testing.T, env *env) { env.src.Add(mod, "v1.0.0", time.Time{}, "") },
			unknown: "old",
			version: "v1.0.0", basis: facts.BasisUnknown, initial: true, fetches: 1,
		},
		{
			// Treated as new: the patch cooldown runs from modgate's
			// first sight of it, here the first contact.
			name: ".info refused, first seen three days ago, two-day patch cooldown",
			setup: func(t *testing.T, env *env) {
				env.src.SeenAt(mod, t0.Add(-3*day), "v1.0.0", "v1.0.1")
				env.src.Add(mod, "v1.0.0", old, "")
				env.src.Add(mod, "v1.0.1", time.Time{}, "")
			},
			patch:   ptr(2),
			version: "v1.0.1", basis: facts.BasisUnknown, initial: true, fetches: 1,
		},
		{
			name: ".info refused, first seen a day ago, two-day patch cooldown",
			setup: func(t *testing.T, env *env) {
				env.src.SeenAt(mod, t0.Add(-day), "v1.0.0", "v1.0.1")
				env.src.Add(mod, "v1.0.0", old, "")
				env.src.Add(mod, "v1.0.1", time.Time{}, "")
			},
			patch:   ptr(2),
			version: "v1.0.1", basis: facts.BasisUnknown, initial: true, fetches: 1,
			deny: "treated as new (cooldown.unknown_release: new) and the 2-day minimum release age is not met",
		},
		{
			// The first contact alone proves the version old enough.
			name: "first contact before the longest cooldown",
			setup: func(t *testing.T, env *env) {
				env.src.SeenAt(mod, t0.Add(-30*day), "v1.0.0")
				env.src.Add(mod, "v1.0.0", time.Time{}, "")
			},
			version: "v1.0.0", basis: facts.BasisFirstContact, initial: true, released: t0.Add(-30 * day), fetches: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			tt.setup(t, env)
			e := env.engine(t, Options{Config: &Config{Cooldown: CooldownConfig{Days: 7, Patch: tt.patch, UnknownRelease: tt.unknown}}})
			before := env.src.Times.Load()
			req := Request{Module: mod, Version: tt.version, Kind: proxy.KindZip}
			in, err := e.Input(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if in.ReleaseBasis != tt.basis || in.Initial != tt.initial || !in.Released.Equal(tt.released) {
				t.Errorf("Input(%s): release_basis %q initial %v released %v; want %q, %v, %v", tt.version, in.ReleaseBasis, in.Initial, in.Released, tt.basis, tt.initial, tt.released)
			}
			if n := env.src.Times.Load() - before; n != tt.fetches {
				t.Errorf("Input(%s) fetched %d .info files, want %d", tt.version, n, tt.fetches)
			}
			r, err := e.Decide(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.deny == "" && !r.Allowed():
				t.Errorf("Decide(%s) = deny %v, want allowed", tt.version, r.Deny)
			case tt.deny != "" && (rulesOf(r.Deny) != "cooldown" || !strings.Contains(r.Deny[0].Msg, tt.deny)):
				t.Errorf("Decide(%s) = deny %v, want a cooldown deny containing %q", tt.version, r.Deny, tt.deny)
			}
		})
	}
}

// TestDecideReevaluatedWhenFactsChange: a cached decision is reused until
// the module's facts (their revision) or the vulnerability DB change.
func TestDecideReevaluatedWhenFactsChange(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		change     func(*testing.T, *env)
		wantRev    bool   // the module's facts revision changes
		wantCached bool   // the second decision comes from the cache
		wantDeny   string // its deny rules
	}{
		{"nothing", func(*testing.T, *env) {}, false, true, ""},
		{"another module gains a version", func(t *testing.T, env *env) {
			env.src.Add("example.com/other", "v1.0.0", old, "")
		}, false, true, ""},
		{"a new version is listed", func(t *testing.T, env *env) {
			env.src.Add(modM, "v1.2.1", old, "")
		}, true, false, ""},
		{"a new latest version retracts it", func(t *testing.T, env *env) {
			env.src.Add(modM, "v1.4.0", old, latestGoMod+"retract v1.2.0 // broken\n")
		}, true, false, "retracted"},
		{"the vulnerability DB changes", func(t *testing.T, env *env) {
			env.setVulns(t, "snap1", factstest.Vuln{ID: "GO-1", Module: modM, Fixed: "v1.3.0"})
		}, false, false, "vulnerabilities"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			addModM(env.src, old)
			e := env.engine(t, Options{})
			req := Request{Module: modM, Version: "v1.2.0", Kind: proxy.KindZip}
			rev := env.contact(t, modM).Rev
			if r, err := e.Decide(ctx, req); err != nil || r.Cached || !r.Allowed() {
				t.Fatalf("first Decide = %+v, %v; want a fresh allow", r, err)
			}
			tt.change(t, env)
			r, err := e.Decide(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if r.Cached != tt.wantCached || rulesOf(r.Deny) != tt.wantDeny {
				t.Errorf("Decide after the change: cached=%v deny=%v; want cached=%v deny %q", r.Cached, r.Deny, tt.wantCached, tt.wantDeny)
			}
			if changed := env.contact(t, modM).Rev != rev; changed != tt.wantRev {
				t.Errorf("facts revision changed = %v, want %v", changed, tt.wantRev)
			}
		})
	}
}

// TestVulnerabilitiesFinding: one finding for every counted entry, with
// their IDs, naming at most three of them, and the tagged version fixing
// all of them.
func TestVulnerabilitiesFinding(t *testing.T) {
	ctx := context.Background()
	vulns := func(n int) []factstest.Vuln {
		var vs []factstest.Vuln
		for i := 1; i <= n; i++ {
			vs = append(vs, factstest.Vuln{ID: fmt.Sprintf("GO-%d", i), Module: modM, Fixed: "v1.3.0"})
		}
		return vs
	}
	const fixed = "upgrade to v1.3.0 or later"
	tests := []struct {
		name    string
		vulns   []factstest.Vuln
		cfg     Config
		warn    bool // the finding is waived into a warning
		wantIDs []string
		wantMsg string // after "example.com/m@v1.2.0 is affected by "
		wantFix string
	}{
		{"one, with aliases", []factstest.Vuln{{ID: "GO-1", Module: modM, Fixed: "v1.3.0", Aliases: []string{"CVE-1", "GHSA-1"}}}, Config{}, false,
			[]string{"GO-1"}, "GO-1 (CVE-1, GHSA-1); fixed in v1.3.0", fixed},
		{"three named", vulns(3), Config{}, false,
			[]string{"GO-1", "GO-2", "GO-3"}, "GO-1, GO-2, GO-3; fixed in v1.3.0", fixed},
		{"five: three named, two counted", vulns(5), Config{}, false,
			[]string{"GO-1", "GO-2", "GO-3", "GO-4", "GO-5"}, "GO-1, GO-2, GO-3 and 2 more; fixed in v1.3.0", fixed},
		{"the fix named as the next tag", []factstest.Vuln{{ID: "GO-1", Module: modM, Fixed: "v1.2.1-0.20250101000000-abcdefabcdef"}}, Config{}, false,
			[]string{"GO-1"}, "GO-1; fixed in v1.3.0", fixed},
		{"highest fix fixes all", []factstest.Vuln{{ID: "GO-1", Module: modM, Fixed: "v1.3.0"}, {ID: "GO-2", Module: modM, Fixed: "v2.0.0+incompatible"}}, Config{}, false,
			[]string{"GO-1", "GO-2"}, "GO-1, GO-2; fixed in v2.0.0+incompatible", "upgrade to v2.0.0+incompatible or later"},
		{"no fix", []factstest.Vuln{{ID: "GO-1", Module: modM, Fixed: "v1.3.0"}, {ID: "GO-7", Module: modM}}, Config{}, false,
			[]string{"GO-1", "GO-7"}, "GO-1, GO-7; no fixed version is known for GO-7", "no fixed version exists yet: remove the dependency, request a waiver, or, if your code cannot reach it, prove it with modgate check --vex and list the document under the policy's vex"},
		{"unreviewed not counted", []factstest.Vuln{{ID: "GO-1", Module: modM, Fixed: "v1.3.0"}, {ID: "GO-2", Module: modM, Fixed: "v1.3.0", Unreviewed: true}}, Config{}, false,
			[]string{"GO-1"}, "GO-1; fixed in v1.3.0", fixed},
		{"waived, IDs kept", vulns(4), Config{Waivers: []Waiver{{Module: modM, Reason: "unreachable", Owner: "sec", Expires: "2099-12-31"}}}, true,
			[]string{"GO-1", "GO-2", "GO-3", "GO-4"}, "GO-1, GO-2, GO-3 and 1 more; fixed in v1.3.0 (waived until 2099-12-31 by sec: unreachable)", fixed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			addModM(env.src, old)
			env.setVulns(t, "snap1", tt.vulns...)
			e := env.engine(t, Options{Config: &tt.cfg})
			r, err := e.Decide(ctx, Request{Module: modM, Version: "v1.2.0", Kind: proxy.KindZip})
			if err != nil {
				t.Fatal(err)
			}
			found := r.Deny
			if tt.warn {
				found = r.Warn
				if !r.Allowed() {
					t.Errorf("deny = %v, want the finding waived", r.Deny)
				}
			}
			found = slices.DeleteFunc(slices.Clone(found), func(v Violation) bool { return v.Rule != "vulnerabilities" })
			if len(found) != 1 {
				t.Fatalf("findings = %v %v, want one vulnerabilities finding", r.Deny, r.Warn)
			}
			v := found[0]
			if want := "example.com/m@v1.2.0 is affected by " + tt.wantMsg; v.Msg != want {
				t.Errorf("msg = %q\nwant  %q", v.Msg, want)
			}
			if v.Fix != tt.wantFix {
				t.Errorf("fix = %q, want %q", v.Fix, tt.wantFix)
			}
			if !slices.Equal(v.IDs, tt.wantIDs) {
				t.Errorf("IDs = %q, want %q", v.IDs, tt.wantIDs)
			}
		})
	}
}
