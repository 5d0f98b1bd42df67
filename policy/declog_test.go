package policy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modgate/modgate/policy/declog"
	"github.com/modgate/modgate/proxy"
)

// readDecisionLog returns the records of the log at path and its backups.
func readDecisionLog(t *testing.T, path string) (recs []map[string]any, files int) {
	t.Helper()
	for i := 0; ; i++ {
		name := path
		if i > 0 {
			name = declog.BackupName(path, i)
		}
		data, err := os.ReadFile(name)
		if errors.Is(err, os.ErrNotExist) {
			return recs, files
		}
		if err != nil {
			t.Fatal(err)
		}
		files++
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("%s: %q: %v", name, sc.Text(), err)
			}
			recs = append(recs, m)
		}
	}
}

// TestDecisionLogConfigSamplesAndRotates runs the engine with a rotated,
// sampled decision log: allowed decisions without findings are dropped
// and counted, denials and warnings are kept, across rotated files.
func TestDecisionLogConfigSamplesAndRotates(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "decisions.jsonl")
	reg := prometheus.NewRegistry()
	env := newEnv(t)
	// modM without the deprecation, which warns about every version.
	for _, v := range modMVersions {
		gomod := ""
		if v == "v1.3.0" {
			gomod = strings.TrimPrefix(latestGoMod, "// Deprecated: use example.com/m/v2 instead.\n")
		}
		env.src.Add(modM, v, old, gomod)
	}
	env.src.AddUnlisted(modM, "v1.2.1-0.20250101000000-abcdefabcdef", old, "")
	e := env.engine(t, Options{
		Config: &Config{Pseudo: ActionWarn, DecisionLog: DecisionLogConfig{
			Path: path, MaxSize: 1000, MaxBackups: 10, SampleAllowed: ptr(0.5)}},
		Registerer: reg,
		SampleRand: func() float64 { return 0.75 }, // drops every clean record
	})
	alice, bob := proxy.Client{Name: "alice"}, proxy.Client{Name: "bob"}
	reqs := []Request{
		{Module: modM, Version: "v1.0.0", Kind: proxy.KindZip, Client: alice},
		{Module: modM, Version: "v1.0.0", Kind: proxy.KindZip, Client: alice}, // cached
		{Module: modM, Version: "v1.0.1", Kind: proxy.KindZip, Client: alice}, // retracted
		{Module: modM, Version: "v1.0.1", Kind: proxy.KindZip, Client: bob},   // retracted, cached
		{Module: modM, Version: "v1.2.1-0.20250101000000-abcdefabcdef", Kind: proxy.KindZip},
	}
	for _, req := range reqs {
		if _, err := e.Decide(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	recs, files := readDecisionLog(t, path)
	if len(recs) != 3 || files < 2 {
		t.Fatalf("%d records in %d files, want the 3 with findings, rotated", len(recs), files)
	}
	for _, r := range recs {
		if r["policy_revision"] != e.Digest() || r["sample_rate"] != 1.0 {
			t.Errorf("record policy_revision %v sample_rate %v, want %s and 1", r["policy_revision"], r["sample_rate"], e.Digest())
		}
		if res := r["result"].(map[string]any); res["allowed"] == true && len(res["warn"].([]any)) == 0 || r["cached"] == true && r["requested_by"] != "bob" {
			t.Errorf("a clean decision was kept: %v", r)
		}
	}
	if got := counterValue(e.metrics.logSampledOut); got != 2 {
		t.Errorf("sampled out = %v, want 2", got)
	}
	if got := counterValue(e.metrics.logRotations); got != float64(files-1) {
		t.Errorf("rotations = %v, want %d", got, files-1)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, mf := range mfs {
		found[mf.GetName()] = true
	}
	for _, name := range []string{"modgate_policy_decision_log_sampled_out_total", "modgate_policy_decision_log_errors_total", "modgate_policy_decision_log_rotations_total"} {
		if !found[name] {
			t.Errorf("metric %s not registered", name)
		}
	}
}

func TestDecisionLogConfigOpenFails(t *testing.T) {
	_, err := NewEngine(context.Background(), Options{Config: &Config{DecisionLog: DecisionLogConfig{Path: filepath.Join(t.TempDir(), "no", "such", "dir.jsonl")}}})
	if err == nil {
		t.Fatal("NewEngine with an unopenable decision log succeeded")
	}
}

func TestDecisionLogListingCandidates(t *testing.T) {
	var l declog.Listing
	for _, c := range []struct {
		version string
		d       proxy.Decision
	}{
		{"v1.0.0", proxy.Decision{}},
		{"v1.1.0", proxy.Decision{Deny: []Violation{{Rule: "vulnerabilities", Msg: "GO-1"}, {Rule: "vulnerabilities", Msg: "GO-2"}, {Rule: "cooldown"}}}},
		{"v1.2.0", proxy.Decision{Audit: []Violation{{Rule: "licenses"}}, Warn: []Violation{{Rule: "deprecated"}}}},
		{"v1.3.0", proxy.Decision{Deny: []Violation{{Rule: "cooldown"}}, Audit: []Violation{{Rule: "licenses"}}}},
	} {
		addCandidate(&l, c.version, c.d)
	}
	got, _ := json.Marshal(struct{ Allowed, Denied, Audit, Warn any }{l.Allowed, l.Denied, l.Audit, l.Warn})
	want := `{"Allowed":["v1.0.0","v1.2.0"],"Denied":[{"version":"v1.1.0","rules":["vulnerabilities","cooldown"]},{"version":"v1.3.0","rules":["cooldown"]}],` +
		`"Audit":[{"version":"v1.2.0","rules":["licenses"]},{"version":"v1.3.0","rules":["licenses"]}],"Warn":[{"version":"v1.2.0","rules":["deprecated"]}]}`
	if string(got) != want {
		t.Errorf("candidates = %s\nwant %s", got, want)
	}
}
