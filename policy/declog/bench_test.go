package declog

import (
	"fmt"
	"io"
	"path/filepath"
	"testing"
)

// benchDecision is a decision record of typical size (~1.5 KB): the
// engine's pre-encoded input, result and bundles.
func benchDecision() *Decision {
	input := []byte(`{"module":"github.com/example/module","version":"v1.42.0","kind":"zip","time":"2024-11-02T10:00:00Z","time_ns":1730541600000000000,` +
		`"first_seen":"2024-11-02T10:05:00Z","first_seen_ns":1730541900000000000,"now":"2025-01-04T00:00:00Z","now_ns":1735948800000000000,` +
		`"pseudo":false,"prerelease":false,"incompatible":false,"update":{"previous":"v1.41.3","type":"minor"},"latest":"v1.42.0",` +
		`"retracted":false,"retraction_rationale":"","deprecated":false,"deprecation":"","vulns":[],"fixes":[],` +
		`"licenses":["Apache-2.0"],"license_status":"detected","client":"ci-runner-17","vulndb":"2025-01-03T12:00:00Z"}`)
	result := []byte(`{"allowed":true,"deny":[],"warn":[{"rule":"deprecated","msg":"github.com/example/module is deprecated: use github.com/example/module/v2 instead, which has a context-aware API","fix":"go get github.com/example/module/v2@latest"}],"audit":[]}`)
	return &Decision{ID: "9f0c1e2a3b4c5d6e-123456", Input: input, Result: result,
		Bundles:        []byte(`{"modgate":{"revision":"sha256:3f1a9c0e5b7d2f4a6c8e0b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a"}}`),
		PolicyRevision: "sha256:3f1a9c0e5b7d2f4a6c8e0b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a", Time: t0, Client: "ci-runner-17",
		VulnDB: "2025-01-03T12:00:00Z", EvalNS: 84211}
}

// benchListing is the listing record of a module with 150 versions, ten
// of them denied.
func benchListing() *Listing {
	l := &Listing{ID: "9f0c1e2a3b4c5d6e-123457", Kind: KindList, Module: "github.com/example/module", Client: "ci-runner-17", Time: t0,
		Bundles:        []byte(`{"modgate":{"revision":"sha256:3f1a9c0e5b7d2f4a6c8e0b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a"}}`),
		PolicyRevision: "sha256:3f1a9c0e5b7d2f4a6c8e0b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a", VulnDB: "2025-01-03T12:00:00Z", EvalNS: 120551}
	for i := range 150 {
		v := fmt.Sprintf("v1.%d.%d", i/10, i%10)
		if i%15 == 14 {
			l.Denied = append(l.Denied, Candidate{v, []string{"cooldown"}})
		} else {
			l.Allowed = append(l.Allowed, v)
		}
	}
	return l
}

// BenchmarkDecisionLogWrite measures writing one record of each kind, to
// io.Discard (encoding and locking) and to a file (plus the write call).
func BenchmarkDecisionLogWrite(b *testing.B) {
	d, lst := benchDecision(), benchListing()
	for _, dest := range []string{"discard", "file"} {
		open := func(b *testing.B) *Log {
			opts := Options{Writer: io.Discard}
			if dest == "file" {
				opts = Options{Path: filepath.Join(b.TempDir(), "decisions.jsonl"), MaxSize: 64 << 20, MaxBackups: 2}
			}
			l, err := Open(opts)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { l.Close() })
			return l
		}
		b.Run("decision/"+dest, func(b *testing.B) {
			l := open(b)
			b.SetBytes(int64(len(appendDecision(nil, d, 1))))
			b.ReportAllocs()
			for b.Loop() {
				l.Decision(d)
			}
		})
		b.Run("listing-150/"+dest, func(b *testing.B) {
			l := open(b)
			b.SetBytes(int64(len(appendListing(nil, lst, 1))))
			b.ReportAllocs()
			for b.Loop() {
				l.Listing(lst)
			}
		})
	}
	b.Run("decision/sampled-out", func(b *testing.B) {
		l, err := Open(Options{Writer: io.Discard, SampleAllowed: new(float64)})
		if err != nil {
			b.Fatal(err)
		}
		clean := *d
		clean.Clean = true
		b.ReportAllocs()
		for b.Loop() {
			l.Decision(&clean)
		}
	})
	b.Run("decision/parallel-file", func(b *testing.B) {
		l, err := Open(Options{Path: filepath.Join(b.TempDir(), "decisions.jsonl"), MaxSize: 64 << 20, MaxBackups: 2})
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l.Decision(d)
			}
		})
	})
}
