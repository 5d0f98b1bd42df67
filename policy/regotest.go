package policy

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestOptions configures [RunTests].
type TestOptions struct {
	// Paths are user .rego files, directories or bundle directories; their
	// *_test.rego files run against the built-in rules plus the paths'
	// rules. Nil runs the built-in bundle's own tests.
	Paths []string
	// Builtin also runs the built-in bundle's tests when Paths is set.
	Builtin bool
	// Config, when set, is stored at data.modgate.config for the tests
	// (tests usually override it with `with`). Nil means the zero Config.
	Config *Config
	// Run selects tests whose package-qualified name matches this regular
	// expression; "" runs all.
	Run string
	// Verbose lists every test, not just failures.
	Verbose bool
	// Output receives OPA's test report; nil discards it.
	Output io.Writer
	// Timeout bounds each test; 0 means 10s.
	Timeout time.Duration
}

// TestSummary counts test outcomes.
type TestSummary struct {
	Pass, Fail, Error, Skip int
}

// OK reports whether tests ran and none failed or errored.
func (s TestSummary) OK() bool { return s.Fail == 0 && s.Error == 0 && s.Pass > 0 }

// RunTests runs Rego unit tests (rules named test_*) with OPA's tester,
// compiling them with the same capabilities as the engine. The error is
// for problems that prevent running (parse or compile errors, with file
// and line); failing tests are counted in the summary.
func RunTests(ctx context.Context, opts TestOptions) (TestSummary, error) {
	var sum TestSummary
	cfg := opts.Config
	if cfg == nil {
		cfg = &Config{}
	}
	doc, err := cfg.normalize()
	if err != nil {
		return sum, fmt.Errorf("policy config: %w", err)
	}
	set, err := loadPolicies(opts.Paths, true, opts.Builtin || len(opts.Paths) == 0)
	if err != nil {
		return sum, err
	}
	data := map[string]any{}
	if err := mergeData(data, set.data); err != nil {
		return sum, err
	}
	data["modgate"] = map[string]any{"config": doc}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	r := tester.NewRunner().
		SetCompiler(ast.NewCompiler().WithCapabilities(capabilities()).WithEnablePrintStatements(true)).
		SetStore(inmem.NewFromObject(data)).
		SetModules(set.modules()).
		CapturePrintOutput(true).
		RaiseBuiltinErrors(true).
		SetTimeout(timeout).
		Filter(opts.Run)
	ch, err := r.RunTests(ctx, nil)
	if err != nil {
		return sum, err
	}
	var results []*tester.Result
	for res := range ch {
		switch {
		case res.Skip:
			sum.Skip++
		case res.Error != nil:
			sum.Error++
		case res.Fail:
			sum.Fail++
		default:
			sum.Pass++
		}
		results = append(results, res)
	}
	if opts.Output != nil {
		rc := make(chan *tester.Result, len(results))
		for _, res := range results {
			rc <- res
		}
		close(rc)
		rep := tester.PrettyReporter{Output: opts.Output, Verbose: opts.Verbose, FailureLine: true}
		if err := rep.Report(rc); err != nil {
			return sum, err
		}
	}
	return sum, nil
}
