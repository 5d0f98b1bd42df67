package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/modgate/modgate/internal/yamlconf"
	"github.com/modgate/modgate/policy"
	"github.com/modgate/modgate/proxy"
)

const policyUsage = `Usage:

	modgate policy test [flags] [path ...]    run Rego unit tests
	modgate policy eval [flags] MODULE@VERSION  decide one module version
	modgate policy check [flags] [path ...]   validate configuration and policies
	modgate policy report [flags] LOG...      summarize would-be denials in decision logs
	modgate policy baseline [flags] PATH...   write waivers for the denied versions go.sum files already use

Run 'modgate policy <command> --help' for a command's flags.
`

// runPolicy dispatches the policy subcommands.
func runPolicy(ctx context.Context, app *App, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(app.Stderr, policyUsage)
		return exitCode(2)
	}
	switch args[0] {
	case "test":
		return runPolicyTest(ctx, app, args[1:])
	case "eval":
		return runPolicyEval(ctx, app, args[1:])
	case "check":
		return runPolicyCheck(ctx, app, args[1:])
	case "report":
		return runPolicyReport(ctx, app, args[1:])
	case "baseline":
		return runPolicyBaseline(ctx, app, args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(app.Stderr, policyUsage)
		return nil
	}
	fmt.Fprint(app.Stderr, policyUsage)
	return usageErrorf("unknown policy command %q", args[0])
}

// loadPolicyConfig reads the policy section of file ("" means the
// MODGATE_CONFIG file, and none at all the zero configuration).
func loadPolicyConfig(app *App, file string) (*policy.Config, string, error) {
	if file == "" {
		file = app.Getenv("MODGATE_CONFIG")
	}
	if file == "" {
		return &policy.Config{}, "", nil
	}
	cfg, err := policy.LoadConfig(file)
	if err != nil {
		return nil, file, err
	}
	return cfg, file, nil
}

// loadCheckConfig loads what `policy check` validates from file ("" means
// the MODGATE_CONFIG file, and none at all the zero configuration). A
// modgate configuration file (one with a policy: or policy_file: key) is
// read with [loadConfig], exactly as serve reads it at start-up, so the
// check rejects whatever serve would; any other file is a stand-alone
// policy file. locate places the policy's later problems in their file.
func loadCheckConfig(ctx context.Context, app *App, file string) (cfg *policy.Config, locate func(error) error, path string, err error) {
	if file == "" {
		file = app.Getenv("MODGATE_CONFIG")
	}
	if file == "" {
		return &policy.Config{}, func(err error) error { return err }, "", nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, file, err
	}
	doc, err := yamlconf.Parse(file, data)
	if err != nil {
		return nil, nil, file, err
	}
	if !doc.Has("policy") && !doc.Has("policy_file") {
		if cfg, err = policy.LoadConfig(file); err != nil {
			return nil, nil, file, err
		}
		return cfg, cfg.Locate, file, nil
	}
	c, _, err := loadConfig(ctx, app, file, nil)
	if err != nil {
		return nil, nil, file, err
	}
	return &c.Policy, c.LocatePolicy, file, nil
}

// runPolicyTest runs the Rego unit tests: the built-in bundle's when no
// path is given, else the tests in the paths (against the built-in rules
// plus the paths' rules).
func runPolicyTest(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "policy test", "[flags] [path ...]")
	configFile := fs.String("config", "", "configuration `file` whose policy section seeds data.modgate.config (env MODGATE_CONFIG)")
	verbose := fs.Bool("v", false, "list every test, not only failures")
	run := fs.String("run", "", "run only tests whose name matches `regexp`")
	builtin := fs.Bool("builtin", false, "also run the built-in rules' tests when paths are given")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, _, err := loadPolicyConfig(app, *configFile)
	if err != nil {
		return err
	}
	sum, err := policy.RunTests(ctx, policy.TestOptions{
		Paths:   fs.Args(),
		Builtin: *builtin,
		Config:  cfg,
		Run:     *run,
		Verbose: *verbose,
		Output:  app.Stdout,
	})
	if err != nil {
		return err
	}
	if sum.Pass+sum.Fail+sum.Error == 0 {
		fmt.Fprintln(app.Stderr, "modgate policy test: no tests found")
		return exitCode(1)
	}
	if !sum.OK() {
		return exitCode(1)
	}
	return nil
}

type evalFlags struct {
	sourceFlags
	kind, now, firstSeen string
	client, input        string
	explain, trace, json bool
}

