package policy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/facts/factstest"
)

// TestListInfoFetches: filtering a list decides every candidate, and
// fetches a candidate's .info only when its age is not otherwise known
// and the first contact is recent enough for a cooldown to depend on it;
// filtering again fetches nothing and decides from the cache.
func TestListInfoFetches(t *testing.T) {
	ctx := context.Background()
	const (
		mod = "example.com/l"
		n   = 20
	)
	seven := Config{Cooldown: CooldownConfig{Days: 7}}
	tests := []struct {
		name        string
		cfg         Config
		young       int // versions modgate saw listed a day ago
		contact     int // days since the first contact; 0: this List is it
		wantFetches int32
	}{
		{"first contact now", seven, 0, 0, n},
		{"first contact three days ago, five versions since", seven, 5, 3, n - 5},
		{"first contact longer ago than the cooldown", seven, 0, 30, 0},
		{"no cooldown", Config{}, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			vs := make([]string, n)
			for i := range vs {
				vs[i] = fmt.Sprintf("v1.%d.0", i)
				env.src.Add(mod, vs[i], old, "")
			}
			if tt.contact > 0 {
				env.src.SeenAt(mod, t0.AddDate(0, 0, -tt.contact), vs[:n-tt.young]...)
				env.clk.set(t0.Add(-day))
				env.contact(t, mod)
				env.clk.set(t0)
			}
			e := env.engine(t, Options{Config: &tt.cfg})
			q := proxy.Query{Module: mod, Kind: proxy.KindList}
			l, err := e.Decider().List(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Verdicts) != n || len(l.Allowed) != n-tt.young {
				t.Errorf("List: %d verdicts, %d allowed; want %d, %d", len(l.Verdicts), len(l.Allowed), n, n-tt.young)
			}
			if got := env.src.Times.Load(); got != tt.wantFetches {
				t.Errorf("List fetched %d .info files, want %d", got, tt.wantFetches)
			}
			if got := counterValue(e.metrics.miss); got != n {
				t.Errorf("List made %v decisions, want %d (one per candidate)", got, n)
			}
			l2, err := e.Decider().List(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(l2.Allowed, l.Allowed) {
				t.Errorf("second List allowed %v, want %v", l2.Allowed, l.Allowed)
			}
			if got := env.src.Times.Load(); got != tt.wantFetches {
				t.Errorf("second List fetched %d more .info files, want none", got-tt.wantFetches)
			}
			if hits, misses := counterValue(e.metrics.hit), counterValue(e.metrics.miss); hits != n || misses != n {
				t.Errorf("second List: %v cache hits, %v misses in all; want %d hits and no new misses", hits, misses, n)
			}
		})
	}
}

