package policy

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/facts/factstest"
)

// benchConfig exercises every built-in rule.
func benchConfig() *Config {
	return &Config{
		RuleModes: map[string]Mode{"licenses": ModeAudit},
		Vulns:     VulnConfig{Ignore: []string{"GO-2022-0001"}},
		Cooldown:  CooldownConfig{Days: 7, Patch: ptr(2), Major: ptr(30)},
		Lists: ListsConfig{
			Blocked: []ListEntry{
				{Module: "github.com/pkg/errors", Reason: "archived", Recommendation: "errors"},
				{Module: "example.com/old", Match: MatchPrefix, Versions: "< v1.4.0"},
				{Module: `^github\.com/evil/`, Match: MatchRegex},
			},
		},
		Licenses: LicenseConfig{Deny: []string{"AGPL-3.0", "SSPL-1.0"}, Unknown: ActionWarn},
		Pseudo:   ActionWarn,
		Waivers: []Waiver{
			{Module: modM, Versions: ">= v1.2.0, < v1.3", Rules: []string{"vulnerabilities"}, Reason: "unreachable", Owner: "platform", Expires: "2099-12-31"},
		},
	}
}

// The benchmarks decide modM, example.com/clean (released 90 days ago),
// github.com/pkg/errors (unknown to the source: new) and a pseudo-version
// of modM.
const (
	benchClean  = "example.com/clean"
	benchPseudo = "v1.2.1-0.20250101000000-abcdefabcdef"
)

// benchEnv returns modM (v1.3.0 released yesterday, every other version
// long ago, first contact now), example.com/clean, one vulnerability, and
// MIT licenses for every version decided.
func benchEnv(b *testing.B) *env {
	env := newEnv(b)
	addModM(env.src, old)
	env.src.Add(modM, "v1.3.0", t0.Add(-day), latestGoMod)
	env.src.Add(benchClean, "v1.0.0", t0.Add(-90*day), "")
	// GO-2024-0001 affects every version before v1.3.0, so v1.3.0, still
	// cooling, is let through as its fix.
	env.setVulns(b, "snap", factstest.Vuln{ID: "GO-2024-0001", Module: modM, Fixed: "v1.3.0", Aliases: []string{"CVE-2024-1"}})
	for _, v := range append(slices.Clone(modMVersions), benchPseudo) {
		env.licensed(modM, v, "MIT")
	}
	env.licensed(benchClean, "v1.0.0", "MIT")
	env.licensed("github.com/pkg/errors", "v0.9.1", "MIT")
	return env
}

func benchEngine(b *testing.B, cfg *Config) *Engine {
	return benchEnv(b).engine(b, Options{Config: cfg})
}

// BenchmarkDecideCached measures a cache hit through the proxy adapter:
// the path list filtering takes for every candidate version.
func BenchmarkDecideCached(b *testing.B) {
	ctx := context.Background()
	e := benchEngine(b, benchConfig())
	d := e.Decider()
	q := proxy.Query{Module: modM, Version: "v1.2.0", Kind: proxy.KindList}
	if _, err := d.Decide(ctx, q); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		dec, err := d.Decide(ctx, q)
		if err != nil || dec.Allowed() != true {
			b.Fatalf("Decide = %+v, %v", dec, err)
		}
	}
}

