package policy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/modgate/modgate/proxy/facts"
	"github.com/modgate/modgate/proxy/facts/factstest"
	"github.com/modgate/modgate/scanner/license"
	"github.com/modgate/modgate/scanner/vulndb"
)

// env is what decisions are made over in these tests: an in-memory module
// source, a vulnerability database, a settable clock, and the facts
// service reading them at that clock.
type env struct {
	src *factstest.Source
	db  *factstest.DB
	clk *clock
	svc *facts.Service
}

// newEnv returns an environment with an empty source and database
// (snapshot "snap0") whose clock reads t0.
func newEnv(tb testing.TB) *env {
	tb.Helper()
	db, err := factstest.NewDB("snap0")
	if err != nil {
		tb.Fatal(err)
	}
	clk := &clock{t: t0}
	src := &factstest.Source{}
	return &env{src: src, db: db, clk: clk, svc: &facts.Service{
		Source:       src,
		VulnDB:       db,
		LicenseCache: &license.Cache{},
		Now:          clk.now,
		Logger:       slog.New(slog.DiscardHandler),
	}}
}

// engine builds an engine that decides over env's facts at env's clock
// (unless opts sets Now) and is closed when the test ends.
func (env *env) engine(tb testing.TB, opts Options) *Engine {
	tb.Helper()
	opts.Facts = env.svc
	if opts.Now == nil {
		opts.Now = env.clk.now
	}
	e, err := NewEngine(context.Background(), opts)
	if err != nil {
		tb.Fatalf("NewEngine: %v", err)
	}
	tb.Cleanup(func() { e.Close() })
	return e
}

// setVulns replaces the vulnerability database with snapshot id of vs.
func (env *env) setVulns(tb testing.TB, id string, vs ...factstest.Vuln) {
	tb.Helper()
	if err := env.db.Set(id, vs...); err != nil {
		tb.Fatal(err)
	}
}

// licensed records the SPDX IDs detected in mod@version's zip (none: a
// zip without a license), as if the zip had been scanned.
func (env *env) licensed(mod, version string, ids ...string) {
	env.svc.LicenseCache.Do(mod, version, func() (*license.Result, error) {
		return &license.Result{IDs: ids}, nil
	})
}

// contact has modgate read mod's facts now: the first contact with the
// module, or a later look that sees the versions added since.
func (env *env) contact(tb testing.TB, mod string) *facts.Module {
	tb.Helper()
	m, err := env.svc.Module(context.Background(), mod)
	if err != nil {
		tb.Fatalf("Module(%s): %v", mod, err)
	}
	return m
}

const modM = "example.com/m"

// latestGoMod is the go.mod of modM's latest version, v1.3.0.
const latestGoMod = `// Deprecated: use example.com/m/v2 instead.
module example.com/m

go 1.22

retract (
	v1.0.1 // published by mistake
	[v1.1.0, v1.1.2] // data race in the cache
)
`

// modMVersions are modM's listed versions.
var modMVersions = []string{"v1.0.0", "v1.0.1", "v1.1.0", "v1.1.1", "v1.1.2", "v1.2.0", "v1.3.0-rc.1", "v1.3.0", "v2.0.0+incompatible"}

// addModM adds modM to src with every version released at info.
func addModM(src *factstest.Source, info time.Time) {
	for _, v := range modMVersions {
		gomod := ""
		if v == "v1.3.0" {
			gomod = latestGoMod
		}
		src.Add(modM, v, info, gomod)
	}
}

// addManyVersions adds n versions of mod (v1.0.0 to v1.0.9, v1.1.0, ...:
// ten patches per minor), all released long ago and in modgate's first
// listing of the module, 30 days before t0, except the newest young ones,
// which modgate first saw listed a day before t0. The clock must read t0.
// It returns the versions, ascending.
func addManyVersions(tb testing.TB, env *env, mod string, n, young int) []string {
	tb.Helper()
	vs := make([]string, n)
	for i := range vs {
		vs[i] = fmt.Sprintf("v1.%d.%d", i/10, i%10)
		env.src.Add(mod, vs[i], old, "")
	}
	env.src.SeenAt(mod, t0.Add(-30*day), vs[:n-young]...)
	env.clk.set(t0.Add(-day))
	env.contact(tb, mod)
	env.clk.set(t0)
	return vs
}

// without returns vs without the versions drop.
func without(vs []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(vs), func(v string) bool { return slices.Contains(drop, v) })
}

// countingDB counts the snapshot reads of a facts.VulnDB.
type countingDB struct {
	facts.VulnDB
	n atomic.Int32
}

func (c *countingDB) Current() *vulndb.Snapshot {
	c.n.Add(1)
	return c.VulnDB.Current()
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex // protects t
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// old is an .info time long past every cooldown.
var old = t0.Add(-400 * day)

const day = 24 * time.Hour

func ptr[T any](v T) *T { return &v }

func rulesOf(vs []Violation) string {
	s := ""
	for i, v := range vs {
		if i > 0 {
			s += ","
		}
		s += v.Rule
	}
	return s
}

func mustEngine(ctx context.Context, opts Options) *Engine {
	e, err := NewEngine(ctx, opts)
	if err != nil {
		panic(fmt.Sprintf("NewEngine: %v", err))
	}
	return e
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// logLines parses a decision log, one JSON object a line.
func logLines(tb testing.TB, b []byte) []map[string]any {
	tb.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			tb.Fatalf("decision log line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return lines
}
