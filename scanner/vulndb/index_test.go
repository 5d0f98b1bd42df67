package vulndb

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var fixtureDir = filepath.Join("..", "..", "testdata", "vuln")

var fixtureTime = time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)

// fixtureSnapshot loads testdata/vuln/osv plus the extra directories.
func fixtureSnapshot(t testing.TB) *Snapshot {
	t.Helper()
	var all []*Entry
	for _, dir := range []string{"osv", "extra/inhouse", "extra/feed"} {
		es, err := loadDir(filepath.Join(fixtureDir, filepath.FromSlash(dir)))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, es...)
	}
	s, err := NewSnapshot(all, fixtureTime, fixtureTime, "fixtures")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// summary renders matches as "ID[module]fixed" joined by spaces.
func summary(ms []Match) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, m.ID+"["+m.Module+"]"+m.Fixed)
	}
	return strings.Join(parts, " ")
}

func TestAffects(t *testing.T) {
	s := fixtureSnapshot(t)
	for _, tc := range []struct {
		module, version string
		want            string
	}{
		// Simple range [0, 1.2.0); GO-2099-0007 (all versions) is withdrawn.
		{"example.com/vulnmod", "v1.1.0", "GO-2099-0001[example.com/vulnmod]v1.2.0"},
		{"example.com/vulnmod", "v1.2.0-pre", "GO-2099-0001[example.com/vulnmod]v1.2.0"},
		{"example.com/vulnmod", "v1.1.1-0.20240101000000-abcdefabcdef", "GO-2099-0001[example.com/vulnmod]v1.2.0"},
		{"example.com/vulnmod", "v1.2.0", ""},
		{"example.com/vulnmod", "v1.2.0+meta", ""},
		{"example.com/nothere", "v1.0.0", ""},
		// Several pairs, open-ended tail, plus GO-2099-0010/0012 on the same module.
		{"example.com/multi", "v0.9.0", ""},
		{"example.com/multi", "v1.0.0", "GO-2099-0002[example.com/multi]v1.1.0"},
		{"example.com/multi", "v1.0.9", "GO-2099-0002[example.com/multi]v1.1.0"},
		{"example.com/multi", "v1.1.0", ""},
		{"example.com/multi", "v1.2.0", "GO-2099-0012[example.com/multi]v1.5.0"},
		{"example.com/multi", "v1.3.0", "GO-2099-0002[example.com/multi]v1.4.0 GO-2099-0012[example.com/multi]v1.5.0"},
		{"example.com/multi", "v1.3.5", "GO-2099-0002[example.com/multi]v1.4.0 GO-2099-0012[example.com/multi]v1.5.0"},
		{"example.com/multi", "v1.4.0", "GO-2099-0012[example.com/multi]v1.5.0"},
		{"example.com/multi", "v1.5.2", "GO-2099-0010[example.com/multi]v1.5.5"},
		{"example.com/multi", "v1.5.5", ""},
		{"example.com/multi", "v1.6.0-rc.1", ""},
		{"example.com/multi", "v1.6.0", "GO-2099-0002[example.com/multi]"},
		{"example.com/multi", "v9.0.0", "GO-2099-0002[example.com/multi]"},
		// No ranges / only non-SEMVER ranges / empty SEMVER range: all versions.
		{"example.com/allbad", "v0.0.0-20000101000000-000000000000", "GO-2099-0003[example.com/allbad]"},
		{"example.com/allbad", "v99.0.0", "GO-2099-0003[example.com/allbad]"},
		{"example.com/ecorange", "v2.0.0", "GO-2099-0011[example.com/ecorange]"},
		{"example.com/emptyrange", "v1.0.0", "GO-2099-0014[example.com/emptyrange]"},
		// Pseudo-versions.
		{"example.com/pseudo", "v0.0.0-20220101000000-abcdefabcdef", "GO-2099-0004[example.com/pseudo]v0.0.0-20230601000000-abcdefabcdef"},
		{"example.com/pseudo", "v0.0.0-20220701000000-123456789abc", "GO-2099-0004[example.com/pseudo]v0.0.0-20230601000000-abcdefabcdef GO-2099-0015[example.com/pseudo]v0.0.0-20221201000000-abcdefabcdef"},
		{"example.com/pseudo", "v0.0.0-20230601000000-abcdefabcdef", ""},
		{"example.com/pseudo", "v0.1.0", ""},
		// +incompatible compares without its build suffix.
		{"example.com/incompat", "v1.9.0", ""},
		{"example.com/incompat", "v2.0.0+incompatible", "GO-2099-0005[example.com/incompat]v3.1.0+incompatible"},
		{"example.com/incompat", "v3.0.1+incompatible", "GO-2099-0005[example.com/incompat]v3.1.0+incompatible"},
		{"example.com/incompat", "v3.1.0+incompatible", ""},
		// Prerelease bounds.
		{"example.com/pre", "v1.0.0-beta.9", ""},
		{"example.com/pre", "v1.0.0-rc.1", "GO-2099-0006[example.com/pre]v1.0.0"},
		{"example.com/pre", "v1.0.0-rc.2", "GO-2099-0006[example.com/pre]v1.0.0"},
		{"example.com/pre", "v1.0.0", ""},
		{"example.com/pre", "v1.1.0-beta.1", ""},
		{"example.com/pre", "v1.1.0-beta.2", "GO-2099-0006[example.com/pre]v1.1.0-rc.1"},
		{"example.com/pre", "v1.1.0-beta.10", "GO-2099-0006[example.com/pre]v1.1.0-rc.1"},
		{"example.com/pre", "v1.1.0-rc.1", ""},
		// One entry, two modules.
		{"example.com/twoa", "v1.0.0", "GO-2099-0013[example.com/twoa]v1.1.0"},
		{"example.com/twob", "v0.9.0", ""},
		{"example.com/twob", "v1.0.0", "GO-2099-0013[example.com/twob]"},
		// Extra directories.
		{"example.com/clean", "v1.1.5", "ACME-2024-0001[example.com/clean]v1.2.0"},
		{"example.com/typo", "v0.0.1", "MAL-2099-0001[example.com/typo]"},
		// Standard library and toolchain.
		{"stdlib", "go1.20.4", "GO-2099-0008[stdlib]v1.20.5"},
		{"stdlib", "v1.20.4", "GO-2099-0008[stdlib]v1.20.5"},
		{"stdlib", "go1.20.5", ""},
		{"stdlib", "go1.21rc2", "GO-2099-0008[stdlib]v1.21.2"},
		{"stdlib", "go1.21.1", "GO-2099-0008[stdlib]v1.21.2"},
		{"stdlib", "go1.21.2", ""},
		{"toolchain", "go1.21.3", "GO-2099-0009[toolchain]v1.21.4"},
		{"golang.org/toolchain", "v0.0.1-go1.21.1.linux-amd64", "GO-2099-0008[stdlib]v1.21.2 GO-2099-0009[toolchain]v1.21.4"},
		{"golang.org/toolchain", "v0.0.1-go1.21rc2.darwin-arm64", "GO-2099-0008[stdlib]v1.21.2 GO-2099-0009[toolchain]v1.21.4"},
		{"golang.org/toolchain", "v0.0.1-go1.21.3.windows-amd64", "GO-2099-0009[toolchain]v1.21.4"},
		{"golang.org/toolchain", "v0.0.1-go1.22.0.linux-amd64", ""},
	} {
		ms, err := s.Affects(tc.module, tc.version)
		if err != nil {
			t.Errorf("Affects(%q, %q): %v", tc.module, tc.version, err)
			continue
		}
		if got := summary(ms); got != tc.want {
			t.Errorf("Affects(%q, %q) = %q, want %q", tc.module, tc.version, got, tc.want)
		}
	}
}

