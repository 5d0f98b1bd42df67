package policy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Explanation shows how a decision came about.
type Explanation struct {
	Result Result
	// RawDeny and RawWarn are every rule's findings before rule modes
	// and waivers were applied.
	RawDeny, RawWarn []Violation
	// Modes maps each rule with a finding to its effective mode.
	Modes map[string]Mode
	// Waivers are the configured waivers naming this module and version
	// (active or expired).
	Waivers []Waiver
	// Trace is OPA's evaluation trace, when requested.
	Trace string
}

// Explain evaluates in like [Engine.Evaluate] and also reports the raw
// findings, modes and waivers behind the result; with trace it includes
// OPA's full evaluation trace. It is for tools, not the request path.
func (e *Engine) Explain(ctx context.Context, in Input, trace bool) (*Explanation, error) {
	if in.Now.IsZero() {
		return nil, errors.New("policy: Input.Now is not set")
	}
	st := e.state.Load()
	res, err := evaluate(ctx, st, &in)
	if err != nil {
		return nil, err
	}
	ex := &Explanation{Result: res, Modes: map[string]Mode{}}
	pq, err := rego.New(
		rego.Query("deny := data.modgate.raw_deny; warn := data.modgate.raw_warn"),
		rego.Compiler(st.compiler),
		rego.Store(st.store),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, err
	}
	var buf *topdown.BufferTracer
	opts := []rego.EvalOption{rego.EvalParsedInput(in.value())}
	if trace {
		buf = topdown.NewBufferTracer()
		opts = append(opts, rego.EvalQueryTracer(buf))
	}
	rs, err := pq.Eval(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s@%s: explaining: %w", in.Module, in.Version, err)
	}
	if len(rs) == 1 {
		if ex.RawDeny, err = violations(rs[0].Bindings["deny"]); err != nil {
			return nil, err
		}
		if ex.RawWarn, err = violations(rs[0].Bindings["warn"]); err != nil {
			return nil, err
		}
	}
	for _, v := range slices.Concat(ex.RawDeny, ex.RawWarn) {
		m, ok := st.cfg.RuleModes[v.Rule]
		if !ok {
			m = st.cfg.Mode
			if m == "" {
				m = ModeEnforce
			}
		}
		ex.Modes[v.Rule] = m
	}
	for _, w := range st.cfg.Waivers {
		c, _ := ParseConstraint(w.Versions)
		if w.Module == in.Module && c.Match(in.Version) {
			ex.Waivers = append(ex.Waivers, w)
		}
	}
	if trace {
		// The full trace of the decision itself, not the explain query.
		tq, err := rego.New(rego.Query(DecisionPath), rego.Compiler(st.compiler), rego.Store(st.store)).PrepareForEval(ctx)
		if err != nil {
			return nil, err
		}
		tb := topdown.NewBufferTracer()
		if _, err := tq.Eval(ctx, rego.EvalParsedInput(in.value()), rego.EvalQueryTracer(tb)); err != nil {
			return nil, err
		}
		var sb strings.Builder
		topdown.PrettyTraceWithLocation(&sb, *tb)
		ex.Trace = sb.String()
	}
	return ex, nil
}

// Rules returns the names of the rule packages in force (built-in and
// custom), sorted.
func (e *Engine) Rules() []string { return slices.Clone(e.state.Load().rules) }

// CheckOptions configures [Check].
type CheckOptions struct {
	// Strict also applies OPA's strict-mode checks (unused variables and
	// imports, shadowed input/data, deprecated built-ins) to user rules.
	Strict bool
	// Now is the instant waiver expiry is judged at; zero means time.Now.
	Now time.Time
	// ExpiringWithin reports waivers expiring this soon; 0 means 14 days.
	ExpiringWithin time.Duration
}

// CheckReport is what [Check] found in a valid policy.
type CheckReport struct {
	Digest string
	Rules  []string
	// Warnings report expired and soon-expiring waivers.
	Warnings []string
}

// Check validates cfg and compiles the built-in rules plus cfg.Paths
// exactly as [NewEngine] does, without building an engine. Problems are
// returned as one error whose lines read "file:line: message".
func Check(ctx context.Context, cfg *Config, opts CheckOptions) (*CheckReport, error) {
	src, err := gather(cfg)
	if err != nil {
		return nil, err
	}
	set := src.set
	if opts.Strict {
		user := map[string]*ast.Module{}
		for _, f := range set.files {
			user[f.name] = f.parsed
		}
		c := ast.NewCompiler().WithCapabilities(capabilities()).WithStrict(true)
		if c.Compile(user); c.Failed() {
			var errs ast.Errors
			for _, e := range c.Errors {
				if e.Location == nil || !strings.HasPrefix(e.Location.File, "rules/") {
					errs = append(errs, e)
				}
			}
			if len(errs) > 0 {
				return nil, errs
			}
		}
	}
	st, err := prepareSet(ctx, cfg, src)
	if err != nil {
		return nil, err
	}
	rep := &CheckReport{Digest: st.digest, Rules: st.rules}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	soon := opts.ExpiringWithin
	if soon == 0 {
		soon = 14 * 24 * time.Hour
	}
	rep.Warnings = expiryWarnings("", cfg.Waivers, now, soon)
	for _, f := range src.ext.files {
		rep.Warnings = append(rep.Warnings, expiryWarnings(f.file+": ", f.waivers, now, soon)...)
	}
	return rep, nil
}

// expiryWarnings reports waivers expired or expiring within soon.
func expiryWarnings(where string, ws []Waiver, now time.Time, soon time.Duration) []string {
	var out []string
	for i, w := range ws {
		exp, _ := w.ExpiresAt()
		switch {
		case !now.Before(exp):
			out = append(out, fmt.Sprintf("%swaivers[%d] (%s, owner %s) expired on %s and no longer applies", where, i, w.Module, w.Owner, w.Expires))
		case exp.Sub(now) < soon:
			out = append(out, fmt.Sprintf("%swaivers[%d] (%s, owner %s) expires on %s", where, i, w.Module, w.Owner, w.Expires))
		}
	}
	return out
}

// WriteExplanation renders ex for people.
func WriteExplanation(w io.Writer, ex *Explanation) {
	fmt.Fprintf(w, "findings before modes and waivers:\n")
	if len(ex.RawDeny)+len(ex.RawWarn) == 0 {
		fmt.Fprintf(w, "  none\n")
	}
	for _, s := range []struct {
		kind string
		vs   []Violation
	}{{"deny", ex.RawDeny}, {"warn", ex.RawWarn}} {
		for _, v := range s.vs {
			fmt.Fprintf(w, "  %-4s %s [mode %s]: %s\n", s.kind, v.Rule, ex.Modes[v.Rule], v.Msg)
		}
	}
	for _, wv := range ex.Waivers {
		rules := "all rules"
		if len(wv.Rules) > 0 {
			rules = strings.Join(wv.Rules, ", ")
		}
		fmt.Fprintf(w, "waiver: %s %s for %s, owner %s, expires %s: %s\n", wv.Module, wv.Versions, rules, wv.Owner, wv.Expires, wv.Reason)
	}
	if ex.Trace != "" {
		fmt.Fprintf(w, "trace:\n%s", ex.Trace)
	}
}