// TestLatestStopsAtFirstAllowed: @latest decides candidates newest first
// and stops at the first allowed one, fetching no .info beyond it.
func TestLatestStopsAtFirstAllowed(t *testing.T) {
	ctx := context.Background()
	const mod = "example.com/latest"
	tests := []struct {
		name          string
		cfg           Config
		wantVersion   string
		wantTried     []string
		wantFetches   int32
		wantDecisions float64
	}{
		{"newest allowed", Config{}, "v1.7.0", []string{"v1.7.0"}, 0, 1},
		{"the two newest cooling", Config{Cooldown: CooldownConfig{Days: 7}}, "v1.5.0",
			[]string{"v1.7.0", "v1.6.0", "v1.5.0"}, 1, 3},
		// Every candidate, then the seven older tags for a suggestion.
		{"nothing allowed", Config{Lists: ListsConfig{Blocked: []ListEntry{{Module: mod}}}}, "",
			[]string{"v1.7.0", "v1.6.0", "v1.5.0", "v1.4.0", "v1.3.0", "v1.2.0", "v1.1.0", "v1.0.0"}, 0, 8 + 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			// v1.0.0 to v1.5.0 were listed at the first contact, three
			// days ago; v1.6.0 and v1.7.0 appeared a day ago.
			var initial []string
			for i := range 8 {
				v := fmt.Sprintf("v1.%d.0", i)
				env.src.Add(mod, v, old, "")
				if i < 6 {
					initial = append(initial, v)
				}
			}
			env.src.SeenAt(mod, t0.Add(-3*day), initial...)
			env.clk.set(t0.Add(-day))
			env.contact(t, mod)
			env.clk.set(t0)
			e := env.engine(t, Options{Config: &tt.cfg})
			p, err := e.Decider().Latest(ctx, proxy.Query{Module: mod, Kind: proxy.KindLatest})
			if err != nil {
				t.Fatal(err)
			}
			var tried []string
			for _, v := range p.Tried {
				tried = append(tried, v.Version)
			}
			if p.Version != tt.wantVersion || p.Unfiltered != "v1.7.0" || !slices.Equal(tried, tt.wantTried) {
				t.Errorf("Latest = %q (unfiltered %q), tried %v; want %q (v1.7.0), tried %v", p.Version, p.Unfiltered, tried, tt.wantVersion, tt.wantTried)
			}
			if p.Version == "" && (p.Decision.Allowed() || p.Decision.Suggest != "") {
				t.Errorf("Latest decision = %+v, want the deny of v1.7.0 without a suggestion", p.Decision)
			}
			if got := env.src.Times.Load(); got != tt.wantFetches {
				t.Errorf("Latest fetched %d .info files, want %d", got, tt.wantFetches)
			}
			if got := counterValue(e.metrics.miss); got != tt.wantDecisions {
				t.Errorf("Latest made %v decisions, want %v", got, tt.wantDecisions)
			}
		})
	}
}

// TestSuggest: the version a denial suggests is the nearest allowed tag,
// above the denied version if one is allowed, else below.
func TestSuggest(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t)
	// example.com/vuln: v1.2.0 and v1.2.1 are vulnerable, fixed in an
	// untagged commit that v1.3.0 contains.
	const fix = "v1.2.2-0.20241201000000-abcdefabcdef"
	for _, v := range []string{"v1.0.0", "v1.1.0", "v1.2.0", "v1.2.1", "v1.3.0-rc.1", "v1.3.0"} {
		env.src.Add("example.com/vuln", v, old, "")
	}
	env.src.AddUnlisted("example.com/vuln", fix, old, "")
	// example.com/retracted: v1.3.0, the first tag without the
	// vulnerability, is retracted by v1.4.0.
	for _, v := range []string{"v1.0.0", "v1.2.0", "v1.3.0"} {
		env.src.Add("example.com/retracted", v, old, "")
	}
	env.src.Add("example.com/retracted", "v1.4.0", old, "module example.com/retracted\n\nretract v1.3.0 // broken build\n")
	env.setVulns(t, "snap1",
		factstest.Vuln{ID: "GO-1", Module: "example.com/vuln", Introduced: "v1.2.0", Fixed: fix},
		factstest.Vuln{ID: "GO-2", Module: "example.com/retracted", Introduced: "v1.2.0", Fixed: "v1.3.0"},
		factstest.Vuln{ID: "GO-3", Module: "example.com/far", Fixed: "v0.41.0"})
	// example.com/young: v1.2.1 and v1.3.0 appeared a day ago, after the
	// first contact.
	for _, v := range []string{"v1.0.0", "v1.1.0", "v1.2.0", "v1.2.1", "v1.3.0"} {
		env.src.Add("example.com/young", v, old, "")
	}
	env.src.SeenAt("example.com/young", t0.Add(-30*day), "v1.0.0", "v1.1.0", "v1.2.0")
	env.clk.set(t0.Add(-day))
	env.contact(t, "example.com/young")
	env.clk.set(t0)
	env.src.Add("example.com/blocked", "v1.0.0", old, "")
	env.src.Add("example.com/blocked", "v1.1.0", old, "")
	// example.com/far: v0.1.0 is 40 releases behind the fix, more than
	// the search tries one by one.
	for i := range 50 {
		env.src.Add("example.com/far", fmt.Sprintf("v0.%d.0", i+1), old, "")
	}

	e := env.engine(t, Options{Config: &Config{
		Cooldown: CooldownConfig{Days: 7},
		Lists:    ListsConfig{Blocked: []ListEntry{{Module: "example.com/blocked"}}},
	}})
	tests := []struct {
		mod, version string
		deny         string
		want         string
	}{
		// The lowest allowed tag at or above the fix, not the untagged fix
		// nor the pre-release.
		{"example.com/vuln", "v1.2.0", "vulnerabilities", "v1.3.0"},
		{"example.com/vuln", "v1.2.1", "vulnerabilities", "v1.3.0"},
		{"example.com/retracted", "v1.2.0", "vulnerabilities", "v1.4.0"},
		// Everything newer is cooling too: the highest older allowed tag.
		{"example.com/young", "v1.2.1", "cooldown", "v1.2.0"},
		{"example.com/young", "v1.3.0", "cooldown", "v1.2.0"},
		{"example.com/blocked", "v1.0.0", "blocklist", ""},
		{"example.com/far", "v0.1.0", "vulnerabilities", "v0.41.0"},
	}
	for _, tt := range tests {
		got, err := e.Suggest(ctx, tt.mod, tt.version, proxy.Client{})
		if err != nil || got != tt.want {
			t.Errorf("Suggest(%s@%s) = %q, %v; want %q", tt.mod, tt.version, got, err, tt.want)
		}
		d, err := e.Decider().Decide(ctx, proxy.Query{Module: tt.mod, Version: tt.version, Kind: proxy.KindZip})
		if err != nil {
			t.Fatal(err)
		}
		if rulesOf(d.Deny) != tt.deny || d.Suggest != tt.want {
			t.Errorf("Decide(%s@%s) = deny %v suggest %q; want deny %q suggest %q", tt.mod, tt.version, d.Deny, d.Suggest, tt.deny, tt.want)
		}
	}
}