func TestAffectsMatchFields(t *testing.T) {
	s := fixtureSnapshot(t)
	ms, err := s.Affects("example.com/vulnmod", "v1.0.0")
	if err != nil || len(ms) != 1 {
		t.Fatalf("Affects = %v, %v; want one match", ms, err)
	}
	m := ms[0]
	if !slices.Equal(m.Aliases, []string{"CVE-2099-0001", "GHSA-aaaa-bbbb-cccc"}) || m.ReviewStatus != ReviewStatusReviewed ||
		m.Summary != "Simple range in example.com/vulnmod" || m.Withdrawn || m.Entry == nil || m.Entry.ID != m.ID {
		t.Errorf("match = %+v", m)
	}
	ms, _ = s.Affects("example.com/allbad", "v1.0.0")
	if len(ms) != 1 || ms[0].ReviewStatus != ReviewStatusUnreviewed {
		t.Errorf("Affects(allbad) = %+v, want one UNREVIEWED match", ms)
	}
}

func TestExplainIncludesWithdrawn(t *testing.T) {
	s := fixtureSnapshot(t)
	ms, err := s.Index().Explain("example.com/vulnmod", "v1.5.0")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].ID != "GO-2099-0007" || !ms[0].Withdrawn {
		t.Errorf("Explain(vulnmod@v1.5.0) = %+v, want withdrawn GO-2099-0007", ms)
	}
	if e, ok := s.Index().Entry("GO-2099-0007"); !ok || e.Withdrawn == nil {
		t.Errorf("Entry(GO-2099-0007) = %v, %v; want withdrawn entry", e, ok)
	}
}

