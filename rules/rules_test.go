package rules_test

import (
	"bytes"
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/modgate/modgate/policy"
	"github.com/modgate/modgate/rules"
)

// TestRego runs every *_test.rego in this directory with OPA's tester (via
// policy.RunTests, which compiles them exactly as the engine does).
func TestRego(t *testing.T) {
	var out bytes.Buffer
	sum, err := policy.RunTests(context.Background(), policy.TestOptions{Output: &out, Verbose: true})
	if err != nil {
		t.Fatalf("RunTests: %v", err)
	}
	if !sum.OK() || sum.Skip > 0 {
		t.Fatalf("Rego tests: %+v\n%s", sum, out.String())
	}
	t.Logf("%+v", sum)
}

// TestEveryRuleHasTests keeps the rule-per-file layout honest: each rule
// package file has a test file exercising it.
func TestEveryRuleHasTests(t *testing.T) {
	all, err := fs.ReadFile(rules.FS(), "fixtures_test.rego")
	if err != nil || len(all) == 0 {
		t.Fatalf("fixtures_test.rego missing: %v", err)
	}
	var tests strings.Builder
	names, _ := fs.Glob(rules.FS(), "*_test.rego")
	for _, n := range names {
		b, _ := fs.ReadFile(rules.FS(), n)
		tests.Write(b)
	}
	srcs, _ := fs.Glob(rules.FS(), "*.rego")
	for _, n := range srcs {
		if rules.IsTest(n) || n == "lib.rego" {
			continue
		}
		b, _ := fs.ReadFile(rules.FS(), n)
		for line := range strings.Lines(string(b)) {
			if pkg, ok := strings.CutPrefix(line, "package "); ok {
				pkg = strings.TrimSpace(pkg)
				if !strings.Contains(tests.String(), "import data."+pkg+"\n") {
					t.Errorf("%s: package %s is not imported by any test", n, pkg)
				}
			}
		}
	}
}