// runPolicyEval decides one module version with the facts, vulnerability
// database and engine `modgate serve` would use (so the verdict is serve's
// verdict), or evaluates a stored input document (--input), and prints the
// decision and the rules that fired. It exits 1 when the version is denied.
func runPolicyEval(ctx context.Context, app *App, args []string) error {
	var f evalFlags
	fs := newFlagSet(app, "policy eval", "[flags] MODULE@VERSION")
	f.sourceFlags.register(fs)
	fs.StringVar(&f.kind, "kind", "zip", "artifact `kind`: info, mod, zip, list or latest")
	fs.StringVar(&f.now, "now", "", "evaluate at this RFC 3339 `time` (default: now)")
	fs.StringVar(&f.firstSeen, "first-seen", "", "what if modgate had first seen the version at this RFC 3339 `time` (its release time for the cooldown)")
	fs.StringVar(&f.client, "client", "", "requester `identity` to put in the input")
	fs.StringVar(&f.input, "input", "", "evaluate this input document `file` (\"-\" for stdin, e.g. from a decision log line) instead of gathering facts")
	fs.BoolVar(&f.explain, "explain", false, "also print the input and every rule's findings before modes and waivers")
	fs.BoolVar(&f.trace, "trace", false, "with --explain, also print OPA's evaluation trace")
	fs.BoolVar(&f.json, "json", false, "print {input, result, explanation} as JSON (exit status 0 whatever the decision)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (f.input == "") != (fs.NArg() == 1) || fs.NArg() > 1 {
		fs.Usage()
		return usageErrorf("want exactly one MODULE@VERSION, or --input")
	}
	if err := f.sourceFlags.validate(); err != nil {
		return usageErrorf("%v", err)
	}
	kind := proxy.Kind(f.kind)
	switch kind {
	case proxy.KindInfo, proxy.KindMod, proxy.KindZip, proxy.KindList, proxy.KindLatest:
	default:
		return usageErrorf("--kind %q: want info, mod, zip, list or latest", f.kind)
	}
	now := app.now()
	if f.now != "" {
		t, err := time.Parse(time.RFC3339, f.now)
		if err != nil {
			return usageErrorf("--now: %v", err)
		}
		now = t
	}
	clock := func() time.Time { return now }
	logger := app.Logger(false, slog.LevelWarn)
	if f.input != "" {
		return evalInput(ctx, app, &f, clock, logger)
	}
	mod, version, ok := strings.Cut(fs.Arg(0), "@")
	if !ok || module.CheckPath(mod) != nil || !semver.IsValid(version) || semver.Canonical(version) != version && !strings.HasSuffix(version, "+incompatible") {
		return usageErrorf("%q: want MODULE@VERSION with a canonical version", fs.Arg(0))
	}
	c, _, err := f.oneShotCore(ctx, app, logger, clock)
	if err != nil {
		return err
	}
	defer c.close()
	q := proxy.Query{Module: mod, Version: version, Kind: kind, Client: proxy.Client{Name: f.client}}
	// The verdict is the Decider's, exactly as serve decides (including the
	// .info/.mod downgrade and the fix suggestion); the input is gathered
	// as the engine gathers it, for --explain.
	d, err := c.decider.Decide(ctx, q)
	if err != nil {
		return err
	}
	in, err := c.engine.Input(ctx, policy.Request{Module: mod, Version: version, Kind: kind, Client: q.Client})
	if err != nil {
		return err
	}
	if f.firstSeen != "" {
		t, err := time.Parse(time.RFC3339, f.firstSeen)
		if err != nil {
			return usageErrorf("--first-seen: %v", err)
		}
		in.FirstSeen, in.Released, in.ReleaseBasis = t, t, "first_seen"
		ex, err := c.engine.Explain(ctx, in, f.trace)
		if err != nil {
			return err
		}
		d = proxy.Decision{Deny: ex.Result.Deny, Warn: ex.Result.Warn, Audit: ex.Result.Audit}
	}
	return printEval(ctx, app, &f, c.engine, in, d)
}

// evalInput evaluates a stored input document.
func evalInput(ctx context.Context, app *App, f *evalFlags, now func() time.Time, logger *slog.Logger) error {
	in, err := readInput(app, f.input)
	if err != nil {
		return err
	}
	if f.now != "" || in.Now.IsZero() {
		in.Now = now()
	}
	cfg, _, err := f.resolve(ctx, app)
	if err != nil {
		return err
	}
	eng, err := policy.NewEngine(ctx, policy.Options{Config: &cfg.Policy, Logger: logger, Now: now, DecisionLog: io.Discard})
	if err != nil {
		return err
	}
	defer eng.Close()
	ex, err := eng.Explain(ctx, in, f.trace)
	if err != nil {
		return err
	}
	return printEval(ctx, app, f, eng, in, proxy.Decision{Deny: ex.Result.Deny, Warn: ex.Result.Warn, Audit: ex.Result.Audit})
}