func BenchmarkDecideCachedParallel(b *testing.B) {
	ctx := context.Background()
	e := benchEngine(b, benchConfig())
	q := proxy.Query{Module: modM, Version: "v1.2.0", Kind: proxy.KindList}
	d := e.Decider()
	if _, err := d.Decide(ctx, q); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer() // RunParallel, unlike b.Loop, would count the setup
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := d.Decide(ctx, q); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkDecideCachedLogged adds the decision log (to io.Discard) to a
// cache hit.
func BenchmarkDecideCachedLogged(b *testing.B) {
	ctx := context.Background()
	e := benchEnv(b).engine(b, Options{Config: benchConfig(), DecisionLog: io.Discard})
	req := Request{Module: modM, Version: "v1.2.0", Kind: proxy.KindZip}
	if _, err := e.Decide(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Decide(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecideUncached measures a full decision with the cache off:
// gathering facts from the facts service over an in-memory source
// (including the cooldown fix exception's walk over older versions) and
// evaluating the built-in bundle with every rule configured. It reports
// the p50 and p90 per decision.
func BenchmarkDecideUncached(b *testing.B) {
	cfg := benchConfig()
	cfg.Cache.TTL = -1
	ctx := context.Background()
	e := benchEngine(b, cfg)
	reqs := []Request{
		{Module: modM, Version: "v1.2.0", Kind: proxy.KindZip},                    // waived vuln
		{Module: modM, Version: "v1.3.0", Kind: proxy.KindZip},                    // cooldown, fix exception
		{Module: modM, Version: "v1.1.1", Kind: proxy.KindList},                   // retracted
		{Module: "github.com/pkg/errors", Version: "v0.9.1", Kind: proxy.KindZip}, // blocked, cooling
		{Module: modM, Version: benchPseudo, Kind: proxy.KindZip},                 // pseudo
		{Module: benchClean, Version: "v1.0.0", Kind: proxy.KindZip},              // allowed
	}
	for _, req := range reqs {
		if _, err := e.Decide(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	durs := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	cpuAtStart = cpuTime()
	i := 0
	for b.Loop() {
		start := time.Now()
		if _, err := e.Decide(ctx, reqs[i%len(reqs)]); err != nil {
			b.Fatal(err)
		}
		if len(durs) < cap(durs) {
			durs = append(durs, time.Since(start))
		}
		i++
	}
	reportPercentiles(b, durs)
}

// BenchmarkDecideUncachedLogged is BenchmarkDecideUncached with the
// decision log on (to a file, as in production): decisions per second
// with the log is 1e9 / ns/op.
func BenchmarkDecideUncachedLogged(b *testing.B) {
	cfg := benchConfig()
	cfg.Cache.TTL = -1
	cfg.DecisionLog = DecisionLogConfig{Path: filepath.Join(b.TempDir(), "decisions.jsonl"), MaxSize: 64 << 20}
	ctx := context.Background()
	e := benchEngine(b, cfg)
	reqs := []Request{
		{Module: modM, Version: "v1.2.0", Kind: proxy.KindZip},
		{Module: modM, Version: "v1.1.1", Kind: proxy.KindList},
		{Module: benchClean, Version: "v1.0.0", Kind: proxy.KindZip},
	}
	durs := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	cpuAtStart = cpuTime()
	i := 0
	for b.Loop() {
		start := time.Now()
		if _, err := e.Decide(ctx, reqs[i%len(reqs)]); err != nil {
			b.Fatal(err)
		}
		if len(durs) < cap(durs) {
			durs = append(durs, time.Since(start))
		}
		i++
	}
	reportPercentiles(b, durs)
}

// BenchmarkListFilter150 measures filtering the list of a module with 150
// versions (every 10th vulnerable, the newest 5 cooling) through the
// Decider: one decision per candidate and one decision log record (to
// io.Discard), with the decisions cached and uncached.
func BenchmarkListFilter150(b *testing.B) {
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", 0}, {"uncached", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			env := newEnv(b)
			const mod = "example.com/big"
			vs := addManyVersions(b, env, mod, 150, 5)
			var vulns []factstest.Vuln
			for i := 0; i < len(vs); i += 10 {
				vulns = append(vulns, factstest.Vuln{ID: fmt.Sprintf("GO-2025-%04d", i), Module: mod, Introduced: vs[i], Fixed: vs[i+1]})
			}
			env.setVulns(b, "snap", vulns...)
			cfg := benchConfig()
			cfg.Cache.TTL = bc.ttl
			e := env.engine(b, Options{Config: cfg, DecisionLog: io.Discard})
			q := proxy.Query{Module: mod, Kind: proxy.KindList}
			l, err := e.Decider().List(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			if want := 150 - 15 - 5; len(l.Allowed) != want {
				b.Fatalf("List allowed %d versions, want %d", len(l.Allowed), want)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Decider().List(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/150, "ns/candidate")
		})
	}
}

// BenchmarkEvaluate measures evaluation alone on a prepared input.
func BenchmarkEvaluate(b *testing.B) {
	ctx := context.Background()
	e := benchEngine(b, benchConfig())
	in, err := e.Input(ctx, Request{Module: modM, Version: "v1.3.0", Kind: proxy.KindZip})
	if err != nil {
		b.Fatal(err)
	}
	if len(in.Fixes) == 0 {
		b.Fatal("v1.3.0 is not a cooling fix: the benchmark would not exercise the fix exception")
	}
	durs := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	cpuAtStart = cpuTime()
	for b.Loop() {
		start := time.Now()
		if _, err := e.Evaluate(ctx, in); err != nil {
			b.Fatal(err)
		}
		if len(durs) < cap(durs) {
			durs = append(durs, time.Since(start))
		}
	}
	reportPercentiles(b, durs)
}

// reportPercentiles reports latency percentiles, and the process CPU time
// per operation since cpuStart, which contention on a shared machine
// inflates far less than wall time.
func reportPercentiles(b *testing.B, durs []time.Duration) {
	if len(durs) == 0 {
		return
	}
	if cpu := cpuTime() - cpuAtStart; b.N > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(durs[len(durs)*9/10].Nanoseconds()), "p90-ns")
	b.ReportMetric(float64(durs[len(durs)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkEvaluateClean measures evaluation of a version no rule objects
// to, the common case.
func BenchmarkEvaluateClean(b *testing.B) {
	ctx := context.Background()
	e := benchEngine(b, benchConfig())
	in, err := e.Input(ctx, Request{Module: benchClean, Version: "v1.0.0", Kind: proxy.KindZip})
	if err != nil {
		b.Fatal(err)
	}
	durs := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	cpuAtStart = cpuTime()
	for b.Loop() {
		start := time.Now()
		r, err := e.Evaluate(ctx, in)
		if err != nil || !r.Allowed() {
			b.Fatal(r, err)
		}
		if len(durs) < cap(durs) {
			durs = append(durs, time.Since(start))
		}
	}
	reportPercentiles(b, durs)
}

var cpuAtStart time.Duration

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
