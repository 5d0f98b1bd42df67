package vulndb

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestLive builds the database from the real golang.org/x/vulndb through
// the real upstream (the first http(s) entry of `go env GOPROXY`) and
// checks known cases. Opt-in: MODGATE_LIVE=1.
func TestLive(t *testing.T) {
	if os.Getenv("MODGATE_LIVE") != "1" {
		t.Skip("set MODGATE_LIVE=1 to run against the real upstream")
	}
	out, err := exec.Command("go", "env", "GOPROXY").Output()
	if err != nil {
		t.Fatal(err)
	}
	var upstream string
	for _, u := range strings.FieldsFunc(strings.TrimSpace(string(out)), func(r rune) bool { return r == ',' || r == '|' }) {
		if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
			upstream = u
			break
		}
	}
	if upstream == "" {
		t.Fatalf("go env GOPROXY = %q has no http(s) proxy", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	l := &Loader{Fetcher: &testFetcher{URL: upstream}, Logger: discard}
	start := time.Now()
	s, err := l.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d entries from %s in %v (modified %v, id %s)", s.Len(), s.Source, time.Since(start), s.Modified, s.ID)
	if s.Len() < 1000 {
		t.Errorf("only %d entries", s.Len())
	}

	ms, err := s.Affects("golang.org/x/text", "v0.3.5")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range ms {
		if m.ID == "GO-2021-0113" {
			found = true
			if m.Fixed != "v0.3.7" {
				t.Errorf("GO-2021-0113 fixed = %q, want v0.3.7", m.Fixed)
			}
			if !strings.Contains(strings.Join(m.Aliases, " "), "CVE-2021-38561") {
				t.Errorf("GO-2021-0113 aliases = %v", m.Aliases)
			}
		}
	}
	if !found {
		t.Errorf("golang.org/x/text@v0.3.5 not affected by GO-2021-0113: %v", ms)
	}
	ms, _ = s.Affects("golang.org/x/text", "v0.3.7")
	for _, m := range ms {
		if m.ID == "GO-2021-0113" {
			t.Errorf("golang.org/x/text@v0.3.7 still affected by GO-2021-0113")
		}
	}
	// Old Go releases have known standard library vulnerabilities.
	if ms, _ := s.Affects(StdlibModule, "go1.18.0"); len(ms) == 0 {
		t.Errorf("stdlib@go1.18.0: no vulnerabilities")
	}
	if ms, _ := s.Affects(GoToolchainModule, "v0.0.1-go1.21.0.linux-amd64"); len(ms) == 0 {
		t.Errorf("golang.org/toolchain@v0.0.1-go1.21.0.linux-amd64: no vulnerabilities")
	}

	// Same version again: no second download.
	start = time.Now()
	s2, err := l.Load(ctx)
	if err != nil || s2.ID != s.ID {
		t.Errorf("reload: %v, same ID %v", err, s2 != nil && s2.ID == s.ID)
	}
	t.Logf("reload of an unchanged version took %v", time.Since(start))

	// Measurements on the real data (reported with -v): building the
	// snapshot from the downloaded zip, the heap it retains, and Affects
	// on a current version.
	version := strings.TrimPrefix(s.Source, DefaultModulePath+"@")
	zf, err := os.CreateTemp(t.TempDir(), "vulndb-*.zip")
	if err != nil {
		t.Fatal(err)
	}
	defer zf.Close()
	if err := l.Fetcher.Zip(ctx, DefaultModulePath, version, zf); err != nil {
		t.Fatal(err)
	}
	fi, _ := zf.Stat()
	build := func() *Snapshot {
		es, err := ReadModuleZip(zf, DefaultModulePath, version, s.Modified)
		if err != nil {
			t.Fatal(err)
		}
		snap, err := NewSnapshot(es, s.Modified, s.Loaded, s.Source)
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}
	res := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			build()
		}
	})
	t.Logf("zip %.1f MB; ReadModuleZip+NewSnapshot: %v per build; retained heap %.1f MB",
		float64(fi.Size())/(1<<20), time.Duration(res.NsPerOp()), retainedMB(t, func() any { return build() }))
	for _, q := range [][2]string{{"golang.org/x/text", "v0.43.0"}, {"github.com/gin-gonic/gin", "v1.10.0"}, {"github.com/none/none", "v1.0.0"}, {StdlibModule, "v1.99.0"}} {
		aff := testing.Benchmark(func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Affects(q[0], q[1])
			}
		})
		ms, _ := s.Affects(q[0], q[1])
		t.Logf("Affects(%s@%s): %d matches, %d ns/op, %d allocs/op", q[0], q[1], len(ms), aff.NsPerOp(), aff.AllocsPerOp())
	}
}
