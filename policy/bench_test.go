package policy

import (
	"context"
	"io"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/modgate/modgate/proxy"
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

func benchEngine(b *testing.B, cfg *Config, vulns *fakeVulns) *Engine {
	facts := newFacts()
	facts.anyLicense = []License{{ID: "MIT"}}
	e, err := NewEngine(context.Background(), Options{Config: cfg, Facts: facts, Vulns: vulns, Now: func() time.Time { return t0 }})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func benchVulns() *fakeVulns {
	v := &fakeVulns{}
	v.set("snap", modM+"@v1.2.0", Vuln{ID: "GO-2024-0001", Aliases: []string{"CVE-2024-1"}, Reviewed: true, Fixed: "v1.3.0"})
	return v
}

// BenchmarkDecideCached measures a cache hit through the proxy adapter:
// the path list filtering takes for every candidate version.
func BenchmarkDecideCached(b *testing.B) {
	ctx := context.Background()
	e := benchEngine(b, benchConfig(), benchVulns())
	d := e.Decider()
	q := proxy.Query{Module: modM, Version: "v1.2.0", Kind: proxy.KindList, FirstSeen: t0.Add(-30 * day)}
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
	e := benchEngine(b, benchConfig(), benchVulns())
	q := proxy.Query{Module: modM, Version: "v1.2.0", Kind: proxy.KindList, FirstSeen: t0.Add(-30 * day)}
	d := e.Decider()
	if _, err := d.Decide(ctx, q); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
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
	facts := newFacts()
	e, err := NewEngine(ctx, Options{Config: benchConfig(), Facts: facts, Vulns: benchVulns(), DecisionLog: io.Discard, Now: func() time.Time { return t0 }})
	if err != nil {
		b.Fatal(err)
	}
	req := Request{Module: modM, Version: "v1.2.0", Kind: proxy.KindZip, FirstSeen: t0.Add(-30 * day)}
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
// gathering facts from in-memory sources (including the cooldown fix
// exception's walk over older versions) and evaluating the built-in bundle
// with every rule configured. It reports the p50 and p90 per decision.
func BenchmarkDecideUncached(b *testing.B) {
	cfg := benchConfig()
	cfg.Cache.TTL = -1
	ctx := context.Background()
	e := benchEngine(b, cfg, benchVulns())
	reqs := []Request{
		{Module: modM, Version: "v1.2.0", Kind: proxy.KindZip, FirstSeen: t0.Add(-30 * day)},                // waived vuln
		{Module: modM, Version: "v1.3.0", Kind: proxy.KindZip, FirstSeen: t0.Add(-1 * day)},                 // cooldown, fix exception
		{Module: modM, Version: "v1.1.1", Kind: proxy.KindList, FirstSeen: t0.Add(-30 * day)},               // retracted
		{Module: "github.com/pkg/errors", Version: "v0.9.1", Kind: proxy.KindZip},                           // blocked, cooling
		{Module: modM, Version: "v1.2.1-0.20250101000000-abcdefabcdef", Kind: proxy.KindZip},                // pseudo
		{Module: "example.com/clean", Version: "v1.0.0", Kind: proxy.KindZip, FirstSeen: t0.Add(-90 * day)}, // allowed
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

// BenchmarkEvaluate measures evaluation alone on a prepared input.
func BenchmarkEvaluate(b *testing.B) {
	ctx := context.Background()
	e := benchEngine(b, benchConfig(), benchVulns())
	in, err := e.Input(ctx, Request{Module: modM, Version: "v1.3.0", Kind: proxy.KindZip, FirstSeen: t0.Add(-1 * day)})
	if err != nil {
		b.Fatal(err)
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
}

// BenchmarkEvaluateClean measures evaluation of a version no rule objects
// to, the common case.
func BenchmarkEvaluateClean(b *testing.B) {
	ctx := context.Background()
	e := benchEngine(b, benchConfig(), benchVulns())
	in, err := e.Input(ctx, Request{Module: "example.com/clean", Version: "v1.0.0", Kind: proxy.KindZip, FirstSeen: t0.Add(-90 * day)})
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
