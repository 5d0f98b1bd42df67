package policy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/internal/yamlconf"
	"github.com/modgate/modgate/proxy"
	"github.com/modgate/modgate/proxy/facts/factstest"
	"github.com/modgate/modgate/scanner/vex"
)

// writeVEX writes the document `modgate check --vex` would write for one
// reachability fact, stated at at.
func writeVEX(t *testing.T, dir string, at time.Time, f vex.Fact) string {
	t.Helper()
	file := filepath.Join(dir, "app.vex.json")
	out, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := &vex.Writer{Now: func() time.Time { return at }}
	if err := w.Write(out, []vex.Fact{f}); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestExceptionsFromFiles: waiver files written by `policy baseline` and
// VEX documents written by `check --vex` excuse exactly what they name,
// until they expire, and their problems are reported in their own files.
func TestExceptionsFromFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	env := newEnv(t)
	addModM(env.src, old)
	env.setVulns(t, "snap1",
		factstest.Vuln{ID: "GO-2024-0001", Module: modM, Fixed: "v1.2.0"},
		factstest.Vuln{ID: "GO-2024-0002", Module: modM, Fixed: "v1.1.1", Aliases: []string{"CVE-2024-2222"}})
	waivers := filepath.Join(dir, "baseline.yaml")
	os.WriteFile(waivers, []byte(`waivers:
  - module: example.com/m
    versions: "= v1.1.0"
    rules: [vulnerabilities]
    ids: [GO-2024-0001, GO-2024-0002]
    reason: baseline 2024-12-01
    owner: platform
    expires: 2025-02-01
`), 0o644)
	vexFile := writeVEX(t, dir, t0.Add(-day), vex.Fact{Product: "example.com/app", Module: modM, Version: "v1.0.0",
		Vulnerability: "GO-2024-0002", Aliases: []string{"CVE-2024-2222"}, Reachability: vex.Imported})
	e := env.engine(t, Options{Config: &Config{WaiverFiles: []string{waivers}, VEX: []string{vexFile}, VEXMaxAge: Duration(30 * 24 * time.Hour)}})
	decide := func(v string) Result {
		r, err := e.Decide(ctx, Request{Module: modM, Version: v, Kind: proxy.KindZip})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		version string
		at      time.Time
		deny    string // ids of the vulnerabilities deny, "" for allowed
		warn    string // in a warning
	}{
		// Both entries waived by the baseline.
		{"v1.1.0", t0, "", "GO-2024-0001 in example.com/m@v1.1.0 waived until 2025-02-01 by platform: baseline 2024-12-01"},
		// The VEX statement excepts GO-2024-0002 (by alias) only.
		{"v1.0.0", t0, "GO-2024-0001", "GO-2024-0002 does not affect example.com/m@v1.0.0: not_affected, vulnerable_code_not_in_execute_path per VEX " + vexFile},
		// A version nobody excepted.
		{"v1.0.1", t0, "GO-2024-0001,GO-2024-0002", ""},
		// After the waiver expired, both deny again, and a warning says so.
		{"v1.1.0", time.Date(2025, 2, 2, 0, 0, 0, 0, time.UTC), "GO-2024-0001,GO-2024-0002", "expired on 2025-02-01"},
		// After vex_max_age, the statement no longer counts.
		{"v1.0.0", t0.Add(31 * day), "GO-2024-0001,GO-2024-0002", "expired on"},
	}
	for _, tt := range tests {
		env.clk.set(tt.at)
		r := decide(tt.version)
		got := ""
		for _, d := range r.Deny {
			if d.Rule == "vulnerabilities" {
				got = strings.Join(d.IDs, ",")
			}
		}
		if got != tt.deny {
			t.Errorf("%s at %s: vulnerabilities deny %q, want %q (%+v)", tt.version, tt.at.Format(time.DateOnly), got, tt.deny, r)
		}
		if tt.warn != "" && !strings.Contains(rulesMsgs(r.Warn), tt.warn) {
			t.Errorf("%s at %s: warnings %s, want one containing %q", tt.version, tt.at.Format(time.DateOnly), rulesMsgs(r.Warn), tt.warn)
		}
	}
}

func rulesMsgs(vs []Violation) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString(v.Rule + ": " + v.Msg + "\n")
	}
	return b.String()
}

// TestPolicyFileProblems: every problem of the configuration and the files
// it names is reported at once, and unknown rule names get a suggestion.
func TestPolicyFileProblems(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad-waivers.yaml")
	os.WriteFile(bad, []byte("waivers:\n  - module: example.com/m\n    reason: r\n    owner: o\n    expires: someday\n"), 0o644)
	badVEX := filepath.Join(dir, "bad.vex.json")
	os.WriteFile(badVEX, []byte(`{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"status": "not_affected"}]}`), 0o644)
	cfg := &Config{
		RuleModes:   map[string]Mode{"licences": ModeAudit},
		Waivers:     []Waiver{{Module: "example.com/m", Rules: []string{"vulnerabilites"}, Reason: "r", Owner: "o", Expires: "2030-01-01"}},
		WaiverFiles: []string{bad},
		VEX:         []string{badVEX},
	}
	_, err := NewEngine(context.Background(), Options{Config: cfg})
	if err == nil {
		t.Fatal("NewEngine accepted the broken policy")
	}
	for _, want := range []string{
		`rule_modes.licences: unknown rule "licences" (did you mean "licenses"?)`,
		`waivers[0].rules[0]: unknown rule "vulnerabilites" (did you mean "vulnerabilities"?)`,
		bad + `:5: waivers[0].expires:`,
		badVEX,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("NewEngine error lacks %q:\n%v", want, err)
		}
	}
	if n := len(yamlconf.Split(err)); n < 4 {
		t.Errorf("NewEngine reported %d problems, want every one:\n%v", n, err)
	}
}

// TestWaiverFileRulesAndExpiry: a waiver file's rule names are checked
// against the loaded rules like the configuration's, each problem at its
// line in the file, and policy check warns about its expiring waivers.
func TestWaiverFileRulesAndExpiry(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.yaml")
	os.WriteFile(typo, []byte("waivers:\n  - module: example.com/m\n    rules: [retractd]\n    reason: r\n    owner: o\n    expires: 2030-01-01\n"), 0o644)
	_, err := NewEngine(context.Background(), Options{Config: &Config{WaiverFiles: []string{typo}}})
	want := typo + `:3: waivers[0].rules[0]: unknown rule "retractd" (did you mean "retracted"?)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("NewEngine = %v, want %q", err, want)
	}

	soon := filepath.Join(dir, "soon.yaml")
	os.WriteFile(soon, []byte("waivers:\n  - module: example.com/old\n    reason: r\n    owner: team-a\n    expires: 2025-01-01\n  - module: example.com/soon\n    reason: r\n    owner: team-b\n    expires: 2025-06-05\n  - module: example.com/later\n    reason: r\n    owner: team-c\n    expires: 2026-01-01\n"), 0o644)
	rep, err := Check(context.Background(), &Config{WaiverFiles: []string{soon}}, CheckOptions{Now: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(rep.Warnings, "\n")
	for _, w := range []string{soon + ": waivers[0] (example.com/old, owner team-a) expired on 2025-01-01", soon + ": waivers[1] (example.com/soon, owner team-b) expires on 2025-06-05"} {
		if !strings.Contains(got, w) {
			t.Errorf("policy check warnings lack %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, "example.com/later") {
		t.Errorf("warned about a waiver far from expiry:\n%s", got)
	}
}