// TestDecisionLogOneRecordPerRequest: whatever a request decides
// internally (list candidates, @latest candidates, suggestions), it writes
// one decision log record.
func TestDecisionLogOneRecordPerRequest(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t)
	const mod = "example.com/big"
	// 150 versions: every tenth vulnerable (fixed in the next), the
	// newest five cooling.
	vs := addManyVersions(t, env, mod, 150, 5)
	var vulns []factstest.Vuln
	for i := 0; i < len(vs); i += 10 {
		vulns = append(vulns, factstest.Vuln{ID: fmt.Sprintf("GO-2025-%04d", i), Module: mod, Introduced: vs[i], Fixed: vs[i+1]})
	}
	env.setVulns(t, "snap1", vulns...)
	var buf bytes.Buffer
	e := env.engine(t, Options{Config: &Config{Cooldown: CooldownConfig{Days: 7}}, DecisionLog: &buf})
	client := proxy.Client{Name: "ci"}
	tests := []struct {
		name  string
		do    func() error
		check func(rec map[string]any) string // "" when fine
	}{
		{"List", func() error {
			_, err := e.Decider().List(ctx, proxy.Query{Module: mod, Kind: proxy.KindList, Client: client})
			return err
		}, func(rec map[string]any) string {
			c := rec["candidates"].(map[string]any)
			allowed, denied := c["allowed"].([]any), c["denied"].([]any)
			if rec["kind"] != "list" || rec["module"] != mod || len(allowed) != 130 || len(denied) != 20 {
				return fmt.Sprintf("want a list record of %s with 130 allowed and 20 denied candidates", mod)
			}
			if d := denied[0].(map[string]any); d["version"] != "v1.0.0" || fmt.Sprint(d["rules"]) != "[vulnerabilities]" {
				return "want v1.0.0 denied by vulnerabilities first"
			}
			if d := denied[19].(map[string]any); d["version"] != "v1.14.9" || fmt.Sprint(d["rules"]) != "[cooldown]" {
				return "want v1.14.9 denied by cooldown last"
			}
			return ""
		}},
		{"Latest", func() error {
			p, err := e.Decider().Latest(ctx, proxy.Query{Module: mod, Kind: proxy.KindLatest, Client: client})
			if err == nil && p.Version != "v1.14.4" {
				err = fmt.Errorf("Latest = %q, want v1.14.4", p.Version)
			}
			return err
		}, func(rec map[string]any) string {
			c := rec["candidates"].(map[string]any)
			if rec["kind"] != "latest" || rec["chosen"] != "v1.14.4" || len(c["denied"].([]any)) != 5 || fmt.Sprint(c["allowed"]) != "[v1.14.4]" {
				return "want a latest record choosing v1.14.4 after 5 denied candidates"
			}
			return ""
		}},
		{"Decide", func() error {
			_, err := e.Decide(ctx, Request{Module: mod, Version: "v1.3.5", Kind: proxy.KindZip, Client: client})
			return err
		}, func(rec map[string]any) string {
			if rec["path"] != "modgate/decision" || rec["input"].(map[string]any)["version"] != "v1.3.5" {
				return "want the decision record of v1.3.5"
			}
			return ""
		}},
		{"denied Decide with a suggestion", func() error {
			d, err := e.Decider().Decide(ctx, proxy.Query{Module: mod, Version: "v1.3.0", Kind: proxy.KindZip, Client: client})
			if err == nil && d.Suggest != "v1.3.1" {
				err = fmt.Errorf("Decide(v1.3.0).Suggest = %q, want v1.3.1", d.Suggest)
			}
			return err
		}, func(rec map[string]any) string {
			if rec["input"].(map[string]any)["version"] != "v1.3.0" || rec["result"].(map[string]any)["allowed"] != false {
				return "want the denial of v1.3.0"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		buf.Reset()
		if err := tt.do(); err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		lines := logLines(t, buf.Bytes())
		if len(lines) != 1 {
			t.Errorf("%s wrote %d decision log records, want 1", tt.name, len(lines))
			continue
		}
		if lines[0]["requested_by"] != "ci" || lines[0]["decision_id"] == "" {
			t.Errorf("%s: record lacks the client or an ID: %v", tt.name, lines[0])
		}
		if msg := tt.check(lines[0]); msg != "" {
			t.Errorf("%s: %s; got %v", tt.name, msg, lines[0])
		}
	}
}

// TestSuggestUndecided: a candidate that cannot be decided is not
// suggested; the denial goes out without a suggestion.
func TestSuggestUndecided(t *testing.T) {
	ctx := context.Background()
	const mod = "example.com/s"
	env := newEnv(t)
	// v1.1.0 was listed at the first contact, three days ago, so its age
	// needs its .info, which the upstream fails to serve; v1.0.0, seen
	// only now, is vulnerable.
	env.src.Add(mod, "v1.0.0", old, "")
	env.src.Add(mod, "v1.1.0", old, "")
	env.src.SeenAt(mod, t0.Add(-3*day), "v1.1.0")
	env.src.InfoErr = errors.New("upstream unavailable")
	env.setVulns(t, "snap1", factstest.Vuln{ID: "GO-1", Module: mod, Fixed: "v1.1.0"})
	e := env.engine(t, Options{Config: &Config{Cooldown: CooldownConfig{Days: 7}}})
	if got, err := e.Suggest(ctx, mod, "v1.0.0", proxy.Client{}); got != "" || err == nil {
		t.Errorf("Suggest(v1.0.0) = %q, %v; want \"\" and the error deciding v1.1.0", got, err)
	}
	d, err := e.Decider().Decide(ctx, proxy.Query{Module: mod, Version: "v1.0.0", Kind: proxy.KindZip})
	if err != nil || d.Allowed() || d.Suggest != "" {
		t.Errorf("Decide(v1.0.0) = %+v, %v; want a denial without a suggestion", d, err)
	}
}
