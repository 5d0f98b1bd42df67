package vulndb

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/scanner/internal/goproxytest"
)

// syntheticEntries generates n entries shaped like the Go vulnerability
// database: ~8% on the standard library, the rest over n/2 modules (so
// some modules have several entries), 1-2 affected modules, 1-3
// introduced/fixed pairs, package and symbol lists, aliases and details
// of realistic size.
func syntheticEntries(n int) []*Entry {
	r := rand.New(rand.NewPCG(7, 7))
	details := strings.Repeat("A crafted input can cause excessive resource consumption. ", 8)
	es := make([]*Entry, 0, n)
	for i := range n {
		e := &Entry{
			SchemaVersion: "1.3.1",
			ID:            fmt.Sprintf("GO-%d-%04d", 2020+i%6, i),
			Published:     time.Date(2020+i%6, 1, 1, 0, 0, 0, 0, time.UTC),
			Aliases:       []string{fmt.Sprintf("CVE-%d-%05d", 2020+i%6, i), fmt.Sprintf("GHSA-%04x-%04x-%04x", i, i*7%65536, i*13%65536)},
			Summary:       fmt.Sprintf("Denial of service in package %d", i),
			Details:       details,
			References:    []Reference{{Type: "FIX", URL: fmt.Sprintf("https://example.com/fix/%d", i)}, {Type: "WEB", URL: fmt.Sprintf("https://example.com/advisory/%d", i)}},
			DatabaseSpecific: &DatabaseSpecific{
				URL:          fmt.Sprintf("https://example.com/vuln/GO-%d", i),
				ReviewStatus: []string{ReviewStatusReviewed, ReviewStatusUnreviewed}[i%2],
			},
		}
		naff := 1 + r.IntN(2)
		for range naff {
			var mod string
			if r.IntN(12) == 0 {
				mod = StdlibModule
			} else {
				mod = fmt.Sprintf("github.com/org%d/repo%d", r.IntN(n/8+1), r.IntN(4))
			}
			var evs []RangeEvent
			pairs := 1 + r.IntN(3)
			major := r.IntN(3)
			minor := 0
			for p := range pairs {
				intro := "0"
				if p > 0 || r.IntN(2) == 0 {
					intro = fmt.Sprintf("%d.%d.0", major, minor)
				}
				minor += 1 + r.IntN(5)
				fixed := fmt.Sprintf("%d.%d.%d", major, minor, r.IntN(4))
				minor += 1 + r.IntN(5)
				evs = append(evs, RangeEvent{Introduced: intro}, RangeEvent{Fixed: fixed})
			}
			e.Affected = append(e.Affected, Affected{
				Module: Module{Path: mod, Ecosystem: ecosystemGo},
				Ranges: []Range{{Type: rangeSemver, Events: evs}},
				EcosystemSpecific: EcosystemSpecific{Packages: []Package{{
					Path:    mod + "/pkg",
					Symbols: []string{"Parse", "Decoder.Decode", "Reader.Read"},
				}}},
			})
		}
		es = append(es, e)
	}
	return es
}

// syntheticZip writes a golang.org/x/vulndb-shaped module zip holding
// entries (with zero modified times, as in the real module, and the YAML
// reports beside them) and returns its path.
func syntheticZip(b testing.TB, entries []*Entry, version string) string {
	b.Helper()
	files := map[string]string{"go.mod": "module golang.org/x/vulndb\n"}
	for _, e := range entries {
		c := *e
		c.Modified = time.Time{}
		data, err := json.MarshalIndent(&c, "", "  ")
		if err != nil {
			b.Fatal(err)
		}
		files["data/osv/"+e.ID+".json"] = string(data)
		files["data/reports/"+e.ID+".yaml"] = string(data)
	}
	z, err := goproxytest.BuildZip(goproxytest.Module{Path: DefaultModulePath, Version: version, Files: files})
	if err != nil {
		b.Fatal(err)
	}
	name := filepath.Join(b.TempDir(), "vulndb.zip")
	if err := os.WriteFile(name, z, 0o644); err != nil {
		b.Fatal(err)
	}
	return name
}

func BenchmarkAffects(b *testing.B) {
	s, err := NewSnapshot(syntheticEntries(5000), fixtureTime, fixtureTime, "synthetic")
	if err != nil {
		b.Fatal(err)
	}
	// A module with entries, at a version above every range (the common
	// case for a current dependency): hit-free but not a map miss.
	var mod string
	for m, mi := range s.index.modules {
		if m != StdlibModule && len(mi.ivs) >= 4 {
			mod = m
			break
		}
	}
	for _, bc := range []struct{ name, module, version string }{
		{"miss-unknown-module", "github.com/none/none", "v1.2.3"},
		{"miss-module-with-entries", mod, "v9.0.0"},
		{"miss-stdlib", StdlibModule, "v9.0.0"},
		{"miss-pseudo-version", mod, "v9.0.1-0.20240101000000-abcdefabcdef"},
		{"hit-stdlib", StdlibModule, "v1.3.0"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ms, err := s.Affects(bc.module, bc.version)
				if err != nil || (strings.HasPrefix(bc.name, "miss") && ms != nil) {
					b.Fatalf("Affects(%s, %s) = %v, %v", bc.module, bc.version, ms, err)
				}
			}
		})
	}
}

// BenchmarkLoadModuleZip measures building a snapshot (decode, normalize,
// index, v1 files) from a golang.org/x/vulndb-shaped zip of 5,000 entries,
// and reports the heap the snapshot retains.
func BenchmarkLoadModuleZip(b *testing.B) {
	version := "v0.0.0-20240601000000-abcdefabcdef"
	name := syntheticZip(b, syntheticEntries(5000), version)
	var s *Snapshot
	for b.Loop() {
		f, err := os.Open(name)
		if err != nil {
			b.Fatal(err)
		}
		es, err := ReadModuleZip(f, DefaultModulePath, version, fixtureTime)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		s, err = NewSnapshot(es, fixtureTime, fixtureTime, "bench")
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if s.Len() != 5000 {
		b.Fatalf("Len = %d", s.Len())
	}
	b.ReportMetric(retainedMB(b, func() any {
		f, _ := os.Open(name)
		defer f.Close()
		es, _ := ReadModuleZip(f, DefaultModulePath, version, fixtureTime)
		s, _ := NewSnapshot(es, fixtureTime, fixtureTime, "bench")
		return s
	}), "retained-MB")
}

// retainedMB returns the live heap growth caused by keeping build()'s
// result.
func retainedMB(b testing.TB, build func() any) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20)
}