// printEval prints a verdict with the input and explanation asked for.
func printEval(ctx context.Context, app *App, f *evalFlags, eng *policy.Engine, in policy.Input, d proxy.Decision) error {
	ex, err := eng.Explain(ctx, in, f.trace)
	if err != nil {
		return err
	}
	res := ex.Result
	if f.json {
		out := map[string]any{"input": in, "result": jsonResult(&res, d)}
		if f.explain {
			out["explanation"] = map[string]any{"raw_deny": nz(ex.RawDeny), "raw_warn": nz(ex.RawWarn), "modes": ex.Modes, "waivers": ex.Waivers, "trace": ex.Trace}
		}
		enc := json.NewEncoder(app.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if f.explain {
		b, _ := json.MarshalIndent(in, "", "  ")
		fmt.Fprintf(app.Stdout, "input:\n%s\n", b)
		policy.WriteExplanation(app.Stdout, ex)
		fmt.Fprintln(app.Stdout)
	}
	verdict := "ALLOW"
	if !d.Allowed() {
		verdict = "DENY"
	}
	fmt.Fprintf(app.Stdout, "%s@%s (%s): %s\n", in.Module, in.Version, in.Kind, verdict)
	for _, s := range []struct {
		kind string
		vs   []policy.Violation
	}{{"deny", d.Deny}, {"audit", d.Audit}, {"warn", d.Warn}} {
		for _, v := range s.vs {
			fmt.Fprintf(app.Stdout, "  %-5s %s: %s\n", s.kind, v.Rule, v.Msg)
			if v.Fix != "" {
				fmt.Fprintf(app.Stdout, "        fix: %s\n", v.Fix)
			}
		}
	}
	if d.Suggest != "" {
		fmt.Fprintf(app.Stdout, "fix: go get %s@%s\n", in.Module, d.Suggest)
	}
	if !d.Allowed() {
		fmt.Fprintf(app.Stdout, "rules: %s\n", strings.Join(ruleNames(d.Deny), ", "))
	}
	if !res.ValidUntil.IsZero() {
		fmt.Fprintf(app.Stdout, "valid until %s\n", res.ValidUntil.Format(time.RFC3339))
	}
	fmt.Fprintf(app.Stdout, "policy %s, vulndb %s\n", res.Digest, res.VulnDB)
	if !d.Allowed() {
		return exitCode(1)
	}
	return nil
}

// ruleNames lists the distinct rules of vs, in order.
func ruleNames(vs []policy.Violation) []string {
	var out []string
	for _, v := range vs {
		if !slices.Contains(out, v.Rule) {
			out = append(out, v.Rule)
		}
	}
	return out
}

func nz(v []policy.Violation) []policy.Violation {
	if v == nil {
		return []policy.Violation{}
	}
	return v
}

func jsonResult(r *policy.Result, d proxy.Decision) map[string]any {
	m := map[string]any{
		"allowed": d.Allowed(), "deny": nz(d.Deny), "warn": nz(d.Warn), "audit": nz(d.Audit),
		"rules": ruleNames(d.Deny), "policy_digest": r.Digest, "vulndb": r.VulnDB,
	}
	if d.Suggest != "" {
		m["suggest"] = d.Suggest
	}
	if !r.ValidUntil.IsZero() {
		m["valid_until"] = r.ValidUntil.Format(time.RFC3339Nano)
	}
	return m
}

// readInput reads an input document, or a decision log line holding one.
func readInput(app *App, file string) (policy.Input, error) {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(app.Stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return policy.Input{}, err
	}
	var line struct {
		Input json.RawMessage `json:"input"`
	}
	if json.Unmarshal(data, &line) == nil && len(line.Input) > 0 {
		data = line.Input
	}
	var in policy.Input
	if err := json.Unmarshal(data, &in); err != nil {
		return in, fmt.Errorf("input %s: %w", file, err)
	}
	if in.Module == "" || in.Version == "" {
		return in, fmt.Errorf("input %s: module and version are required", file)
	}
	return in, nil
}

// runPolicyCheck validates the configuration and compiles the policies,
// reporting every problem with its file and line.
func runPolicyCheck(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "policy check", "[flags] [path ...]")
	configFile := fs.String("config", "", "modgate configuration `file`, or a file holding just its policy section (env MODGATE_CONFIG)")
	strict := fs.Bool("strict", false, "also apply OPA's strict checks (unused variables and imports, shadowing, deprecated built-ins) to custom rules")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, locate, file, err := loadCheckConfig(ctx, app, *configFile)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			return err
		}
		fmt.Fprintln(app.Stderr, err)
		return exitCode(1)
	}
	cfg.Paths = append(cfg.Paths, fs.Args()...)
	rep, err := policy.Check(ctx, cfg, policy.CheckOptions{Strict: *strict})
	if err != nil {
		fmt.Fprintln(app.Stderr, locate(err))
		return exitCode(1)
	}
	for _, w := range rep.Warnings {
		if file != "" {
			w = file + ": " + w
		}
		fmt.Fprintln(app.Stderr, "warning: "+w)
	}
	fmt.Fprintf(app.Stdout, "ok: %d rules (%s), policy %s\n", len(rep.Rules), strings.Join(rep.Rules, ", "), rep.Digest)
	return nil
}
