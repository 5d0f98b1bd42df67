package policy

import (
	"bytes"
	"context"
	"testing"
)

// TestBuiltinRegoTests runs the built-in bundle's opa-test style unit tests
// (rules/*_test.rego) with OPA's tester and fails on any failure.
func TestBuiltinRegoTests(t *testing.T) {
	var out bytes.Buffer
	sum, err := RunTests(context.Background(), TestOptions{Output: &out, Verbose: testing.Verbose()})
	if err != nil {
		t.Fatalf("RunTests: %v", err)
	}
	t.Logf("rego tests: %+v\n%s", sum, out.String())
	if !sum.OK() || sum.Skip > 0 {
		t.Fatalf("rego tests failed: %+v\n%s", sum, out.String())
	}
	if sum.Pass < 50 {
		t.Errorf("only %d rego tests ran; the built-in suite has more", sum.Pass)
	}
}