func TestAffectsInvalidVersion(t *testing.T) {
	s := fixtureSnapshot(t)
	for _, tc := range []struct{ module, version string }{
		{"example.com/vulnmod", "1.0.0"},
		{"example.com/vulnmod", "latest"},
		{"stdlib", "go1.x"},
		{"golang.org/toolchain", "v1.21.0"},
	} {
		_, err := s.Affects(tc.module, tc.version)
		var ive *InvalidVersionError
		if !errors.As(err, &ive) {
			t.Errorf("Affects(%q, %q) error = %v, want *InvalidVersionError", tc.module, tc.version, err)
		}
	}
}

func TestAffectsNoAllocOnMiss(t *testing.T) {
	s := fixtureSnapshot(t)
	for _, tc := range []struct{ module, version string }{
		{"example.com/vulnmod", "v1.2.0"},
		{"example.com/multi", "v1.5.7"},
		{"example.com/nothere", "v1.0.0"},
		{"stdlib", "v1.22.0"},
	} {
		n := testing.AllocsPerRun(100, func() {
			ms, err := s.Affects(tc.module, tc.version)
			if len(ms) != 0 || err != nil {
				t.Fatalf("Affects(%q, %q) = %v, %v; want nothing", tc.module, tc.version, ms, err)
			}
		})
		if n != 0 {
			t.Errorf("Affects(%q, %q) allocates %v times per call, want 0", tc.module, tc.version, n)
		}
	}
}

func TestParseEntryRejects(t *testing.T) {
	for _, tc := range []struct{ name, json, want string }{
		{"bad id", `{"id":"../x","affected":[{"package":{"name":"a.com/b","ecosystem":"Go"}}]}`, "invalid id"},
		{"bad version", `{"id":"X-1","affected":[{"package":{"name":"a.com/b","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"introduced":"1.x"}]}]}]}`, "invalid introduced"},
		{"bad fixed", `{"id":"X-1","affected":[{"package":{"name":"a.com/b","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"v1"}]},{"type":"SEMVER","events":[{"fixed":"01.0.0"}]}]}]}`, "invalid fixed"},
		{"review", `{"id":"X-1","affected":[{"package":{"name":"a.com/b","ecosystem":"Go"}}],"database_specific":{"review_status":"MAYBE"}}`, "review_status"},
		{"both", `{"id":"X-1","affected":[{"package":{"name":"a.com/b","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0","fixed":"1.0.0"}]}]}]}`, "both"},
		{"json", `{"id":`, "decoding"},
	} {
		_, err := parseEntry(tc.name+".json", []byte(tc.json))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseEntry(%s) error = %v, want it to mention %q", tc.name, err, tc.want)
		}
		var ee *EntryError
		if !errors.As(err, &ee) || ee.File != tc.name+".json" {
			t.Errorf("parseEntry(%s) error = %#v, want *EntryError naming the file", tc.name, err)
		}
	}
	// Non-Go ecosystems are skipped without error; a "v" prefix is dropped.
	e, err := parseEntry("npm.json", []byte(`{"id":"X-2","affected":[{"package":{"name":"left-pad","ecosystem":"npm"}}]}`))
	if e != nil || err != nil {
		t.Errorf("parseEntry(npm) = %v, %v; want nil, nil", e, err)
	}
	e, err = parseEntry("v.json", []byte(`{"id":"X-3","affected":[{"package":{"name":"a.com/b","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"introduced":"v1.0.0"},{"fixed":"v1.1.0"}]}]}]}`))
	if err != nil || e.Affected[0].Ranges[0].Events[0].Introduced != "1.0.0" || e.Affected[0].Ranges[0].Events[1].Fixed != "1.1.0" {
		t.Errorf("parseEntry(v-prefixed) = %+v, %v; want versions without v", e, err)
	}
}

func TestSnapshotIdentity(t *testing.T) {
	a, b := fixtureSnapshot(t), fixtureSnapshot(t)
	if a.ID != b.ID || len(a.ID) != 64 {
		t.Errorf("same content: IDs %q and %q, want equal 64-hex IDs", a.ID, b.ID)
	}
	entries := a.Entries()[1:]
	c, err := NewSnapshot(entries, fixtureTime, fixtureTime, "fewer")
	if err != nil {
		t.Fatal(err)
	}
	if c.ID == a.ID {
		t.Errorf("different content, same ID %q", c.ID)
	}
	if got := a.Age(fixtureTime.Add(time.Hour)); got != time.Hour {
		t.Errorf("Age = %v, want 1h", got)
	}
	// The newest entry (MAL feed, 2024-06-01) is older than fixtureTime.
	if !a.Modified.Equal(fixtureTime) {
		t.Errorf("Modified = %v, want %v", a.Modified, fixtureTime)
	}
	if e, _ := a.Index().Entry("GO-2099-0001"); !e.Modified.Equal(fixtureTime) {
		t.Errorf("zero modified not filled: %v", e.Modified)
	}
	if _, ok := a.Index().Entry("MAL-2099-0002"); ok {
		t.Errorf("npm-only entry was loaded")
	}
}
