package facts_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/proxy/facts"
	"github.com/modgate/modgate/proxy/facts/factstest"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// version is one version a test source serves.
type version struct {
	v      string
	gomod  string // "" means "module <path>"
	listed bool
}

func listed(vs ...string) []version {
	out := make([]version, len(vs))
	for i, v := range vs {
		out[i] = version{v: v, listed: true}
	}
	return out
}

// TestLatestAsTheGoCommand: Module.Latest (the version retractions are
// read from) and ResolveLatest (what @latest answers) follow cmd/go's
// query rules.
func TestLatestAsTheGoCommand(t *testing.T) {
	const mod = "example.com/m"
	const pseudoOld = "v0.0.0-20240101000000-aaaaaaaaaaaa"
	const pseudoNew = "v0.0.0-20240301000000-bbbbbbbbbbbb"
	tests := []struct {
		name       string
		versions   []version
		latest     string // the source's @latest, "" for none (404)
		wantLatest string // Module.Latest
		wantPick   string // ResolveLatest with nothing filtered
	}{
		{"highest release", listed("v1.0.0", "v1.2.0", "v1.10.0", "v1.11.0-rc.1"), "", "v1.10.0", "v1.10.0"},
		{"pre-release only", listed("v0.1.0-alpha", "v0.1.0-beta.2"), "", "v0.1.0-beta.2", "v0.1.0-beta.2"},
		{"untagged: the source's @latest", nil, pseudoNew, pseudoNew, pseudoNew},
		{"untagged, no @latest: the newest listed pseudo-version",
			[]version{{v: pseudoNew, listed: true}, {v: pseudoOld, listed: true}}, "", pseudoNew, pseudoNew},
		{"tags win over @latest", listed("v1.0.0"), pseudoNew, "v1.0.0", "v1.0.0"},
		{"+incompatible ignored above a module-aware version",
			[]version{{v: "v1.5.0", listed: true, gomod: "module example.com/m\n\ngo 1.21\n"}, {v: "v2.0.0+incompatible", listed: true}}, "", "v1.5.0", "v1.5.0"},
		{"+incompatible kept when no version has a go.mod",
			[]version{{v: "v1.5.0", listed: true}, {v: "v2.0.0+incompatible", listed: true}}, "", "v2.0.0+incompatible", "v2.0.0+incompatible"},
		{"retracted latest: retractions read from it, next one picked",
			[]version{{v: "v1.0.0", listed: true}, {v: "v1.1.0", listed: true, gomod: "module example.com/m\n\nretract v1.1.0 // oops\n"}}, "", "v1.1.0", "v1.0.0"},
		{"every tag retracted: the source's @latest",
			[]version{{v: "v1.0.0", listed: true, gomod: "module example.com/m\n\nretract v1.0.0\n"}}, pseudoNew, "v1.0.0", pseudoNew},
		{"no version at all", nil, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &factstest.Source{}
			for _, v := range tt.versions {
				if v.listed {
					src.Add(mod, v.v, t0, v.gomod)
				} else {
					src.AddUnlisted(mod, v.v, t0, v.gomod)
				}
			}
			if tt.latest != "" {
				src.AddUnlisted(mod, tt.latest, t0, "")
				src.SetLatest(mod, tt.latest, t0)
			}
			svc := &facts.Service{Source: src, Now: func() time.Time { return t0 }}
			ctx := context.Background()
			m, err := svc.Module(ctx, mod)
			if err != nil {
				t.Fatal(err)
			}
			if m.Latest != tt.wantLatest {
				t.Errorf("Module.Latest = %q, want %q", m.Latest, tt.wantLatest)
			}
			p, err := svc.ResolveLatest(ctx, m, nil)
			if err != nil {
				t.Fatal(err)
			}
			if p.Version != tt.wantPick {
				t.Errorf("ResolveLatest = %q, want %q", p.Version, tt.wantPick)
			}
			for _, v := range m.Versions {
				if strings.Contains(v, "-0.") || strings.HasPrefix(v, "v0.0.0-") {
					t.Errorf("Module.Versions lists pseudo-version %s", v)
				}
			}
		})
	}
}

// TestResolveLatestStopsAtFirstAllowed: candidates are decided newest
// first, and no more than needed.
func TestResolveLatestStopsAtFirstAllowed(t *testing.T) {
	src := &factstest.Source{}
	for _, v := range []string{"v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0", "v1.4.0-rc.1"} {
		src.Add("example.com/m", v, t0, "")
	}
	svc := &facts.Service{Source: src}
	ctx := context.Background()
	m, err := svc.Module(ctx, "example.com/m")
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	p, err := svc.ResolveLatest(ctx, m, func(_ context.Context, v string) (bool, error) {
		asked = append(asked, v)
		return v == "v1.1.0", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != "v1.1.0" || p.Unfiltered != "v1.3.0" || strings.Join(asked, " ") != "v1.3.0 v1.2.0 v1.1.0" {
		t.Errorf("ResolveLatest = %+v after asking %v; want v1.1.0 after v1.3.0 v1.2.0", p, asked)
	}
}

// TestVulnFixNamedAsTag: a fix the database names as an untagged
// pseudo-version is reported as the first tag containing it.
func TestVulnFixNamedAsTag(t *testing.T) {
	src := &factstest.Source{}
	for _, v := range []string{"v0.58.0", "v0.59.0", "v0.60.0"} {
		src.Add("golang.org/x/crypto", v, t0, "")
	}
	db, err := factstest.NewDB("s", factstest.Vuln{ID: "GO-2025-0001", Module: "golang.org/x/crypto", Fixed: "v0.58.1-0.20250101000000-abcdefabcdef"},
		factstest.Vuln{ID: "GO-2025-0002", Module: "golang.org/x/crypto", Fixed: "v0.70.0"})
	if err != nil {
		t.Fatal(err)
	}
	svc := &facts.Service{Source: src, VulnDB: db}
	ctx := context.Background()
	m, err := svc.Module(ctx, "golang.org/x/crypto")
	if err != nil {
		t.Fatal(err)
	}
	vs, err := svc.Vulns(ctx, m, "v0.58.0")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, v := range vs {
		got[v.ID] = v.Fixed
	}
	if got["GO-2025-0001"] != "v0.59.0" || got["GO-2025-0002"] != "v0.70.0" {
		t.Errorf("fixes = %v, want GO-2025-0001 at the tag v0.59.0 and GO-2025-0002 as written (no tag has it)", got)
	}
}

// TestUnknownModuleAsksOnlyTheList checks that a module the source does
// not list costs one upstream request, not two: like the go command,
// the facts service does not ask @latest after the list was refused.
func TestUnknownModuleAsksOnlyTheList(t *testing.T) {
	src := &factstest.Source{}
	src.RefuseList("example.com/refused")
	s := &facts.Service{Source: src, Now: func() time.Time { return t0 }}
	for _, path := range []string{"example.com/unknown", "example.com/refused"} {
		m, err := s.Module(context.Background(), path)
		if err != nil || m.Latest != "" || m.Unlisted == nil {
			t.Errorf("Module(%s) = %+v, %v; want no latest and the refusal", path, m, err)
		}
	}
	if n := src.Latests.Load(); n != 0 {
		t.Errorf("@latest asked %d times for modules the source does not list, want 0", n)
	}
}
