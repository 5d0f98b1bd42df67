package declog

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var fixture = []string{"decisions.jsonl.2.gz", "decisions.jsonl.1", "decisions.jsonl"}

func readFixture(t *testing.T, f Filter) *Report {
	t.Helper()
	s := NewSummarizer(f)
	for _, name := range fixture {
		if err := s.ReadFile(filepath.Join("..", "..", "testdata", "declog", name)); err != nil {
			t.Fatal(err)
		}
	}
	return s.Report(0)
}

// names returns "name:deny/audit" for each row.
func names(rows []Row) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Name+":"+count(r.Deny)+"/"+count(r.Audit))
	}
	return out
}

func TestReportFixtureFilters(t *testing.T) {
	tests := []struct {
		name    string
		filter  Filter
		records int
		modules []string
		rules   []string
	}{
		{"all", Filter{}, 19,
			[]string{"example.com/vulnlib:0/4", "example.com/hello:0/3", "example.com/retracted:2/0", "example.com/evil/tool:0/2", "example.com/org/a:0/1", "example.com/organic:0/1"},
			[]string{"licenses:0/4", "vulnerabilities:0/4", "cooldown:0/3", "retracted:2/0", "blocklist:0/2"}},
		{"since", Filter{Since: time.Date(2025, 1, 2, 9, 30, 5, 0, time.UTC)}, 10,
			[]string{"example.com/evil/tool:0/2", "example.com/vulnlib:0/2", "example.com/retracted:1/0", "example.com/hello:0/1", "example.com/org/a:0/1", "example.com/organic:0/1"},
			[]string{"licenses:0/4", "blocklist:0/2", "vulnerabilities:0/2", "retracted:1/0", "cooldown:0/1"}},
		{"rule", Filter{Rules: []string{"retracted", "cooldown"}}, 19,
			[]string{"example.com/hello:0/3", "example.com/retracted:2/0"},
			[]string{"cooldown:0/3", "retracted:2/0"}},
		{"module prefix", Filter{Module: "example.com/org"}, 1,
			[]string{"example.com/org/a:0/1"}, []string{"licenses:0/1"}},
		{"module exact", Filter{Module: "example.com/evil/tool"}, 2,
			[]string{"example.com/evil/tool:0/2"}, []string{"blocklist:0/2", "licenses:0/2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := readFixture(t, tt.filter)
			if rep.Records != tt.records || rep.Skipped != 2 {
				t.Errorf("records %d, skipped %d; want %d, 2", rep.Records, rep.Skipped, tt.records)
			}
			if got := names(rep.Modules); !slices.Equal(got, tt.modules) {
				t.Errorf("modules = %v\nwant %v", got, tt.modules)
			}
			if got := names(rep.Rules); !slices.Equal(got, tt.rules) {
				t.Errorf("rules = %v\nwant %v", got, tt.rules)
			}
		})
	}
}

func TestReportCounting(t *testing.T) {
	log := strings.Join([]string{
		// Sampled at 0.25: counts 4 times.
		`{"decision_id":"a","input":{"module":"m","version":"v1"},"result":{"deny":[],"audit":[{"rule":"cooldown"},{"rule":"cooldown"}]},"timestamp":"2025-01-01T00:00:00Z","requested_by":"x","sample_rate":0.25}`,
		// Denied by one rule and audited by another: a denial for the
		// module, one of each for the rules.
		`{"decision_id":"b","input":{"module":"m","version":"v2"},"result":{"deny":[{"rule":"vulnerabilities"}],"audit":[{"rule":"licenses"}]},"timestamp":"2025-01-02T00:00:00Z","requested_by":"y","sample_rate":1}`,
		// A listing: every denied or audited version is a denial, once
		// even when listed in both.
		`{"decision_id":"c","kind":"list","module":"m","candidates":{"allowed":["v1","v3"],"denied":[{"version":"v4","rules":["cooldown"]},{"version":"v5","rules":["cooldown","licenses"]}],"audit":[{"version":"v3","rules":["licenses"]},{"version":"v4","rules":["licenses"]}]},"timestamp":"2025-01-03T00:00:00Z","requested_by":"x"}`,
		// Allowed without findings.
		`{"decision_id":"d","input":{"module":"n","version":"v1"},"result":{"deny":[],"audit":[]},"timestamp":"2025-01-03T00:00:00Z","sample_rate":0.5}`,
		// Not a decision record, then a torn one.
		`{"level":"INFO","msg":"hello"}`,
		`{"decision_id":"e","input":{"mod`,
	}, "\n")
	s := NewSummarizer(Filter{})
	if err := s.Read("log", strings.NewReader(log)); err != nil {
		t.Fatal(err)
	}
	rep := s.Report(0)
	if rep.Records != 4 || rep.Decisions != 3 || rep.Listings != 1 || rep.Requests != 4+1+1+2 || !rep.Sampled || rep.Skipped != 2 {
		t.Errorf("report = %+v", rep)
	}
	if want := []string{"log:5: not a decision record", "log:6: not JSON (torn write?): unexpected end of JSON input"}; !slices.Equal(rep.SkippedAt, want) {
		t.Errorf("SkippedAt = %q, want %q", rep.SkippedAt, want)
	}
	if got, want := names(rep.Modules), []string{"m:3/5"}; !slices.Equal(got, want) {
		t.Errorf("modules = %v, want %v", got, want)
	}
	if got, want := names(rep.Rules), []string{"cooldown:2/4", "licenses:1/3", "vulnerabilities:1/0"}; !slices.Equal(got, want) {
		t.Errorf("rules = %v, want %v", got, want)
	}
	if got, want := names(rep.Clients), []string{"x:2/5", "y:1/0"}; !slices.Equal(got, want) {
		t.Errorf("clients = %v, want %v", got, want)
	}
	if m := rep.Modules[0]; m.Versions != 5 || m.Clients != 2 || !slices.Equal(m.Rules, []string{"cooldown", "licenses", "vulnerabilities"}) ||
		!m.FirstSeen.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) || !m.LastSeen.Equal(time.Date(2025, 1, 3, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("module row = %+v", m)
	}
	if top := s.Report(1); len(top.Rules) != 1 || top.RulesCount != 3 {
		t.Errorf("Report(1) rules = %v (of %d), want the first of 3", top.Rules, top.RulesCount)
	}
}

func TestReportTruncatedGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(`{"decision_id":"a","input":{"module":"m","version":"v1"},"result":{"deny":[{"rule":"r"}]}}` + "\n" +
		`{"decision_id":"b","input":{"module":"m","version":"v2"},"result":{"deny":[{"rule":"r"}]}}` + "\n"))
	zw.Close()
	file := filepath.Join(t.TempDir(), "decisions.jsonl.1.gz")
	if err := os.WriteFile(file, buf.Bytes()[:buf.Len()-12], 0o644); err != nil { // cut off the trailer and more
		t.Fatal(err)
	}
	s := NewSummarizer(Filter{})
	if err := s.ReadFile(file); err != nil {
		t.Fatalf("ReadFile(truncated gzip) = %v, want the readable records", err)
	}
	if rep := s.Report(0); rep.Skipped != 1 || rep.Records < 1 || !strings.Contains(rep.SkippedAt[0], "compressed stream ends early") {
		t.Errorf("report = %+v, want the first records and one skipped line", rep)
	}
}
